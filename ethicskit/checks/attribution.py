"""Checks for lesson 06-stage-attribution (self-check exercises) and lab6-stage-attribution (graded).

Lab checks recompute every reference value with :mod:`ethicskit.attribution` on the learner's run or on a
hidden run built from ``hidden_seed`` (a seed that lives only in the lab's hidden test cells): the hidden
run draws its own data, learning rates, momentum, weight decay, stage names and stage order, so a
hard-coded number, a copied stage name or an estimator that ignores part of the schedule does not pass.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ethicskit.checks.core import CheckFailed, expect, expect_close
from ethicskit.checks.exercise import Exercise

__all__ = [
    "lesson_record",
    "hidden_run",
    "check_first_order_shift",
    "check_first_order_estimate",
    "check_pearson",
    "check_validation",
    "check_blame",
    "check_intervention",
    "shortcut_run",
    "check_shortcut_fix",
    "q1",
    "q2",
    "q3",
    "q4",
    "q5",
]

LESSON_SEED = 0
GENTLE_ALIGN_LR = 0.005
NAME_WORDS = ["amber", "birch", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
              "kestrel", "lagoon", "meadow", "nimbus", "onyx", "prairie", "quartz", "saffron", "thistle",
              "willow"]


def lesson_record(*, random_state: int = LESSON_SEED, align_lr: float = GENTLE_ALIGN_LR,
                  reweight_finetune: bool = False):
    """The lesson's (and lab's) three-stage run: data and record, from ``random_state``."""
    from ethicskit.attribution import make_mlp, make_pipeline_stages, make_spurious_data, record_training

    data = make_spurious_data(random_state=random_state)
    stages = make_pipeline_stages(data, align_lr=align_lr, reweight_finetune=reweight_finetune)
    return data, record_training(make_mlp(data.pretrain.X.shape[1], random_state=random_state), stages,
                                 random_state=random_state)


def hidden_run(seed: int):
    """A run the learner has not seen: its data, schedule and stage order come from ``seed``.

    Its stage names are plain words drawn afresh on every call (they say nothing about what a stage
    did, and differ between grading runs).

    Returns ``(data, record, skewed_stage_name)``: the stage trained on the majority-dominated data is
    the one a correct attribution should blame for the minority group's loss.
    """
    from ethicskit.attribution import Stage, make_mlp, make_spurious_data, record_training

    rng = np.random.default_rng(seed)
    data = make_spurious_data(n_pretrain=800, n_finetune=1200, n_align=160, n_test=600,
                              random_state=int(rng.integers(1 << 30)))
    momentum = float(rng.uniform(0.5, 0.9))
    weight_decay = float(rng.uniform(2e-3, 2e-2))
    # stage names carry no hint and are fresh on every call (every grading run): drawn from the operating
    # system's entropy, not from the seed, so no pattern and no replay of the seed finds the skewed stage
    names = np.random.default_rng().choice(NAME_WORDS, 3, replace=False)
    skewed = Stage(str(names[1]), data.finetune.X, data.finetune.y, epochs=2, batch_size=32,
                   lr=list(np.linspace(0.12, 0.02, 2 * -(-len(data.finetune) // 32))), momentum=momentum,
                   weight_decay=weight_decay)
    broad = Stage(str(names[0]), data.pretrain.X, data.pretrain.y, epochs=2, batch_size=32,
                  lr=float(rng.uniform(0.05, 0.1)), momentum=momentum, weight_decay=weight_decay)
    gentle = Stage(str(names[2]), data.align.X, data.align.y, epochs=2, batch_size=32,
                   lr=float(rng.uniform(0.003, 0.008)), momentum=momentum, weight_decay=weight_decay)
    stages = [broad, skewed, gentle] if rng.random() < 0.5 else [broad, gentle, skewed]
    model = make_mlp(data.pretrain.X.shape[1], random_state=int(rng.integers(1000)))
    return data, record_training(model, stages, random_state=int(rng.integers(1000))), skewed.name


def _quietly(fn: Callable[..., Any], *args: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def _as_vector(value: Any, what: str) -> np.ndarray:
    try:
        import torch

        if isinstance(value, torch.Tensor):
            value = value.detach().numpy()
        array = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} should be a torch tensor or numpy array of numbers, "
                          f"but it is a {type(value).__name__}.") from None
    return array


def _close_vectors(found: np.ndarray, expected: np.ndarray, what: str, *, rtol: float, reveal: bool) -> None:
    expect(found.shape == expected.shape,
           f"{what} should have {expected.size} values, but it has {found.size}.")
    expect(bool(np.all(np.isfinite(found))), f"{what} contains NaN or infinite values.")
    scale = float(np.abs(expected).max()) or 1.0
    worst = float(np.abs(found - expected).max())
    if worst > rtol * scale + 1e-6:
        detail = f" (largest reference value {scale:.3g})" if reveal else ""
        raise CheckFailed(f"{what} differs from the reference by up to {worst:.3g}{detail}: check that every "
                          f"later step's learning rate, momentum and weight decay enter the recurrence.")


def _target(record: Any, hidden_seed: int | None):
    if hidden_seed is None:
        expect(record is not None, "Pass the recorded run to check.")
        return record, True
    return hidden_run(hidden_seed)[1], False


def check_first_order_shift(first_order_shift: Callable[[Any, int], Any], record: Any = None, *,
                            hidden_seed: int | None = None) -> None:
    """``first_order_shift(record, k)`` must return the Hessian-free shift of the final parameters."""
    from ethicskit.attribution import stage_shift

    expect(callable(first_order_shift), "first_order_shift should be a function (record, stage) -> vector.")
    record, reveal = _target(record, hidden_seed)
    for k in range(record.n_stages):
        found = _as_vector(_quietly(first_order_shift, record, k), f"first_order_shift(record, {k})")
        expected = stage_shift(record, k, method="first_order").numpy()
        _close_vectors(found, expected, f"The shift for stage {k} ({record.stage_names[k]!r})", rtol=1e-4,
                       reveal=reveal)


def check_first_order_estimate(first_order_estimate: Callable[..., Any], record: Any = None, X: Any = None,
                               y: Any = None, *, hidden_seed: int | None = None) -> None:
    """``first_order_estimate(record, X, y, k)``: grad f(theta_T) . d_T for every example's loss."""
    from ethicskit.attribution import estimate_stage_effects, example_losses

    expect(callable(first_order_estimate),
           "first_order_estimate should be a function (record, X, y, stage) -> array of effects.")
    if hidden_seed is not None:
        data, record, _ = hidden_run(hidden_seed)
        X, y, reveal = data.test.X[:300], data.test.y[:300], False
    else:
        expect(record is not None and X is not None and y is not None, "Pass record, X and y to check.")
        reveal = True
    reference = estimate_stage_effects(record, example_losses(X, y), method="first_order", mode="taylor")
    for k in range(record.n_stages):
        found = _as_vector(_quietly(first_order_estimate, record, X, y, k), f"first_order_estimate(..., {k})")
        expected = reference.iloc[k].to_numpy()
        if found.shape == expected.shape and np.allclose(found, 0):
            raise CheckFailed(f"Every estimate for stage {k} is 0; the stage did change the losses.")
        _close_vectors(found, expected, f"The estimated effects of stage {k} ({record.stage_names[k]!r})",
                       rtol=2e-3, reveal=reveal)


