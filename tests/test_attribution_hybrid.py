"""Hybrid estimators (issue 20 item 1): replay some later steps exactly, linearise the rest.

Checked against exact retraining: agreement to rounding when the replay covers every later step, no
error where the linearisation itself is exact (so the state handed between the exact and the linearised
part, momentum buffer included, is right, also mid-stage), and a better estimate than the plain
recurrence at the lesson's default strength.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ethicskit.attribution import (
    Stage,
    estimate_stage_effects,
    exact_stage_effects,
    example_losses,
    make_mlp,
    make_pipeline_stages,
    make_spurious_data,
    record_training,
    retrain_without,
    stage_shift,
)
from tests.test_attribution_adamw import _carried_adamw_record

METHODS = ["first_order", "linearised"]


def _linear_record(carry: bool):
    """Linear model, squared loss: the linearised recurrence is exact; stages of 6, 12 and 6 steps."""
    torch.manual_seed(0)
    X = torch.randn(48, 3)
    y = X @ torch.tensor([[1.0], [-2.0], [0.5]])
    stages = [Stage("a", X, y, lr=0.05, momentum=0.9, weight_decay=1e-2, batch_size=8),
              Stage("b", X * 2, y, lr=0.05, momentum=0.5, batch_size=8, epochs=2),
              Stage("c", X, y, lr=0.03, momentum=0.9, batch_size=8)]
    return record_training(torch.nn.Linear(3, 1), stages, loss="mse", random_state=0,
                           carry_optimizer_state=carry)


def _relative_error(record, stage, **kwargs) -> float:
    exact = record.final_params - retrain_without(record, stage)
    return float((stage_shift(record, stage, **kwargs) - exact).norm() / exact.norm())


@pytest.mark.parametrize("carry", [False, True])
@pytest.mark.parametrize("side", ["replay_first", "replay_last"])
def test_linearised_hybrid_is_exact_where_the_linearisation_is(carry, side):
    """Any split (mid-stage, at a boundary) hands over parameters and momentum buffer correctly."""
    record = _linear_record(carry)
    for r in (1, 3, 6, 9, 12, 17):  # 3 and 9 split a stage; 6 and 12 fall on a stage boundary
        assert _relative_error(record, "a", method="linearised", **{side: r}) < 1e-4
    # first order misses the Hessian, so the splice is what makes the check above non-trivial
    assert _relative_error(record, "a", method="first_order", **{side: 9}) > 0.1


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("side", ["replay_first", "replay_last"])
def test_hybrid_covering_every_later_step_is_exact_retraining(method, side):
    for record in (_linear_record(carry=True), _carried_adamw_record(), _carried_adamw_record(carry=False)):
        later = sum(len(steps) for steps in record.steps[1:])
        for r in (later, later + 5):
            shift = stage_shift(record, 0, method=method, **{side: r})
            # the shift is final minus retrained: subtracting it back rounds in the last bits only
            torch.testing.assert_close(record.final_params - shift, retrain_without(record, 0),
                                       rtol=0, atol=1e-6)


@pytest.mark.parametrize("side", ["replay_first", "replay_last"])
def test_hybrid_with_carried_adamw_state_beats_the_plain_recurrence(side):
    """Moments and step count are handed over too: replaying part of the later steps cuts the error."""
    record = _carried_adamw_record()  # three AdamW stages of 8 steps, state carried
    for method in METHODS:
        plain = _relative_error(record, "b", method=method)
        assert _relative_error(record, "b", method=method, **{side: 6}) < 0.8 * plain


def test_replaying_the_first_steps_improves_the_estimate_at_the_lessons_default():
    """The lesson's pipeline at alignment lr 0.02, seed 2 (first order's worst: Pearson about 0.4)."""
    data = make_spurious_data(n_test=200, random_state=2)
    record = record_training(make_mlp(6, random_state=2), make_pipeline_stages(data), random_state=2)
    query = example_losses(data.test.X, data.test.y)
    exact = exact_stage_effects(record, query, show_progress=False)
    n_align = len(record.steps[2])

    def pearson(**kwargs) -> float:
        est = estimate_stage_effects(record, query, stages=["fine-tuning"], **kwargs)
        return float(np.corrcoef(est.loc["fine-tuning"], exact.loc["fine-tuning"])[0, 1])

    for method in METHODS:
        plain, half = pearson(method=method), pearson(method=method, replay_first=n_align // 2)
        assert half > plain + 0.03 and half > 0.95
        assert pearson(method=method, replay_last=n_align // 2) > plain  # less gain (docs/attribution.md)
    every = estimate_stage_effects(record, query, replay_first=n_align)  # all stages at once
    np.testing.assert_allclose(every.loc["fine-tuning"], exact.loc["fine-tuning"], atol=1e-5)
    np.testing.assert_allclose(every.loc["alignment"], exact.loc["alignment"], atol=1e-5)


def test_replay_arguments_are_checked():
    record = _linear_record(carry=False)
    with pytest.raises(ValueError, match="not both"):
        stage_shift(record, "a", replay_first=2, replay_last=2)
    with pytest.raises(ValueError, match="replay_last"):
        stage_shift(record, "a", replay_last=-1)
    with pytest.raises(TypeError, match="replay_first"):
        estimate_stage_effects(record, lambda model: model(torch.ones(2, 3)).reshape(-1), replay_first=1.5)
