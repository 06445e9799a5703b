"""Checks for lesson 01-fairness (self-check exercises) and lab1-bias-mitigation (autograded tests).

Lesson exercises: ``q0`` ... ``q10`` (:class:`~ethicskit.checks.exercise.Exercise` objects).

Lab checks (``check_<question>``): the visible ones run on data the learner can see; the ``*_hidden``
ones take a ``hidden_seed`` from the hidden test cell of the nbgrader source (never stored here) and
recompute the reference on inputs the learner never saw, so hard-coded or copied values fail.
Every check returns the points it awards (nbgrader reads a test cell's last value as partial credit)
or raises :class:`~ethicskit.checks.core.CheckFailed` with feedback in plain words.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ethicskit.checks.core import CheckFailed, Parts, expect, expect_close, expect_columns, expect_type
from ethicskit.checks.exercise import Exercise
from ethicskit.datasets.tabular import adult_splits
from ethicskit.fairness.mitigation import make_baseline

__all__ = [
    "LAB_DATASET",
    "LAB_SENSITIVE",
    "DP_BOUND",
    "ACCURACY_MARGIN",
    "lab_splits",
    "make_baseline",
    "check_group_rates",
    "check_parity_gaps",
    "check_parity_gaps_hidden",
    "check_group_rates_hidden",
    "check_reweighing",
    "check_reweighing_hidden",
    "check_mitigated_model",
    "check_mitigated_model_hidden",
    "q0",
    "q1",
    "q2",
    "q3",
    "q4",
    "q5",
    "q6",
    "q7",
    "q8",
    "q9",
    "q10",
]

#: The lab works on Adult income, audited by sex.
LAB_DATASET = "adult"
LAB_SENSITIVE = "sex"
#: Part 3: demographic-parity difference allowed on held-out data ...
DP_BOUND = 0.05
#: ... while accuracy stays at least the baseline's minus this margin.
ACCURACY_MARGIN = 0.04
_RATE_COLUMNS = ["selection_rate", "tpr", "fpr"]
#: Part 1a and Part 2 are solved without these helpers: the lab's test cells say so with a line
#: ``# ethicskit: forbid ...``, which the recheck enforces by behaviour (under any alias).
GROUP_RATES_FORBIDDEN = (
    "fairlearn.metrics.MetricFrame",
    "fairlearn.metrics.true_positive_rate",
    "fairlearn.metrics.false_positive_rate",
    "ethicskit.fairness.audit_predictions",
    "ethicskit.fairness.true_positive_rate",
    "ethicskit.fairness.false_positive_rate",
    "ethicskit.cards.group_metrics",
)
REWEIGHING_FORBIDDEN = ("ethicskit.fairness.reweighing_weights", "ethicskit.fairness.ReweighingClassifier")


# Lab 1's data and baseline live in their topics; they are imported here too because submitted
# notebooks import them from this module.
lab_splits = adult_splits


@functools.lru_cache(maxsize=1)
def _lab_data():
    """The lab's splits, loaded once per process for the checks' own use.

    Learner code never receives these objects, only copies (:func:`_evaluate`), so a learner's function
    cannot change what a later check computes; ``lab_splits()`` still gives learners a fresh copy.
    """
    return adult_splits()


@functools.lru_cache(maxsize=1)
def _baseline_validation_predictions() -> np.ndarray:
    """The lab's baseline (fitted on the train split) predicting the validation split, computed once.

    Two visible checks need it (Part 1's gaps, Part 3's accuracy margin); in the kernel and in the
    recheck each process fits it once instead of twice. Read-only, so no caller can alter it.
    """
    splits = _lab_data()
    model = _quiet_call(make_baseline(splits.train.data).fit, splits.train.data, splits.train.target)
    pred = np.asarray(_quiet_call(model.predict, splits.validation.data))
    pred.setflags(write=False)
    return pred


def _quiet_call(func: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call learner code with warnings silenced (stderr output would zero an nbgrader cell)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return func(*args, **kwargs)


def _reference_rates(y_true, y_pred, sensitive) -> pd.DataFrame:
    # the grader's reference lives in a hidden module (empty for student code in the recheck's runner)
    from ethicskit.checks._hidden_fairness import reference_rates

    return reference_rates(y_true, y_pred, sensitive)


# --------------------------------------------------------------------------- Part 1: group rates


def _compare_rates(found: Any, expected: pd.DataFrame, what: str, *, reveal: bool) -> None:
    expect_columns(found, _RATE_COLUMNS, what)
    index = [str(g) for g in found.index]
    expect(
        sorted(index) == sorted(expected.index),
        f"{what} should have one row per group, indexed by the group's value ({len(expected)} groups"
        + (f": {sorted(expected.index)}" if reveal else "")
        + f"); its index is {index[:6]}.",
    )
    aligned = found.copy()
    aligned.index = index
    aligned = aligned.loc[list(expected.index)]
    for column in _RATE_COLUMNS:
        want = expected[column].to_numpy(float)
        got = pd.to_numeric(aligned[column], errors="coerce").to_numpy(float)
        undefined = np.isnan(want)
        expect(
            np.array_equal(np.isnan(got), undefined),
            f"{what}: column {column!r} should be NaN exactly where the rate is undefined (a group with no "
            f"{'positives' if column == 'tpr' else 'negatives'}) and a number elsewhere.",
        )
        expect_close(got[~undefined], want[~undefined], f"{what}, column {column!r}", tol=1e-6, reveal=reveal)


def check_group_rates(group_rates: Callable) -> None:
    """Visible test of Part 1: ``group_rates`` on a small example you can work out by hand."""
    expect(callable(group_rates), "group_rates should be a function group_rates(y_true, y_pred, sensitive).")
    y_true = [1, 1, 0, 0, 1, 0, 0, 0]
    y_pred = [1, 0, 1, 0, 1, 1, 0, 0]
    sensitive = ["F", "F", "F", "F", "M", "M", "M", "M"]
    found = _quiet_call(group_rates, y_true, y_pred, sensitive)
    _compare_rates(found, _reference_rates(y_true, y_pred, sensitive), "group_rates(example)", reveal=True)
    print("group_rates gives the right rates on the example.")


def _reference_gaps(rates: pd.DataFrame) -> tuple[float, float]:
    from ethicskit.checks._hidden_fairness import reference_gaps

    return reference_gaps(rates)


def _compare_gaps(parity_gaps: Callable, rates: pd.DataFrame, what: str, *, reveal: bool) -> None:
    found = _quiet_call(parity_gaps, rates.copy())
    expect(
        isinstance(found, (tuple, list)) and len(found) == 2,
        f"parity_gaps should return a pair (dp_difference, eo_difference), got {type(found).__name__}.",
    )
    dp, eo = _reference_gaps(rates)
    expect_close(found[0], dp, f"the demographic parity difference {what}", tol=1e-6, reveal=reveal)
    expect_close(found[1], eo, f"the equalized odds difference {what}", tol=1e-6, reveal=reveal)


def check_parity_gaps(parity_gaps: Callable, dp_difference: Any, eo_difference: Any) -> None:
    """Visible test of Part 1: ``parity_gaps`` on an example, and the baseline's gaps, recomputed here."""
    expect(callable(parity_gaps), "parity_gaps should be a function parity_gaps(rates).")
    example = pd.DataFrame(
        {"selection_rate": [0.5, 0.2], "tpr": [0.8, 0.5], "fpr": [0.3, 0.1]}, index=["F", "M"]
    )
    _compare_gaps(parity_gaps, example, "of the example table", reveal=True)
    validation = _lab_data().validation
    # the audit's demographic parity and equalized odds differences (fairlearn's definitions: the
    # spread of selection rates; the larger spread of TPR and FPR), computed directly from the rates
    dp, eo = _reference_gaps(
        _reference_rates(
            validation.target, _baseline_validation_predictions(), validation.data[LAB_SENSITIVE]
        )
    )
    expect_close(
        dp_difference,
        dp,
        "dp_difference (demographic parity difference of the baseline on the validation split)",
        tol=1e-4,
    )
    expect_close(
        eo_difference,
        eo,
        "eo_difference (equalized odds difference of the baseline on the validation split)",
        tol=1e-4,
    )
    print("parity_gaps works on the example; dp_difference and eo_difference match a recomputation.")


