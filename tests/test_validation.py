"""ethicskit._validation and the public API: bad input gives a clear error naming the argument, or a
correct result - never a silently wrong number (#21). Property-based, with hypothesis."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ethicskit import audit, fairness, privacy, sft  # noqa: E402
from ethicskit._validation import (  # noqa: E402
    Interval,
    Options,
    as_bool_array,
    as_numeric_array,
    check_bool,
    check_param,
    check_timestamp,
    validate_params,
)
from ethicskit.checks import CheckFailed, Parts, expect_close  # noqa: E402

FAST = settings(max_examples=40, deadline=None)

#: Anything a learner might pass where a number belongs.
any_scalar = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.booleans(),
    st.none(),
    st.text(max_size=5),
    st.just([0.5]),
)


def _names(error: BaseException, name: str) -> bool:
    return isinstance(error, (ValueError, TypeError)) and name in str(error)


def _call(function, *args, **kwargs):
    """Return ("ok", result) or ("error", exception); only ValueError/TypeError are acceptable errors."""
    try:
        return "ok", function(*args, **kwargs)
    except (ValueError, TypeError) as error:
        return "error", error


# -- the validation layer itself ------------------------------------------------------------------


@FAST
@given(any_scalar)
def test_interval_accepts_exactly_the_finite_numbers_inside(value):
    interval = Interval("real", 0, 1, closed="right")
    outcome, result = _call(check_param, value, "rate", [interval])
    inside = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 < value <= 1
    )
    assert (outcome == "ok") == inside
    if outcome == "error":
        assert _names(result, "rate")
        # a number out of range is a ValueError; text, None, bools and lists are TypeErrors
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        assert isinstance(result, ValueError if number else TypeError)


@FAST
@given(any_scalar)
def test_boolean_flags_refuse_truthy_stand_ins(value):
    outcome, result = _call(check_bool, value, "raw")
    assert (outcome == "ok") == isinstance(value, bool)
    if outcome == "error":
        assert _names(result, "raw")


def test_validate_params_checks_defaults_and_names_the_parameter():
    @validate_params({"k": [Interval("integral", 1, None)], "mode": [Options("a", "b"), None]})
    def f(x, *, k=2, mode=None):
        return x * k

    assert f(3) == 6 and f(3, k=4.0, mode="a") == 12
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        f(3, k=0)
    with pytest.raises(ValueError, match="mode must be one of 'a', 'b' or None"):
        f(3, mode="c")
    with pytest.raises(TypeError, match="k must be"):
        f(3, k=True)
    with pytest.raises(TypeError, match="no parameter"):
        validate_params({"nope": []})(f)


@FAST
@given(st.lists(st.one_of(st.floats(allow_nan=True), st.text(max_size=2)), min_size=1, max_size=8))
def test_numeric_arrays_refuse_text_nan_and_inf(values):
    outcome, result = _call(as_numeric_array, values, "scores")
    clean = all(isinstance(v, float) and math.isfinite(v) for v in values)
    assert (outcome == "ok") == clean
    if outcome == "error":
        assert _names(result, "scores")


@FAST
@given(st.lists(st.sampled_from([0, 1, True, False, "no", "yes", 2, None]), min_size=1, max_size=6))
def test_bool_arrays_take_only_bools_and_zero_one(values):
    outcome, result = _call(as_bool_array, values, "high_impact")
    valid = all(v in (0, 1) and not isinstance(v, str) and v is not None for v in values)
    assert (outcome == "ok") == valid
    if outcome == "ok":
        assert result.tolist() == [bool(v) for v in values]
    else:
        assert _names(result, "high_impact")


def test_timestamps_must_be_iso():
    assert check_timestamp("2024-05-01T12:00:00+00:00", "timestamp")
    for bad in ("yesterday", "2024-13-01", ""):
        with pytest.raises(ValueError, match="timestamp"):
            check_timestamp(bad, "timestamp")


# -- the public API ---------------------------------------------------------------------------------

labels = st.lists(st.sampled_from([0, 1]), min_size=1, max_size=30)
RATES = {
    "selection_rate": lambda t, p: p.mean(),
    "accuracy": lambda t, p: (t == p).mean(),
    "true_positive_rate": lambda t, p: ((t == 1) & (p == 1)).sum() / (t == 1).sum(),
    "precision": lambda t, p: ((t == 1) & (p == 1)).sum() / (p == 1).sum(),
}


@FAST
@given(labels, labels, st.sampled_from(sorted(RATES)))
def test_group_metrics_equal_numpy_or_refuse_mismatched_lengths(y_true, y_pred, name):
    outcome, result = _call(getattr(fairness, name), y_true, y_pred)
    if len(y_true) != len(y_pred):
        assert outcome == "error" and "same number of rows" in str(result)
        return
    t, p = np.array(y_true), np.array(y_pred)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = float(RATES[name](t, p))
    assert outcome == "ok" and (
        result == pytest.approx(expected) or (math.isnan(result) and math.isnan(expected))
    )


@FAST
@given(
    st.lists(
        st.one_of(st.sampled_from([0, 1]), st.floats(), st.text(max_size=1), st.none()),
        min_size=1,
        max_size=10,
    )
)
def test_group_metrics_refuse_non_binary_labels(values):
    outcome, result = _call(fairness.accuracy, values, [0] * len(values))
    binary = all(v in (0, 1) and not isinstance(v, str) for v in values)
    assert outcome == "ok" if binary else _names(result, "y_true")


PARAMETERS = [
    # (function, valid keyword arguments, the parameter varied, constraint a correct value meets)
    (privacy.laplace_mechanism, {"value": 1.0, "sensitivity": 1.0, "epsilon": 1.0}, "epsilon", "positive"),
    (
        privacy.laplace_mechanism,
        {"value": 1.0, "sensitivity": 1.0, "epsilon": 1.0},
        "sensitivity",
        "positive",
    ),
    (privacy.gaussian_sigma, {"sensitivity": 1.0, "epsilon": 1.0, "delta": 1e-5}, "delta", "open unit"),
    (privacy.gaussian_sigma, {"sensitivity": 1.0, "epsilon": 1.0, "delta": 1e-5}, "epsilon", "positive"),
    (privacy.dp_advantage_bound, {"epsilon": 1.0}, "epsilon", "non-negative or +inf"),
    (sft.generalized_mean, {"values": [0.5, 0.7]}, "power", "finite"),
    (audit.ReviewQueue, {}, "margin", "unit"),
    (
        fairness.calibration_by_group,
        {
            "y_true": [0, 1] * 10,
            "scores": np.linspace(0, 1, 20),
            "sensitive_features": ["a"] * 10 + ["b"] * 10,
        },
        "n_bins",
        "positive int",
    ),
]


def _meets(value, rule: str) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if rule == "non-negative or +inf":
        return value == math.inf or (math.isfinite(value) and value >= 0)
    if not math.isfinite(value):
        return False
    return {
        "positive": value > 0,
        "open unit": 0 < value < 1,
        "unit": 0 <= value <= 1,
        "finite": True,
        "positive int": isinstance(value, int) and 1 <= value <= fairness.metrics.MAX_BINS,
    }[rule]


@pytest.mark.parametrize(
    "function, valid, name, rule", PARAMETERS, ids=lambda v: getattr(v, "__name__", None)
)
def test_scalar_parameters_raise_naming_the_argument_or_give_a_finite_result(function, valid, name, rule):
    @FAST
    @given(any_scalar)
    def check(value):
        outcome, result = _call(function, **{**valid, name: value})
        if _meets(value, rule):
            # a correct (finite) result, or - at extremes such as epsilon=1e-320 - a clear refusal
            if outcome == "ok":
                assert not isinstance(result, float) or math.isfinite(result)
            else:
                extreme = 0 < abs(value) < 1e-300 or abs(value) > 1e300
                assert _names(result, name) and extreme, (value, result)
        else:
            assert outcome == "error" and _names(result, name), (value, result)

    check()


@FAST
@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True))
def test_expect_close_never_passes_a_wrong_or_undefined_value(found, expected):
    try:
        expect_close(found, expected, "the value", tol=1e-6)
        passed = True
    except CheckFailed:
        passed = False
    both_nan = math.isnan(found) and math.isnan(expected)
    same = found == expected or (
        math.isfinite(found) and math.isfinite(expected) and abs(found - expected) <= 1e-6
    )
    assert passed == (both_nan or same)


@FAST
@given(st.lists(st.floats(min_value=-3, max_value=5, allow_nan=False), min_size=1, max_size=4))
def test_parts_never_award_more_than_the_total(points):
    parts = Parts(total=2)
    try:
        for p in points:
            parts.run(p, lambda: None)
    except ValueError as error:
        assert "points" in str(error)
    assert 0 <= parts.earned <= 2


@FAST
@given(st.lists(st.sampled_from([0, 1]), min_size=4, max_size=40), st.randoms(use_true_random=False))
def test_reweighing_makes_label_independent_of_group(y, random):
    groups = [random.choice("ab") for _ in y]
    frame = pd.DataFrame({"y": y, "g": groups})
    if frame["g"].nunique() < 2:
        return
    outcome, weights = _call(fairness.reweighing_weights, y, groups)
    if outcome == "error":  # e.g. a group with one label only cannot be reweighed: say so
        assert "sensitive_features" in str(weights) or "y" in str(weights)
        return
    frame["w"] = weights
    overall = frame["y"].mean()  # Kamiran-Calders: every group's weighted base rate becomes P(y = 1)
    for _, part in frame.groupby("g"):
        if part["y"].nunique() == 2:
            assert np.average(part["y"], weights=part["w"]) == pytest.approx(overall)


@pytest.mark.slow
def test_bad_input_sweep_finds_no_silent_result_hang_or_raw_error():
    """The whole sweep of benchmarks/bad_input_sweep.py (about 30 s): every case clear or correct."""
    import importlib.util

    from tests.conftest import REPO_ROOT

    spec = importlib.util.spec_from_file_location("sweep", REPO_ROOT / "benchmarks" / "bad_input_sweep.py")
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    # a generous limit: on a loaded 2-core machine a valid DP-SGD fit can take seconds
    outcomes = {str(case): sweep.classify(case, time_limit_s=120) for case in sweep.all_cases()}
    bad = {case: outcome for case, outcome in outcomes.items() if outcome not in ("clear", "correct")}
    assert len(outcomes) > 700 and not bad, bad