def check_pearson(pearson: Any, estimate: Any, exact: Any) -> None:
    """``pearson`` must be the Pearson correlation between the two arrays of effects."""
    from ethicskit.attribution import fidelity

    expect(isinstance(pearson, (float, np.floating)) and not isinstance(pearson, bool),
           f"The correlation should be a float, but it is a {type(pearson).__name__}.")
    est, ex = _as_vector(estimate, "The estimate"), _as_vector(exact, "The exact effects")
    expect(est.shape == ex.shape, f"The estimate has {est.size} values and the exact effects {ex.size}.")
    expect(-1 <= pearson <= 1, f"A correlation lies between -1 and 1; yours is {pearson:.3g}.")
    expect_close(pearson, fidelity(est, ex)["pearson"], "The Pearson correlation", tol=1e-6)


def check_validation(pearson: Any, estimate: Any, exact: Any, record: Any, X: Any, y: Any, *,
                     stage: str = "fine-tuning") -> None:
    """Recompute the estimate and the exact effects of ``stage`` and compare the learner's correlation.

    Catches a correlation computed on the wrong arrays (not the stage's, not retraining's) or typed in.
    """
    from ethicskit.attribution import estimate_stage_effects, exact_stage_effects, example_losses, fidelity

    check_pearson(pearson, estimate, exact)
    query = example_losses(X, y)
    reference_exact = exact_stage_effects(record, query, stages=[stage]).loc[stage].to_numpy()
    found_exact = _as_vector(exact, "The exact effects")
    same = found_exact.shape == reference_exact.shape and np.allclose(found_exact, reference_exact, atol=1e-5)
    expect(same,
           f"The exact effects are not the retraining effects of the {stage!r} stage on these examples.")
    reference_estimate = estimate_stage_effects(record, query, method="first_order", mode="taylor",
                                                stages=[stage]).loc[stage].to_numpy()
    expected = fidelity(reference_estimate, reference_exact)["pearson"]
    expect_close(pearson, expected, f"The correlation for the {stage!r} stage", tol=2e-3, reveal=False)