def check_parity_gaps_hidden(parity_gaps: Callable, *, hidden_seed: int) -> float:
    """Hidden test of Part 1b (1 point): tables with 2 to 4 groups, one of them with an undefined TPR."""
    rng = np.random.default_rng(hidden_seed)
    for trial in range(3):
        k = int(rng.integers(2, 5))
        rates = pd.DataFrame(rng.random((k, 3)), columns=_RATE_COLUMNS, index=[f"g{i}" for i in range(k)])
        if trial == 2:
            rates.iloc[int(rng.integers(0, k)), 1] = np.nan  # a group with no positives
        _compare_gaps(parity_gaps, rates, "of a new table", reveal=False)
    print("parity_gaps is right on new tables.")
    return 1.0


def _hidden_labels(rng: np.random.Generator, n: int, groups: list[str]):
    sensitive = rng.choice(groups, n)
    y_true = (rng.random(n) < rng.uniform(0.2, 0.7)).astype(int)
    y_pred = (rng.random(n) < 0.5).astype(int)
    return y_true, y_pred, sensitive


def check_group_rates_hidden(group_rates: Callable, *, hidden_seed: int) -> float:
    """Hidden test of Part 1a (2 points): random inputs, then edge cases (empty cells, Series, 3 groups)."""
    rng = np.random.default_rng(hidden_seed)
    parts = Parts(total=2)

    def random_inputs() -> None:
        y_true, y_pred, sensitive = _hidden_labels(rng, int(rng.integers(200, 400)), ["Female", "Male"])
        found = _quiet_call(group_rates, y_true, y_pred, sensitive)
        _compare_rates(
            found, _reference_rates(y_true, y_pred, sensitive), "group_rates on new data", reveal=False
        )

    def edge_cases() -> None:
        n = int(rng.integers(60, 90))
        y_true, y_pred, sensitive = _hidden_labels(rng, n, ["a", "b", "c"])
        y_true[sensitive == "c"] = 0  # group c: no positives, so its TPR is undefined
        index = rng.permutation(n) + 1000  # pandas Series with a shuffled index, like a split
        args = (
            pd.Series(y_true, index=index),
            pd.Series(y_pred, index=index),
            pd.Series(sensitive, index=index),
        )
        found = _quiet_call(group_rates, *args)
        _compare_rates(
            found,
            _reference_rates(y_true, y_pred, sensitive),
            "group_rates with three groups, one without positives, given as pandas Series",
            reveal=False,
        )

    parts.run(1, random_inputs, "random inputs")
    parts.run(1, edge_cases, "edge cases")
    return parts.result()


