"""Input validation shared by every ethicskit module.

Each helper raises ``ValueError`` or ``TypeError`` with a message that names the argument and says
what was expected, so that a learner who passes the wrong thing knows what to fix.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from numbers import Integral, Real
from typing import Any, TypeVar

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
    "Constraint",
    "Interval",
    "Options",
    "InstanceOf",
    "Boolean",
    "NonEmptyString",
    "check_param",
    "validate_params",
    "check_bool",
    "check_int",
    "check_positive_int",
    "check_text",
    "as_numeric_array",
    "check_finite",
    "as_2d_numeric",
    "as_bool_array",
    "check_unique",
    "check_timestamp",
]

F = TypeVar("F", bound=Callable[..., Any])


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


# --------------------------------------------------------------------------------------------
# Scalar parameters: declarative constraints (in the spirit of scikit-learn's ``validate_params``)
# --------------------------------------------------------------------------------------------
#
# A public function states what each parameter may be, next to its signature:
#
#     @validate_params({"epsilon": [Interval("real", 0, None, closed="neither")], "seed": ["random_state"]})
#     def laplace_mechanism(value, *, epsilon, seed=None): ...
#
# and every call is checked before the body runs. We write our own small version rather than import
# scikit-learn's, because sklearn.utils._param_validation is private (its API moved between releases)
# and its messages do not say "got nan" in the words a learner needs.


class Constraint:
    """One allowed kind of value for a parameter; ``str(constraint)`` reads as "a number in (0, 1]"."""

    def type_ok(self, value: Any) -> bool:
        """Whether ``value`` has a type this constraint could accept (decides TypeError vs ValueError)."""
        return True

    def is_satisfied_by(self, value: Any) -> bool:
        raise NotImplementedError


def _is_real(value: Any) -> bool:
    return isinstance(value, (Real, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_integral(value: Any) -> bool:
    return isinstance(value, (Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


class Interval(Constraint):
    """A finite real (``kind="real"``) or integer (``kind="integral"``) number within bounds.

    NaN and infinities never satisfy an interval: a learner's ``float("nan")`` epsilon is a mistake,
    not a request for "no privacy". ``None`` as a bound means unbounded on that side.
    """

    def __init__(
        self, kind: str, left: float | None, right: float | None, *, closed: str = "both"
    ) -> None:
        if kind not in ("real", "integral") or closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"bad Interval({kind!r}, closed={closed!r})")
        self.kind, self.left, self.right, self.closed = kind, left, right, closed

    def type_ok(self, value: Any) -> bool:
        if self.kind == "integral":
            return _is_integral(value) or (_is_real(value) and float(value).is_integer())
        return _is_real(value)

    def is_satisfied_by(self, value: Any) -> bool:
        if not self.type_ok(value) or not np.isfinite(float(value)):
            return False
        value = float(value)
        if self.left is not None:
            low_ok = value >= self.left if self.closed in ("both", "left") else value > self.left
            if not low_ok:
                return False
        if self.right is not None:
            return value <= self.right if self.closed in ("both", "right") else value < self.right
        return True

    def __str__(self) -> str:
        what = "an integer" if self.kind == "integral" else "a finite number"
        positive = self.left == 1 and self.right is None and self.closed in ("both", "left")
        if self.kind == "integral" and positive:
            return "a positive integer"
        if self.left is None and self.right is None:
            return what
        if self.right is None:
            return f"{what} {'>=' if self.closed in ('both', 'left') else '>'} {self.left}"
        if self.left is None:
            return f"{what} {'<=' if self.closed in ('both', 'right') else '<'} {self.right}"
        low = "[" if self.closed in ("both", "left") else "("
        high = "]" if self.closed in ("both", "right") else ")"
        return f"{what} in {low}{self.left}, {self.right}{high}"


class Options(Constraint):
    """One of a fixed set of values (compared with ``==``; bools never stand in for 0/1)."""

    def __init__(self, *values: Any) -> None:
        self.values = values

    def type_ok(self, value: Any) -> bool:
        return any(type(value) is type(v) or (_is_real(value) and _is_real(v)) for v in self.values)

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)) and not any(isinstance(v, bool) for v in self.values):
            return False
        if value is None:  # None is allowed by listing None beside the constraint, not by an option
            return False
        try:
            return any(bool(value == v) for v in self.values)
        except (TypeError, ValueError):  # an array compares elementwise: never one option
            return False

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


class InstanceOf(Constraint):
    """An instance of one of ``types`` (``label`` is how the message names them)."""

    def __init__(self, *types: type, label: str | None = None) -> None:
        self.types, self.label = types, label

    def type_ok(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def __str__(self) -> str:
        return self.label or "a " + " or ".join(t.__name__ for t in self.types)


class Boolean(Constraint):
    """``True`` or ``False`` (numpy bools too); never a truthy string or number such as ``"yes"`` or 2."""

    def type_ok(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def __str__(self) -> str:
        return "True or False"


class NonEmptyString(Constraint):
    """A string with at least one non-space character."""

    def type_ok(self, value: Any) -> bool:
        return isinstance(value, str)

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value.strip())

    def __str__(self) -> str:
        return "a non-empty string"


class _Predicate(Constraint):
    def __init__(self, test: Callable[[Any], bool], text: str) -> None:
        self.test, self.text = test, text

    def is_satisfied_by(self, value: Any) -> bool:
        return bool(self.test(value))

    def __str__(self) -> str:
        return self.text


def _is_array_like(value: Any) -> bool:
    return (
        isinstance(value, (np.ndarray, pd.Series, pd.DataFrame, pd.Index, list, tuple))
        or (hasattr(value, "__array__") and not np.isscalar(value))
    )


class _Seed(Constraint):
    """A seed: an integer >= 0, or a numpy ``Generator`` / ``RandomState`` to draw from."""

    def type_ok(self, value: Any) -> bool:
        return _is_real(value) or isinstance(value, (np.random.Generator, np.random.RandomState))

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, (np.random.Generator, np.random.RandomState)):
            return True
        return Interval("integral", 0, None).is_satisfied_by(value)

    def __str__(self) -> str:
        return "an integer seed >= 0 or a numpy Generator"


#: Short names usable in a constraint list, as in scikit-learn.
_NAMED: dict[str, Constraint] = {
    "seed": _Seed(),
    "boolean": Boolean(),
    "array-like": _Predicate(_is_array_like, "an array-like (list, numpy array or pandas object)"),
    "dataframe": InstanceOf(pd.DataFrame, label="a pandas DataFrame"),
    "callable": _Predicate(callable, "a callable"),
    "random_state": _Predicate(
        lambda v: isinstance(v, np.random.Generator) or _is_integral(v), "an int seed or a numpy Generator"
    ),
    "text": NonEmptyString(),
}


def _as_constraint(spec: Any) -> Constraint | None:
    if spec is None:
        return None
    if isinstance(spec, Constraint):
        return spec
    if isinstance(spec, str):
        return _NAMED[spec]
    if isinstance(spec, type):
        return InstanceOf(spec)
    raise TypeError(f"not a parameter constraint: {spec!r}")


def _describe(value: Any) -> str:
    if isinstance(value, (np.ndarray, pd.Series, pd.DataFrame, list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_param(value: Any, name: str, constraints: Sequence[Any]) -> Any:
    """Raise unless ``value`` satisfies one of ``constraints`` (``None`` in the list allows None).

    A value of a type no constraint accepts raises ``TypeError``; a value of the right type but
    out of range (NaN, negative, unknown option) raises ``ValueError``. Either names ``name``.

    >>> check_param(0.5, "epsilon", [Interval("real", 0, None, closed="neither")])
    0.5
    >>> check_param(float("nan"), "epsilon", [Interval("real", 0, None, closed="neither")])
    Traceback (most recent call last):
    ...
    ValueError: epsilon must be a finite number > 0, got nan
    """
    allowed = [_as_constraint(c) for c in constraints]
    if value is None and None in allowed:
        return value
    real = [c for c in allowed if c is not None]
    if any(c.is_satisfied_by(value) for c in real):
        return value
    wanted = " or ".join(str(c) for c in real) + (" or None" if None in allowed else "")
    error = ValueError if any(c.type_ok(value) for c in real) else TypeError
    raise error(f"{name} must be {wanted}, got {_describe(value)}")


def validate_params(constraints: dict[str, Sequence[Any]]) -> Callable[[F], F]:
    """Decorate a function so each named parameter is checked with :func:`check_param` on every call.

    Parameters not named are not checked here (arrays are checked in the body, where their
    lengths can be compared). Constraints are looked up by parameter name, defaults included.
    """

    def decorate(function: F) -> F:
        signature = inspect.signature(function)
        unknown = set(constraints) - set(signature.parameters)
        if unknown:
            raise TypeError(f"{function.__qualname__} has no parameter(s) {sorted(unknown)}")

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)  # a TypeError for wrong names is Python's own
            bound.apply_defaults()
            for name, allowed in constraints.items():
                check_param(bound.arguments[name], name, allowed)
            return function(*args, **kwargs)

        wrapper.__wrapped_constraints__ = constraints  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


# --------------------------------------------------------------------------------------------
# Arrays: numbers, flags, identifiers
# --------------------------------------------------------------------------------------------


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` as a bool, refusing truthy stand-ins (``"yes"``, ``2``, ``None``)."""
    return bool(check_param(value, name, ["boolean"]))


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int within [minimum, maximum], refusing bools, NaN and 2.5."""
    return int(check_param(value, name, [Interval("integral", minimum, maximum)]))


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` as an int >= 1: counts, sizes, lengths (``TypeError`` for 2.5, True, "3")."""
    return check_int(value, name, minimum=1)


