"""Shared plumbing of :mod:`ethicskit.fairness`: input validation and warning silencing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ethicskit._quiet import quiet
from ethicskit._validation import (
    as_1d_array,
    check_binary,
    check_consistent_length,
    check_min_groups,
    check_no_nan,
)

__all__ = ["quiet", "as_sensitive_frame", "validate_labels", "group_labels"]

INTERSECTION_SEP = " & "


def validate_labels(values: Any, name: str) -> np.ndarray:
    """Return ``values`` as a 0/1 int array; bool allowed; NaN and other labels rejected."""
    return check_binary(values, name)


def as_sensitive_frame(sensitive_features: Any, *, name: str = "sensitive_features") -> pd.DataFrame:
    """Return the sensitive feature(s) as a DataFrame of strings, one column per attribute.

    Accepts a Series, a 1-d array / list, or a DataFrame (several attributes). An unnamed
    1-d input gets the column name ``"sensitive"``.
    """
    if isinstance(sensitive_features, pd.DataFrame):
        if sensitive_features.shape[1] == 0:
            raise ValueError(f"{name} has no columns; pass at least one sensitive attribute")
        if len(sensitive_features) == 0:
            raise ValueError(f"{name} is empty; at least one value is needed")
        frame = sensitive_features.reset_index(drop=True)
    elif isinstance(sensitive_features, dict):
        frame = pd.DataFrame({k: as_1d_array(v, f"{name}[{k!r}]") for k, v in sensitive_features.items()})
    else:
        col = getattr(sensitive_features, "name", None) or "sensitive"
        frame = pd.DataFrame({str(col): as_1d_array(sensitive_features, name)})
    for column in frame.columns:
        check_no_nan(frame[column].to_numpy(), f"{name} column {column!r}")
        check_min_groups(frame[column].to_numpy(), f"{name} column {column!r}")
    return frame.astype(str).set_axis([str(c) for c in frame.columns], axis=1)


def group_labels(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Label of each row's (intersectional) group, e.g. ``"Female & Black"``."""
    if len(columns) == 1:
        return frame[columns[0]].to_numpy(dtype=object)
    return frame[columns].agg(INTERSECTION_SEP.join, axis=1).to_numpy(dtype=object)


def check_lengths(**arrays: Any) -> int:
    """Same-length check that skips ``None`` (thin wrapper over the shared helper)."""
    return check_consistent_length(**arrays)