# --------------------------------------------------------------------------- Part 2: reweighing


def _reference_weights(y, sensitive) -> np.ndarray:
    from ethicskit.checks._hidden_fairness import reference_weights

    return reference_weights(y, sensitive)


def _compare_weights(reweighing: Callable, y, sensitive, what: str, *, reveal: bool) -> None:
    found = _quiet_call(reweighing, y, sensitive)
    expected = _reference_weights(y, sensitive)
    try:
        array = np.asarray(found, dtype=float).ravel()
    except (TypeError, ValueError):
        raise CheckFailed(f"{what}: reweighing should return numbers, got {type(found).__name__}.") from None
    expect(
        array.shape == expected.shape,
        f"{what}: reweighing should return one weight per row ({len(expected)}), got {array.size}.",
    )
    expect_close(array, expected, what, tol=1e-6, reveal=reveal)


def check_reweighing(reweighing: Callable) -> None:
    """Visible test of Part 2: the weights on a small example you can work out by hand."""
    expect(callable(reweighing), "reweighing should be a function reweighing(y, sensitive).")
    y = [1, 1, 0, 0, 0, 1]
    sensitive = ["a", "a", "a", "b", "b", "b"]
    _compare_weights(reweighing, y, sensitive, "reweighing(example)", reveal=True)
    print("reweighing gives the right weights on the example.")


def check_reweighing_hidden(reweighing: Callable, *, hidden_seed: int) -> float:
    """Hidden test of Part 2 (3 points): new random inputs (2), then edge cases (1)."""
    rng = np.random.default_rng(hidden_seed)
    parts = Parts(total=3)

    def random_inputs() -> None:
        n = int(rng.integers(300, 600))
        sensitive = rng.choice(["Female", "Male"], n, p=[0.35, 0.65])
        y = (rng.random(n) < np.where(sensitive == "Male", 0.3, 0.12)).astype(int)
        _compare_weights(reweighing, y, sensitive, "reweighing on new data", reveal=False)

    def edge_cases() -> None:
        n = int(rng.integers(40, 80))
        sensitive = rng.choice(["x", "y", "z"], n)
        y = rng.integers(0, 2, n)
        y[sensitive == "z"] = 1  # a group where every label is 1
        index = rng.permutation(n) + 500
        _compare_weights(
            reweighing,
            pd.Series(y, index=index),
            pd.Series(sensitive, index=index),
            "reweighing with three groups (one with a single label), given as pandas Series "
            "with a shuffled index",
            reveal=False,
        )

    parts.run(2, random_inputs, "random inputs")
    parts.run(1, edge_cases, "edge cases")
    return parts.result()


# --------------------------------------------------------------------------- Part 3: mitigated model


