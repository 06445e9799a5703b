"""Input validation shared by every ethicskit module.

Each helper raises ``ValueError`` or ``TypeError`` with a message that names the argument and says
what was expected, so that a learner who passes the wrong thing knows what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "as_1d_array",
    "check_binary",
    "check_consistent_length",
    "check_no_nan",
    "check_columns",
    "check_positive",
    "check_probability",
    "check_in_choices",
    "check_random_state",
    "check_min_groups",
]


def as_1d_array(values: Any, name: str) -> np.ndarray:
    """Return ``values`` as a 1-d numpy array, or raise naming ``name``."""
    if values is None:
        raise TypeError(f"{name} must be an array-like of values, got None")
    if isinstance(values, (pd.Series, pd.Index)):
        array = values.to_numpy()
    elif isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise ValueError(
                f"{name} must be one-dimensional, got a DataFrame with {values.shape[1]} columns"
            )
        array = values.iloc[:, 0].to_numpy()
    else:
        array = np.asarray(values)
    if array.ndim == 2 and 1 in array.shape:
        array = array.ravel()
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got an array of shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty; at least one value is needed")
    return array


def check_no_nan(array: np.ndarray, name: str) -> np.ndarray:
    """Raise if ``array`` holds missing values (NaN, None, pd.NA)."""
    missing = pd.isna(array)
    if np.any(missing):
        count = int(np.sum(missing))
        raise ValueError(f"{name} contains {count} missing value(s) (NaN/None); drop or impute them first")
    return array


def check_binary(values: Any, name: str, *, allow_bool: bool = True) -> np.ndarray:
    """Return ``values`` as an int array of 0/1, or raise if other labels occur."""
    array = check_no_nan(as_1d_array(values, name), name)
    if array.dtype == bool and allow_bool:
        return array.astype(int)
    found = pd.unique(array)
    if not set(found.tolist()) <= {0, 1}:
        shown = sorted(map(str, found.tolist()))[:5]
        raise ValueError(f"{name} must contain only binary labels 0 and 1, found values {shown}")
    return array.astype(int)


def check_consistent_length(**arrays: Sequence | np.ndarray | None) -> int:
    """Raise if the named arrays (``None`` skipped) do not all have the same length."""
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"inputs must have the same number of rows: {described}")
    return next(iter(lengths.values()), 0)


def check_columns(frame: pd.DataFrame, columns: Iterable[str], name: str = "data") -> None:
    """Raise if any of ``columns`` is missing from ``frame``, listing what exists."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} has no column(s) {missing}; available columns: {list(frame.columns)}")


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """Raise unless ``value`` is a finite number > 0 (or >= 0 when ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value}")
    return float(value)


def check_probability(value: float, name: str, *, open_interval: bool = False) -> float:
    """Raise unless ``value`` lies in [0, 1] (or (0, 1) when ``open_interval``)."""
    value = check_positive(value, name, allow_zero=True)
    if value > 1 or (open_interval and value in (0.0, 1.0)):
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"{name} must lie in {interval}, got {value}")
    return value


def check_in_choices(value: Any, choices: Iterable[Any], name: str) -> Any:
    """Raise unless ``value`` is one of ``choices``, listing them."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {choices}")
    return value


def check_random_state(
    seed: int | np.random.Generator | None, name: str = "random_state"
) -> np.random.Generator:
    """Return a numpy Generator from an int seed, an existing Generator or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    raise TypeError(f"{name} must be an int, a numpy Generator or None, got {type(seed).__name__}")


def check_min_groups(groups: np.ndarray, name: str, *, minimum: int = 2) -> np.ndarray:
    """Raise if ``groups`` has fewer than ``minimum`` distinct values."""
    distinct = pd.unique(groups)
    if len(distinct) < minimum:
        raise ValueError(
            f"{name} must contain at least {minimum} distinct groups to compare, found {len(distinct)}: "
            f"{list(distinct)[:5]}"
        )
    return groups
