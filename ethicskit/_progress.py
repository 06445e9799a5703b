"""One rule for progress bars across ethicskit: show them to a person, never to a test or a grader.

A bar is shown when asked for (``enabled``), when ``TQDM_DISABLE`` is not set, and when someone is
watching: a Jupyter kernel (where tqdm draws a widget, not stderr text) or a terminal.
Graded test cells must not write to stderr (nbgrader scores such a cell zero), so the grader sets
``TQDM_DISABLE=1``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["progress", "progress_wanted"]


def progress_wanted(enabled: bool = True) -> bool:
    """True when a progress bar should be drawn: enabled, not switched off, and someone is watching."""
    if not enabled or os.environ.get("TQDM_DISABLE", "").strip().lower() in {"1", "true", "yes"}:
        return False
    return "ipykernel" in sys.modules or bool(getattr(sys.stderr, "isatty", lambda: False)())


def progress(
    iterable: Iterable[Any] | None = None, *, desc: str, total: int | None = None, enabled: bool = True
):
    """Wrap ``iterable`` in a tqdm bar (or make a manual bar when ``iterable`` is None).

    The bar is disabled, i.e. a silent pass-through, unless :func:`progress_wanted` says otherwise.
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False, disable=not progress_wanted(enabled))
