"""Estimates that flag themselves: the replay error proxy and checked_stage_effects' KitWarning."""

from __future__ import annotations

import warnings

import pytest
import torch

from ethicskit._quiet import KitWarning
from ethicskit.attribution import (
    CheckedEffects,
    Stage,
    checked_stage_effects,
    estimate_stage_effects,
    example_losses,
    make_mlp,
    make_pipeline_stages,
    make_spurious_data,
    query_replay_error,
    record_training,
    replay_error,
)

LATER = ["fine-tuning", "alignment"]  # the first stage's proxy is always large (docs/attribution.md)


def _pipeline(align_lr: float):
    data = make_spurious_data(n_test=200, random_state=0)
    record = record_training(make_mlp(6, random_state=0), make_pipeline_stages(data, align_lr=align_lr),
                             random_state=0)
    return record, example_losses(data.test.X, data.test.y)


@pytest.mark.parametrize("method", ["first_order", "linearised"])
def test_flag_fires_in_the_hard_regime(method):
    record, query = _pipeline(align_lr=0.05)  # every estimator fails here (docs/attribution.md)
    with pytest.warns(KitWarning, match="unreliable for stage.*fine-tuning"):
        checked = checked_stage_effects(record, query, method=method, stages=LATER)
    assert isinstance(checked, CheckedEffects)
    assert checked.unreliable == ["fine-tuning"]
    assert checked.replay_error["fine-tuning"] > checked.tolerance
    assert checked.replay_error["alignment"] == 0.0  # the last stage's estimate is exact
    # the effects are the plain estimate's
    plain = estimate_stage_effects(record, query, method=method, stages=LATER)
    assert checked.effects.equals(plain)


@pytest.mark.parametrize("method", ["first_order", "linearised"])
def test_flag_stays_quiet_in_the_gentle_regime(method):
    record, query = _pipeline(align_lr=0.005)  # estimates match retraining (Pearson >= 0.99)
    with warnings.catch_warnings():
        warnings.simplefilter("error", KitWarning)
        checked = checked_stage_effects(record, query, method=method, stages=LATER)
    assert checked.unreliable == [] and bool(checked.reliable.all())
    assert checked.replay_error["fine-tuning"] < checked.tolerance / 2


def _linear_record():
    """A linear model trained in two SGD stages with squared loss: there the linearisation is exact."""
    torch.manual_seed(0)
    X = torch.randn(48, 3)
    y = X @ torch.tensor([[1.0], [-2.0], [0.5]])
    stages = [Stage("a", X, y, lr=0.05, momentum=0.9, weight_decay=1e-2, batch_size=8),
              Stage("b", X * 2, y, lr=0.05, momentum=0.5, batch_size=8, epochs=2)]
    return record_training(torch.nn.Linear(3, 1), stages, loss="mse", random_state=0), X, y


def test_replay_error_is_zero_where_the_linearisation_is_exact():
    """A linear model with squared loss: the linearised recurrence is exact, so is its replay check."""
    record, X, y = _linear_record()
    assert replay_error(record, "a", method="linearised") < 1e-4
    assert replay_error(record, "a", method="first_order") > 0.1  # the Hessian matters here
    assert replay_error(record, "b") == 0.0
    with pytest.raises(ValueError, match="method"):
        replay_error(record, "a", method="exact")


def test_query_check_flags_the_hard_regime_and_not_the_gentle_one():
    """The query-space check: replayed per-query effects against the estimator's prediction of them."""
    hard, query = _pipeline(align_lr=0.05)  # every estimator fails here (Pearson <= 0.02)
    with pytest.warns(KitWarning, match="per-query effects"):
        checked = checked_stage_effects(hard, query, stages=LATER, check="queries")
    assert checked.check == "queries" and checked.tolerance == 1.0
    assert checked.unreliable == ["fine-tuning"]
    gentle, query = _pipeline(align_lr=0.005)  # Pearson >= 0.99
    with warnings.catch_warnings():
        warnings.simplefilter("error", KitWarning)
        quiet = checked_stage_effects(gentle, query, method="linearised", stages=LATER, check="queries")
    assert quiet.unreliable == [] and quiet.replay_error["fine-tuning"] < 0.25
    assert quiet.replay_error["alignment"] == 0.0


def test_query_check_is_exact_where_the_linearisation_is():
    """Linear model, squared loss: the linearised prediction of the replayed effects has no error."""
    record, X, y = _linear_record()
    query = example_losses(X[:20], y[:20].reshape(-1), loss="mse")
    exact = query_replay_error(record, "a", query, method="linearised")
    assert exact["error"] < 1e-3 and exact["pearson"] > 0.999
    assert query_replay_error(record, "a", query)["error"] > 0.05  # first order misses the Hessian
    with pytest.raises(ValueError, match="check"):
        checked_stage_effects(record, query, check="loss")
