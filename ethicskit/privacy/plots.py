"""The privacy-utility trade-off plot: accuracy against epsilon (fairness has plot_tradeoff)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ethicskit._plotting import axes
from ethicskit._validation import check_columns

__all__ = ["plot_privacy_tradeoff"]


def plot_privacy_tradeoff(
    table: pd.DataFrame,
    *,
    performance: str = "accuracy",
    chance: float | None = None,
    ax: Any = None,
):
    """Performance against epsilon (log scale), with the non-private run as a dashed line.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per trained model with columns ``epsilon`` (``inf`` for the run without privacy, as
        ``DPSGDClassifier(epsilon=None).epsilon_`` reports) and ``performance``.
    performance : str
        The column on the y axis.
    chance : float, optional
        A trivial baseline to draw (e.g. the accuracy of always predicting the majority label).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    check_columns(table, ["epsilon", performance], "table")
    epsilon = pd.to_numeric(table["epsilon"], errors="raise").to_numpy(dtype=float)
    finite = np.isfinite(epsilon)
    if not finite.any():
        raise ValueError("table has no row with a finite epsilon; train at least one private model")
    ax = axes(ax, (6, 3.5))
    order = np.argsort(epsilon[finite])
    xs, ys = epsilon[finite][order], table[performance].to_numpy(dtype=float)[finite][order]
    ax.plot(xs, ys, marker="o", label="DP-SGD")
    for value in table[performance].to_numpy(dtype=float)[~finite][:1]:
        ax.axhline(value, color="grey", linestyle="--", label="no privacy")
    if chance is not None:
        ax.axhline(float(chance), color="red", linestyle=":", label="trivial baseline")
    ax.set(
        xscale="log",
        xlabel="epsilon (log scale; smaller = more private)",
        ylabel=performance,
        title="privacy-utility trade-off",
    )
    ax.set_xticks(xs, [f"{e:.1f}" for e in xs])
    ax.minorticks_off()
    ax.legend()
    return ax
