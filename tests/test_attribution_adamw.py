"""AdamW state carried across stages (issue 20 item 3): bit-exact replay, the counterfactual's state,
and the linearised estimator's moment and step-count differences against exact replays."""

from __future__ import annotations

import pytest
import torch

from ethicskit.attribution import Stage, record_training, replay_stage, retrain_without, stage_shift
from ethicskit.attribution.estimators import _enter_stage, _linear_step


def _carried_adamw_record(carry: bool = True):
    torch.manual_seed(0)
    X = torch.randn(64, 4)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).long()
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    stages = [Stage(name, X + shift, y, lr=lr, optimizer="adamw", epochs=2, batch_size=16, weight_decay=0.01,
                    betas=betas)
              for name, shift, lr, betas in (("a", 0.0, 0.05, (0.9, 0.999)), ("b", 0.3, 0.01, (0.9, 0.999)),
                                             ("c", -0.3, 0.01, (0.8, 0.99)))]
    return record_training(model, stages, carry_optimizer_state=carry)


def _replay_later(record, first: int, params, state):
    """Exact replay of stages ``first..`` from ``(params, AdamW state)``: the final parameters."""
    for j in range(first, record.n_stages):
        params, state = replay_stage(record, j, params=params, buffer=state)
    return params


def _linearised_later(record, first: int, state: dict):
    """The linearised recurrence over stages ``first..`` from the differences in ``state``."""
    for j in range(first, record.n_stages):
        _enter_stage(record, j, state)

        def step_fn(t, step, model, j=j):
            _linear_step(record, j, step, model, state, hessian=True)

        replay_stage(record, j, callback=step_fn)
    return state["theta"]


def test_carried_adamw_state_is_recorded_and_replays_bit_for_bit():
    record = _carried_adamw_record()
    n_steps = [len(steps) for steps in record.steps]
    assert record.buffers[0] is None  # a fresh optimiser before the first step
    assert [b["step"] for b in record.buffers[1:]] == [sum(n_steps[:k + 1]) for k in range(3)]
    for k in range(record.n_stages):
        params, state = replay_stage(record, k)
        assert torch.equal(params, record.checkpoints[k + 1])
        assert state["step"] == record.buffers[k + 1]["step"]
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(state[key], record.buffers[k + 1][key])
    # without carrying, each stage starts fresh and AdamW keeps no state between stages
    reset = _carried_adamw_record(carry=False)
    assert all(b is None for b in reset.buffers)
    assert not torch.equal(reset.checkpoints[2], record.checkpoints[2])  # carrying changes the training


def test_removing_a_stage_starts_the_next_from_the_state_its_predecessor_left():
    """What a real pipeline without stage b does: one AdamW optimiser runs a's steps, then c's."""
    import torch.nn.functional as F

    record = _carried_adamw_record()
    model = record.model_at(record.checkpoints[0])
    optimizer = torch.optim.AdamW(model.parameters(), foreach=False)
    for k in (0, 2):  # a plain training loop over the recorded batches, stage b left out
        stage = record.stages[k]
        for step in record.steps[k]:
            group = optimizer.param_groups[0]
            group.update(lr=step.lr, weight_decay=step.weight_decay, betas=step.betas, eps=step.eps)
            idx = torch.as_tensor(step.batch)
            optimizer.zero_grad()
            F.cross_entropy(model(stage.X[idx]), stage.y[idx]).backward()
            optimizer.step()
    pipeline = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    assert torch.equal(retrain_without(record, "b"), pipeline)
    fresh, _ = replay_stage(record, "c", params=record.checkpoints[1], buffer=None)
    assert not torch.equal(fresh, pipeline)  # a reset optimiser would have been another pipeline


def test_linearised_adamw_carries_moment_differences_across_stages():
    """Central finite differences of an exact replay of stages b and c, perturbing the parameters and
    both moments at b's start: the linearised recurrence carries dm and dv from b into c."""
    record = _carried_adamw_record()
    start, state = record.checkpoints[1], record.buffers[1]
    generator = torch.Generator().manual_seed(0)
    d_theta = torch.randn(start.shape, generator=generator)
    d_theta /= d_theta.norm()
    d_m = torch.randn(start.shape, generator=generator) * state["exp_avg"].abs().mean()
    d_v = torch.rand(start.shape, generator=generator) * state["exp_avg_sq"]  # keeps v +- eps d_v >= 0
    eps = 1e-3

    def perturbed(sign):
        moved = {"exp_avg": state["exp_avg"] + sign * eps * d_m,
                 "exp_avg_sq": state["exp_avg_sq"] + sign * eps * d_v, "step": state["step"]}
        return _replay_later(record, 1, start + sign * eps * d_theta, moved)

    finite = (perturbed(1) - perturbed(-1)) / 2
    linear = _linearised_later(record, 1, {"theta": eps * d_theta, "buf": torch.zeros_like(start),
                                           "m": eps * d_m, "v": eps * d_v, "shift": 0})
    assert float((linear - finite).norm() / finite.norm()) < 0.01
    # dropping the moment differences at the boundary is far off: they matter
    zeros = torch.zeros_like(start)
    dropped = _linearised_later(record, 1, {"theta": eps * d_theta, "buf": zeros, "shift": 0})
    assert float((dropped - finite).norm() / finite.norm()) > 0.1


