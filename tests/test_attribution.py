"""Tests that pin the maths of ethicskit.attribution (issue 9 acceptance criteria) and its validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ethicskit.attribution import (
    Stage,
    compare_estimates,
    estimate_stage_effects,
    evaluate_query,
    exact_stage_effects,
    example_losses,
    first_order_coefficients,
    group_accuracy,
    group_losses,
    linearised_effects,
    logit_margins,
    make_mlp,
    make_pipeline_stages,
    make_spurious_data,
    record_training,
    replay_stage,
    retrain_without,
    stage_change,
    stage_shift,
)


def _regression_stages(rng, *, n=48, d=4):
    """Three stages of a linear regression problem with schedules, momentum and weight decay."""
    w_true = rng.normal(size=(d, 1))
    stages = []
    for name, lr, mom, wd, shift in (("a", [0.05, 0.04, 0.03] * 4, 0.9, 0.01, 0.0),
                                     ("b", 0.03, 0.5, 0.0, 2.0),
                                     ("c", lambda t: 0.02 / (1 + t), 0.0, 0.05, -1.0)):
        X = rng.normal(size=(n, d)) + shift
        y = X @ w_true + 0.1 * rng.normal(size=(n, 1))
        stages.append(Stage(name, X, y.astype(np.float32), epochs=2, batch_size=8, lr=lr, momentum=mom,
                            weight_decay=wd))
    return stages


def _linear(d, out=1, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Linear(d, out)


@pytest.mark.parametrize("carry", [False, True])
def test_linearised_is_exact_for_linear_model_with_squared_loss(carry):
    rng = np.random.default_rng(1)
    stages = _regression_stages(rng)
    record = record_training(_linear(4), stages, loss="mse", carry_optimizer_state=carry, random_state=3)
    X_test = rng.normal(size=(30, 4)).astype(np.float32)
    y_test = rng.normal(size=30).astype(np.float32)
    query = example_losses(X_test, y_test, loss="mse")
    exact = exact_stage_effects(record, query)
    estimate = linearised_effects(record, query, mode="difference")
    assert np.abs(exact.to_numpy()).max() > 1e-2  # the stages matter
    np.testing.assert_allclose(estimate.to_numpy(), exact.to_numpy(), rtol=1e-3, atol=1e-4)
    # the parameter shift itself is exact, so a query linear in theta is exact in taylor mode too
    for k in range(3):
        np.testing.assert_allclose(stage_shift(record, k, method="linearised").numpy(),
                                   (record.final_params - retrain_without(record, k)).numpy(), atol=1e-5)
    # the Hessian-free recurrence is not exact here: the training losses are curved
    first = estimate_stage_effects(record, query, method="first_order", mode="difference")
    assert np.abs(first.loc["a"] - exact.loc["a"]).max() > 1e-3


@pytest.mark.parametrize("carry", [False, True])
def test_first_order_is_exact_when_gradients_do_not_depend_on_parameters(carry):
    rng = np.random.default_rng(2)
    stages = _regression_stages(rng)

    def linear_loss(out, y):  # linear in the parameters of a linear model: constant gradients
        return -(out * y).sum(dim=1)

    record = record_training(_linear(4), stages, loss=linear_loss, carry_optimizer_state=carry,
                             random_state=0)
    X_test = rng.normal(size=(25, 4)).astype(np.float32)

    def outputs(model):
        return model(torch.as_tensor(X_test)).reshape(-1)

    exact = exact_stage_effects(record, outputs)
    for mode in ("taylor", "difference"):
        estimate = estimate_stage_effects(record, outputs, method="first_order", mode=mode)
        np.testing.assert_allclose(estimate.to_numpy(), exact.to_numpy(), rtol=1e-4, atol=1e-4)
    if carry:  # the momentum buffer difference matters and is accounted for
        assert stage_change(record, "a")[1].abs().max() > 0
        assert abs(first_order_coefficients(record, "a")[1]) > 1e-3


def test_last_stage_effect_equals_checkpoint_difference():
    data = make_spurious_data(n_pretrain=200, n_finetune=200, n_align=64, n_test=50, random_state=0)
    record = record_training(make_mlp(6), make_pipeline_stages(data), random_state=0)
    query = example_losses(data.test.X, data.test.y)
    exact = exact_stage_effects(record, query, stages=["alignment"])
    expected = evaluate_query(record, query, record.checkpoints[-1]) - evaluate_query(record, query,
                                                                                      record.checkpoints[-2])
    np.testing.assert_allclose(exact.loc["alignment"].to_numpy(), expected.numpy(), atol=1e-6)
    assert first_order_coefficients(record, "alignment") == (1.0, 0.0)
    for method in ("first_order", "linearised"):
        checkpoint_difference = record.checkpoints[-1] - record.checkpoints[-2]
        assert torch.equal(stage_shift(record, 2, method=method), checkpoint_difference)
        est = estimate_stage_effects(record, query, method=method, mode="difference", stages=["alignment"])
        np.testing.assert_allclose(est.to_numpy(), exact.to_numpy(), atol=1e-5)


@pytest.mark.parametrize("carry", [False, True])
def test_replay_is_bit_for_bit_deterministic(carry):
    data = make_spurious_data(n_pretrain=200, n_finetune=200, n_align=64, n_test=10, random_state=1)
    stages = make_pipeline_stages(data)
    first = record_training(make_mlp(6, random_state=4), stages, carry_optimizer_state=carry, random_state=7)
    for k in range(3):
        params, buffer = replay_stage(first, k)
        assert torch.equal(params, first.checkpoints[k + 1])
        if carry:
            assert torch.equal(buffer, first.buffers[k + 1])
    again = record_training(make_mlp(6, random_state=4), stages, carry_optimizer_state=carry, random_state=7)
    assert all(torch.equal(a, b) for a, b in zip(first.checkpoints, again.checkpoints, strict=True))
    pairs = zip(first.steps, again.steps, strict=True)
    assert all(np.array_equal(s.batch, t.batch) for a, b in pairs for s, t in zip(a, b, strict=True))
    other = record_training(make_mlp(6, random_state=4), stages, carry_optimizer_state=carry, random_state=8)
    assert not torch.equal(first.final_params, other.final_params)
    # skipping a stage twice gives the same counterfactual
    assert torch.equal(retrain_without(first, 0), retrain_without(first, "pretraining"))


def test_first_order_coefficients_follow_the_schedule():
    X, y = np.zeros((8, 2), dtype=np.float32), np.zeros(8, dtype=int)
    stages = [Stage("s0", X, y, lr=0.1), Stage("s1", X, y, lr=[0.1, 0.2], batch_size=4, weight_decay=0.5),
              Stage("s2", X, y, lr=0.3, batch_size=8)]
    record = record_training(torch.nn.Linear(2, 2), stages)
    a, b = first_order_coefficients(record, "s0")
    assert a == pytest.approx((1 - 0.1 * 0.5) * (1 - 0.2 * 0.5)) and b == 0.0
    # momentum: after the stage, d' = d - eta * lam * d over steps with a running buffer
    stages[1] = Stage("s1", X, y, lr=0.1, batch_size=4, weight_decay=0.5, momentum=0.9)
    record = record_training(torch.nn.Linear(2, 2), stages)
    d, c = 1.0, 0.0
    for _ in range(2):
        c = 0.9 * c + 0.5 * d
        d = d - 0.1 * c
    assert first_order_coefficients(record, "s0")[0] == pytest.approx(d)


def test_lesson_pipeline_blames_finetuning_and_reweighting_helps():
    data = make_spurious_data(random_state=0)
    record = record_training(make_mlp(6), make_pipeline_stages(data, align_lr=0.005), random_state=0)
    groups = exact_stage_effects(record, group_losses(data.test.X, data.test.y, data.test.group))
    assert groups[1].idxmax() == "fine-tuning"  # the minority group's loss went up most in fine-tuning
    query = example_losses(data.test.X, data.test.y)
    agree = compare_estimates(estimate_stage_effects(record, query), exact_stage_effects(record, query))
    assert agree.loc["fine-tuning", "pearson"] > 0.9
    fixed = record_training(make_mlp(6), make_pipeline_stages(data, align_lr=0.005, reweight_finetune=True),
                            random_state=0)
    assert group_accuracy(fixed.model, data.test)[1] > group_accuracy(record.model, data.test)[1] + 0.2


def test_compare_estimates_and_groups():
    exact = pd.DataFrame([[1.0, -2.0, 3.0, 0.5]], index=["ft"])
    estimate = pd.DataFrame([[2.0, -4.0, 6.0, -1.0]], index=["ft"])
    table = compare_estimates(estimate, exact)
    assert table.loc["ft", "sign_agreement"] == 0.75
    assert 0 < table.loc["ft", "pearson"] < 1
    per_group = compare_estimates(estimate, exact, groups=["x", "x", "y", "y"])
    assert per_group.loc[("ft", "x"), "pearson"] == pytest.approx(1.0)
    assert per_group.loc[("ft", "y"), "sign_agreement"] == 0.5
    with pytest.raises(ValueError, match="same stages"):
        compare_estimates(estimate, exact.rename(index={"ft": "other"}))
    with pytest.raises(TypeError, match="estimate must be a DataFrame"):
        compare_estimates(estimate.to_numpy(), exact)


def test_queries_shapes():
    model = make_mlp(3)
    X, y = np.random.default_rng(0).normal(size=(5, 3)), np.array([0, 1, 1, 0, 1])
    assert logit_margins(X, y)(model).shape == (5,)
    assert group_losses(X, y, ["a", "b", "a", "b", "b"])(model).shape == (2,)
    with pytest.raises(ValueError, match="same number of rows"):
        example_losses(X, y[:3])


def test_input_validation_messages():
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="momentum"):
        Stage("s", X, y, momentum=1.0)
    with pytest.raises(ValueError, match="same number of rows"):
        Stage("s", X, y[:3])
    with pytest.raises(ValueError, match="lr of stage 's' has 3 values"):
        record_training(torch.nn.Linear(2, 2), [Stage("s", X, y, lr=[0.1, 0.1, 0.1], batch_size=2)])
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        record_training("model", [Stage("s", X, y)])
    with pytest.raises(ValueError, match="unknown loss"):
        record_training(torch.nn.Linear(2, 2), [Stage("s", X, y)], loss="hinge")
    with pytest.raises(ValueError, match="stage names must be unique"):
        record_training(torch.nn.Linear(2, 2), [Stage("s", X, y), Stage("s", X, y)])
    record = record_training(torch.nn.Linear(2, 2), [Stage("s", X, y)])
    with pytest.raises(ValueError, match="unknown stage 'x'"):
        retrain_without(record, "x")
    with pytest.raises(ValueError, match="unknown method"):
        estimate_stage_effects(record, example_losses(X, y), method="exact")


def _with_adamw_middle(stages):
    b = stages[1]
    adam = Stage("b", b.X, b.y, epochs=2, batch_size=8, lr=[0.01, 0.02, 0.03] * 4, weight_decay=0.1,
                 optimizer="adamw", betas=(0.8, 0.99))
    return [stages[0], adam, stages[2]]


def test_adamw_stage_replays_and_first_order_is_exact_for_constant_gradients():
    rng = np.random.default_rng(5)
    stages = _with_adamw_middle(_regression_stages(rng))

    def linear_loss(out, y):
        return -(out * y).sum(dim=1)

    record = record_training(_linear(4), stages, loss=linear_loss, random_state=2)
    params, buffer = replay_stage(record, "b")
    assert torch.equal(params, record.checkpoints[2]) and buffer is None
    assert record.steps[1][0].optimizer == "adamw" and record.steps[1][-1].count == len(record.steps[1])
    X_test = rng.normal(size=(20, 4)).astype(np.float32)

    def outputs(model):
        return model(torch.as_tensor(X_test)).reshape(-1)

    exact = exact_stage_effects(record, outputs)
    for method in ("first_order", "linearised"):
        estimate = estimate_stage_effects(record, outputs, method=method, mode="taylor")
        np.testing.assert_allclose(estimate.to_numpy(), exact.to_numpy(), rtol=1e-4, atol=1e-4)
    # AdamW's decoupled weight decay shrinks the earlier stage's change by prod(1 - lr * wd)
    expected = np.prod([1 - s.lr * s.weight_decay for s in record.steps[1]])
    expected *= np.prod([1 - s.lr * s.weight_decay for s in record.steps[2]])
    assert first_order_coefficients(record, "a")[0] == pytest.approx(expected)


def test_adamw_linearised_tracks_a_gentle_later_stage():
    data = make_spurious_data(n_pretrain=300, n_finetune=300, n_align=96, n_test=200, random_state=3)
    stages = make_pipeline_stages(data, align_lr=0.005)
    a = stages[2]
    stages[2] = Stage("alignment", a.X, a.y, epochs=2, batch_size=32, lr=1e-4, weight_decay=0.01,
                      optimizer="adamw")
    record = record_training(make_mlp(6), stages, random_state=0)
    query = example_losses(data.test.X, data.test.y)
    exact = exact_stage_effects(record, query, stages=["fine-tuning"])
    for method in ("first_order", "linearised"):
        estimate = estimate_stage_effects(record, query, method=method, stages=["fine-tuning"])
        assert compare_estimates(estimate, exact).loc["fine-tuning", "pearson"] > 0.95
    with pytest.raises(ValueError, match="same optimizer"):  # SGD state cannot carry into AdamW
        record_training(make_mlp(6), stages, carry_optimizer_state=True)
    with pytest.raises(ValueError, match="unknown optimizer"):
        Stage("s", a.X, a.y, optimizer="rmsprop")


def test_stages_refuse_data_that_trains_to_nan_or_the_wrong_loss():
    """#21: one NaN trained every parameter to NaN; float or 3-class labels trained silently."""
    from ethicskit.attribution import Stage, make_mlp, record_training

    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.array([0, 1] * 10)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X of stage 'a'"):
        Stage("a", bad, y)
    with pytest.raises(ValueError, match="integer class indices"):
        record_training(make_mlp(3), [Stage("a", X, y.astype(float))])
    with pytest.raises(ValueError, match="outputs"):
        record_training(make_mlp(3), [Stage("a", X, np.r_[y[:-1], 2])])


