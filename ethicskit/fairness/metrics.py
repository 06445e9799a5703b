"""Group metrics and the fairness audit, built on fairlearn's :class:`~fairlearn.metrics.MetricFrame`.

The audit's output is a stable, documented contract (model cards are filled from it):

``FairnessAudit.by_group`` - one row per (sensitive feature, group), columns in this order:

    sensitive_feature  name of the attribute, or "a & b" for an intersection
    group              the group's value, or "x & y" for an intersection
    count              number of rows in the group
    base_rate          share of true positives (label 1) in the group
    selection_rate     share of predicted positives
    accuracy, tpr, fpr, fnr, precision
    mean_score, brier_score, roc_auc    only when ``scores`` are given (calibration by group)
    <metric>_low, <metric>_high         bootstrap interval bounds, only when ``n_boot`` is given
    small_group        True when count < ``min_group_size``

A metric that is undefined for a group (TPR in a group with no positives, precision with no
predicted positives, AUC with one class) is NaN, never a silent 0.

``FairnessAudit.gaps`` - one row per sensitive feature (and intersection), columns:

    sensitive_feature
    demographic_parity_difference, demographic_parity_ratio
    equal_opportunity_difference, equal_opportunity_ratio      (TPR gap)
    equalized_odds_difference, equalized_odds_ratio            (worse of TPR and FPR gaps)
    accuracy_difference
    passes_four_fifths   demographic_parity_ratio >= 0.8 (the US EEOC four-fifths rule)
    demographic_parity_difference_low/_high, equal_opportunity_difference_low/_high  (with ``n_boot``)

Differences are largest minus smallest group value; ratios smallest over largest (1.0 when all
groups are equal, including all zero).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._quiet import KitWarning
from ethicskit._validation import (
    Interval,
    as_numeric_array,
    check_positive,
    check_positive_int,
    check_probability,
    validate_params,
)
from ethicskit.fairness._common import (
    INTERSECTION_SEP,
    as_sensitive_frame,
    check_lengths,
    group_labels,
    quiet,
    validate_labels,
)

__all__ = [
    "SmallGroupWarning",
    "FairnessAudit",
    "audit_predictions",
    "calibration_by_group",
    "base_rate",
    "selection_rate",
    "accuracy",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "precision",
    "GROUP_METRICS",
    "SCORE_METRICS",
    "METRICS",
    "AUDIT_COLUMNS",
    "gap_ratio",
]


#: Most score bins :func:`calibration_by_group` accepts.
MAX_BINS = 1000


class SmallGroupWarning(KitWarning):
    """A group is too small for its metrics to mean much."""


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else float("nan")


def gap_ratio(low: float, high: float) -> float:
    """Smallest over largest group value: 1.0 when every group is equal, including all zero.

    The one convention for ratios in the kit (audit gaps and model-card disparities alike).
    """
    if high > 0:
        return float(low) / float(high)
    return 1.0 if low == 0 else float("nan")


def _labels(y_true: Any, y_pred: Any, *, need_true: bool = True, need_pred: bool = True):
    """Both label vectors as 0/1 arrays of one length; the one a metric ignores may be None.

    Every metric validates, rather than letting numpy broadcast ``[1]`` against 100 labels or
    average a 2 into a "rate" above 1: a silently wrong metric teaches the wrong lesson.
    """
    true = validate_labels(y_true, "y_true") if need_true or y_true is not None else None
    pred = validate_labels(y_pred, "y_pred") if need_pred or y_pred is not None else None
    check_lengths(y_true=true, y_pred=pred)
    return true, pred


def base_rate(y_true: Any, y_pred: Any = None) -> float:
    """Share of label 1 in ``y_true`` (``y_pred`` ignored, but checked when given).

    >>> base_rate([1, 0, 0, 1], None)
    0.5
    """
    y_true, _ = _labels(y_true, y_pred, need_pred=False)
    return METRICS["base_rate"](y_true, None, None)


def selection_rate(y_true: Any, y_pred: Any) -> float:
    """Share of predicted positives (``y_true`` ignored, but checked when given)."""
    _, y_pred = _labels(y_true, y_pred, need_true=False)
    return METRICS["selection_rate"](None, y_pred, None)


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Share of correct predictions."""
    return METRICS["accuracy"](*_labels(y_true, y_pred), None)