def check_text(value: Any, name: str) -> str:
    """Return ``value`` stripped, refusing non-strings and blank strings."""
    return str(check_param(value, name, ["text"])).strip()


def as_numeric_array(values: Any, name: str, *, allow_nan: bool = False) -> np.ndarray:
    """Return ``values`` as a 1-d float array; strings, NaN (unless ``allow_nan``) and inf are refused."""
    array = as_1d_array(values, name)
    if array.dtype == bool or array.dtype.kind not in "biuf":
        if array.dtype.kind == "O" and all(_is_real(v) or v is None for v in array.tolist()):
            array = array.astype(float)
        else:
            kinds = sorted({type(v).__name__ for v in array.tolist()})[:3]
            raise TypeError(f"{name} must hold numbers, found values of type {kinds}")
    array = array.astype(float)
    return check_finite(array, name, allow_nan=allow_nan)


def check_finite(array: np.ndarray, name: str, *, allow_nan: bool = False) -> np.ndarray:
    """Raise if a float ``array`` holds NaN (unless ``allow_nan``) or +/-inf, counting them."""
    array = np.asarray(array)
    if array.dtype.kind not in "fc":
        return array
    bad = np.isinf(array) if allow_nan else ~np.isfinite(array)
    if np.any(bad):
        raise ValueError(
            f"{name} contains {int(np.sum(bad))} non-finite value(s) (NaN or inf); drop or impute them first"
        )
    return array


