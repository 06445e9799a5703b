"""Plots of fairness audits and mitigation comparisons; each returns the matplotlib Axes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ethicskit._plotting import axes
from ethicskit._validation import as_numeric_array, check_columns
from ethicskit.fairness._common import as_sensitive_frame, check_lengths, quiet, validate_labels

__all__ = ["plot_group_metric", "plot_roc_by_group", "plot_tradeoff"]


def plot_group_metric(
    audit: Any, metric: str = "selection_rate", *, sensitive_feature: str | None = None, ax: Any = None
):
    """Bar per group of ``metric`` from a :class:`~ethicskit.fairness.FairnessAudit`, with intervals.

    Parameters
    ----------
    audit : FairnessAudit
    metric : str, default "selection_rate"
        A column of ``audit.by_group`` (``tpr``, ``fpr``, ``accuracy``...).
    sensitive_feature : str, optional
        Which attribute to show (default: the first one audited).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    table = audit.by_group
    check_columns(table, [metric], "audit.by_group (metric)")
    feature = sensitive_feature or table["sensitive_feature"].iloc[0]
    rows = table[table["sensitive_feature"] == feature]
    if rows.empty:
        raise ValueError(
            f"sensitive_feature {feature!r} is not in the audit; "
            f"audited: {sorted(table['sensitive_feature'].unique())}"
        )
    ax = axes(ax)
    values = rows[metric].to_numpy(dtype=float)
    err = None
    if f"{metric}_low" in rows:
        low, high = rows[f"{metric}_low"].to_numpy(float), rows[f"{metric}_high"].to_numpy(float)
        err = np.vstack([np.clip(values - low, 0, None), np.clip(high - values, 0, None)])
    colors = ["tab:gray" if s else "tab:blue" for s in rows["small_group"]]
    ax.bar(rows["group"].astype(str), values, yerr=err, capsize=4, color=colors)
    ax.set_xlabel(feature)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by {feature}" + (" (grey: small group)" if any(rows["small_group"]) else ""))
    ax.tick_params(axis="x", rotation=30)
    return ax


def plot_roc_by_group(y_true: Any, scores: Any, *, sensitive_features: Any, ax: Any = None):
    """One ROC curve per group (groups with a single class are skipped).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    y = validate_labels(y_true, "y_true")
    s = as_numeric_array(scores, "scores")
    if s.min() < 0 or s.max() > 1:  # ROC curves only need an order, but a 0-100 scale hints at a mix-up
        raise ValueError(f"scores must be probabilities in [0, 1], found {s.min():g} to {s.max():g}")
    frame = as_sensitive_frame(sensitive_features)
    check_lengths(y_true=y, scores=s, sensitive_features=frame)
    groups = frame.iloc[:, 0].to_numpy()
    ax = axes(ax, (4.5, 4.5))
    for group in sorted(pd.unique(groups)):
        mask = groups == group
        if len(np.unique(y[mask])) < 2:
            continue
        with quiet():
            fpr, tpr, _ = roc_curve(y[mask], s[mask])
            auc = roc_auc_score(y[mask], s[mask])
        ax.plot(fpr, tpr, label=f"{group} (AUC {auc:.2f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize="small")
    return ax


def plot_tradeoff(
    table: pd.DataFrame,
    *,
    disparity: str = "demographic_parity_difference",
    performance: str = "accuracy",
    ax: Any = None,
):
    """Scatter of performance against disparity, one labelled point per method.

    Parameters
    ----------
    table : pandas.DataFrame
        ``MitigationComparison.table`` (columns ``method`` plus the two metrics).
    disparity, performance : str
        Column names for the x and y axes.

    Returns
    -------
    matplotlib.axes.Axes
    """
    check_columns(table, ["method", disparity, performance], "table")
    ax = axes(ax, (5.5, 4))
    ax.scatter(table[disparity], table[performance])
    for _, row in table.iterrows():
        ax.annotate(
            row["method"],
            (row[disparity], row[performance]),
            fontsize="small",
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set_xlabel(_DISPARITY_LABELS.get(disparity, f"{disparity} (0 = no gap on this measure)"))
    ax.set_ylabel(performance)
    # Each point is an option with its own costs; a smaller gap on *this* measure can come with a larger
    # gap on another one, so the axis names the measure instead of calling one side "fairer".
    ax.set_title("trade-off on held-out data")
    return ax


_DISPARITY_LABELS = {
    "demographic_parity_difference": (
        "demographic parity difference\n(gap in selection rate; 0 = equal rates)"
    ),
    "demographic_parity_ratio": "demographic parity ratio\n(lower rate / higher rate; 1 = equal rates)",
    "equalized_odds_difference": "equalized odds difference\n(larger of the TPR and FPR gaps; 0 = equal)",
    "equal_opportunity_difference": "equal opportunity difference\n(gap in TPR; 0 = equal)",
}
