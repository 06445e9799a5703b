"""The lab-6 and lesson-06 checks accept the reference answers and reject typical wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ethicskit.attribution import (
    exact_stage_effects,
    example_losses,
    first_order_effects,
    group_losses,
    make_mlp,
    make_pipeline_stages,
    record_training,
)
from ethicskit.checks import CheckFailed
from ethicskit.checks import attribution as checks

HIDDEN = 4242  # a test seed, not the one in the lab's hidden cells


def first_order_shift(record, stage, *, use_weight_decay=True):
    e = record.checkpoints[stage + 1] - record.checkpoints[stage]
    d, c = 1.0, 0.0
    for later in range(stage + 1, record.n_stages):
        c = 0.0
        for step in record.steps[later]:
            lam = step.weight_decay if use_weight_decay else 0.0
            c = step.momentum * c + lam * d
            d = d - step.lr * c
    return d * e


def first_order_estimate(record, X, y, stage):
    delta = first_order_shift(record, stage)
    model = record.model_at(record.final_params)
    losses = F.cross_entropy(model(torch.as_tensor(X)), torch.as_tensor(y), reduction="none")
    values = []
    for loss in losses:
        grads = torch.autograd.grad(loss, list(model.parameters()), retain_graph=True)
        values.append(float(torch.dot(torch.cat([g.reshape(-1) for g in grads]), delta)))
    return np.array(values)


def blame(record, X, y, group):
    return exact_stage_effects(record, group_losses(X, y, group))[1].idxmax()


def intervene(data, *, random_state=0):
    stages = make_pipeline_stages(data, align_lr=checks.GENTLE_ALIGN_LR, reweight_finetune=True)
    return record_training(make_mlp(6, random_state=random_state), stages, random_state=random_state)


@pytest.fixture(scope="module")
def lesson():
    return checks.lesson_record()


def test_reference_answers_pass_visible_and_hidden(lesson):
    data, record = lesson
    checks.check_first_order_shift(first_order_shift, record)
    checks.check_first_order_shift(first_order_shift, hidden_seed=HIDDEN)
    X, y = data.test.X[:200], data.test.y[:200]
    checks.check_first_order_estimate(first_order_estimate, record, X, y)
    checks.check_first_order_estimate(first_order_estimate, hidden_seed=HIDDEN)
    checks.check_blame(blame, record, data)
    checks.check_blame(blame, hidden_seed=HIDDEN)
    checks.check_intervention(intervene)
    checks.check_intervention(intervene, data_seed=HIDDEN, hidden=True)


def test_shift_without_weight_decay_fails_hidden():
    with pytest.raises(CheckFailed, match="weight decay"):
        checks.check_first_order_shift(lambda r, k: first_order_shift(r, k, use_weight_decay=False),
                                       hidden_seed=HIDDEN)


def test_checkpoint_difference_alone_fails(lesson):
    _, record = lesson
    with pytest.raises(CheckFailed, match="stage 0"):
        checks.check_first_order_shift(lambda r, k: r.checkpoints[k + 1] - r.checkpoints[k], record)


def test_estimate_by_difference_or_zero_fails(lesson):
    data, record = lesson
    X, y = data.test.X[:200], data.test.y[:200]

    def difference(r, X, y, k):  # the wrong reading: f(theta_T) - f(theta_T - d) is not the gradient formula
        model_now, model_cf = r.model_at(r.final_params), r.model_at(r.final_params - first_order_shift(r, k))
        q = example_losses(X, y)
        return (q(model_now) - q(model_cf)).detach().numpy()

    with pytest.raises(CheckFailed):
        checks.check_first_order_estimate(difference, hidden_seed=HIDDEN)
    with pytest.raises(CheckFailed, match="is 0"):
        checks.check_first_order_estimate(lambda r, X, y, k: np.zeros(len(y)), record, X, y)
    with pytest.raises(CheckFailed, match="torch tensor or numpy array"):
        checks.check_first_order_estimate(lambda r, X, y, k: "many", record, X, y)


def test_hard_coded_stage_name_fails_hidden(lesson):
    data, record = lesson
    checks.check_blame(lambda *a: "fine-tuning", record, data)  # passes on the visible run
    with pytest.raises(CheckFailed, match="not a stage of this run"):
        checks.check_blame(lambda *a: "fine-tuning", hidden_seed=HIDDEN)
    with pytest.raises(CheckFailed, match="minority group's loss"):
        checks.check_blame(lambda r, *a: r.stage_names[0], hidden_seed=HIDDEN)


def test_hidden_runs_differ_and_blame_the_skewed_stage():
    data, record, skewed = checks.hidden_run(HIDDEN)
    other = checks.hidden_run(HIDDEN + 1)[1]
    assert record.stage_names != other.stage_names or not torch.equal(record.final_params, other.final_params)
    effects = exact_stage_effects(record, group_losses(data.test.X, data.test.y, data.test.group))
    assert effects[1].idxmax() == skewed


def test_intervention_that_changes_nothing_or_everything_fails():
    with pytest.raises(CheckFailed, match="no sample weights|minority"):
        checks.check_intervention(
            lambda data, random_state=0: checks.lesson_record(random_state=random_state)[1])

    def fresh_seed(data, *, random_state=0):
        return intervene(data, random_state=random_state + 1)

    with pytest.raises(CheckFailed, match="pretraining differs"):
        checks.check_intervention(fresh_seed)
    with pytest.raises(CheckFailed, match="TrainingRecord"):
        checks.check_intervention(lambda data, random_state=0: None)


def test_pearson_check(lesson):
    data, record = lesson
    q = example_losses(data.test.X[:100], data.test.y[:100])
    est = first_order_effects(record, q, mode="taylor").loc["fine-tuning"]
    exact = exact_stage_effects(record, q, stages=["fine-tuning"]).loc["fine-tuning"]
    r = float(np.corrcoef(est, exact)[0, 1])
    checks.check_pearson(r, est, exact)
    with pytest.raises(CheckFailed):
        checks.check_pearson(0.99 if r < 0.98 else 0.5, est, exact)
    with pytest.raises(CheckFailed, match="float"):
        checks.check_pearson("high", est, exact)


def test_lesson_exercises(capsys):
    checks.q1.check("fine-tuning")
    with pytest.raises(CheckFailed, match="not yet"):
        checks.q1.check("alignment")
    from ethicskit.attribution import first_order_coefficients

    checks.q1.check("Fine-tuning")  # the forms people write: capital letter, space, no hyphen
    checks.q1.check("fine tuning")
    a = first_order_coefficients(checks.lesson_record()[1], "fine-tuning")[0]
    checks.q2.check(a)
    checks.q2.check(round(a, 4))  # the figure the lesson displays
    with pytest.raises(CheckFailed, match="weight decay shrinks"):
        checks.q2.check(1.0)
    checks.q3.check("linearised")
    with pytest.raises(CheckFailed, match="Hessian"):
        checks.q3.check("first-order")
    assert "correct" in capsys.readouterr().out


def test_lesson_exercise_coefficient_is_written_by_the_learner():
    def coefficient(later):
        d = 1.0
        for stage in later:
            c = 0.0
            for lr, momentum, weight_decay in stage:
                c = momentum * c + weight_decay * d
                d = d - lr * c
        return d

    def buffer_never_restarts(later):
        d, c = 1.0, 0.0
        for stage in later:
            for lr, momentum, weight_decay in stage:
                c = momentum * c + weight_decay * d
                d = d - lr * c
        return d

    checks.q4.check(coefficient)
    for wrong in [buffer_never_restarts, lambda later: 1.0, lambda later: None, 0.9996]:
        with pytest.raises(CheckFailed):
            checks.q4.check(wrong)


def test_validation_check(lesson):
    data, record = lesson
    X, y = data.test.X[:150], data.test.y[:150]
    estimate = first_order_estimate(record, X, y, 1)
    exact = exact_stage_effects(record, example_losses(X, y), stages=["fine-tuning"]).loc["fine-tuning"]
    r = float(np.corrcoef(estimate, exact)[0, 1])
    checks.check_validation(r, estimate, exact, record, X, y)
    wrong_exact = exact_stage_effects(record, example_losses(X, y), stages=["alignment"]).loc["alignment"]
    r_wrong = float(np.corrcoef(estimate, wrong_exact)[0, 1])
    with pytest.raises(CheckFailed, match="not the retraining effects"):
        checks.check_validation(r_wrong, estimate, wrong_exact, record, X, y)
    noise = np.random.default_rng(0).normal(size=len(y))
    with pytest.raises(CheckFailed, match="correlation"):
        checks.check_validation(float(np.corrcoef(noise, exact)[0, 1]), noise, exact, record, X, y)


def test_hidden_stage_names_are_fresh_and_say_nothing():
    """Issue 15.7: no name pattern ('tun', 'pretrain') finds the skewed stage; names change per run."""
    names = {tuple(checks.hidden_run(HIDDEN)[1].stage_names) for _ in range(4)}
    assert len(names) > 1
    for run in names:
        assert not any(part in name for name in run for part in ("tun", "pretrain", "align"))
    with pytest.raises(CheckFailed):
        checks.check_blame(lambda r, *a: next((n for n in r.stage_names if "tun" in n), "none"),
                           hidden_seed=HIDDEN)


def test_intervention_on_other_rows_fails():
    """Issue 15.2: fine-tuning on the split the accuracy is measured on is not the intervention."""
    from ethicskit.attribution import Stage

    def on_test(data, *, random_state=0):
        stages = make_pipeline_stages(data, align_lr=checks.GENTLE_ALIGN_LR)
        ft, test = stages[1], data.test
        n_steps = ft.epochs * -(-len(test.y) // ft.batch_size)
        stages[1] = Stage(ft.name, test.X, test.y, sample_weight=np.ones(len(test.y)), epochs=ft.epochs,
                          batch_size=ft.batch_size, lr=list(np.resize(ft.lr, n_steps)), momentum=ft.momentum,
                          weight_decay=ft.weight_decay)
        return record_training(make_mlp(6, random_state=random_state), stages, random_state=random_state)

    for hidden in (False, True):
        with pytest.raises(CheckFailed, match="does not train on the fine-tuning split"):
            checks.check_intervention(on_test, data_seed=HIDDEN, hidden=hidden)

    def unbalanced(data, *, random_state=0):
        stages = make_pipeline_stages(data, align_lr=checks.GENTLE_ALIGN_LR)
        ft = stages[1]
        stages[1] = Stage(ft.name, ft.X, ft.y, sample_weight=np.where(data.finetune.group == 1, 5.0, 1.0),
                          epochs=ft.epochs, batch_size=ft.batch_size, lr=ft.lr, momentum=ft.momentum,
                          weight_decay=ft.weight_decay)
        return record_training(make_mlp(6, random_state=random_state), stages, random_state=random_state)

    with pytest.raises(CheckFailed, match="not group-balanced"):
        checks.check_intervention(unbalanced)


def test_lesson_exercise_6_5_wrong_sign_share():
    import pandas as pd

    stages = ["pretraining", "fine-tuning", "alignment"]
    exact = pd.DataFrame([[1.0, -1.0, 2.0, 0.5]] * 3, index=stages)
    estimate = exact.copy()
    estimate.loc["fine-tuning"] = [-1.0, -1.0, 2.0, 0.5]   # one of four signs wrong
    checks.q5.check(0.25, estimate, exact)
    with pytest.raises(CheckFailed, match="agrees"):
        checks.q5.check(0.75, estimate, exact)
    with pytest.raises(CheckFailed):
        checks.q5.check("a quarter", estimate, exact)
