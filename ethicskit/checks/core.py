"""Feedback-first checks shared by lesson exercises, visible tests and hidden tests.

Three building blocks:

* :class:`CheckFailed` - an ``AssertionError`` whose message says, in plain words, what was expected
  and what was found. nbgrader counts a raised ``AssertionError`` as a failed test cell.
* Small assertion helpers (:func:`expect`, :func:`expect_close`, :func:`expect_type`, ...) that build
  such messages. ``reveal=False`` keeps a hidden reference value out of the message.
* :class:`Parts` for partial credit: a test cell that evaluates several parts returns the points
  earned, which nbgrader reads as the cell's partial score.

The learner API for lessons (``check`` / ``hint`` / ``solution``) lives in :mod:`ethicskit.checks.exercise`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "CheckFailed",
    "expect",
    "expect_close",
    "expect_raises",
    "expect_type",
    "expect_columns",
    "Parts",
]


class CheckFailed(AssertionError):
    """A check did not pass; the message is written for the learner."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def expect(condition: bool, message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def expect_raises(call: Callable[[], Any], error: type[BaseException], message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` unless ``call()`` raises ``error`` (or a subclass).

    Any other exception propagates: the learner's code failed in a way the check did not ask about.
    """
    try:
        call()
    except error:
        return
    raise CheckFailed(message)


def expect_type(value: Any, expected: type | tuple[type, ...], what: str) -> None:
    """Raise unless ``value`` is an instance of ``expected``."""
    if not isinstance(value, expected):
        names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
        raise CheckFailed(f"{what} should be a {names}, but it is a {type(value).__name__}.")


def expect_columns(frame: Any, columns: list[str], what: str) -> None:
    """Raise unless ``frame`` is a DataFrame holding every name in ``columns``."""
    import pandas as pd

    if isinstance(columns, (str, bytes)) or not all(isinstance(c, str) for c in columns):
        # "ab" would silently be read as the columns "a" and "b"
        raise TypeError(f"columns must be a list of column names, got {columns!r}")
    expect_type(frame, pd.DataFrame, what)
    missing = [c for c in columns if c not in frame.columns]
    expect(not missing, f"{what} should have the column(s) {missing}; it has {list(frame.columns)}.")


def expect_close(found: Any, expected: Any, what: str, *, tol: float = 1e-6, reveal: bool = True) -> None:
    """Raise unless ``found`` equals ``expected`` within an absolute tolerance ``tol``.

    Parameters
    ----------
    found, expected : float or array-like
        The learner's value and the reference value. Arrays are compared element-wise.
    what : str
        What the value is, in plain words ("the selection rate of group 'Female'").
    tol : float
        Largest allowed absolute difference.
    reveal : bool
        When False (hidden tests) the expected value is not shown, only how far off the answer is.
    """
    if not isinstance(reveal, (bool, np.bool_)):  # "no" is truthy: it would reveal a hidden value
        raise TypeError(f"reveal must be True or False, got {reveal!r}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not math.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")  # nan would pass everything
    try:
        found_arr = np.asarray(found, dtype=float)
    except (TypeError, ValueError):
        raise CheckFailed(
            f"{what} should be numeric, but it is {type(found).__name__}: {found!r:.80}."
        ) from None
    expected_arr = np.asarray(expected, dtype=float)
    if found_arr.shape != expected_arr.shape:
        raise CheckFailed(
            f"{what} should have shape {expected_arr.shape}, but it has shape {found_arr.shape}."
        )
    if np.any(np.isnan(found_arr) & ~np.isnan(expected_arr)):
        raise CheckFailed(f"{what} contains NaN where a number was expected.")
    if np.any(~np.isnan(found_arr) & np.isnan(expected_arr)):  # an undefined value must stay undefined
        raise CheckFailed(
            f"{what} holds a number where the value is undefined (NaN): check for an empty group "
            "or a division by zero."
        )
    with np.errstate(invalid="ignore"):  # inf - inf: no warning on the learner's stderr
        diff = np.abs(np.nan_to_num(found_arr - expected_arr, nan=0.0))
    worst = float(diff.max()) if diff.size else 0.0
    if worst > tol:
        if found_arr.ndim == 0:
            shown = f"{float(found_arr):.4g}"
            if reveal:
                raise CheckFailed(
                    f"{what} is {shown}; expected {float(expected_arr):.4g} "
                    f"(off by {worst:.3g}, tolerance {tol:g})."
                )
            # hidden: neither the value nor the distance to it (found +- distance would reveal it)
            raise CheckFailed(f"{what} is {shown}; that is not the right value (tolerance {tol:g}).")
        wrong = int(np.sum(diff > tol))
        largest = f" (largest difference {worst:.3g})" if reveal else ""
        raise CheckFailed(
            f"{what}: {wrong} of {diff.size} values differ from the expected ones "
            f"by more than {tol:g}{largest}."
        )


class Parts:
    """Collect partial credit across the parts of one question.

    Use it as the last expression of a test cell so nbgrader reads the points earned::

        parts = Parts(total=3)
        parts.run(1, lambda: expect_close(rate, 0.5, "the rate"))
        parts.run(2, lambda: expect(model_ok, "the model ..."))
        parts.result()           # prints feedback, returns the points (0 raises)

    ``result`` raises :class:`CheckFailed` when no part passed, so an empty answer scores zero and the
    learner sees why.
    """

    def __init__(self, total: float):
        if not (isinstance(total, (int, float)) and total > 0 and math.isfinite(total)):
            raise ValueError(f"total must be a positive number of points, got {total!r}")
        self.total = float(total)
        self.earned = 0.0
        self.assigned = 0.0  # points of every part run so far, passed or not
        self.messages: list[str] = []

    def run(self, points: float, check: Callable[[], Any], label: str = "") -> bool:
        """Run one part; add ``points`` when ``check`` raises nothing, else keep its message.

        The parts' points must be >= 0 and add up to at most ``total``: a test cell must never
        award more than the points it is worth.
        """
        if isinstance(points, bool) or not isinstance(points, (int, float)) or not math.isfinite(points):
            raise TypeError(f"points must be a finite number, got {points!r}")
        if points < 0 or self.assigned + points > self.total + 1e-9:
            raise ValueError(
                f"points must be >= 0 and the parts must add up to at most total={self.total:g}; "
                f"{self.assigned:g} already assigned, this part asks for {points:g}"
            )
        self.assigned += points
        prefix = f"{label}: " if label else ""
        try:
            check()
        except CheckFailed as failure:
            self.messages.append(f"{prefix}{failure.message}")
            return False
        except Exception as error:  # the learner's code crashed inside the check
            self.messages.append(f"{prefix}your code raised {type(error).__name__}: {error}")
            return False
        self.earned += points
        return True

    def result(self) -> float:
        """Print the feedback and return the points earned; raise if none were."""
        for message in self.messages:
            print("-", message)
        if self.earned <= 0:
            raise CheckFailed("No part of this question passed yet. " + " ".join(self.messages))
        print(f"{self.earned:g} of {self.total:g} points")
        return self.earned
