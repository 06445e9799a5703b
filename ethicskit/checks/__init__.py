"""Feedback-first checks for lesson exercises, visible tests and hidden tests.

One module per topic (``ethicskit.checks.fairness`` for lesson 01 and lab 1, ...); the shared pieces:
"""

from ethicskit.checks.core import CheckFailed, Parts, expect, expect_close, expect_columns, expect_type
from ethicskit.checks.exercise import Exercise

__all__ = ["CheckFailed", "Exercise", "Parts", "expect", "expect_close", "expect_columns", "expect_type"]