def check_blame(blame: Callable[..., Any], record: Any = None, data: Any = None, *,
                hidden_seed: int | None = None) -> None:
    """``blame(record, X, y, group)`` must name the stage that raised group 1's mean loss the most."""
    from ethicskit.attribution import exact_stage_effects, group_losses

    expect(callable(blame), "blame should be a function (record, X, y, group) -> stage name.")
    if hidden_seed is not None:
        data, record, _ = hidden_run(hidden_seed)
    expect(record is not None and data is not None, "Pass the record and the data to check.")
    split = data.test
    answer = _quietly(blame, record, split.X, split.y, split.group)
    expect(isinstance(answer, str), f"blame should return a stage name (a str), not {type(answer).__name__}.")
    expect(answer in record.stage_names,
           f"{answer!r} is not a stage of this run; its stages are {record.stage_names}.")
    effects = exact_stage_effects(record, group_losses(split.X, split.y, split.group))
    expected = str(effects[1].idxmax())
    if answer != expected:
        where = f" of the run with stages {record.stage_names}" if hidden_seed is not None else ""
        raise CheckFailed(f"{answer!r} is not the stage whose removal would lower the minority group's loss "
                          f"the most{where}. Compare every stage's exact effect on group 1's mean loss.")


def check_intervention(intervene: Callable[..., Any], *, data_seed: int = LESSON_SEED,
                       hidden: bool = False) -> None:
    """``intervene(data, random_state=...)`` must redo fine-tuning with group-balanced weights.

    The returned run must start fine-tuning from the same pretrained parameters as the original run
    (only the blamed stage is redone) and must lift the minority group's test accuracy by at least
    0.15 while keeping the majority group's accuracy at 0.7 or more.
    """
    import torch

    from ethicskit.attribution import TrainingRecord, group_accuracy

    expect(callable(intervene), "intervene should be a function (data, *, random_state) -> TrainingRecord.")
    from ethicskit.attribution.synthetic import SpuriousData, make_spurious_data

    data, original = lesson_record(random_state=data_seed)
    given = data
    if hidden:  # the test split the function receives is a decoy: accuracy is measured on rows it never got
        decoy = make_spurious_data(n_pretrain=1, n_finetune=1, n_align=1, n_test=len(data.test),
                                   random_state=np.random.default_rng()).test
        given = SpuriousData(pretrain=data.pretrain, finetune=data.finetune, align=data.align, test=decoy,
                             feature_names=list(data.feature_names))
    redone = _quietly(lambda: intervene(given, random_state=data_seed))
    # duck-typed on purpose: the grader's fresh-process recheck re-imports ethicskit, so the learner's
    # record may be an instance of an earlier copy of the TrainingRecord class
    is_record = type(redone).__name__ == TrainingRecord.__name__ and all(
        hasattr(redone, name) for name in ("checkpoints", "stages", "model", "n_stages"))
    expect(is_record,
           f"intervene should return the TrainingRecord of the new run, not a {type(redone).__name__}.")
    expect(redone.n_stages == original.n_stages,
           f"The new run should keep the {original.n_stages} stages; it has {redone.n_stages}.")
    expect(torch.allclose(redone.checkpoints[1], original.checkpoints[1], atol=1e-6),
           "The new run's pretraining differs from the original: redo only the blamed stage "
           "(same data, model seed and random_state for the other stages).")
    stage = redone.stages[1]
    X = np.asarray(stage.X.detach().numpy() if isinstance(stage.X, torch.Tensor) else stage.X, dtype=float)
    y = np.asarray(stage.y.detach().numpy() if isinstance(stage.y, torch.Tensor) else stage.y).reshape(-1)
    same_data = (X.shape == data.finetune.X.shape and np.allclose(X, data.finetune.X, atol=1e-6)
                 and y.shape == data.finetune.y.shape and np.array_equal(y.astype(int), data.finetune.y))
    expect(same_data, "The new fine-tuning stage does not train on the fine-tuning split (data.finetune) "
                      "as it is: redo the same stage with the same data, adding only the sample weights. "
                      "(Training on other rows, such as the test split the accuracy is measured on, is not "
                      "this intervention.)")
    weights = stage.sample_weight
    expect(weights is not None, "The fine-tuning stage of the new run has no sample weights.")
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().numpy()
    weights = np.asarray(weights, dtype=float)
    totals = [float(weights[data.finetune.group == g].sum()) for g in np.unique(data.finetune.group)]
    expect(max(totals) <= min(totals) * (1 + 1e-3),
           "The fine-tuning weights are not group-balanced: every group should carry the same total weight "
           f"(here {', '.join(f'{t:.1f}' for t in totals)}).")
    before, after = group_accuracy(original.model, data.test), group_accuracy(redone.model, data.test)
    where = "on held-out data" if hidden else "on the test split"
    expect(after[1] >= before[1] + 0.15,
           f"The minority group's accuracy {where} went from {before[1]:.3f} to {after[1]:.3f}; "
           f"a group-balanced fine-tuning stage should raise it by at least 0.15.")
    expect(after[0] >= 0.7,
           f"The majority group's accuracy {where} fell to {after[0]:.3f} (expected >= 0.7).")


