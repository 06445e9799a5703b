"""The learner API for lesson exercises: ``check()``, ``hint()``, ``solution()``.

Works without nbgrader. Every ``check()`` really checks the learner's answer::

    from ethicskit.checks.fairness import q1
    q1.hint()
    q1.check(my_answer)
    q1.solution()          # only when asked
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ethicskit.checks.core import CheckFailed

__all__ = ["Exercise", "ExerciseFailed"]


class ExerciseFailed(CheckFailed):
    """A lesson self-check did not pass (a :class:`CheckFailed`, so tests can catch either).

    In a notebook only the plain message is shown, not a traceback through the checker's code.
    """


def _plain_failure(
    shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None
) -> list[str]:
    """IPython custom-exception handler: show the learner the message and nothing else.

    The cell still ends in an error (Jupyter marks it failed, "Run All" stops there, nbgrader counts it
    failed); only the traceback through the checker's code is left out.
    """
    stb = [f"\x1b[0;31m{value}\x1b[0m"]
    shell._showtraceback(etype, value, stb)
    return stb


def _show_plain_failures() -> None:
    """In IPython/Jupyter, display :class:`ExerciseFailed` as its message alone (the cell still fails)."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: the normal traceback, whose last line is the message
        return
    shell = get_ipython()
    if shell is None or ExerciseFailed in getattr(shell, "custom_exceptions", ()):
        return
    shell.set_custom_exc((ExerciseFailed,), _plain_failure)


class Exercise:
    """One self-check exercise.

    Parameters
    ----------
    name : str
        Short id shown in messages ("Exercise 1.2").
    checker : callable
        Called with the learner's answer(s); raises :class:`CheckFailed` when wrong.
    hints : list of str
        Revealed one at a time by :meth:`hint`.
    solution : str
        Shown by :meth:`solution`, only on request.
    """

    def __init__(self, name: str, checker: Callable[..., Any], *, hints: list[str], solution: str):
        if isinstance(hints, (str, bytes)) or not all(isinstance(h, str) for h in hints):
            # list("look") would show one character per hint
            raise TypeError(f"hints must be a list of strings, got {hints!r:.60}")
        if not callable(checker):
            raise TypeError(f"checker must be callable, got {type(checker).__name__}")
        self.name = name
        self._checker = checker
        self._hints = list(hints)
        self._solution = solution
        self._hints_shown = 0

    # The three verbs print for the learner and return None, so a notebook shows each message once.
    def check(self, *answer: Any, **kwargs: Any) -> None:
        """Check the answer: print a success message or raise :class:`ExerciseFailed` with feedback.

        ``check(x)`` and ``check(answer=x)`` are the same. In a notebook a wrong answer shows one plain
        message (no traceback); the cell still counts as failed.
        """
        try:
            args, kwargs = self._bind(answer, kwargs)
        except TypeError:
            self._fail(f"call it as {self._call_form()}.")
        try:
            self._checker(*args, **kwargs)
        except CheckFailed as failure:
            self._fail(failure.message)
        except Exception as error:  # noqa: BLE001 - the learner's answer (or function) broke the check
            self._fail(f"checking your answer raised {type(error).__name__}: {error}. "
                       f"Is it the kind of value the exercise asks for? ({self._call_form()})")
        print(f"{self.name}: correct.")

    def _fail(self, message: str) -> None:
        _show_plain_failures()
        raise ExerciseFailed(f"{self.name}: not yet. {message}") from None

    def _parameters(self) -> list[inspect.Parameter]:
        try:
            return list(inspect.signature(self._checker).parameters.values())
        except (TypeError, ValueError):
            return []

    def _call_form(self) -> str:
        names = [
            p.name if p.default is inspect.Parameter.empty else f"{p.name}=..."
            for p in self._parameters()
            if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        ]
        return f"check({', '.join(names)})"

    def _bind(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """Map ``answer=`` onto the checker's first parameter; raise TypeError when the call cannot fit."""
        params = self._parameters()
        if not params:
            return args, kwargs
        kwargs = dict(kwargs)
        names = {p.name for p in params}
        first = params[0]
        if "answer" in kwargs and "answer" not in names and not args:
            if first.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
                args = (kwargs.pop("answer"),)
        inspect.signature(self._checker).bind(*args, **kwargs)
        return args, kwargs

    def hint(self) -> None:
        """Show the next hint (the last one repeats)."""
        if not self._hints:
            text = "No hint for this one - try printing intermediate values."
        else:
            text = self._hints[min(self._hints_shown, len(self._hints) - 1)]
            self._hints_shown += 1
        print(f"{self.name} hint: {text}")

    def solution(self) -> None:
        """Show the reference solution."""
        print(f"{self.name} solution:\n{self._solution}")

    def __repr__(self) -> str:
        return f"Exercise({self.name!r}) - call .check(answer), .hint() or .solution()"
