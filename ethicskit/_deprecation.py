"""Old parameter names kept working for a while, with a warning that names the new one.

The conventions table in docs/architecture.md fixed one name per idea (``random_state``,
``sensitive_features``, ``show_progress``); lessons, labs and learners' own notebooks written with
the old names keep running and are told what to write instead.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["renamed"]

F = TypeVar("F", bound=Callable[..., Any])


def renamed(**old_to_new: str) -> Callable[[F], F]:
    """Accept each ``old=`` keyword as ``new=``, with a ``FutureWarning``; both at once is an error.

    >>> @renamed(seed="random_state")
    ... def draw(*, random_state=0):
    ...     return random_state
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     draw(seed=3)
    3
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(f"{func.__name__}() got both {old}= and {new}=; pass {new}= only")
                warnings.warn(
                    f"{func.__name__}({old}=...) is now {func.__name__}({new}=...); "
                    f"the old name {old!r} will be removed",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