# ------------------------------------------------------------------------------- Part F: image shortcut
def shortcut_run(seed: int | None = None):
    """The image task's stages and flipped test set; a hidden run renames and may reorder the stages.

    Returns ``(stages, flipped, shortcut_name)``. With ``seed=None`` the lab's own run (the names of
    :func:`ethicskit.attribution.shortcut_stages`); with a seed, other digits per split, stage names
    drawn afresh on every call (no pattern finds the shortcut) and the shortcut stage second or third.
    """
    from ethicskit.attribution import Stage, make_shortcut_digits, shortcut_stages

    if seed is None:
        data = make_shortcut_digits(random_state=LESSON_SEED)
        return shortcut_stages(data), data.test_flipped, "shortcut"
    rng = np.random.default_rng(seed)
    data = make_shortcut_digits(random_state=int(rng.integers(1 << 30)))
    names = np.random.default_rng().choice(NAME_WORDS, 3, replace=False)
    clean, cue, late = shortcut_stages(data)
    renamed = [
        Stage(str(n), s.X, s.y, epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, momentum=s.momentum)
        for n, s in zip(names, (clean, cue, late), strict=True)
    ]
    stages = renamed if rng.random() < 0.5 else [renamed[0], renamed[2], renamed[1]]
    return stages, data.test_flipped, renamed[1].name


def _without_cue(stage: Any) -> Any:
    from ethicskit.attribution import Stage
    from ethicskit.attribution.images import without_cue

    return Stage(stage.name, without_cue(stage.X.detach().numpy()), stage.y, epochs=stage.epochs,
                 batch_size=stage.batch_size, lr=stage.lr, momentum=stage.momentum)


