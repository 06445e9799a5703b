"""Lesson 00 exercises accept the right answers and reject the tempting wrong ones."""

import pytest

from ethicskit.checks import CheckFailed
from ethicskit.checks.welcome import q1, q2, q3
from ethicskit.datasets import load_adult, load_compas


def test_q1_accepts_filtered_count_and_rejects_raw():
    q1.check(len(load_compas()))
    with pytest.raises(CheckFailed, match="raw file"):
        q1.check(len(load_compas(raw=True)))
    with pytest.raises(CheckFailed, match="int"):
        q1.check("6172")


def test_q2_accepts_female_rate_and_explains_overall_rate():
    adult = load_adult()
    q2.check(adult.target[adult.data["sex"] == "Female"].mean())
    with pytest.raises(CheckFailed, match="over everybody"):
        q2.check(adult.target.mean())
    with pytest.raises(CheckFailed, match="off by"):
        q2.check(0.5)


def test_q3_label_is_rearrest():
    q3.check("re-arrest")
    with pytest.raises(CheckFailed, match="datasheet"):
        q3.check("re-offence")


def test_hint_and_solution_are_shown(capsys):
    q2.hint()
    q2.hint()
    q2.solution()
    out = capsys.readouterr().out
    assert "Female" in out and "mean of a 0/1" in out and "answer =" in out
