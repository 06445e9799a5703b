"""The recorder on token-id and dict inputs: exact replay, and the estimators against retraining."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ethicskit.attribution import (
    Stage,
    estimate_stage_effects,
    exact_stage_effects,
    example_losses,
    record_training,
    replay_stage,
    retrain_without,
    stage_shift,
)
from ethicskit.attribution.recorder import n_rows, take_rows

VOCAB, TOKENS = 12, 5


class BagOfTokens(torch.nn.Module):
    """Token ids (or a dict with ids and a mask) -> mean embedding over real tokens -> 2 logits."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embedding = torch.nn.Embedding(VOCAB, 4)
        self.head = torch.nn.Linear(4, 2)

    def forward(self, X):
        if isinstance(X, dict):
            ids, mask = X["input_ids"], X["attention_mask"].float()
        else:
            ids, mask = X, torch.ones(X.shape, dtype=torch.float32)
        pooled = (self.embedding(ids) * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return self.head(torch.tanh(pooled))


def _tokens(n: int, seed: int):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, VOCAB, size=(n, TOKENS))
    mask = np.ones((n, TOKENS), dtype=np.int64)
    mask[:, 3:] = rng.integers(0, 2, size=(n, 2))  # some padding at the end
    y = (ids[:, 0] < VOCAB // 2).astype(int)
    return ids, mask, y


def _stages(as_dict: bool, lrs=(0.5, 0.3)):
    stages = []
    for j, (name, lr) in enumerate(zip(("first", "second"), lrs, strict=True)):
        ids, mask, y = _tokens(40, seed=j)
        X = {"input_ids": ids, "attention_mask": mask} if as_dict else ids
        stages.append(Stage(name, X, y, epochs=2, batch_size=8, lr=lr, momentum=0.9, token_ids=not as_dict))
    return stages


def _query(as_dict: bool):
    ids, mask, y = _tokens(30, seed=7)
    if as_dict:
        return example_losses({"input_ids": ids, "attention_mask": mask}, y)
    ids_t, y_t = torch.as_tensor(ids), torch.as_tensor(y)
    return lambda model: torch.nn.functional.cross_entropy(model(ids_t), y_t, reduction="none")


def test_token_ids_and_dicts_keep_integer_inputs():
    ids, mask, y = _tokens(10, seed=0)
    assert Stage("s", ids, y, token_ids=True).X.dtype == torch.long
    assert Stage("s", ids, y).X.dtype == torch.float32  # unchanged default: numbers become float32
    stage = Stage("s", {"input_ids": ids, "attention_mask": mask, "w": ids * 0.5}, y, batch_size=4)
    assert stage.X["input_ids"].dtype == torch.long and stage.X["w"].dtype == torch.float32
    assert n_rows(stage.X) == 10 and stage.n_steps == 3
    assert take_rows(stage.X, torch.tensor([1, 2]))["attention_mask"].shape == (2, TOKENS)
    with pytest.raises(ValueError, match="same number of rows"):
        Stage("s", {"input_ids": ids, "attention_mask": mask[:5]}, y)
    with pytest.raises(ValueError, match="same number of rows"):
        Stage("s", {"input_ids": ids}, y[:4])
    with pytest.raises(ValueError, match="empty dict"):
        Stage("s", {}, y)
    with pytest.raises(ValueError, match="finite"):
        Stage("s", {"x": np.full((10, 2), np.nan)}, y)
    with pytest.raises(ValueError, match="2-d"):
        Stage("s", ids[:, 0], y, token_ids=True)


@pytest.mark.parametrize("as_dict", [False, True])
def test_record_and_replay_token_inputs_bit_for_bit(as_dict):
    record = record_training(BagOfTokens(), _stages(as_dict), random_state=0)
    for k in range(record.n_stages):
        params, _ = replay_stage(record, k)
        assert torch.equal(params, record.checkpoints[k + 1])
    # the last stage's exact effect is reproduced exactly by the estimators' difference mode
    query = _query(as_dict)
    exact = exact_stage_effects(record, query, show_progress=False)
    first = estimate_stage_effects(record, query, stages=["second"])
    np.testing.assert_allclose(first.loc["second"], exact.loc["second"], atol=1e-6)


@pytest.mark.parametrize("as_dict", [False, True])
def test_linearised_shift_matches_retraining_for_a_small_stage(as_dict):
    """A stage with a tiny change: the linearised shift is the derivative of retraining (finite diff.)."""
    record = record_training(BagOfTokens(), _stages(as_dict, lrs=(1e-3, 0.3)), random_state=0)
    exact_shift = record.final_params - retrain_without(record, "first")
    linearised = stage_shift(record, "first", method="linearised")
    first_order = stage_shift(record, "first", method="first_order")
    error = float((linearised - exact_shift).norm() / exact_shift.norm())
    assert error < 0.02
    # the Hessian matters here: dropping it is measurably worse
    assert float((first_order - exact_shift).norm() / exact_shift.norm()) > 2 * error