def _evaluate(
    fit_mitigated_model: Callable, train, test, *, random_state: int, shuffle_seed: int | None = None
):
    """Fit the learner's recipe on ``train``, predict ``test``: accuracy, DP difference, baseline accuracy."""
    from ethicskit.fairness import predict_fair

    y_train = train.target
    if shuffle_seed is not None:
        y_train = pd.Series(
            np.random.default_rng(shuffle_seed).permutation(y_train.to_numpy()), index=y_train.index
        )
    X_train, X_test = train.data.copy(), test.data.copy()
    try:
        model = _quiet_call(
            fit_mitigated_model,
            X_train,
            y_train.copy(),
            X_train[LAB_SENSITIVE].copy(),
            random_state=random_state,
        )
        pred = _quiet_call(
            predict_fair, model, X_test, sensitive_features=X_test[LAB_SENSITIVE], random_state=random_state
        )
    except CheckFailed:
        raise
    except Exception as error:
        raise CheckFailed(
            f"fitting or predicting with your model raised {type(error).__name__}: {error}"
        ) from None
    pred = np.asarray(pred).ravel()
    expect(
        pred.shape == (len(X_test),),
        f"the model should predict one label per row ({len(X_test)}), got {pred.size}.",
    )
    expect(set(np.unique(pred).tolist()) <= {0, 1}, "the model should predict labels 0 and 1.")
    accuracy = float(np.mean(pred == test.target.to_numpy()))
    # the demographic parity difference, computed directly: a full audit per refit costs more than the
    # refit's prediction and the grader makes four of them per submission
    groups = X_test[LAB_SENSITIVE].to_numpy()
    rates = [float(pred[groups == g].mean()) for g in np.unique(groups)]
    dp = max(rates) - min(rates)
    return accuracy, dp


def _baseline_accuracy(train, test, random_state: int) -> float:
    model = _quiet_call(make_baseline(train.data, random_state=random_state).fit, train.data, train.target)
    return float(np.mean(_quiet_call(model.predict, test.data) == test.target.to_numpy()))


def _judge(accuracy: float, dp: float, baseline: float, where: str, *, reveal: bool) -> None:
    shown = f" (baseline {baseline:.3f})" if reveal else ""
    expect(
        dp <= DP_BOUND,
        f"on {where} the demographic parity difference is {dp:.3f}; it should be at most {DP_BOUND}.",
    )
    expect(
        accuracy >= baseline - ACCURACY_MARGIN,
        f"on {where} the accuracy is {accuracy:.3f}; it should be at most {ACCURACY_MARGIN} below the "
        f"baseline's{shown}. A model that predicts the same label for everyone has no parity gap but "
        f"is not useful.",
    )


def check_mitigated_model(fit_mitigated_model: Callable) -> None:
    """Visible test of Part 3: fit on the train split, judge on the validation split."""
    expect(
        callable(fit_mitigated_model),
        "fit_mitigated_model should be a function "
        "fit_mitigated_model(X, y, sensitive, *, random_state=0) returning a fitted model.",
    )
    splits = _lab_data()
    accuracy, dp = _evaluate(fit_mitigated_model, splits.train, splits.validation, random_state=0)
    baseline = float(np.mean(_baseline_validation_predictions() == splits.validation.target.to_numpy()))
    _judge(accuracy, dp, baseline, "the validation split", reveal=True)
    print(
        f"validation split: accuracy {accuracy:.3f} (baseline {baseline:.3f}), "
        f"demographic parity difference {dp:.3f} <= {DP_BOUND}."
    )


def check_mitigated_model_hidden(fit_mitigated_model: Callable, *, hidden_seed: int) -> float:
    """Hidden test of Part 3 (4 points, all or nothing).

    Refits the learner's recipe on a new split drawn with ``hidden_seed`` and judges it on that
    split's held-out rows, which the learner never saw; then refits on shuffled labels and requires
    that the model no longer beats chance (a recipe that ignores its training data, e.g. one fitted
    on the full dataset, fails here).
    """
    from ethicskit.datasets import load_adult, split_dataset

    expect(callable(fit_mitigated_model), "fit_mitigated_model should be a function.")
    splits = split_dataset(load_adult(), random_state=hidden_seed)
    seed = int(hidden_seed) % 1000
    accuracy, dp = _evaluate(fit_mitigated_model, splits.train, splits.test, random_state=seed)
    baseline = _baseline_accuracy(splits.train, splits.test, seed)
    _judge(accuracy, dp, baseline, "held-out data", reveal=False)
    shuffled_accuracy, _ = _evaluate(
        fit_mitigated_model, splits.train, splits.test, random_state=seed, shuffle_seed=hidden_seed + 1
    )
    majority = float(max(splits.test.target.mean(), 1 - splits.test.target.mean()))
    expect(
        shuffled_accuracy <= majority + 0.02,
        "when trained on shuffled labels your model still predicts held-out labels well, so it does not "
        "learn from the X and y it is given. fit_mitigated_model must fit only on its arguments.",
    )
    print("held-out data: parity bound and accuracy margin met; the model learns from its training data.")
    return 4.0


