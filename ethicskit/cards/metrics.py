"""The metrics a card may report, and how ethicskit recomputes them (overall and per group).

A card's evaluation results are kept in a *tidy* table with one row per number::

    metric          sensitive_feature  group     value
    accuracy        None               None      0.851
    accuracy        sex                Female    0.925
    selection_rate  sex                Male      0.244

``sensitive_feature``/``group`` are ``None`` for the overall value. This is the layout
:func:`group_metrics` returns, :class:`~ethicskit.cards.ModelCard` stores and the validator checks.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._validation import (
    Interval,
    as_numeric_array,
    check_binary,
    check_columns,
    check_consistent_length,
    check_in_choices,
    check_no_nan,
    validate_params,
)
from ethicskit.fairness._common import INTERSECTION_SEP
from ethicskit.fairness.metrics import AUDIT_COLUMNS, METRICS, gap_ratio

__all__ = [
    "KNOWN_METRICS",
    "TIDY_COLUMNS",
    "metric_value",
    "group_metrics",
    "tidy_metrics",
    "disparities",
    "largest_disparity",
]

TIDY_COLUMNS = ["metric", "sensitive_feature", "group", "value"]


#: The metrics a card may report: the kit's one registry (:data:`ethicskit.fairness.metrics.METRICS`).
KNOWN_METRICS = METRICS


def metric_value(name: str, y_true: Any, y_pred: Any, *, y_score: Any = None) -> float:
    """Compute one known metric.

    Parameters
    ----------
    name : str
        A key of :data:`KNOWN_METRICS`.
    y_true, y_pred : array-like of 0/1
        True and predicted labels (1 = favourable outcome).
    y_score : array-like of float, optional
        Scores for the positive class, needed by ``roc_auc``.

    Examples
    --------
    >>> metric_value("selection_rate", [0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    """
    check_in_choices(name, KNOWN_METRICS, "metric name")
    y = check_binary(y_true, "y_true")
    p = check_binary(y_pred, "y_pred")
    s = None if y_score is None else as_numeric_array(y_score, "y_score")
    check_consistent_length(y_true=y, y_pred=p, y_score=s)
    return KNOWN_METRICS[name](y, p, s)


def _column(data: pd.DataFrame, name: str) -> pd.Series:
    """A column of ``data``, or the intersection of several ("sex & race")."""
    parts = name.split(INTERSECTION_SEP)
    column = data[parts[0]].astype(str)
    for part in parts[1:]:
        column = column + INTERSECTION_SEP + data[part].astype(str)
    return column


def _sensitive_frame(sensitive_features: Any, data: pd.DataFrame | None, n_rows: int) -> pd.DataFrame:
    """Turn column names (looked up in ``data``), a Series or a DataFrame into a DataFrame of strings."""
    if sensitive_features is None:
        return pd.DataFrame(index=range(n_rows))
    if isinstance(sensitive_features, str) or (
        isinstance(sensitive_features, (list, tuple)) and all(isinstance(c, str) for c in sensitive_features)
    ):
        names = [sensitive_features] if isinstance(sensitive_features, str) else list(sensitive_features)
        if data is None:
            raise TypeError("sensitive_features names columns, so X must be a pandas DataFrame holding them")
        parts = [part for n in names for part in n.split(INTERSECTION_SEP)]
        check_columns(data, parts, "X (sensitive_features)")
        frame = pd.DataFrame({n: _column(data, n) for n in names})
    elif isinstance(sensitive_features, pd.Series):
        frame = sensitive_features.to_frame(sensitive_features.name or "group")
    elif isinstance(sensitive_features, pd.DataFrame):
        frame = sensitive_features
    else:
        raise TypeError(
            "sensitive_features must be column name(s), a pandas Series or a DataFrame, "
            f"got {type(sensitive_features).__name__}"
        )
    if len(frame) != n_rows:
        raise ValueError(f"sensitive_features has {len(frame)} rows but the labels have {n_rows}")
    for column in frame.columns:  # a missing group is not a group called "nan"
        check_no_nan(frame[column].to_numpy(), f"sensitive_features column {column!r}")
    return frame.astype(str).reset_index(drop=True)


@validate_params({"min_group_size": [Interval("integral", 0, None)]})
def group_metrics(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any = None,
    metrics: Iterable[str] = ("accuracy", "selection_rate", "true_positive_rate", "false_positive_rate"),
    y_score: Any = None,
    data: pd.DataFrame | None = None,
    min_group_size: int = 1,
) -> pd.DataFrame:
    """Compute metrics overall and for every group of every sensitive feature, as a tidy table.

    Parameters
    ----------
    y_true, y_pred : array-like of 0/1
        True and predicted labels.
    sensitive_features : str, list of str, Series or DataFrame, optional
        Each column is audited separately (``sex`` groups, then ``race`` groups). Column names are
        looked up in ``data``.
    metrics : iterable of str
        Names from :data:`KNOWN_METRICS`.
    y_score : array-like, optional
        Positive-class scores (for ``roc_auc``).
    data : DataFrame, optional
        Where named sensitive columns are found.
    min_group_size : int
        Groups with fewer rows are left out (their numbers are noise).

    Returns
    -------
    DataFrame
        Columns ``metric, sensitive_feature, group, value, count``; overall rows have ``None``
        as feature and group.
    """
    metrics = [check_in_choices(m, KNOWN_METRICS, "metric name") for m in metrics]
    y = check_binary(y_true, "y_true")
    p = check_binary(y_pred, "y_pred")
    s = None if y_score is None else as_numeric_array(y_score, "y_score")
    check_consistent_length(y_true=y, y_pred=p, y_score=s)
    groups = _sensitive_frame(sensitive_features, data, len(y))
    rows = [(m, None, None, KNOWN_METRICS[m](y, p, s), len(y)) for m in metrics]
    for feature in groups.columns:
        column = groups[feature].to_numpy()
        for group in sorted(pd.unique(column)):
            mask = column == group
            if mask.sum() < min_group_size:
                continue
            sub_s = None if s is None else s[mask]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows += [
                    (m, str(feature), str(group), KNOWN_METRICS[m](y[mask], p[mask], sub_s), int(mask.sum()))
                    for m in metrics
                ]
    frame = pd.DataFrame(rows, columns=[*TIDY_COLUMNS, "count"])
    for column in ("sensitive_feature", "group"):
        frame[column] = pd.Series(list(frame[column]), dtype=object).map(optional_str).astype(object)
    return frame


def tidy_metrics(results: Any) -> pd.DataFrame:
    """Bring per-group results into the tidy layout (``metric, sensitive_feature, group, value``).

    Accepts a tidy DataFrame (extra columns kept; ``feature`` is read as ``sensitive_feature``), a
    fairlearn ``MetricFrame`` (its ``overall`` and ``by_group``), or a plain nested dict
    ``{metric: {"overall": v, feature: {group: v}}}``.
    """
    if isinstance(results, pd.DataFrame):
        frame = results.rename(columns={"feature": "sensitive_feature"}).copy()
        check_columns(frame, TIDY_COLUMNS, "results")
    elif type(results).__name__ == "MetricFrame":
        frame = _tidy_from_metric_frame(results)
    elif hasattr(results, "by_group") and isinstance(getattr(results, "by_group", None), pd.DataFrame):
        frame = _tidy_from_fairness_audit(results)
    elif isinstance(results, Mapping):
        frame = _tidy_from_dict(results)
    else:
        raise TypeError(
            "results must be a tidy DataFrame, a fairlearn MetricFrame or a dict of metrics, "
            f"got {type(results).__name__}"
        )
    frame["value"] = pd.to_numeric(frame["value"], errors="raise").astype(float)
    for column in ("sensitive_feature", "group"):
        frame[column] = pd.Series([optional_str(v) for v in frame[column]], index=frame.index, dtype=object)
    return frame.reset_index(drop=True)


def optional_str(value: Any) -> str | None:
    """``None`` for a missing value (None, NaN, pd.NA), else ``str(value)``."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def _tidy_from_metric_frame(frame: Any) -> pd.DataFrame:
    overall = frame.overall
    by_group = frame.by_group
    if isinstance(overall, pd.Series):
        rows = [(m, None, None, v) for m, v in overall.items()]
    else:
        rows = [("metric", None, None, overall)]
    features = list(by_group.index.names)
    if len(features) != 1:
        raise ValueError(
            "tidy_metrics needs a MetricFrame with one sensitive feature; audit each feature separately"
        )
    table = by_group if isinstance(by_group, pd.DataFrame) else by_group.to_frame("metric")
    for group, row in table.iterrows():
        rows += [(m, str(features[0]), str(group), v) for m, v in row.items()]
    return pd.DataFrame(rows, columns=TIDY_COLUMNS)


def _tidy_from_fairness_audit(audit: Any) -> pd.DataFrame:
    """An ``ethicskit.fairness.FairnessAudit`` (wide ``by_group`` + ``overall``) as tidy rows."""
    rows = []
    overall = getattr(audit, "overall", None)
    if isinstance(overall, pd.Series):
        rows += [
            (AUDIT_COLUMNS.get(m, m), None, None, v)
            for m, v in overall.items()
            if AUDIT_COLUMNS.get(m, m) in KNOWN_METRICS
        ]
    table = audit.by_group
    check_columns(table, ["sensitive_feature", "group"], "audit.by_group")
    for record in table.to_dict(orient="records"):
        for column, value in record.items():
            name = AUDIT_COLUMNS.get(column, column)
            if name in KNOWN_METRICS:
                rows.append((name, str(record["sensitive_feature"]), str(record["group"]), value))
    frame = pd.DataFrame(rows, columns=TIDY_COLUMNS)
    if "count" in table.columns:
        counts = {(str(r.sensitive_feature), str(r.group)): r.count for r in table.itertuples()}
        frame["count"] = [
            counts.get((f, g), np.nan)
            for f, g in zip(frame["sensitive_feature"], frame["group"], strict=False)
        ]
    return frame


def _tidy_from_dict(results: Mapping) -> pd.DataFrame:
    rows = []
    for metric, values in results.items():
        if not isinstance(values, Mapping):
            rows.append((metric, None, None, values))
            continue
        for key, value in values.items():
            if key == "overall":
                rows.append((metric, None, None, value))
            elif isinstance(value, Mapping):
                rows += [(metric, str(key), str(group), v) for group, v in value.items()]
            else:
                raise ValueError(
                    f"results[{metric!r}][{key!r}] must be a dict of group -> value or 'overall'"
                )
    return pd.DataFrame(rows, columns=TIDY_COLUMNS)


@validate_params({"min_group_size": [Interval("integral", 0, None)]})
def disparities(results: Any, *, min_group_size: int = 0) -> pd.DataFrame:
    """Between-group gaps: for each metric and sensitive feature, the best and worst group and the gap.

    Returns a DataFrame sorted by decreasing ``gap`` with columns
    ``metric, sensitive_feature, max_group, max_value, min_group, min_value, gap, ratio``.
    ``count`` and ``base_rate`` (a property of the data, not of the model) are skipped; groups smaller
    than ``min_group_size`` are skipped (the results must then carry a ``count`` column). ``ratio`` is
    smallest over largest value, 1.0 when every group is equal (including all zero), as in the audit.
    """
    frame = tidy_metrics(results)
    frame = frame[frame["sensitive_feature"].notna() & ~frame["metric"].isin(["count", "base_rate"])]
    if min_group_size and "count" not in frame.columns:
        raise ValueError(
            f"min_group_size={min_group_size} needs group sizes, but results carry no 'count' column; "
            "pass group_metrics(...) output or a FairnessAudit, or min_group_size=0"
        )
    if min_group_size:
        frame = frame[frame["count"] >= min_group_size]
    rows = []
    for (metric, feature), part in frame.dropna(subset=["value"]).groupby(["metric", "sensitive_feature"]):
        if len(part) < 2:
            continue
        hi, lo = part.loc[part["value"].idxmax()], part.loc[part["value"].idxmin()]
        ratio = gap_ratio(lo["value"], hi["value"])
        rows.append(
            (
                metric,
                feature,
                hi["group"],
                hi["value"],
                lo["group"],
                lo["value"],
                float(hi["value"] - lo["value"]),
                ratio,
            )
        )
    columns = [
        "metric",
        "sensitive_feature",
        "max_group",
        "max_value",
        "min_group",
        "min_value",
        "gap",
        "ratio",
    ]
    return pd.DataFrame(rows, columns=columns).sort_values("gap", ascending=False, ignore_index=True)


def largest_disparity(
    results: Any, *, metrics: Iterable[str] | None = None, min_group_size: int = 0
) -> pd.Series:
    """The row of :func:`disparities` with the largest gap (optionally among ``metrics`` only)."""
    table = disparities(results, min_group_size=min_group_size)
    if metrics is not None:
        if isinstance(metrics, str):  # "accuracy" would be read as the metrics "a", "c", "c", ...
            raise TypeError(f"metrics must be a list of metric names, got the string {metrics!r}")
        unknown = sorted(set(metrics) - set(table["metric"]))
        if unknown:
            raise ValueError(f"metrics {unknown} are not in results; found {sorted(set(table['metric']))}")
        table = table[table["metric"].isin(list(metrics))]
    if table.empty:
        raise ValueError("results hold no metric with at least two groups; nothing to compare")
    return table.iloc[0]
