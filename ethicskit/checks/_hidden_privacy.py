"""Hidden references of lab5-privacy (the grader's answers).

Imported lazily by :mod:`ethicskit.checks.privacy`, only where a check needs a reference. While a
student's code runs for a hidden check (the recheck's runner), this file reads as empty, so a student's
function cannot call these references; the trusted check process reads it normally.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd


def level_table(data: pd.DataFrame, k: int, hierarchies: dict) -> list[tuple[dict, int, float]]:
    """Every combination of levels with its number of suppressed records (classes < k) and its loss.

    Returns ``[(levels, n_suppressed, information_loss), ...]`` for all combinations (the lab's 360).
    """
    from ethicskit.privacy import information_loss

    columns = list(hierarchies)
    codes = {
        (c, level): pd.factorize(hierarchies[c].generalise(data[c], level).astype(str))[0].astype(np.int64)
        for c in columns
        for level in range(hierarchies[c].height + 1)
    }
    out = []
    for combo in itertools.product(*[range(hierarchies[c].height + 1) for c in columns]):
        keys = np.zeros(len(data), dtype=np.int64)
        for c, level in zip(columns, combo, strict=True):
            code = codes[c, level]
            keys = pd.factorize(keys * (int(code.max()) + 1) + code)[0].astype(np.int64)
        sizes = np.bincount(keys)[keys]
        suppressed = int((sizes < k).sum())
        levels = dict(zip(columns, combo, strict=True))
        out.append(
            (
                levels,
                suppressed,
                information_loss(levels, hierarchies, n_rows=len(data), n_suppressed=suppressed),
            )
        )
    return out


def least_loss(table: list[tuple[dict, int, float]], max_suppressed: float) -> float:
    """The smallest information loss among combinations that suppress at most ``max_suppressed`` records."""
    return min(loss for _, suppressed, loss in table if suppressed <= max_suppressed)