# --------------------------------------------------------------------------- lesson exercises


_SUFFICIENCY_WORDS = ("calibrat", "sufficien", "predictive parity", "predictive value parity",
                      "equal precision", "equal ppv", "ppv parity")


def _normalise_words(text: str) -> str:
    return " ".join(text.strip().lower().replace("_", " ").replace("-", " ").split())


def _check_q1(definition: Any) -> None:
    expect_type(definition, str, "your answer")
    answer = _normalise_words(definition)
    expect(
        not answer.startswith(("not ", "no ", "mis", "un")) and any(w in answer for w in _SUFFICIENCY_WORDS),
        f"you answered {definition!r}. Northpointe showed that a score of, say, 7 means about the same "
        "re-offence rate for Black and white defendants. Which family of definitions (or which property) "
        "is that?",
    )


#: Exercise 0 of lesson 01: the source of bias (Suresh & Guttag 2021) behind each case ...
_SOURCES = {
    "a": "historical",
    "b": "representation",
    "c": "measurement",
    "d": "evaluation",
    "e": "deployment",
    "f": "aggregation",
}
#: ... and the kind of harm of two systems.
_HARMS = {"loan": "allocation", "voice": "quality of service"}
_SOURCE_WHY = {
    "a": "the past decisions the model learns from were themselves unequal, however well they are sampled",
    "b": "one kind of skin is barely in the training data",
    "c": "arrests measure where police look as much as what people do",
    "d": "the benchmark does not look like the people the system will meet",
    "e": "the model is used for a purpose it was not built or checked for",
    "f": "one model for groups in which the same value means different things",
}


def _source_word(value: Any) -> str:
    said = _normalise_words(str(value)).removesuffix(" bias").removesuffix(" harm").removesuffix(" harms")
    return {"qos": "quality of service", "quality of service": "quality of service"}.get(said, said)


def _check_q0(sources: Any, harms: Any = None) -> None:
    expect_type(sources, dict, "sources (the first answer)")
    expect(
        set(sources) == set(_SOURCES),
        f"sources should have one entry for each case {sorted(_SOURCES)}; it has {sorted(sources)}.",
    )
    wrong = sorted(k for k, v in sources.items() if _source_word(v) != _SOURCES[k])
    if wrong:
        k = wrong[0]
        raise CheckFailed(
            f"case(s) {wrong} are not right yet. Think about case {k!r}: {_SOURCE_WHY[k]}. Use one of "
            "'historical', 'representation', 'measurement', 'aggregation', 'evaluation', 'deployment'."
        )
    expect_type(harms, dict, "harms (the second answer)")
    expect(set(harms) == set(_HARMS), f"harms should have the keys {sorted(_HARMS)}; it has {sorted(harms)}.")
    expect(
        _source_word(harms["loan"]) == "allocation",
        "a refused loan withholds a resource: which kind of harm is that?",
    )
    expect(
        _source_word(harms["voice"]) == "quality of service",
        "nobody is refused anything, but the product works worse for some people: which kind of harm?",
    )


def _check_q2(weight: Any) -> None:
    # 100 rows: group u has 20 rows, 4 of them positive; 30 positives overall.
    expect_close(
        weight, (20 / 100) * (30 / 100) / (4 / 100), "the weight of a positive row in group u", tol=1e-3
    )


def _check_q3(ratio: Any, passes: Any) -> None:
    expect_close(ratio, 0.12 / 0.20, "the selection-rate ratio", tol=1e-3)
    expect(isinstance(passes, (bool, np.bool_)), "passes should be True or False.")
    expect(not passes, "a ratio below 0.8 fails the four-fifths rule, so passes should be False.")


def _check_q4(thresholded: Any, one_predictor: Any = None) -> None:
    for value, what in ((thresholded, "the first answer (a)"), (one_predictor, "the second answer (b)")):
        expect(
            isinstance(value, (bool, np.bool_)),
            f"{what} should be True or False, not {value!r}. Call q4.check(answer_a, answer_b).",
        )
    expect(
        bool(thresholded),
        "(a) is possible: group-specific (if needed, randomised) thresholds on one calibrated score can "
        "give equal false positive and false negative rates. Section 6's threshold_optimizer_eo does "
        "exactly that (Hardt, Price and Srebro 2016). The thresholded decisions are a new predictor.",
    )
    expect(
        not one_predictor,
        "(b) is the impossibility result: for one predictor, FPR = p/(1-p) * (1-PPV)/PPV * (1-FNR) in "
        "every group (Chouldechova 2017), so with equal precision (PPV) and equal FNR, different base rates "
        "p force different FPRs, unless the predictions are perfect.",
    )