def as_2d_numeric(X: Any, name: str = "X") -> np.ndarray:
    """Return ``X`` as a 2-d float array with at least one row, refusing text, NaN and inf."""
    if X is None:
        raise TypeError(f"{name} must be a 2-d array or DataFrame of numbers, got None")
    if isinstance(X, pd.DataFrame):
        text = [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c]) or X[c].dtype == bool)]
        if text:
            raise TypeError(f"{name} must hold numbers only; column(s) {text[:5]} are not numeric")
        array = X.to_numpy(dtype=float)
    else:
        try:
            array = np.asarray(X, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a 2-d array of numbers") from None
    if array.ndim != 2:
        raise ValueError(f"{name} must be two-dimensional (rows x features), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); at least one row and one column needed")
    return check_finite(array, name)


def as_bool_array(values: Any, name: str) -> np.ndarray:
    """Return ``values`` as a bool array from bools or 0/1 only (``"no"`` is not False)."""
    array = check_no_nan(as_1d_array(values, name), name)
    if array.dtype == bool:
        return array
    if array.dtype.kind in "iuf" or array.dtype.kind == "O":
        found = set(pd.unique(array).tolist())
        numeric = all(isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating)) for v in found)
        if numeric and found <= {0, 1}:
            return array.astype(bool)
    shown = sorted(map(repr, pd.unique(array).tolist()))[:5]
    raise ValueError(f"{name} must hold True/False (or 1/0), found {shown}")


def check_unique(array: np.ndarray, name: str) -> np.ndarray:
    """Raise if ``array`` repeats a value, naming the first repeats."""
    values = pd.Series(np.asarray(array, dtype=object))
    repeated = values[values.duplicated()].unique().tolist()
    if repeated:
        raise ValueError(f"{name} must be unique; repeated: {repeated[:5]}")
    return array


def check_timestamp(value: Any, name: str) -> str:
    """Return ``value`` if it is an ISO-8601 date-time string (e.g. ``2024-05-01T12:00:00+00:00``)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be an ISO-8601 string, got {type(value).__name__}")
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{name} must be an ISO-8601 date-time such as '2024-05-01T12:00:00+00:00', got {value!r}"
        ) from None
    return value
