"""ethicskit.fairness.metrics: every metric against an independent computation on hand-made fixtures."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ethicskit.fairness import SmallGroupWarning, audit_predictions, calibration_by_group

NAN = float("nan")

# group a: mixed; group b: no positives; group c: a single sample
Y_TRUE = [1, 1, 0, 0, 0, 0, 0, 1]
Y_PRED = [1, 0, 1, 0, 0, 0, 1, 1]
GROUPS = ["a", "a", "a", "a", "b", "b", "b", "c"]

EXPECTED = pd.DataFrame(
    {
        "count": [4, 3, 1],
        "base_rate": [0.5, 0.0, 1.0],
        "selection_rate": [0.5, 1 / 3, 1.0],
        "accuracy": [0.5, 2 / 3, 1.0],
        "tpr": [0.5, NAN, 1.0],
        "fpr": [0.5, 1 / 3, NAN],
        "fnr": [0.5, NAN, 0.0],
        "precision": [0.5, 0.0, 1.0],
    },
    index=["a", "b", "c"],
)


def _audit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        return audit_predictions(*args, **kwargs)


def test_by_group_matches_hand_computation():
    audit = _audit(Y_TRUE, Y_PRED, sensitive_features=GROUPS)
    table = audit.by_group.set_index("group")
    assert list(table.index) == ["a", "b", "c"]
    for column in EXPECTED.columns:
        np.testing.assert_allclose(
            table[column].to_numpy(float), EXPECTED[column].to_numpy(float), err_msg=column
        )
    assert (audit.by_group["sensitive_feature"] == "sensitive").all()


def test_gaps_match_hand_computation():
    gaps = _audit(Y_TRUE, Y_PRED, sensitive_features=pd.Series(GROUPS, name="grp")).gaps
    assert len(gaps) == 1
    row = gaps.iloc[0]
    assert row["sensitive_feature"] == "grp"
    assert row["demographic_parity_difference"] == pytest.approx(2 / 3)
    assert row["demographic_parity_ratio"] == pytest.approx(1 / 3)
    # TPR is undefined in b (no positives): the gap is over a and c
    assert row["equal_opportunity_difference"] == pytest.approx(0.5)
    assert row["equal_opportunity_ratio"] == pytest.approx(0.5)
    # FPR gap over a and b is 1/6, so the equalized-odds gap is the TPR gap
    assert row["equalized_odds_difference"] == pytest.approx(0.5)
    assert row["equalized_odds_ratio"] == pytest.approx(0.5)
    assert row["accuracy_difference"] == pytest.approx(0.5)
    assert not row["passes_four_fifths"]


def test_overall_metrics():
    overall = _audit(Y_TRUE, Y_PRED, sensitive_features=GROUPS).overall
    assert overall["selection_rate"] == pytest.approx(4 / 8)
    assert overall["tpr"] == pytest.approx(2 / 3)
    assert overall["fpr"] == pytest.approx(2 / 5)


def test_random_fixture_against_confusion_matrix():
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(3)
    y, p = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
    g = rng.choice(["x", "y", "z"], 400)
    table = audit_predictions(y, p, sensitive_features=g).by_group.set_index("group")
    for group in "xyz":
        m = g == group
        tn, fp, fn, tp = confusion_matrix(y[m], p[m], labels=[0, 1]).ravel()
        assert table.loc[group, "tpr"] == pytest.approx(tp / (tp + fn))
        assert table.loc[group, "fpr"] == pytest.approx(fp / (fp + tn))
        assert table.loc[group, "precision"] == pytest.approx(tp / (tp + fp))
        assert table.loc[group, "accuracy"] == pytest.approx((tp + tn) / m.sum())
        assert table.loc[group, "count"] == m.sum()


@pytest.mark.parametrize("value", [0, 1])
def test_all_equal_predictions_have_no_parity_gap(value):
    gaps = _audit(Y_TRUE, [value] * 8, sensitive_features=GROUPS).gaps.iloc[0]
    assert gaps["demographic_parity_difference"] == 0
    assert gaps["demographic_parity_ratio"] == 1
    assert gaps["passes_four_fifths"]


def test_small_groups_are_flagged_and_warned():
    with pytest.warns(SmallGroupWarning, match="fewer than 2 rows"):
        audit = audit_predictions(Y_TRUE, Y_PRED, sensitive_features=GROUPS, min_group_size=2)
    assert audit.small_groups == ["sensitive=c"]
    assert audit.by_group["small_group"].tolist() == [False, False, True]


def test_intersections_and_several_attributes():
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"sex": rng.choice(["F", "M"], n), "race": rng.choice(["x", "y"], n)})
    y, p = rng.integers(0, 2, n), rng.integers(0, 2, n)
    audit = audit_predictions(y, p, sensitive_features=frame)
    assert audit.gaps["sensitive_feature"].tolist() == ["sex", "race", "sex & race"]
    inter = audit.by_group[audit.by_group["sensitive_feature"] == "sex & race"].set_index("group")
    assert sorted(inter.index) == ["F & x", "F & y", "M & x", "M & y"]
    mask = (frame["sex"] == "F") & (frame["race"] == "y")
    assert inter.loc["F & y", "count"] == mask.sum()
    assert inter.loc["F & y", "selection_rate"] == pytest.approx(p[mask].mean())
    assert len(audit_predictions(y, p, sensitive_features=frame, intersections=False).gaps) == 2


def test_scores_add_calibration_columns():
    y = np.array([1, 0, 1, 0, 1, 1])
    s = np.array([0.9, 0.2, 0.6, 0.4, 0.8, 0.3])
    audit = _audit(y, (s > 0.5).astype(int), sensitive_features=list("aaabbb"), scores=s)
    table = audit.by_group.set_index("group")
    assert table.loc["a", "mean_score"] == pytest.approx((0.9 + 0.2 + 0.6) / 3)
    assert table.loc["b", "brier_score"] == pytest.approx((0.4**2 + 0.2**2 + 0.7**2) / 3)
    assert table.loc["a", "roc_auc"] == pytest.approx(1.0)
    assert table.loc["b", "roc_auc"] == pytest.approx(0.5)


def test_bootstrap_matches_independent_resampling_with_fixed_seed():
    rng = np.random.default_rng(1)
    n, n_boot, seed = 200, 30, 7
    y, p = rng.integers(0, 2, n), rng.integers(0, 2, n)
    g = rng.choice(["a", "b"], n)
    audit = audit_predictions(y, p, sensitive_features=g, n_boot=n_boot, confidence=0.9, random_state=seed)
    # independent re-computation of the same resamples (fairlearn's scheme: one uint32 seed per resample)
    seeds = np.random.default_rng(seed).integers(0, np.iinfo(np.uint32).max, size=n_boot, dtype=np.uint32)
    data = pd.DataFrame({"g": g, "p": p})
    rates = np.array(
        [
            data.sample(frac=1, replace=True, random_state=s, ignore_index=True)
            .groupby("g")["p"]
            .mean()
            .to_numpy()
            for s in seeds
        ]
    )
    low, high = np.quantile(rates, [0.05, 0.95], axis=0)
    table = audit.by_group.set_index("group")
    np.testing.assert_allclose(table["selection_rate_low"], low)
    np.testing.assert_allclose(table["selection_rate_high"], high)
    assert (table["selection_rate_low"] <= table["selection_rate"]).all()
    assert (table["selection_rate"] <= table["selection_rate_high"]).all()
    again = audit_predictions(y, p, sensitive_features=g, n_boot=n_boot, confidence=0.9, random_state=seed)
    pd.testing.assert_frame_equal(audit.by_group, again.by_group)
    other = audit_predictions(
        y, p, sensitive_features=g, n_boot=n_boot, confidence=0.9, random_state=seed + 1
    )
    assert not np.allclose(other.by_group["selection_rate_low"], audit.by_group["selection_rate_low"])
    gaps = audit.gaps.iloc[0]
    assert gaps["demographic_parity_difference_low"] <= gaps["demographic_parity_difference_high"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"y_true": [1, 0, 1], "y_pred": [1, 0]}, ValueError, "same number of rows"),
        ({"y_true": [1, 0, np.nan, 1], "y_pred": [1, 0, 1, 1]}, ValueError, "y_true contains 1 missing"),
        ({"y_true": [1, 2, 0, 1], "y_pred": [1, 0, 1, 1]}, ValueError, "y_true must contain only binary"),
        (
            {"y_true": [1, 0, 0, 1], "y_pred": [1, 0, 1, 1], "sensitive_features": ["a"] * 4},
            ValueError,
            "at least 2 distinct groups",
        ),
        (
            {"y_true": [1, 0, 0, 1], "y_pred": [1, 0, 1, 1], "sensitive_features": ["a", None, "b", "b"]},
            ValueError,
            "missing",
        ),
        (
            {"y_true": [1, 0, 0, 1], "y_pred": [1, 0, 1, 1], "scores": [0.1, 2, 0.3, 0.3]},
            ValueError,
            "scores",
        ),
        ({"y_true": [1, 0, 0, 1], "y_pred": [1, 0, 1, 1], "n_boot": 1}, ValueError, "n_boot"),
        ({"y_true": None, "y_pred": [1, 0, 1, 1]}, TypeError, "y_true"),
    ],
)
def test_bad_input_gets_a_clear_error(kwargs, error, match):
    kwargs.setdefault("sensitive_features", ["a", "b", "a", "b"][: len(kwargs["y_pred"])])
    y_true = kwargs.pop("y_true")
    y_pred = kwargs.pop("y_pred")
    with pytest.raises(error, match=match), warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        audit_predictions(y_true, y_pred, **kwargs)


def test_no_library_warning_leaks():
    rng = np.random.default_rng(0)
    y, p, s = rng.integers(0, 2, 300), rng.integers(0, 2, 300), rng.random(300)
    frame = pd.DataFrame(
        {"sex": pd.Categorical(rng.choice(["F", "M"], 300)), "race": rng.choice(["x", "y"], 300)}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        audit_predictions(y, p, sensitive_features=frame, scores=s, n_boot=5)


def test_bootstrap_with_tiny_and_undefined_groups_stays_quiet():
    y = [1, 1, 0, 0, 0, 0, 0, 1] * 5 + [1]
    p = [1, 0, 1, 0, 0, 0, 1, 1] * 5 + [0]
    g = ["a", "a", "a", "a", "b", "b", "b", "c"] * 5 + ["d"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", SmallGroupWarning)
        audit = audit_predictions(y, p, sensitive_features=g, n_boot=20, scores=[0.5] * 41)
    table = audit.by_group.set_index("group")
    assert np.isnan(table.loc["b", "tpr_low"])  # undefined in every resample
    assert table.loc["a", "tpr_low"] <= 0.5 <= table.loc["a", "tpr_high"]


def test_to_dict_is_plain_python():
    import json

    audit = _audit(Y_TRUE, Y_PRED, sensitive_features=GROUPS)
    data = audit.to_dict()
    text = json.dumps(data)
    assert data["by_group"][1]["tpr"] is None and "NaN" not in text
    assert data["gaps"][0]["demographic_parity_difference"] == pytest.approx(2 / 3)


def test_calibration_by_group():
    y = [1, 0, 1, 1, 0, 0]
    s = [0.95, 0.15, 0.85, 0.9, 0.1, 0.05]
    table = calibration_by_group(y, s, sensitive_features=list("aaabbb"), n_bins=2)
    assert table.columns.tolist() == [
        "group",
        "bin",
        "bin_low",
        "bin_high",
        "count",
        "mean_score",
        "observed_rate",
    ]
    row = table[(table["group"] == "a") & (table["bin"] == 1)].iloc[0]
    assert row["count"] == 2 and row["observed_rate"] == 1.0
    assert row["mean_score"] == pytest.approx(0.9)
    assert table["count"].sum() == 6


def test_metrics_validate_instead_of_broadcasting():
    """#21: accuracy(y[:100], [1]) returned 0.56; selection_rate(None, [0, 2, 5]) returned 2.33."""
    from ethicskit.fairness import accuracy, precision, selection_rate

    with pytest.raises(ValueError, match="same number of rows"):
        accuracy(np.ones(100), [1])
    with pytest.raises(ValueError, match="y_pred"):
        selection_rate(None, [0, 2, 5])
    with pytest.raises(ValueError, match="empty"):
        precision([], [])
    assert selection_rate(None, [0, 1, 1, 1]) == 0.75