def _check_q5(stage: Any) -> None:
    expect_type(stage, dict, "your answer")
    want = {
        "reweighing": "pre",
        "exponentiated_gradient": "in",
        "threshold_optimizer": "post",
        "correlation_remover": "pre",
    }
    expect(set(stage) == set(want), f"give a stage for each of {sorted(want)}.")
    wrong = [k for k, v in stage.items() if str(v).lower().split("-")[0] != want[k]]
    expect(not wrong, f"the stage of {wrong} is not right yet (use 'pre', 'in' or 'post').")


q0 = Exercise(
    "Exercise 0",
    _check_q0,
    hints=[
        "Ask, for each case, at which step the problem enters: the world the data records (historical), who "
        "is in the sample (representation), what the label or feature measures (measurement), one model for "
        "different groups (aggregation), the test set (evaluation), or the use (deployment).",
        "Allocation: an opportunity or resource is withheld. Quality of service: it works worse for some.",
    ],
    solution="q0.check({'a': 'historical', 'b': 'representation', 'c': 'measurement', 'd': 'evaluation',\n"
    "          'e': 'deployment', 'f': 'aggregation'},\n"
    "         {'loan': 'allocation', 'voice': 'quality of service'})",
)
def _check_q6(reweighing: Any) -> None:
    from ethicskit.fairness import reweighing_weights

    expect(callable(reweighing), f"pass your function itself (reweighing), not {type(reweighing).__name__}.")
    rng = np.random.default_rng(6)
    for n, groups in [(12, ["a", "b"]), (200, ["p", "u", "v"])]:
        y = pd.Series(rng.integers(0, 2, n))
        group = pd.Series(rng.choice(groups, n))
        y.iloc[:2], group.iloc[:2] = [0, 1], groups[0]  # every group has both labels somewhere
        found = reweighing(y.copy(), group.copy())
        expect_close(
            np.asarray(found, dtype=float) if found is not None else found,
            reweighing_weights(y, group),
            f"reweighing(y, group) on {n} rows with groups {groups}",
            tol=1e-9,
        )


q6 = Exercise(
    "Exercise 6",
    _check_q6,
    hints=[
        "Work cell by cell: for a row in group a with label y, P(A=a) is the share of rows in group a, "
        "P(Y=y) "
        "the share with label y, P(A=a, Y=y) the share with both.",
        "With pandas: group.map(group.value_counts(normalize=True)) gives P(A=a) for every row; do the same "
        "for y, and for the pairs (e.g. group.astype(str) + '|' + y.astype(str)).",
    ],
    solution="def reweighing(y, group):\n"
    "    p_a = group.map(group.value_counts(normalize=True))\n"
    "    p_y = y.map(y.value_counts(normalize=True))\n"
    "    cell = group.astype(str) + '|' + y.astype(str)\n"
    "    p_ay = cell.map(cell.value_counts(normalize=True))\n"
    "    return (p_a * p_y / p_ay).to_numpy()",
)
q1 = Exercise(
    "Exercise 1",
    _check_q1,
    hints=[
        "ProPublica looked at error rates; the vendor looked at what a score means in each group.",
        "The property 'same score, same re-offence rate in every group' is one of the three families of "
        "section 1; its best-known form starts with 'c'.",
    ],
    solution="q1.check('sufficiency')  # in the form 'calibration within groups' (also: predictive parity)",
)
q2 = Exercise(
    "Exercise 2",
    _check_q2,
    hints=[
        "The Kamiran-Calders weight of a (group, label) cell is P(group) * P(label) / P(group, label).",
        "P(u) = 20/100, P(y=1) = 30/100, P(u, y=1) = 4/100.",
    ],
    solution="q2.check(0.2 * 0.3 / 0.04)  # = 1.5: positives of group u count one and a half times",
)
q3 = Exercise(
    "Exercise 3",
    _check_q3,
    hints=[
        "The four-fifths rule compares the lower selection rate with the higher one.",
        "0.12 / 0.20 - is that at least 0.8?",
    ],
    solution="q3.check(0.12 / 0.20, False)  # 0.6 < 0.8: the rule flags adverse impact",
)
q4 = Exercise(
    "Exercise 4",
    _check_q4,
    hints=[
        "(a) Reread the end of section 5's first text: what do group-specific thresholds on a calibrated "
        "score give (Hardt, Price and Srebro 2016; threshold_optimizer_eo in section 6)?",
        "(b) Section 5: with one threshold, then with per-group thresholds, compare precision, FPR and FNR. "
        "Which triple never lines up when the base rates differ?",
    ],
    solution="q4.check(True, False)  # (a) separate thresholds can equalise error rates; (b) one imperfect "
    "predictor cannot have equal precision and equal FPR and FNR when base rates differ",
)
q5 = Exercise(
    "Exercise 5",
    _check_q5,
    hints=[
        "Pre-processing changes the data, in-processing the training, post-processing the predictions.",
        "ThresholdOptimizer takes a trained model's scores and picks thresholds per group.",
    ],
    solution="q5.check({'reweighing': 'pre', 'correlation_remover': 'pre', "
    "'exponentiated_gradient': 'in', 'threshold_optimizer': 'post'})",
)


