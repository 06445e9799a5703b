"""Hidden references of lab1-bias-mitigation (the grader's answers).

Imported lazily by :mod:`ethicskit.checks.fairness`, only where a check needs a reference. While a
student's code runs for a hidden check (the recheck's runner), this file reads as empty, so a student's
function cannot call these references; the trusted check process reads it normally.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

RATE_COLUMNS = ["selection_rate", "tpr", "fpr"]


def reference_rates(y_true, y_pred, sensitive) -> pd.DataFrame:
    """Selection rate, TPR and FPR per group (NaN where a rate is undefined), indexed by group (str)."""
    data = pd.DataFrame(
        {
            "y": np.asarray(y_true).astype(int),
            "p": np.asarray(y_pred).astype(int),
            "g": np.asarray(sensitive).astype(str),
        }
    )
    rows = {}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for group, part in data.groupby("g"):
            positives, negatives = part.loc[part["y"] == 1, "p"], part.loc[part["y"] == 0, "p"]
            rows[str(group)] = {
                "selection_rate": float(part["p"].mean()),
                "tpr": float(positives.mean()) if len(positives) else np.nan,
                "fpr": float(negatives.mean()) if len(negatives) else np.nan,
            }
    return pd.DataFrame.from_dict(rows, orient="index")[RATE_COLUMNS]


def reference_gaps(rates: pd.DataFrame) -> tuple[float, float]:
    """(demographic parity difference, equalized odds difference) of a rates table, NaN skipped."""
    spread = lambda column: float(np.nanmax(rates[column]) - np.nanmin(rates[column]))  # noqa: E731
    return spread("selection_rate"), max(spread("tpr"), spread("fpr"))


def reference_weights(y, sensitive) -> np.ndarray:
    """Kamiran-Calders weights P(A=a) P(Y=y) / P(A=a, Y=y), one per row, in input order."""
    y, a = np.asarray(y), np.asarray(sensitive).astype(str)
    weights = np.empty(len(y), dtype=float)
    for group in np.unique(a):
        for label in np.unique(y):
            cell = (a == group) & (y == label)
            if cell.any():
                weights[cell] = np.mean(a == group) * np.mean(y == label) / np.mean(cell)
    return weights
