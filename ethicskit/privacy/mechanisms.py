"""Differential-privacy mechanisms (Laplace, Gaussian), noisy statistics and a privacy-budget accountant.

A mechanism is epsilon-differentially private when adding or removing one person changes the
probability of any output by at most a factor ``exp(epsilon)``. Noise is scaled to the *sensitivity*:
how much one person can change the true answer (1 for a count).

Examples
--------
>>> round(noisy_count([True, False, True], epsilon=1.0, random_state=0), 2)
2.32
>>> accountant = PrivacyAccountant(total_epsilon=1.0)
>>> round(accountant.spend(0.6, label="count"), 3)
0.4
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._validation import (
    InstanceOf,
    Interval,
    as_1d_array,
    as_numeric_array,
    check_no_nan,
    check_param,
    check_positive,
    check_probability,
    check_random_state,
    validate_params,
)

__all__ = [
    "BudgetExceeded",
    "PrivacyAccountant",
    "gaussian_mechanism",
    "gaussian_sigma",
    "laplace_mechanism",
    "noisy_count",
    "noisy_histogram",
    "noisy_mean",
]

Seed = int | np.random.Generator | None


def _check_epsilon(epsilon: float) -> float:
    return check_positive(epsilon, "epsilon")


def _check_value(value: Any, name: str = "value") -> float | np.ndarray:
    array = np.asarray(value, dtype=float) if not isinstance(value, str) else None
    if array is None:
        raise TypeError(f"{name} must be a number or an array of numbers, got a string")
    if np.any(np.isnan(array)):
        raise ValueError(f"{name} contains NaN; a mechanism needs a true value to add noise to")
    if np.any(np.isinf(array)):  # inf + noise is inf: no privacy and no information, silently
        raise ValueError(f"{name} contains inf; a mechanism needs a finite true value to add noise to")
    return float(array) if array.ndim == 0 else array


def laplace_mechanism(
    value: float | Sequence[float], *, sensitivity: float, epsilon: float, random_state: Seed = None
) -> float | np.ndarray:
    """Add Laplace noise of scale ``sensitivity / epsilon`` (epsilon-DP for an L1 sensitivity).

    Parameters
    ----------
    value : float or array-like
        The true answer (each entry of an array gets its own noise).
    sensitivity : float
        Largest change in ``value`` (L1 norm) when one person is added or removed.
    epsilon : float
        Privacy loss, > 0. Smaller = more private = noisier.
    random_state : int, numpy Generator or None
        Seed for reproducible noise.
    """
    true = _check_value(value)
    scale = check_positive(sensitivity, "sensitivity") / _check_epsilon(epsilon)
    if not np.isfinite(scale):  # epsilon 1e-320: the noise would be infinite, the answer meaningless
        raise ValueError(
            f"epsilon={epsilon} is too small for sensitivity={sensitivity}: the noise would be infinite"
        )
    rng = check_random_state(random_state)
    with np.errstate(over="ignore"):
        noisy = true + rng.laplace(0.0, scale, size=np.shape(true))
    if not np.all(np.isfinite(noisy)):  # a finite scale near the float limit can still draw +-inf
        raise ValueError(
            f"sensitivity={sensitivity} / epsilon={epsilon} is too large: the noise overflows to infinity"
        )
    return float(noisy) if np.ndim(true) == 0 else noisy


def gaussian_sigma(*, sensitivity: float, epsilon: float, delta: float) -> float:
    """Smallest Gaussian noise scale giving (epsilon, delta)-DP for an L2 ``sensitivity``.

    Uses the exact condition of the *analytic* Gaussian mechanism (Balle & Wang, 2018), valid for every
    epsilon > 0 (the classic ``sqrt(2 ln(1.25/delta)) * sensitivity / epsilon`` needs epsilon < 1).
    """
    from scipy.optimize import brentq
    from scipy.stats import norm

    sens = check_positive(sensitivity, "sensitivity")
    eps = _check_epsilon(epsilon)
    dlt = check_probability(delta, "delta", open_interval=True)

    def excess(sigma: float) -> float:
        a, b = sens / (2 * sigma), eps * sigma / sens
        # exp(eps) * cdf(x) in log space: exp(1000) alone overflows a float
        return norm.cdf(a - b) - math.exp(min(eps + norm.logcdf(-a - b), 700.0)) - dlt

    low, high = 1e-12 * sens, sens
    if excess(low) <= 0:  # a huge epsilon needs (almost) no noise: the guarantee is then nearly void
        return float(low)
    while excess(high) > 0:
        high *= 2
    return float(brentq(excess, low, high, xtol=1e-12 * sens))


def gaussian_mechanism(
    value: float | Sequence[float],
    *,
    sensitivity: float,
    epsilon: float,
    delta: float,
    random_state: Seed = None,
) -> float | np.ndarray:
    """Add Gaussian noise calibrated by :func:`gaussian_sigma` ((epsilon, delta)-DP, L2 sensitivity)."""
    true = _check_value(value)
    sigma = gaussian_sigma(sensitivity=sensitivity, epsilon=epsilon, delta=delta)
    noise = check_random_state(random_state).normal(0.0, sigma, size=np.shape(true))
    return float(true + noise) if np.ndim(true) == 0 else true + noise


def noisy_count(mask: Sequence[bool] | pd.Series, *, epsilon: float, random_state: Seed = None) -> float:
    """epsilon-DP count of the True entries of ``mask`` (sensitivity 1)."""
    array = check_no_nan(as_1d_array(mask, "mask"), "mask")
    if array.dtype != bool and not set(np.unique(array).tolist()) <= {0, 1}:
        raise ValueError("mask must hold booleans (or 0/1), one per record")
    return laplace_mechanism(
        float(array.astype(bool).sum()), sensitivity=1.0, epsilon=epsilon, random_state=random_state
    )


_CATEGORIES = InstanceOf(list, tuple, np.ndarray, pd.Index, label="a list of categories")


@validate_params({"nonnegative": ["boolean"], "categories": [None, _CATEGORIES]})  # "ab" is not ["a", "b"]
def noisy_histogram(
    values: Sequence[Any] | pd.Series,
    *,
    epsilon: float,
    categories: Sequence[Any] | None = None,
    nonnegative: bool = True,
    random_state: Seed = None,
) -> pd.Series:
    """epsilon-DP counts per category (one person changes one bin by 1: parallel composition).

    Parameters
    ----------
    values : array-like
        One category per record.
    categories : sequence, optional
        The bins to report. Give them when the set of categories is itself sensitive (a bin that appears
        only because one person is in it would leak); default: the categories found.
    nonnegative : bool
        Round negative noisy counts up to 0 (post-processing keeps the guarantee).
    """
    array = check_no_nan(as_1d_array(values, "values"), "values")
    bins = list(categories) if categories is not None else sorted(pd.unique(array).tolist(), key=str)
    true = pd.Series(array).value_counts().reindex(bins, fill_value=0).astype(float)
    noisy = laplace_mechanism(true.to_numpy(), sensitivity=1.0, epsilon=epsilon, random_state=random_state)
    out = pd.Series(noisy, index=pd.Index(bins, name="category"), name="noisy_count")
    return out.clip(lower=0) if nonnegative else out


def noisy_mean(
    values: Sequence[float] | pd.Series,
    *,
    lower: float,
    upper: float,
    epsilon: float,
    random_state: Seed = None,
) -> float:
    """epsilon-DP mean of values clipped to ``[lower, upper]``.

    Half the budget buys a noisy sum (sensitivity ``max(|lower|, |upper|)``), half a noisy count
    (sensitivity 1); the result is clipped back into ``[lower, upper]``.
    """
    array = as_numeric_array(values, "values")  # inf would survive clipping as a bound, silently
    lower = check_param(lower, "lower", [Interval("real", None, None)])
    upper = check_param(upper, "upper", [Interval("real", None, None)])
    if lower >= upper:
        raise ValueError(f"need finite bounds with lower < upper, got lower={lower}, upper={upper}")
    eps = _check_epsilon(epsilon)
    rng = check_random_state(random_state)
    clipped = np.clip(array, lower, upper)
    total = laplace_mechanism(
        clipped.sum(), sensitivity=max(abs(lower), abs(upper)), epsilon=eps / 2, random_state=rng
    )
    count = laplace_mechanism(float(len(clipped)), sensitivity=1.0, epsilon=eps / 2, random_state=rng)
    return float(np.clip(total / max(count, 1.0), lower, upper))


class BudgetExceeded(ValueError):
    """A query would spend more privacy budget than is left."""


class PrivacyAccountant:
    """Track a privacy budget under sequential composition (epsilons and deltas add up).

    Parameters
    ----------
    total_epsilon : float
        The whole budget, > 0.
    total_delta : float
        The whole delta budget (0 for pure epsilon-DP).

    Examples
    --------
    >>> acc = PrivacyAccountant(total_epsilon=1.0)
    >>> acc.spend(0.5, label="mean age")
    0.5
    >>> acc.spend(0.7)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    ethicskit.privacy.mechanisms.BudgetExceeded: spending epsilon=0.7 would exceed the budget: 0.5 of 1 left
    """

    def __init__(self, total_epsilon: float, total_delta: float = 0.0):
        self.total_epsilon = check_positive(total_epsilon, "total_epsilon")
        self.total_delta = check_probability(total_delta, "total_delta")
        self.ledger: list[dict[str, Any]] = []

    @property
    def spent_epsilon(self) -> float:
        """Epsilon spent so far (sum of the ledger)."""
        return float(sum(entry["epsilon"] for entry in self.ledger))

    @property
    def spent_delta(self) -> float:
        """Delta spent so far."""
        return float(sum(entry["delta"] for entry in self.ledger))

    @property
    def remaining_epsilon(self) -> float:
        """Epsilon still available."""
        return max(self.total_epsilon - self.spent_epsilon, 0.0)

    def can_spend(self, epsilon: float, delta: float = 0.0) -> bool:
        """Whether a query costing ``(epsilon, delta)`` still fits in the budget."""
        eps = check_positive(epsilon, "epsilon")
        dlt = check_probability(delta, "delta")
        tol = 1e-12
        return (
            self.spent_epsilon + eps <= self.total_epsilon + tol
            and self.spent_delta + dlt <= self.total_delta + tol
        )

    def spend(self, epsilon: float, delta: float = 0.0, *, label: str = "") -> float:
        """Record a query costing ``(epsilon, delta)``; return the epsilon left.

        Raises
        ------
        BudgetExceeded
            When the query does not fit; nothing is recorded then (answer no more queries).
        """
        if not self.can_spend(epsilon, delta):
            raise BudgetExceeded(
                f"spending epsilon={epsilon:g} would exceed the budget: {self.remaining_epsilon:g} of "
                f"{self.total_epsilon:g} left" + (f" (delta {delta:g} asked)" if delta else "")
            )
        self.ledger.append({"label": label, "epsilon": float(epsilon), "delta": float(delta)})
        return self.remaining_epsilon

    def to_frame(self) -> pd.DataFrame:
        """The ledger as a DataFrame (one row per query)."""
        return pd.DataFrame(self.ledger, columns=["label", "epsilon", "delta"])

    def __repr__(self) -> str:
        return f"PrivacyAccountant(spent {self.spent_epsilon:g} of {self.total_epsilon:g} epsilon)"