def check_shortcut_fix(
    remove_shortcut: Callable[..., Any], *, hidden_seed: int | None = None
) -> float | None:
    """``remove_shortcut(stages, X, y, random_state=0)`` -> ``(blamed stage name, fixed model)``.

    1 point: the name is the stage whose exact effect on the mean loss of ``(X, y)`` is the largest
    (hidden runs use fresh names and order). 1 point: the model is the lab's recipe retrained with
    only that stage's corner patch removed (its predictions on the flipped test images match the
    kit's own retraining), and it is right on at least 0.2 more of them than the original model.
    """
    from ethicskit.attribution import accuracy, exact_stage_effects, example_losses, make_cnn, record_training
    from ethicskit.checks.core import Parts

    expect(callable(remove_shortcut), "remove_shortcut should be a function (stages, X, y, *, random_state).")
    stages, flipped, truth = shortcut_run(hidden_seed)
    X, y = flipped.X.copy(), flipped.y.copy()
    answer = _quietly(lambda: remove_shortcut(list(stages), X, y, random_state=0))
    expect(isinstance(answer, tuple) and len(answer) == 2,
           f"remove_shortcut should return a pair (stage name, fixed model), not {type(answer).__name__}.")
    blamed, model = answer
    original = make_cnn(random_state=0)
    record = record_training(original, stages, random_state=0)
    parts = Parts(total=2)

    def named_right() -> None:
        effects = exact_stage_effects(record, example_losses(flipped.X, flipped.y), show_progress=False)
        expected = str(effects.mean(axis=1).idxmax())
        expect(isinstance(blamed, str) and blamed == expected,
               f"{blamed!r} is not the stage whose exact effect on the flipped images' mean loss is the "
               f"largest (stages of this run: {record.stage_names}).")

    def fixed_right() -> None:
        import torch

        expect(isinstance(model, torch.nn.Module),
               f"the fixed model should be a torch module, not {type(model).__name__}.")
        reference = make_cnn(random_state=0)
        cleaned = [_without_cue(s) if s.name == truth else s for s in stages]
        record_training(reference, cleaned, random_state=0)
        with torch.no_grad():
            theirs = model(torch.as_tensor(flipped.X)).argmax(dim=1).numpy()
            ours = reference(torch.as_tensor(flipped.X)).argmax(dim=1).numpy()
        expect(float(np.mean(theirs == ours)) >= 0.99,
               "the fixed model does not predict what the lab's recipe predicts when only the blamed "
               "stage's corner patch is removed (same make_cnn and record_training random_state, the other "
               "stages unchanged).")
        gain = float(np.mean(theirs == flipped.y)) - accuracy(original, flipped)
        expect(gain >= 0.2, f"the fixed model is right on only {gain:+.2f} more flipped images than before.")

    if hidden_seed is None:  # the visible check: the blamed stage on the lab's own run (the fix is hidden)
        named_right()
        print(f"remove_shortcut blames {blamed!r}, the stage retraining blames; the fix is judged by the "
              "hidden test.")
        return None
    parts.run(1, named_right, "the blamed stage")
    parts.run(1, fixed_right, "the fixed model")
    return parts.result()


# ----------------------------------------------------------------------------------- lesson exercises
def _stage_key(name: str) -> str:
    """'Fine-tuning', 'fine tuning', 'finetuning ' and 'fine_tuning' all name the same stage."""
    return "".join(ch for ch in name.strip().lower() if ch.isalnum())


def _check_blamed_stage(answer: Any) -> None:
    from ethicskit.attribution import exact_stage_effects, group_losses

    expect(isinstance(answer, str), f"Answer with a stage name (a str), not {type(answer).__name__}.")
    data, record = lesson_record()
    spelled = {_stage_key(name): name for name in record.stage_names}
    expect(_stage_key(answer) in spelled, f"{answer!r} is not one of the stages {record.stage_names}.")
    answer = spelled[_stage_key(answer)]
    effects = exact_stage_effects(record, group_losses(data.test.X, data.test.y, data.test.group))
    if answer != effects[1].idxmax():
        raise CheckFailed(f"Removing {answer!r} would not lower the minority group's loss the most. "
                          "Look at column 1 (the minority group) of the exact group effects.")


def _check_coefficient(answer: Any) -> None:
    from ethicskit.attribution import first_order_coefficients

    _, record = lesson_record()
    a, _ = first_order_coefficients(record, "fine-tuning")
    if isinstance(answer, (int, float)) and abs(float(answer) - 1.0) < 1e-12:
        raise CheckFailed("1.0 would mean the later steps leave the change untouched; "
                          "weight decay shrinks it.")
    # the lesson shows a rounded to 4 decimals: accept that figure (and anything closer)
    expect_close(answer, a, "The coefficient a for the fine-tuning stage", tol=5e-5 + 1e-9)


def _reference_coefficient(later: list[list[tuple[float, float, float]]]) -> float:
    d = 1.0
    for stage in later:
        c = 0.0  # the optimiser (and its momentum buffer) restarts at every stage
        for lr, momentum, weight_decay in stage:
            c = momentum * c + weight_decay * d
            d = d - lr * c
    return d


