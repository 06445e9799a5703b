"""ethicskit.fairness.diagnostics: representation, base rates and proxy detection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ethicskit.fairness import group_representation, proxy_scores


def test_group_representation_counts_shares_and_base_rates():
    data = pd.DataFrame({"sex": ["F", "M", "M", "M", "F"], "age": ["y", "y", "o", "o", "o"]})
    target = [1, 0, 1, 1, 0]
    table = group_representation(data, sensitive_features=["sex", "age"], target=target)
    sex = table[table["sensitive_feature"] == "sex"].set_index("group")
    assert sex.loc["M", "count"] == 3 and sex.loc["F", "share"] == pytest.approx(0.4)
    assert sex.loc["F", "base_rate"] == pytest.approx(0.5)
    assert sex.loc["M", "base_rate_vs_overall"] == pytest.approx(2 / 3 - 0.6)
    assert table.groupby("sensitive_feature")["share"].sum().tolist() == pytest.approx([1.0, 1.0])
    assert "base_rate" not in group_representation(data, sensitive_features="sex").columns


def test_group_representation_rejects_bad_input():
    data = pd.DataFrame({"sex": ["F", "M"]})
    with pytest.raises(ValueError, match="no column"):
        group_representation(data, sensitive_features="race")
    with pytest.raises(ValueError, match="same number of rows"):
        group_representation(data, sensitive_features="sex", target=[1, 0, 1])
    with pytest.raises(ValueError, match="binary"):
        group_representation(data, sensitive_features="sex", target=[1, 3])


def test_proxy_scores_find_the_engineered_proxy():
    rng = np.random.default_rng(0)
    n = 1500
    sex = rng.choice(["F", "M"], n)
    data = pd.DataFrame(
        {
            "sex": sex,
            "height": np.where(sex == "F", 164, 178) + rng.normal(0, 6, n),
            "noise": rng.normal(size=n),
            "colour": rng.choice(["r", "g", "b"], n),
        }
    )
    table = proxy_scores(data, sensitive_feature="sex", random_state=0)
    assert table["feature"].iloc[0] in ("height", "(all features)")
    scores = table.set_index("feature")["balanced_accuracy"]
    assert scores["height"] > 0.8
    assert abs(scores["noise"] - 0.5) < 0.06 and abs(scores["colour"] - 0.5) < 0.06
    assert (table["chance"] == 0.5).all()
    again = proxy_scores(data, sensitive_feature="sex", random_state=0)
    pd.testing.assert_frame_equal(table, again)
    assert "height" not in proxy_scores(data, sensitive_feature="sex", exclude=["height"])["feature"].tolist()


def test_proxy_scores_rejects_bad_input():
    data = pd.DataFrame({"sex": ["F"] * 5 + ["M"], "x": range(6)})
    with pytest.raises(ValueError, match="at least cv=3 rows"):
        proxy_scores(data, sensitive_feature="sex")
    with pytest.raises(ValueError, match="no column"):
        proxy_scores(data, sensitive_feature="race")
    with pytest.raises(ValueError, match="at least 2 distinct groups"):
        proxy_scores(pd.DataFrame({"sex": ["F"] * 6, "x": range(6)}), sensitive_feature="sex")