def test_image_shortcut_stage_is_named_by_attribution_and_its_fix_removes_the_shortcut():
    """Issue 20, the paper's second experiment: a CNN on digits where one stage teaches a corner-patch cue."""
    from ethicskit.attribution import (
        estimate_stage_effects,
        exact_stage_effects,
        example_losses,
        record_training,
    )
    from ethicskit.attribution.images import accuracy, make_cnn, make_shortcut_digits, shortcut_stages

    data = make_shortcut_digits(random_state=0)
    model = make_cnn(random_state=0)
    record = record_training(model, shortcut_stages(data))
    assert accuracy(model, data.test_clean) - accuracy(model, data.test_flipped) > 0.25  # it uses the cue
    query = example_losses(data.test_flipped.X, data.test_flipped.y)
    exact = exact_stage_effects(record, query, show_progress=False).mean(axis=1)
    assert exact.idxmax() == "shortcut" and exact["shortcut"] > 1.0
    for method in ("first_order", "linearised"):
        estimate = estimate_stage_effects(record, query, method=method).mean(axis=1)
        assert estimate.idxmax() == "shortcut", (method, estimate.to_dict())

    fixed = make_cnn(random_state=0)
    record_training(fixed, shortcut_stages(data, drop_shortcut_cue=True))
    assert accuracy(fixed, data.test_flipped) > accuracy(model, data.test_flipped) + 0.25
    assert accuracy(fixed, data.test_clean) >= accuracy(model, data.test_clean) - 0.02