def _check_coefficient_function(coefficient: Any) -> None:
    expect(callable(coefficient), "Pass your function itself: q4.check(coefficient).")
    rng = np.random.default_rng()
    cases = [
        [[(0.1, 0.0, 0.0)] * 3],  # no weight decay: the change passes untouched
        [[(0.05, 0.9, 0.01)] * 20],
        [[(0.1, 0.5, 0.1)] * 5, [(0.01, 0.9, 0.05)] * 7],  # two later stages: the buffer restarts
        [[(float(rng.uniform(0.001, 0.2)), float(rng.choice([0.0, 0.5, 0.9])), float(rng.uniform(0, 0.1)))
          for _ in range(int(rng.integers(1, 30)))] for _ in range(2)],
    ]
    _, record = lesson_record()
    cases.append([[(s.lr, s.momentum, s.weight_decay) for s in record.steps[j]]
                  for j in range(2, record.n_stages)])
    for later in cases:
        found = coefficient(later)
        expect(found is not None, "coefficient(later) returned None: return the final d.")
        expected = _reference_coefficient(later)
        steps = sum(len(stage) for stage in later)
        expect(
            isinstance(found, (int, float, np.floating))
            and abs(float(found) - expected) <= 1e-9 + 1e-9 * abs(expected),
            f"for {len(later)} later stage(s) with {steps} steps your coefficient gave {found!r:.40}, "
            f"the recurrence gives {expected:.6f}. Does the buffer difference c restart at 0 at each stage?",
        )


def _check_exact_estimator(answer: Any) -> None:
    expect(isinstance(answer, str), "Answer with 'first_order' or 'linearised'.")
    choice = answer.strip().lower().replace("-", "_").replace("linearized", "linearised")
    expect(choice in {"first_order", "linearised"}, f"{answer!r} is not 'first_order' or 'linearised'.")
    expect(choice == "linearised", "With squared loss the gradient depends on the parameters (its Hessian is "
                                   "X^T X / n), so dropping the Hessian is not exact.")


q1 = Exercise(
    "Exercise 6.1",
    _check_blamed_stage,
    hints=["exact_stage_effects(record, group_losses(X, y, group)) has one column per group; group 1 is the "
           "minority.", "The stage with the largest positive effect raised the loss most: idxmax()."],
    solution="effects = exact_stage_effects(record, group_losses(test.X, test.y, test.group))\n"
             "answer = effects[1].idxmax()   # 'fine-tuning'",
)
q2 = Exercise(
    "Exercise 6.2",
    _check_coefficient,
    hints=["first_order_coefficients(record, stage) returns (a, b); b multiplies the momentum change, which "
           "is 0 here because the optimiser resets between stages."],
    solution="a, b = first_order_coefficients(record, 'fine-tuning')\nanswer = a",
)
q3 = Exercise(
    "Exercise 6.3",
    _check_exact_estimator,
    hints=["Which estimator uses the Hessian of the later minibatch losses? When is a linearisation exact?"],
    solution="answer = 'linearised'  # the training dynamics are linear in theta for a linear model with MSE",
)
q4 = Exercise(
    "Exercise 6.4",
    _check_coefficient_function,
    hints=["Start with d = 1.0. For each stage set c = 0.0, then for each (lr, momentum, weight_decay):\n"
           "c = momentum * c + weight_decay * d, then d = d - lr * c.", "Return d after the last step."],
    solution="def coefficient(later):\n    d = 1.0\n    for stage in later:\n        c = 0.0\n"
             "        for lr, momentum, weight_decay in stage:\n"
             "            c = momentum * c + weight_decay * d\n"
             "            d = d - lr * c\n    return d",
)


def _check_wrong_sign(answer: Any, estimate: Any, exact: Any) -> None:
    from ethicskit.attribution import compare_estimates

    expect(isinstance(answer, (int, float, np.floating)) and not isinstance(answer, bool),
           f"Answer with a share between 0 and 1, not {type(answer).__name__}.")
    agree = float(_quietly(compare_estimates, estimate, exact).loc["fine-tuning", "sign_agreement"])
    expect(abs(float(answer) - agree) > 1.5e-3 or abs(agree - 0.5) < 1e-3,
           "That is the share whose sign *agrees*; the question asks for the share with the wrong sign.")
    expect_close(answer, 1 - agree, "the share of test examples whose estimated effect has the wrong sign",
                 tol=1.5e-3)


q5 = Exercise(
    "Exercise 6.5",
    _check_wrong_sign,
    hints=["compare_estimates(loud_first, loud_exact) has a sign_agreement column: the share whose signs "
           "agree.", "The wrong-sign share is 1 minus the agreement of the fine-tuning row."],
    solution="answer_5 = 1 - compare_estimates(loud_first, loud_exact).loc['fine-tuning', 'sign_agreement']",
)
