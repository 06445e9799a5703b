"""Shared plotting plumbing: every ``plot_*`` function draws on ``ax`` or on a new figure."""

from __future__ import annotations

from typing import Any

__all__ = ["axes"]


def axes(ax: Any, figsize: tuple[float, float] = (6, 3.5)) -> Any:
    """``ax`` itself, or the axes of a new ``figsize`` figure when ``ax`` is None.

    matplotlib is imported here, on first use, so importing a topic stays fast.
    """
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]
