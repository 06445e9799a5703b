"""benchmarks/bench_attribution.py: a user's own comment corpus in the roles of the bundled generator."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO_ROOT


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_attribution", REPO_ROOT / "benchmarks" / "bench_attribution.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_corpus_splits_keep_the_roles_and_balance_the_mitigation_stage(tmp_path):
    rng = np.random.default_rng(0)
    n = 1200
    muslim = rng.random(n) < 0.2
    gay = ~muslim & (rng.random(n) < 0.2)
    toxic = rng.random(n) < np.where(muslim | gay, 0.6, 0.1)  # identity mentions skewed towards toxic
    path = tmp_path / "civil.csv"
    pd.DataFrame(
        {
            "comment_text": [f"comment {i}" for i in range(n)],
            "target": toxic.astype(float),
            "muslim": muslim.astype(float),
            "homosexual_gay_or_lesbian": gay.astype(float),
        }
    ).to_csv(path, index=False)
    splits = _bench().corpus_splits(str(path), 400)
    sizes = {name: len(split.data) for name, split in splits.items()}
    assert sizes["train"] == 400 and sizes["validation"] == 200 and sum(sizes.values()) == n
    texts = [set(split.data["text"]) for split in splits.values()]
    assert sum(len(t) for t in texts) == len(set().union(*texts))  # no comment in two roles
    balanced = splits["balanced"]
    shares = pd.Series(balanced.target).groupby(balanced.data["identity"].fillna("(none)").to_numpy()).mean()
    assert len(shares) == 3 and (shares == 0.5).all()
    with pytest.raises(ValueError, match="needs at least"):
        _bench().corpus_splits(str(path), 1000)