#: Exercise 7 of lesson 01: the family (section 1) of each metric.
_FAMILIES = {
    "demographic parity": "independence",
    "four-fifths rule": "independence",
    "equalized odds": "separation",
    "equal opportunity": "separation",
    "predictive parity": "sufficiency",
    "calibration within groups": "sufficiency",
}


def _check_q7(families: Any) -> None:
    expect_type(families, dict, "your answer")
    expect(set(families) == set(_FAMILIES),
           f"give one family for each of {sorted(_FAMILIES)}; your dict has {sorted(families)}.")
    said = {k: _normalise_words(str(v)) for k, v in families.items()}
    unknown = sorted(k for k, v in said.items() if v not in ("independence", "separation", "sufficiency"))
    expect(not unknown, f"{unknown}: answer with 'independence', 'separation' or 'sufficiency'.")
    wrong = sorted(k for k in _FAMILIES if said[k] != _FAMILIES[k])
    if wrong:
        k = wrong[0]
        what = {"independence": "the selection rate alone", "separation": "error rates, given the true label",
                "sufficiency": "what a prediction means, given the prediction"}[said[k]]
        raise CheckFailed(f"{wrong} not right yet: you put {k!r} in {said[k]!r}, which compares {what}. "
                          "What does the metric compare between groups?")


def _check_q8(feature: Any) -> None:
    expect_type(feature, str, "your answer")
    name = _normalise_words(feature).replace(" ", "_")
    expect(name != "sex", "sex itself is left out of proxy_scores: which *other* feature predicts it best?")
    expect(name != "(all_features)", "that row combines every feature; which single feature is best?")
    expect(name == "relationship",
           f"{feature!r} is not the single feature with the highest balanced accuracy for sex "
           "(section 3's table).")


def _reference_alert(values: Any, tolerance: float) -> Any:
    values = pd.Series(values)
    fallen = values < values.iloc[0] - tolerance
    return fallen.idxmax() if fallen.any() else None


def _check_q9(first_alert: Any) -> None:
    expect(callable(first_alert), "Pass your function itself: q9.check(first_alert).")
    rng = np.random.default_rng()
    cases = [
        (pd.Series([0.5, 0.49, 0.45, 0.38, 0.2], index=range(1, 6)), 0.1),   # fires at month 4
        (pd.Series([0.8, 0.79, 0.81, 0.78], index=range(1, 5)), 0.05),      # never fires
        (pd.Series([0.6, 0.4, 0.7, 0.3], index=range(1, 5)), 0.15),         # the first crossing, not the last
        (pd.Series([0.5, 0.6, 0.45], index=range(1, 4)), 0.05),             # equal to the limit: no alert
    ]
    walk = 0.5 + np.cumsum(rng.normal(0, 0.04, 12))
    cases.append((pd.Series(walk, index=range(1, 13)), 0.08))
    for values, tolerance in cases:
        found, expected = first_alert(values, tolerance), _reference_alert(values, tolerance)
        shown = ", ".join(f"{v:.2f}" for v in values)
        if expected is None:
            expect(found is None, f"first_alert([{shown}], {tolerance}) should be None (it never falls more "
                   f"than {tolerance} below month 1's value); you returned {found!r}.")
        else:
            expect(found is not None and not isinstance(found, bool) and found == expected,
                   f"first_alert([{shown}], {tolerance}) should be month {expected}, the first month more "
                   f"than {tolerance} below month 1's value; you returned {found!r}.")