def true_positive_rate(y_true: Any, y_pred: Any) -> float:
    """TP / (TP + FN); NaN when there are no positives."""
    return METRICS["true_positive_rate"](*_labels(y_true, y_pred), None)


def false_positive_rate(y_true: Any, y_pred: Any) -> float:
    """FP / (FP + TN); NaN when there are no negatives."""
    return METRICS["false_positive_rate"](*_labels(y_true, y_pred), None)


def false_negative_rate(y_true: Any, y_pred: Any) -> float:
    """FN / (TP + FN); NaN when there are no positives."""
    return METRICS["false_negative_rate"](*_labels(y_true, y_pred), None)


def precision(y_true: Any, y_pred: Any) -> float:
    """TP / (TP + FP); NaN when nothing is predicted positive."""
    return METRICS["precision"](*_labels(y_true, y_pred), None)


def _rate(hits: np.ndarray, among: np.ndarray) -> float:
    """Share of ``hits`` among the rows where ``among`` holds; NaN when there are none."""
    return _ratio(np.sum(hits & among), np.sum(among))


def _tpr(y, p, s):
    return _rate(p == 1, y == 1)


def _fpr(y, p, s):
    return _rate(p == 1, y == 0)


def _fnr(y, p, s):
    return _rate(p == 0, y == 1)


def _tnr(y, p, s):
    return _rate(p == 0, y == 0)


def _precision(y, p, s):
    return _rate(y == 1, p == 1)


def _f1(y, p, s):
    prec, rec = _precision(y, p, s), _tpr(y, p, s)
    return float(2 * prec * rec / (prec + rec)) if prec + rec > 0 else 0.0


def _auc_of(y, p, s):
    if s is None:
        raise ValueError("roc_auc needs scores: pass a model with predict_proba or y_score")
    return _roc_auc(y, s)


#: The kit's one metric registry: name -> function(y_true, y_pred, y_score) on validated 0/1 arrays.
#: Names follow fairlearn / Hugging Face; model cards report these names, the audit's columns are
#: the short names of :data:`AUDIT_COLUMNS`.
METRICS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]] = {
    "accuracy": lambda y, p, s: float(np.mean(y == p)),
    "balanced_accuracy": lambda y, p, s: float(np.nanmean([_tpr(y, p, s), _tnr(y, p, s)])),
    "selection_rate": lambda y, p, s: float(np.mean(p == 1)),
    "base_rate": lambda y, p, s: float(np.mean(y == 1)),
    "true_positive_rate": _tpr,
    "recall": _tpr,
    "false_positive_rate": _fpr,
    "false_negative_rate": _fnr,
    "true_negative_rate": _tnr,
    "precision": _precision,
    "f1": _f1,
    "roc_auc": _auc_of,
    "count": lambda y, p, s: float(len(y)),
}
#: ``FairnessAudit`` column -> registry name, for the columns whose audit name is short.
AUDIT_COLUMNS = {
    "tpr": "true_positive_rate",
    "fpr": "false_positive_rate",
    "fnr": "false_negative_rate",
    "tnr": "true_negative_rate",
}


def _mean_score(y_true: Any, scores: Any) -> float:
    return float(np.mean(scores))


def _brier(y_true: Any, scores: Any) -> float:
    return float(np.mean((np.asarray(scores, dtype=float) - np.asarray(y_true)) ** 2))


def _roc_auc(y_true: Any, scores: Any) -> float:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y_true)) < 2:
        return float("nan")
    return float(roc_auc_score(y_true, scores))


