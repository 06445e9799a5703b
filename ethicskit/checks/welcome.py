"""Self-check exercises of lesson 00-welcome: reading the bundled data and its datasheets."""

from __future__ import annotations

from ethicskit.checks.core import CheckFailed, expect, expect_close
from ethicskit.checks.exercise import Exercise

__all__ = ["q1", "q2", "q3"]


def _check_filtered_rows(answer: int) -> None:
    import numpy as np

    from ethicskit.datasets import load_compas

    expect(isinstance(answer, (int, np.integer)) and not isinstance(answer, bool),
           f"Give the number of rows as an int, not {type(answer).__name__}.")
    answer = int(answer)
    raw, filtered = len(load_compas(raw=True)), len(load_compas())
    expect(answer != raw, f"{raw:,} is the raw file; apply ProPublica's filter (load_compas() does).")
    expect(answer == filtered, f"{answer:,} is not the number of rows after ProPublica's filter.")


def _check_female_rate(answer: float) -> None:
    from ethicskit.datasets import load_adult

    adult = load_adult()
    female = adult.data["sex"] == "Female"
    overall = float(adult.target.mean())
    if abs(float(answer) - overall) < 1e-9:
        raise CheckFailed("That is the rate over everybody; select the rows where sex is 'Female' first.")
    expect_close(answer, adult.target[female].mean(), "the share of women earning above 50K", tol=1e-3)


def _check_compas_label(answer: str) -> None:
    expect(isinstance(answer, str), "Answer with one of the strings 're-offence' or 're-arrest'.")
    choice = answer.strip().lower().replace("_", "-")
    expect(choice in {"re-offence", "re-arrest", "reoffence", "rearrest", "re-offense"},
           f"{answer!r} is not one of 're-offence' or 're-arrest'.")
    expect("arrest" in choice, "Read the datasheet's composition section: what does two_year_recid record?")


q1 = Exercise(
    "Exercise 0.1",
    _check_filtered_rows,
    hints=["load_compas() applies ProPublica's filter; len() of a Dataset counts its rows."],
    solution="from ethicskit.datasets import load_compas\nanswer = len(load_compas())",
)
q2 = Exercise(
    "Exercise 0.2",
    _check_female_rate,
    hints=["Select adult.target where adult.data['sex'] == 'Female', then take the mean.",
           "The mean of a 0/1 Series is the share of ones."],
    solution="female = adult.data['sex'] == 'Female'\nanswer = adult.target[female].mean()",
)
q3 = Exercise(
    "Exercise 0.3",
    _check_compas_label,
    hints=["datasheet('compas').sections['composition'] answers 'Is there a label ...?'"],
    solution="answer = 're-arrest'  # two_year_recid records a new charge, not a proven new offence",
)
