"""Plots students can read: local bars, global bars, beeswarm, faithfulness curves, proxies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._plotting import axes
from ethicskit._validation import Interval, validate_params
from ethicskit.explain._common import import_shap, quiet
from ethicskit.explain.attributions import LocalExplanation

_POSITIVE = [Interval("integral", 1, None)]

__all__ = ["plot_local", "plot_global", "plot_beeswarm", "plot_curves", "plot_proxies"]


def _category_name(categories: Mapping[str, Any] | None, feature: str, value: Any) -> str:
    """``value`` in words: the category a code stands for, or the number itself."""
    if categories and feature in categories:
        names = list(categories[feature])
        try:
            code = int(value)
        except (TypeError, ValueError):
            return str(value)
        if code == value and 0 <= code < len(names):
            return str(names[code])
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def _check_categories(categories: Any) -> Mapping[str, Any] | None:
    if categories is not None and not isinstance(categories, Mapping):
        raise TypeError(
            "categories must be a dict {column: list of categories} (as returned by ordinal_encode), "
            f"got {type(categories).__name__}"
        )
    return categories


@validate_params({"row": [Interval("integral", 0, None)], "max_features": _POSITIVE})
def plot_local(
    explanation: LocalExplanation,
    row: int = 0,
    *,
    max_features: int = 8,
    categories: Mapping[str, Any] | None = None,
    ax: Any = None,
):
    """Bar chart of one instance's attributions (green pushes towards class 1, red away).

    Parameters
    ----------
    explanation : LocalExplanation
    row : int
        Position (not label) of the instance in ``explanation``.
    max_features : int
        Largest bars shown.
    categories : dict, optional
        ``{column: categories}`` from :func:`ordinal_encode`: category codes are shown by name
        (``status = ... < 0 DM`` instead of ``status = 3``).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(explanation, LocalExplanation):
        raise TypeError(f"explanation must be a LocalExplanation, got {type(explanation).__name__}")
    if not 0 <= row < len(explanation):
        raise ValueError(f"row must be between 0 and {len(explanation) - 1}, got {row}")
    categories = _check_categories(categories)
    values = explanation.values.iloc[row]
    data = explanation.data.iloc[row]
    top = values.abs().sort_values(ascending=False).index[:max_features][::-1]
    ax = axes(ax, (6, 0.4 * len(top) + 1))
    labels = [f"{name} = {_category_name(categories, name, data[name])}" for name in top]
    colours = ["tab:green" if values[n] > 0 else "tab:red" for n in top]
    ax.barh(labels, values[top], color=colours)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"contribution to {explanation.output} of class 1 ({explanation.method})")
    label = explanation.values.index[row]
    label = label.item() if hasattr(label, "item") else label  # 749, not np.int64(749)
    ax.set_title(f"row {label}: base value {explanation.base_values[row]:.3f}")
    return ax


@validate_params({"max_features": _POSITIVE})
def plot_global(importance: LocalExplanation | pd.Series, *, max_features: int = 10, ax: Any = None):
    """Horizontal bars of global importance (mean |attribution| or any importance Series)."""
    if isinstance(importance, LocalExplanation):
        importance = importance.global_importance()
    if not isinstance(importance, pd.Series):
        raise TypeError(
            f"importance must be a LocalExplanation or a pandas Series, got {type(importance).__name__}"
        )
    top = importance.reindex(importance.abs().sort_values(ascending=False).index[:max_features])[::-1]
    ax = axes(ax, (6, 0.4 * len(top) + 1))
    ax.barh([str(i) for i in top.index], top.to_numpy(), color="tab:blue")
    ax.set_xlabel(str(importance.name or "importance"))
    return ax


@validate_params({"max_features": _POSITIVE})
def plot_beeswarm(
    explanation: LocalExplanation,
    *,
    max_features: int = 10,
    categories: Mapping[str, Any] | None = None,
    ax: Any = None,
):
    """shap's beeswarm summary: one dot per instance and feature, coloured by the feature value.

    Category codes have no order, so colouring them from "low" to "high" would mean nothing: the
    features named in ``categories`` (from :func:`ordinal_encode`) are drawn in grey and marked
    "(category)"; only numeric features get the colour scale.
    """
    import matplotlib.pyplot as plt

    if not isinstance(explanation, LocalExplanation):
        raise TypeError(f"explanation must be a LocalExplanation, got {type(explanation).__name__}")
    categories = _check_categories(categories)
    ax = axes(ax, (7, 0.4 * max_features + 1.5))
    shap = import_shap()
    shown = explanation.to_shap()
    if categories:
        names = list(explanation.feature_names)
        data = np.array(shown.data, dtype=float, copy=True)
        for j, name in enumerate(names):
            if name in categories:
                data[:, j] = np.nan  # shap draws NaN values in grey, outside the colour scale
                names[j] = f"{name} (category)"
        shown = shap.Explanation(
            values=shown.values, base_values=shown.base_values, data=data, feature_names=names
        )
    with quiet():
        shap.plots.beeswarm(shown, max_display=max_features, ax=ax, show=False, plot_size=None)
    plt.tight_layout()
    return ax


def plot_curves(curves: Mapping[str, np.ndarray], *, kind: str = "deletion", ax: Any = None):
    """Deletion or insertion curves of several explanations (and a random order) on one Axes."""
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError("curves must be a non-empty dict mapping a label to a curve (array)")
    ax = axes(ax, (6, 4))
    for label, curve in curves.items():
        curve = np.asarray(curve, dtype=float)
        ax.plot(np.arange(len(curve)), curve, marker="o", label=label)
    ax.set_xlabel(f"number of top features {'removed' if kind == 'deletion' else 'kept'}")
    ax.set_ylabel("mean |change in P(class 1)|" if kind == "deletion" else "mean |gap to full prediction|")
    ax.legend()
    return ax


def plot_proxies(table: pd.DataFrame, *, max_features: int = 8, ax: Any = None):
    """Bars of :func:`proxy_analysis`'s ``gap_drop``: how much of the group gap each feature carries."""
    if not isinstance(table, pd.DataFrame) or "gap_drop" not in table:
        raise TypeError("table must be the DataFrame returned by proxy_analysis (with a gap_drop column)")
    top = table["gap_drop"].iloc[:max_features][::-1]
    ax = axes(ax, (6, 0.4 * len(top) + 1))
    ax.barh([str(i) for i in top.index], top.to_numpy(), color="tab:purple")
    ax.axvline(0, color="black", linewidth=0.8)
    gap = table.attrs.get("prediction_gap")
    ax.set_xlabel(
        "drop in prediction gap when the feature is shuffled" + (f" (gap {gap:.3f})" if gap else "")
    )
    return ax