def test_adamw_linearisation_with_both_moments_matches_finite_differences():
    """Issue 20 item 3: the linearised AdamW step (second moment included) is the derivative of a replay."""
    import torch

    from ethicskit.attribution import Stage, record_training, replay_stage
    from ethicskit.attribution.estimators import _adamw_step

    torch.manual_seed(0)
    X = torch.randn(64, 4)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    adamw = Stage("adamw", X, y, lr=0.01, optimizer="adamw", epochs=2, batch_size=16)
    stages = [Stage("sgd", X, y, lr=0.1), adamw]
    record = record_training(model, stages)
    start = record.checkpoints[1]
    direction = torch.randn_like(start)
    direction /= direction.norm()
    eps = 1e-3
    state = {"theta": eps * direction}

    def step_fn(t, step, stepped_model):
        params = torch.nn.utils.parameters_to_vector(stepped_model.parameters()).detach()
        _adamw_step(record, 1, step, params, state)

    replay_stage(record, 1, callback=step_fn)
    plus, _ = replay_stage(record, 1, params=start + eps * direction)
    minus, _ = replay_stage(record, 1, params=start - eps * direction)
    finite = (plus - minus) / 2
    relative = float((state["theta"] - finite).norm() / finite.norm())
    assert relative < 0.01, relative  # the frozen-second-moment step was 0.86 off here