q7 = Exercise(
    "Exercise 7",
    _check_q7,
    hints=["Section 1's table: which condition does each metric test, and which family is that condition?",
           "The four-fifths rule compares selection rates; equal opportunity compares true positive rates."],
    solution="q7.check({'demographic parity': 'independence', 'four-fifths rule': 'independence', "
    "'equalized odds': 'separation', 'equal opportunity': 'separation', 'predictive parity': 'sufficiency', "
    "'calibration within groups': 'sufficiency'})",
)
q8 = Exercise(
    "Exercise 8",
    _check_q8,
    hints=["proxies.head() lists the features from the best predictor of sex down; skip the '(all features)' "
           "row."],
    solution="q8.check(proxies.loc[proxies['feature'] != '(all features)', 'feature'].iloc[0])\n"
    "# relationship",
)
q9 = Exercise(
    "Exercise 9",
    _check_q9,
    hints=["values.iloc[0] is month 1's value; values < values.iloc[0] - tolerance marks the months that "
           "fell too far.",
           "Return the index (the month) of the first True, or None when there is none."],
    solution="def first_alert(values, tolerance):\n    fallen = values < values.iloc[0] - tolerance\n"
    "    return fallen.idxmax() if fallen.any() else None",
)


# --------------------------------------------------------------------------- lesson 01, healthcare example

#: Exercise 10 of lesson 01: the labels of the simulated cohort, and whether each measures health or
#: spending (which depends on access to care as well as on illness).
_CARE_LABELS = {
    "conditions_next": None,
    "cost_next": "total spending next year depends on access to care as well as on illness: group B, with "
    "less access, has less spent on it at the same illness, so a score trained on cost ranks it too low",
    "visits_next": "doctor visits depend on access to care too: at the same illness group B sees a doctor "
    "less often, so visits repeat the bias of cost",
}


def _care_label(value: Any) -> str | None:
    said = _normalise_words(str(value)).replace(" ", "_")
    if "condition" in said:
        return "conditions_next"
    if "cost" in said or "spend" in said:
        return "cost_next"
    if "visit" in said:
        return "visits_next"
    return None


def _reference_selection_gap(selected: Any, sickest: Any, group: Any) -> float:
    selected, sickest, group = (np.asarray(x) for x in (selected, sickest, group))
    rate = {g: float(selected[sickest & (group == g)].mean()) for g in ("A", "B")}
    return rate["A"] - rate["B"]


def _check_q10(selection_gap: Any, label: Any = None) -> None:
    expect(callable(selection_gap),
           "pass your function itself first, then the label: q10.check(selection_gap, label).")
    rng = np.random.default_rng()
    for n in (40, 500):
        index = rng.permutation(n) + 100          # a shuffled index, like a row subset of a DataFrame
        group = pd.Series(rng.choice(["A", "B"], n), index=index)
        sickest = pd.Series(rng.random(n) < 0.4, index=index)
        selected = pd.Series(rng.random(n) < np.where(group == "A", 0.5, 0.3), index=index)
        sickest.iloc[:4] = True                   # every group has someone among the sickest
        group.iloc[:4] = ["A", "B", "A", "B"]
        found = selection_gap(selected.copy(), sickest.copy(), group.copy())
        expect(found is not None, "selection_gap returned None: return the difference of the two shares.")
        expect_close(found, _reference_selection_gap(selected, sickest, group),
                     f"selection_gap on {n} random patients (the share of group A's sickest selected minus "
                     "group B's)", tol=1e-9)
    expect(label is not None, "your function is right. Now pick the label: q10.check(selection_gap, label), "
           f"with label one of {sorted(_CARE_LABELS)}.")
    name = _care_label(label)
    expect(name is not None, f"{label!r} is not one of the cohort's labels {sorted(_CARE_LABELS)}.")
    expect(_CARE_LABELS[name] is None,
           f"{name}: {_CARE_LABELS[name]}. Compute selection_gap for it and compare with the other labels.")


q10 = Exercise(
    "Exercise 10",
    _check_q10,
    hints=[
        "sickest & (group == 'A') marks group A's sickest patients; selected[that].mean() is the share of "
        "them the programme takes. Do the same for group B and subtract.",
        "For the label: fit_score(label) trains a score; compute selection_gap(programme(fit_score(label)), "
        "sickest, cohort['group']) for each label in LABELS. The programme is for the sick: which label "
        "measures illness rather than the care someone could get?",
    ],
    solution="def selection_gap(selected, sickest, group):\n"
    "    return selected[sickest & (group == 'A')].mean() - selected[sickest & (group == 'B')].mean()\n\n"
    "for label in LABELS:\n"
    "    print(label, round(selection_gap(programme(fit_score(label)), sickest, cohort['group']), 3))\n"
    "q10.check(selection_gap, 'conditions_next')  # it measures illness; cost and visits measure access too",
)
