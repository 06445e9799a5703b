"""ethicskit.checks.core and exercise: messages that help, partial credit, hidden values kept hidden."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ethicskit.checks import CheckFailed, Exercise, Parts, expect, expect_close, expect_columns, expect_type


def test_check_failed_is_an_assertion_error_with_plain_message():
    error = CheckFailed("the rate should be 0.5")
    assert isinstance(error, AssertionError)
    assert str(error) == "the rate should be 0.5"


def test_expect_close_reveals_only_when_asked():
    with pytest.raises(CheckFailed, match="expected 0.5"):
        expect_close(0.7, 0.5, "the rate")
    with pytest.raises(CheckFailed) as hidden:
        expect_close(0.7, 0.123456, "the rate", reveal=False)
    assert "0.123" not in str(hidden.value) and "0.576" not in str(hidden.value)  # nor the distance to it
    assert "not the right value" in str(hidden.value)
    expect_close(0.5 + 1e-9, 0.5, "the rate")


def test_expect_close_arrays_shapes_and_nan():
    with pytest.raises(CheckFailed, match="shape"):
        expect_close([1, 2], [1, 2, 3], "the rates")
    with pytest.raises(CheckFailed, match="NaN"):
        expect_close([np.nan, 1], [0, 1], "the rates")
    with pytest.raises(CheckFailed, match="1 of 2 values"):
        expect_close([0, 2], [0, 1], "the rates")
    with pytest.raises(CheckFailed) as hidden:
        expect_close([0, 2.5], [0, 1], "the rates", reveal=False)
    assert "1.5" not in str(hidden.value)
    with pytest.raises(CheckFailed, match="numeric"):
        expect_close("abc", 1.0, "the rate")


def test_expect_type_and_columns():
    with pytest.raises(CheckFailed, match="should be a DataFrame, but it is a list"):
        expect_type([], pd.DataFrame, "the table")
    with pytest.raises(CheckFailed, match=r"\['b'\]"):
        expect_columns(pd.DataFrame({"a": [1]}), ["a", "b"], "the table")
    with pytest.raises(CheckFailed, match="no"):
        expect(False, "no")


def test_parts_partial_credit_and_zero(capsys):
    parts = Parts(total=3)
    parts.run(1, lambda: expect(True, "fine"))
    parts.run(2, lambda: expect(False, "second part wrong"), label="part b")
    assert parts.result() == 1
    assert "part b: second part wrong" in capsys.readouterr().out
    empty = Parts(total=2)
    empty.run(2, lambda: 1 / 0)
    with pytest.raises(CheckFailed, match="ZeroDivisionError"):
        empty.result()
    with pytest.raises(ValueError, match="total"):
        Parts(total=0)


def test_exercise_really_checks(capsys):
    def checker(answer):
        expect_close(answer, 0.25, "your rate", reveal=False)

    q = Exercise("Exercise 1", checker, hints=["divide", "by the group size"], solution="2 / 8")
    with pytest.raises(CheckFailed, match="Exercise 1: not yet") as failure:
        q.check(0.5)
    assert "0.25" not in str(failure.value)
    capsys.readouterr()
    q.check(0.25)
    assert "Exercise 1: correct." in capsys.readouterr().out
    q.hint(), q.hint(), q.hint()
    hints = capsys.readouterr().out
    assert hints.count("divide") == 1 and hints.count("by the group size") == 2
    q.solution()
    assert "2 / 8" in capsys.readouterr().out


def test_the_checks_library_is_not_lenient():
    """#21: a grading library must not pass an undefined value or award points it does not have."""
    with pytest.raises(CheckFailed, match="undefined"):
        expect_close(0.5, np.nan, "the TPR")
    expect_close(np.nan, np.nan, "the TPR")  # undefined where undefined is right
    with pytest.raises(ValueError, match="tol"):
        expect_close(0.5, 0.7, "the rate", tol=np.nan)
    parts = Parts(total=2)
    with pytest.raises(ValueError, match="points"):
        parts.run(-1, lambda: None)
    with pytest.raises(ValueError, match="total"):
        parts.run(5, lambda: None)
    with pytest.raises(TypeError, match="columns"):
        expect_columns(pd.DataFrame({"a": [1], "b": [2]}), "ab", "the table")
    with pytest.raises(TypeError, match="hints"):
        Exercise("q", lambda x: None, hints="look", solution="s")


def test_expect_raises_accepts_the_error_and_its_subclasses_only():
    from ethicskit.checks.core import expect_raises

    class BudgetError(ValueError):
        pass

    def refuse():
        raise BudgetError("over budget")

    expect_raises(refuse, ValueError, "should refuse")  # a subclass counts
    with pytest.raises(CheckFailed, match="should refuse"):
        expect_raises(lambda: None, ValueError, "should refuse")
    with pytest.raises(KeyError):  # another failure is the learner's error, not a pass
        expect_raises(lambda: {}["x"], ValueError, "should refuse")
