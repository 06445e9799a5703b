"""ethicskit.course_time: the study-time estimate counts what a student reads and does, and prices it."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ethicskit import course_time
from ethicskit.course_time import StudyTime, study_minutes, study_time
from tests.conftest import REPO_ROOT


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


def test_lab_time_reads_the_lab_writes_the_solution_and_the_written_answers():
    from ethicskit.course_time import LabTime, lab_time

    answer = new_code_cell(
        "def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n"
    )
    answer.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "a"}
    test = new_code_cell("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 3\n### END HIDDEN TESTS\n")
    test.metadata["nbgrader"] = {"solution": False, "grade": True, "grade_id": "t", "points": 1}
    written = new_markdown_cell("YOUR ANSWER HERE")
    written.metadata["nbgrader"] = {"solution": True, "grade": True, "grade_id": "w", "points": 2}
    lab = new_notebook(cells=[new_markdown_cell("Write f, then explain it."), answer, test, written])
    counted = lab_time(lab)
    # the def line is given code; two solution lines; the hidden test is not read; one written answer
    assert counted == LabTime(words=5, code_lines=2, solution_lines=2, written_answers=1)
    assert counted.minutes == pytest.approx(
        5 / course_time.WORDS_PER_MINUTE
        + 2 / course_time.CODE_LINES_PER_MINUTE
        + 2 / course_time.SOLUTION_LINES_PER_MINUTE
        + course_time.WRITTEN_ANSWER_MINUTES
    )
    assert counted.rounded % 10 == 0


@pytest.mark.parametrize("lab", sorted(p.name for p in (REPO_ROOT / "solutions").iterdir() if p.is_dir()))
def test_each_lab_states_its_computed_working_time(lab):
    import re

    from ethicskit.course_time import lab_time

    path = REPO_ROOT / "solutions" / lab / f"{lab}.ipynb"
    header = " ".join(nbformat.read(path, as_version=4).cells[0].source.split())
    found = re.search(
        r"\*\*Working time:\*\* about (\d+) minutes \(computed by `ethicskit.course_time", header
    )
    assert found, f"{lab}: the header should state its working time (python -m ethicskit.course_time {path})"
    assert int(found.group(1)) == pytest.approx(lab_time(path).minutes, rel=0.25)
