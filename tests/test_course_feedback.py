"""Feedback pages and the grade report, on synthetic notebooks and gradebook rows (fast)."""

from __future__ import annotations

import matplotlib
import nbformat
import pandas as pd

from ethicskit.course.feedback import FeedbackRow, cell_messages, render_feedback
from ethicskit.course.report import plot_questions, question_summary

matplotlib.use("Agg")


def _test_cell(grade_id, outputs, source="### BEGIN HIDDEN TESTS\nsecret = 0.734\n### END HIDDEN TESTS"):
    cell = nbformat.v4.new_code_cell(
        source,
        metadata={
            "nbgrader": {
                "grade": True,
                "solution": False,
                "locked": True,
                "points": 2,
                "grade_id": grade_id,
                "schema_version": 3,
                "task": False,
            }
        },
    )
    cell.outputs = outputs
    return cell


def test_cell_messages_keep_plain_messages_and_drop_tracebacks_and_sources():
    error = nbformat.v4.new_output(
        "error",
        ename="CheckFailed",
        evalue="\x1b[31mthe rate is 0.2; that is not the right value\x1b[0m",
        traceback=["Traceback (most recent call last)", 'File "/work/main/ethicskit/checks/core.py", line 9'],
    )
    crash = nbformat.v4.new_output(
        "error", ename="NameError", evalue="name 'model' is not defined", traceback=["x"]
    )
    printed = nbformat.v4.new_output("stream", name="stdout", text="- part b: too low\n1 of 2 points\n")
    notebook = nbformat.v4.new_notebook(
        cells=[
            _test_cell("q1", [error]),
            _test_cell("q2", [crash]),
            _test_cell("q3", [printed]),
            _test_cell("q4", []),
            nbformat.v4.new_code_cell("x = 1"),
        ]
    )
    messages = cell_messages(notebook)
    assert messages == {
        "q1": "the rate is 0.2; that is not the right value",
        "q2": "not answered: `model` is not defined (answer the part that defines it and run it)",
        "q3": "- part b: too low\n1 of 2 points",
        "q4": "passed",
    }
    page = render_feedback(
        student="s<1>",
        lab="lab",
        rows=[FeedbackRow("Part 1", 0.0, 2.0, messages["q1"])],
        total=0,
        max_total=2,
    )
    assert "s&lt;1&gt;" in page and "Traceback" not in page and "0.734" not in page and "core.py" not in page


def test_question_summary_and_plot_show_the_hardest_question():
    frame = pd.DataFrame(
        {
            "student": ["a", "b", "a", "b"],
            "lab": ["lab"] * 4,
            "question": ["q1", "q1", "q2", "q2"],
            "score": [2.0, 2.0, 0.0, 1.0],
            "max_score": [2.0] * 4,
            "needs_manual_grade": [False] * 4,
        }
    )
    summary = question_summary(frame)
    q2 = summary.set_index("question").loc["q2"]
    assert q2["mean_share"] == 0.25 and q2["zero"] == 0.5 and q2["full_marks"] == 0.0
    figure = plot_questions(summary, "lab")
    assert len(figure.axes[0].patches) == 4


def test_points_waiting_for_hand_grading_are_pending_not_zero():
    frame = pd.DataFrame(
        {
            "student": ["a", "a"],
            "lab": ["lab"] * 2,
            "question": ["q1", "answer-g"],
            "score": [2.0, 0.0],
            "max_score": [2.0, 5.0],
            "needs_manual_grade": [False, True],
        }
    )
    summary = question_summary(frame)
    assert list(summary["question"]) == ["q1"]  # never the "hardest question, 100% scored zero"
    rows = [
        FeedbackRow("Part A (tests)", 2.0, 2.0, "passed"),
        FeedbackRow("Part G (written answer)", None, 5.0, ""),
    ]
    page = render_feedback(student="a", lab="lab", rows=rows, total=2.0, max_total=7.0)
    assert "pending / 5" in page and "2 / 2</b> (5 points graded by hand, not graded yet)" in page


def test_part_titles_come_from_the_lab_headings():
    from ethicskit.course.feedback import part_titles

    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("## Part A: **the audit**\n\ntext"), _test_cell("q1", [])]
    )
    assert part_titles(notebook) == {"q1": "Part A: the audit (tests)"}
