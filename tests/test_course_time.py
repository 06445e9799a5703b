"""ethicskit.course_time: the study-time estimate counts what a student reads and does, and prices it."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ethicskit import course_time
from ethicskit.course_time import StudyTime, study_minutes, study_time


def _lesson():
    figure = new_code_cell("plt.plot([1, 2])\nplt.title('x')")
    figure.metadata["tags"] = ["figure"]
    return new_notebook(
        cells=[
            new_markdown_cell(
                "# Title\n\n| a | b |\n|---|---|\n| one | two |\n\nFour more words here."
            ),  # 9 words
            new_code_cell("import numpy as np\n\nx = np.arange(3)\n"),  # 2 lines
            figure,  # 2 lines
            new_code_cell(
                "from ethicskit.checks.fairness import q3\n# Exercise 3: the ratio?\nratio = None\n"
                "# q3.check(ratio)\nq3.hint()"
            ),
            new_code_cell(
                "# Exercise 6: write it.\ndef f(y):\n    ...   # your code\n# q6.check(f)\nq6.hint()"
            ),
            new_code_cell(
                "# Exercise 5.2: compute kappa yourself\nkappa = None   # your code\n# q2.check(kappa)"
            ),
            new_code_cell("q3.check(0.6)  # a check that is not left for the student is not an exercise"),
        ]
    )


def test_study_time_counts_words_code_figures_and_three_kinds_of_exercise():
    counted = study_time(_lesson())
    assert counted == StudyTime(
        words=9, code_lines=5, figures=1, exercises=3, code_exercises=1, writing_exercises=1
    )
    expected = (
        9 / course_time.WORDS_PER_MINUTE
        + 5 / course_time.CODE_LINES_PER_MINUTE
        + course_time.FIGURE_MINUTES
        + course_time.EXERCISE_MINUTES
        + course_time.CODE_EXERCISE_MINUTES
        + course_time.WRITING_EXERCISE_MINUTES
    )
    assert counted.minutes == pytest.approx(expected)
    assert counted.rounded == 5 * round(expected / 5)
    assert "3 exercises" in counted.describe()


def test_study_minutes_reads_a_file_and_rounds_to_five(tmp_path):
    path = tmp_path / "lesson.ipynb"
    nbformat.write(_lesson(), path)
    assert study_minutes(path) == study_time(_lesson()).rounded
    assert study_minutes(str(path)) % 5 == 0
    empty = new_notebook(cells=[new_markdown_cell("Hi.")])
    assert study_minutes(empty) == 5  # never less than 5