#: Metrics of predicted labels, in the column order of ``FairnessAudit.by_group``.
GROUP_METRICS: dict[str, Callable[[Any, Any], float]] = {
    "base_rate": base_rate,
    "selection_rate": selection_rate,
    "accuracy": accuracy,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "precision": precision,
}
#: Metrics of scores (probabilities of label 1), added when ``scores`` are given.
SCORE_METRICS: dict[str, Callable[[Any, Any], float]] = {
    "mean_score": _mean_score,
    "brier_score": _brier,
    "roc_auc": _roc_auc,
}
_GAP_METRICS = {"demographic_parity": "selection_rate", "equal_opportunity": "tpr"}


@dataclass
class FairnessAudit:
    """Result of :func:`audit_predictions`; see the module docstring for the column contract.

    Attributes
    ----------
    by_group : pandas.DataFrame
        One row per (sensitive feature, group).
    gaps : pandas.DataFrame
        One row per sensitive feature (and intersection) with differences and ratios.
    overall : pandas.Series
        The metrics on all rows together.
    small_groups : list of str
        ``"feature=group"`` for every group with fewer than ``min_group_size`` rows.
    min_group_size : int
        The threshold used for ``small_group``.
    """

    by_group: pd.DataFrame
    gaps: pd.DataFrame
    overall: pd.Series
    small_groups: list[str] = field(default_factory=list)
    min_group_size: int = 30

    def plot(self, metric: str = "selection_rate", **kwargs: Any):
        """Per-group bars of ``metric`` with bootstrap intervals; see :func:`plot_group_metric`."""
        from ethicskit.fairness.plots import plot_group_metric

        return plot_group_metric(self, metric, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python version (lists of records) for model cards and JSON."""
        clean = lambda df: df.astype(object).where(df.notna(), None).to_dict(orient="records")  # noqa: E731
        return {
            "by_group": clean(self.by_group),
            "gaps": clean(self.gaps),
            "overall": {k: (None if pd.isna(v) else float(v)) for k, v in self.overall.items()},
            "small_groups": list(self.small_groups),
            "min_group_size": self.min_group_size,
        }


def _validate_scores(scores: Any, n: int) -> np.ndarray | None:
    if scores is None:
        return None
    array = as_numeric_array(scores, "scores")  # "0.7" strings are a mistake upstream, not data
    check_lengths(y_true=np.empty(n), scores=array)
    if array.min() < 0 or array.max() > 1:
        raise ValueError("scores must be probabilities of label 1 in [0, 1] (e.g. predict_proba(X)[:, 1])")
    return array


def _metric_frame(metrics: dict, y_true, y_pred, groups, name, n_boot, quantiles, random_state):
    from fairlearn.metrics import MetricFrame

    boot = (
        {} if n_boot is None else {"n_boot": n_boot, "ci_quantiles": quantiles, "random_state": random_state}
    )
    with quiet():
        return MetricFrame(
            metrics=metrics,
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=pd.Series(groups, name=name),
            **boot,
        )


def _tidy(frame: pd.DataFrame, feature: str) -> pd.DataFrame:
    frame = frame.copy()
    frame.index = frame.index.astype(str)
    frame = frame.rename_axis("group").reset_index()
    frame.insert(0, "sensitive_feature", feature)
    return frame


def _gap_ratio(mf) -> pd.Series:
    by = mf.by_group.astype(float)
    return pd.Series({m: gap_ratio(by[m].min(), by[m].max()) for m in by.columns}, dtype=float)


def _audit_one(feature, groups, y_true, y_pred, scores, n_boot, quantiles, random_state):
    labels = _metric_frame(GROUP_METRICS, y_true, y_pred, groups, feature, n_boot, quantiles, random_state)
    with quiet():
        by = labels.by_group.astype(float)
        counts = pd.Series(groups).value_counts().reindex(by.index.astype(object))
        by.insert(0, "count", counts.to_numpy().astype(int))
        pieces = [by]
        if scores is not None:
            score_mf = _metric_frame(
                SCORE_METRICS, y_true, scores, groups, feature, n_boot, quantiles, random_state
            )
            pieces.append(score_mf.by_group.astype(float))
        if n_boot is not None:
            pieces += _ci_columns(labels)
            if scores is not None:
                pieces += _ci_columns(score_mf)
        table = pd.concat(pieces, axis=1)
        diff, ratio = labels.difference().astype(float), _gap_ratio(labels)
        gap = _gap_row(feature, diff, ratio)
        if n_boot is not None:
            low, high = labels.difference_ci()
            for name, metric in _GAP_METRICS.items():
                gap[f"{name}_difference_low"] = float(low[metric])
                gap[f"{name}_difference_high"] = float(high[metric])
    return _tidy(table, feature), gap, labels.overall.astype(float)


def _ci_columns(mf) -> list[pd.DataFrame]:
    low, high = mf.by_group_ci
    return [low.astype(float).add_suffix("_low"), high.astype(float).add_suffix("_high")]


def _gap_row(feature: str, diff: pd.Series, ratio: pd.Series) -> dict[str, Any]:
    eo_diff = float(np.nanmax([diff["tpr"], diff["fpr"]])) if diff[["tpr", "fpr"]].notna().any() else np.nan
    eo_ratio = (
        float(np.nanmin([ratio["tpr"], ratio["fpr"]])) if ratio[["tpr", "fpr"]].notna().any() else np.nan
    )
    return {
        "sensitive_feature": feature,
        "demographic_parity_difference": float(diff["selection_rate"]),
        "demographic_parity_ratio": float(ratio["selection_rate"]),
        "equal_opportunity_difference": float(diff["tpr"]),
        "equal_opportunity_ratio": float(ratio["tpr"]),
        "equalized_odds_difference": eo_diff,
        "equalized_odds_ratio": eo_ratio,
        "accuracy_difference": float(diff["accuracy"]),
        "passes_four_fifths": bool(ratio["selection_rate"] >= 0.8),
    }


@validate_params(
    {
        "intersections": ["boolean"],
        "n_boot": [None, Interval("integral", 2, None)],
        "confidence": [Interval("real", 0, 1, closed="neither")],
        "min_group_size": [Interval("integral", 0, None)],
        "random_state": [None, "seed"],
    }
)
def audit_predictions(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    scores: Any = None,
    intersections: bool = True,
    n_boot: int | None = None,
    confidence: float = 0.95,
    random_state: int = 0,
    min_group_size: int = 30,
) -> FairnessAudit:
    """Audit binary predictions group by group: rates, error rates, gaps and their intervals.

    Parameters
    ----------
    y_true, y_pred : array-like of 0/1
        True labels and predicted labels (1 = the favourable / positive outcome).
    sensitive_features : Series, array-like or DataFrame
        One attribute, or several as DataFrame columns (each audited on its own).
    scores : array-like of float in [0, 1], optional
        Predicted probabilities of label 1; adds calibration columns (mean score, Brier score, AUC).
    intersections : bool, default True
        With two or more attributes, also audit their intersection ("Female & Black").
    n_boot : int, optional
        Number of bootstrap resamples (fairlearn's MetricFrame bootstrap) for confidence intervals.
    confidence : float, default 0.95
        Coverage of the intervals.
    random_state : int, default 0
        Seed of the bootstrap; same seed, same intervals.
    min_group_size : int, default 30
        Groups smaller than this are flagged (``small_group``) and a :class:`SmallGroupWarning` is issued.

    Returns
    -------
    FairnessAudit
        ``by_group`` (tidy table), ``gaps`` (per attribute), ``overall``, ``small_groups``.

    Examples
    --------
    >>> audit = audit_predictions([1, 0, 1, 0], [1, 0, 0, 0], sensitive_features=["a", "a", "b", "b"],
    ...                           min_group_size=1)
    >>> audit.by_group[["group", "selection_rate", "tpr"]].to_dict("list")
    {'group': ['a', 'b'], 'selection_rate': [0.5, 0.0], 'tpr': [1.0, 0.0]}
    >>> float(audit.gaps.loc[0, "demographic_parity_difference"])
    0.5
    """
    y_true = validate_labels(y_true, "y_true")
    y_pred = validate_labels(y_pred, "y_pred")
    frame = as_sensitive_frame(sensitive_features)
    check_lengths(y_true=y_true, y_pred=y_pred, sensitive_features=frame)
    scores = _validate_scores(scores, len(y_true))
    quantiles = _quantiles(n_boot, confidence)
    check_positive(min_group_size, "min_group_size", allow_zero=True)

    features = [[c] for c in frame.columns]
    if intersections and frame.shape[1] > 1:
        features.append(list(frame.columns))
    tables, gaps, overall = [], [], None
    for columns in features:
        name = INTERSECTION_SEP.join(columns)
        groups = group_labels(frame, columns)
        table, gap, overall = _audit_one(
            name, groups, y_true, y_pred, scores, n_boot, quantiles, random_state
        )
        tables.append(table)
        gaps.append(gap)
    by_group = pd.concat(tables, ignore_index=True)
    by_group["small_group"] = by_group["count"] < min_group_size
    small = [
        f"{f}={g}"
        for f, g in by_group.loc[by_group["small_group"], ["sensitive_feature", "group"]].itertuples(
            index=False
        )
    ]
    if small:
        warnings.warn(
            f"{len(small)} group(s) have fewer than {min_group_size} rows, so their metrics are very noisy: "
            f"{small[:6]}{' ...' if len(small) > 6 else ''}",
            SmallGroupWarning,
            stacklevel=2,
        )
    return FairnessAudit(by_group, pd.DataFrame(gaps), overall, small, int(min_group_size))


def _quantiles(n_boot: int | None, confidence: float) -> list[float] | None:
    if n_boot is None:
        return None
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2 (number of bootstrap resamples), got {n_boot!r}")
    confidence = check_probability(confidence, "confidence", open_interval=True)
    alpha = (1 - confidence) / 2
    return [alpha, 1 - alpha]


def calibration_by_group(
    y_true: Any, scores: Any, *, sensitive_features: Any, n_bins: int = 10
) -> pd.DataFrame:
    """Reliability table by group: within each score bin, the mean score and the observed rate.

    A score is *calibrated within groups* when, in every group, people with score ``s`` turn out
    positive a share ``s`` of the time. Compare ``mean_score`` and ``observed_rate`` row by row.

    Parameters
    ----------
    y_true : array-like of 0/1
    scores : array-like of float in [0, 1]
    sensitive_features : Series or array-like
        One attribute.
    n_bins : int, default 10
        Equal-width score bins on [0, 1]; empty bins are omitted.

    Returns
    -------
    pandas.DataFrame
        Columns ``group, bin, bin_low, bin_high, count, mean_score, observed_rate``.
    """
    y_true = validate_labels(y_true, "y_true")
    scores = _validate_scores(scores, len(y_true))
    frame = as_sensitive_frame(sensitive_features)
    if frame.shape[1] != 1:
        raise ValueError("sensitive_features must be one attribute for calibration_by_group")
    check_lengths(y_true=y_true, scores=scores, sensitive_features=frame)
    check_positive_int(n_bins, "n_bins")
    if n_bins > MAX_BINS:  # 10**12 bins would allocate terabytes before failing
        raise ValueError(
            f"n_bins must be at most {MAX_BINS} (a reliability table needs a few bins), got {n_bins}"
        )
    edges = np.linspace(0, 1, n_bins + 1)
    bins = np.clip(np.digitize(scores, edges[1:-1], right=False), 0, n_bins - 1)
    data = pd.DataFrame({"group": frame.iloc[:, 0], "bin": bins, "y": y_true, "s": scores})
    out = (
        data.groupby(["group", "bin"], sort=True)
        .agg(count=("y", "size"), mean_score=("s", "mean"), observed_rate=("y", "mean"))
        .reset_index()
    )
    out.insert(2, "bin_low", edges[out["bin"]])
    out.insert(3, "bin_high", edges[out["bin"] + 1])
    return out
