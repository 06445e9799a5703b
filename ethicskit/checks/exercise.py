"""The learner API for lesson exercises: ``check()``, ``hint()``, ``solution()``.

Works without nbgrader. Every ``check()`` really checks the learner's answer::

    from ethicskit.checks.fairness import q1
    q1.hint()
    q1.check(my_answer)
    q1.solution()          # only when asked
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ethicskit.checks.core import CheckFailed

__all__ = ["Exercise"]


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
        self.name = name
        self._checker = checker
        self._hints = list(hints)
        self._solution = solution
        self._hints_shown = 0

    # The three verbs print for the learner and return None, so a notebook shows each message once.
    def check(self, *answer: Any, **kwargs: Any) -> None:
        """Check the answer: print a success message or raise :class:`CheckFailed` with feedback."""
        try:
            self._checker(*answer, **kwargs)
        except CheckFailed as failure:
            raise CheckFailed(f"{self.name}: not yet. {failure.message}") from None
        print(f"{self.name}: correct.")

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
