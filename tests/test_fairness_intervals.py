"""Group rates with support and Wilson intervals; the gap in the direction of harm (issue 19)."""

import doctest

import numpy as np
import pytest

from ethicskit.fairness import intervals
from ethicskit.fairness.intervals import harmful_gap, rates_by_group, wilson_interval


def test_docstring_examples():
    result = doctest.testmod(intervals, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_wilson_interval_known_values_and_edges():
    low, high = wilson_interval(5, 12)
    assert (round(low, 3), round(high, 3)) == (0.193, 0.68)
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    lows, _ = wilson_interval(np.array([1, 0]), np.array([2, 0]))
    assert np.isnan(lows[1])


def test_support_is_the_rates_denominator():
    y = np.array([1, 1, 0, 0, 0, 1])
    p = np.array([0, 1, 1, 0, 0, 1])
    g = np.array(["a", "a", "a", "b", "b", "b"])
    fnr = rates_by_group(y, p, g, metric="fnr").set_index("group")
    fpr = rates_by_group(y, p, g, metric="false_positive_rate").set_index("group")
    assert fnr.loc["a", "support"] == 2 and fnr.loc["a", "value"] == 0.5
    assert fpr.loc["a", "support"] == 1 and fpr.loc["b", "support"] == 2
    with pytest.raises(ValueError, match="metric"):
        rates_by_group(y, p, g, metric="auc")


def test_harmful_gap_skips_small_groups_and_follows_the_direction_of_harm():
    rng = np.random.default_rng(0)
    n = 4000
    group = rng.choice(["big_bad", "big_good", "tiny"], size=n, p=[0.49, 0.49, 0.02])
    y = rng.integers(0, 2, n)
    miss = np.where(group == "big_bad", 0.4, np.where(group == "tiny", 0.95, 0.2))
    pred = np.where((y == 1) & (rng.random(n) < miss), 0, y)
    row = harmful_gap(y, pred, group, metric="fnr", min_support=100).iloc[0]
    assert row["harmed_group"] == "big_bad" and row["reference_group"] == "big_good"
    assert row["too_small"] == ["tiny"] and row["clear"] and row["gap_low"] < row["gap"] < row["gap_high"]
    good = harmful_gap(y, pred, group, metric="tpr", higher_is_harmful=False, min_support=100).iloc[0]
    assert good["harmed_group"] == "big_bad" and good["gap"] == pytest.approx(row["gap"])
    assert good["gap_low"] == pytest.approx(row["gap_low"])
    with pytest.raises(ValueError, match="min_support"):
        harmful_gap(y, pred, group, metric="fnr", min_support=10_000)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 2, confidence=1.5)
    with pytest.raises(ValueError, match="min_support"):
        harmful_gap([1, 0], [1, 0], ["a", "b"], metric="fnr", min_support=0)
    with pytest.raises(ValueError, match="y_true"):
        rates_by_group([1, 0, 1], [1, 0], ["a", "b", "a"], metric="fnr")
