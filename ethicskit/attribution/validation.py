"""Check estimates against exact retraining: correlations, sign agreement, scatter plots."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._plotting import axes
from ethicskit._validation import as_1d_array, as_numeric_array, check_consistent_length, check_no_nan

__all__ = ["fidelity", "agreement", "compare_estimates", "plot_estimates"]


def fidelity(estimate: Any, exact: Any) -> dict[str, float]:
    """How well estimated effects match exact ones: Pearson and Spearman correlation, sign agreement.

    (``explain.agreement`` compares two *explanations* with each other; this compares an estimate with
    the ground truth, hence its own name.)

    Examples
    --------
    >>> fidelity([1.0, 2.0, -1.0], [2.0, 4.1, -2.0])["sign_agreement"]
    1.0
    """
    from scipy import stats

    est = as_numeric_array(estimate, "estimate")
    ex = as_numeric_array(exact, "exact")
    check_consistent_length(estimate=est, exact=ex)
    constant = len(est) < 2 or np.ptp(est) == 0 or np.ptp(ex) == 0
    return {
        "pearson": float("nan") if constant else float(stats.pearsonr(est, ex)[0]),
        "spearman": float("nan") if constant else float(stats.spearmanr(est, ex)[0]),
        "sign_agreement": float(np.mean(np.sign(est) == np.sign(ex))),
        "n": int(len(est)),
    }


def agreement(estimate: Any, exact: Any) -> dict[str, float]:
    """Deprecated name of :func:`fidelity`."""
    warnings.warn("attribution.agreement is now attribution.fidelity", FutureWarning, stacklevel=2)
    return fidelity(estimate, exact)


def compare_estimates(estimate: pd.DataFrame, exact: pd.DataFrame, *, groups: Any = None) -> pd.DataFrame:
    """Agreement between estimated and exact stage effects, per stage (and per group).

    Parameters
    ----------
    estimate, exact : pandas.DataFrame
        Stage effects as returned by the estimators and :func:`~ethicskit.attribution.exact_stage_effects`
        (rows: stages, columns: queries).
    groups : array-like of shape (n_queries,), optional
        Group of each query; adds one row per (stage, group).

    Returns
    -------
    pandas.DataFrame
        Columns ``pearson``, ``spearman``, ``sign_agreement``, ``n``; index: stage (and group).
    """
    for name, frame in (("estimate", estimate), ("exact", exact)):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{name} must be a DataFrame of stage effects, got {type(frame).__name__}")
    if (
        list(estimate.index) != list(exact.index)
        or estimate.shape != exact.shape
        or list(estimate.columns) != list(exact.columns)  # same shape, other queries: wrong pairs
    ):
        raise ValueError(f"estimate and exact must cover the same stages and queries: estimate has "
                         f"{list(estimate.index)} x {estimate.shape[1]}, "
                         f"exact {list(exact.index)} x {exact.shape[1]}")
    rows, index = [], []
    if groups is not None:
        g = check_no_nan(as_1d_array(groups, "groups"), "groups")
        check_consistent_length(groups=g, queries=np.arange(exact.shape[1]))
    for stage in exact.index:
        est, ex = estimate.loc[stage].to_numpy(), exact.loc[stage].to_numpy()
        rows.append(fidelity(est, ex))
        index.append((stage, "all"))
        if groups is not None:
            for value in pd.unique(g):
                mask = g == value
                rows.append(fidelity(est[mask], ex[mask]))
                index.append((stage, value))
    frame = pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["stage", "group"]))
    return frame.droplevel("group") if groups is None else frame


def plot_estimates(estimate: pd.DataFrame, exact: pd.DataFrame, *, stages: Any = None, ax: Any = None,
                   title: str | None = None):
    """Scatter plot of estimated against exact effects (one colour per stage), with the diagonal.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = axes(ax, (4.5, 4))
    names = list(exact.index) if stages is None else ([stages] if isinstance(stages, str) else list(stages))
    for stage in names:
        r = fidelity(estimate.loc[stage], exact.loc[stage])["pearson"]
        ax.scatter(exact.loc[stage], estimate.loc[stage], s=8, alpha=0.6, label=f"{stage} (r={r:.2f})")
    values = np.concatenate([exact.loc[names].to_numpy().ravel(), estimate.loc[names].to_numpy().ravel()])
    lo, hi = float(values.min()), float(values.max())
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--")
    ax.set_xlabel("exact effect (retraining)")
    ax.set_ylabel("estimated effect")
    ax.set_title(title or "stage effects: estimate vs exact")
    ax.legend(fontsize=8)
    return ax
