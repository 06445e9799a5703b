"""A tqdm progress bar that stays quiet in tests, under TQDM_DISABLE=1 and when not interactive."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["progress"]


def progress(iterable: Iterable[Any], *, desc: str, total: int | None = None) -> Iterable[Any]:
    """Wrap ``iterable`` in a tqdm bar unless progress output is unwanted."""
    from tqdm.auto import tqdm

    quiet = os.environ.get("TQDM_DISABLE") == "1" or not sys.stderr.isatty()
    return tqdm(iterable, desc=desc, total=total, disable=quiet, leave=False)