def test_linearised_adamw_accounts_for_the_lagging_step_count():
    """Same parameters and moments, a step count 4 behind: only AdamW's bias correction differs."""
    record = _carried_adamw_record()
    start, state = record.checkpoints[1], record.buffers[1]
    exact = record.checkpoints[-1] - _replay_later(record, 1, start, {**state, "step": state["step"] - 4})
    zeros = torch.zeros_like(start)
    linear = _linearised_later(record, 1, {"theta": zeros, "buf": zeros, "m": zeros, "v": zeros, "shift": 4})
    assert float(exact.norm()) > 1e-4  # the count matters
    assert float((linear - exact).norm() / exact.norm()) < 0.05


def test_linearised_stage_shift_beats_first_order_with_carried_adamw_state():
    """The whole estimator on stage b (removing it: c continues a's state, 8 steps behind)."""
    record = _carried_adamw_record()
    exact = record.checkpoints[-1] - retrain_without(record, "b")
    errors = {method: float((stage_shift(record, "b", method=method) - exact).norm() / exact.norm())
              for method in ("first_order", "linearised")}
    assert errors["linearised"] < 0.5 * errors["first_order"], errors
    assert errors["linearised"] < 0.25, errors


def test_carrying_state_needs_one_optimizer():
    X, y = torch.randn(8, 2), torch.tensor([0, 1] * 4)
    with pytest.raises(ValueError, match="same optimizer"):
        record_training(torch.nn.Linear(2, 2), [Stage("a", X, y), Stage("b", X, y, optimizer="adamw")],
                        carry_optimizer_state=True)


def test_estimates_and_trust_checks_follow_carried_adamw_state():
    """End to end on the carried record: effects on per-example losses, and both replay checks (which
    start from the carried moments and count) rank the linearised estimate above first order."""
    from ethicskit.attribution import (
        compare_estimates,
        estimate_stage_effects,
        exact_stage_effects,
        example_losses,
        query_replay_error,
        replay_error,
    )

    record = _carried_adamw_record()
    torch.manual_seed(3)
    X = torch.randn(30, 4)
    query = example_losses(X, (X[:, 0] > 0).long())
    exact = exact_stage_effects(record, query, show_progress=False)
    linearised = estimate_stage_effects(record, query, method="linearised")
    assert compare_estimates(linearised, exact).loc["b", "pearson"] > 0.99
    for check in (lambda m: replay_error(record, "b", method=m),
                  lambda m: query_replay_error(record, "b", query, method=m)["error"]):
        assert check("linearised") < 0.5 * check("first_order")


def test_early_stopping_cut_carries_the_adamw_state_of_the_best_epoch():
    """cut_at_best_epoch on a carried AdamW record: the next stage continues from the cut stage's state."""
    from ethicskit.attribution import example_losses
    from ethicskit.attribution.encoder import cut_at_best_epoch

    record = _carried_adamw_record()
    per_epoch = len(record.steps[0]) // record.stages[0].epochs
    stage = record.stages[0]
    # validating on a's data with flipped labels: the loss rises as a trains, so the first epoch is best
    cut, best = cut_at_best_epoch(record, "a", example_losses(stage.X, 1 - stage.y))
    assert best == 1 and len(cut.steps[0]) == per_epoch and cut.stages[0].epochs == 1
    assert cut.buffers[1]["step"] == best * per_epoch
    assert cut.buffers[2]["step"] == best * per_epoch + len(record.steps[1])
    for k in range(cut.n_stages):
        params, state = replay_stage(cut, k)
        assert torch.equal(params, cut.checkpoints[k + 1]) and state["step"] == cut.buffers[k + 1]["step"]
    assert stage.epochs == 2  # the original record is unchanged
