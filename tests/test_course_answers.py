"""Hand-grading help: answers grouped by meaning (the bundled encoder), near-copies flagged."""

from __future__ import annotations

import json

import nbformat
import pytest

from ethicskit.course.answers import Answer, group_answers, similar_pairs, winnow, write_answer_report

PRIVACY = [
    "Removing names is not enough: zip code, birth date and sex together re-identify most people.",
    "Quasi-identifiers such as the zip code and date of birth can be linked to public records.",
]
FAIRNESS = [
    "The model approves women less often than men with the same qualifications.",
    "Female applicants get fewer approvals than equally qualified male applicants.",
]


@pytest.mark.slow
def test_answers_close_in_meaning_share_a_group_with_the_bundled_encoder():
    answers = [Answer(f"s{i}", "answer-g", text, "prose") for i, text in enumerate(PRIVACY + FAIRNESS)]
    groups = group_answers(answers, threshold=0.5)
    assert sorted(sorted(g.students) for g in groups) == [["s0", "s1"], ["s2", "s3"]]
    assert all(g.representative in PRIVACY + FAIRNESS for g in groups)


def test_copies_are_flagged_through_renaming_but_independent_work_is_not():
    original = "def rate(y, g):\n    total = 0\n    for value in y:\n        total += value\n"
    original += "    return total / len(y)\n"
    renamed = "def share(labels, grp):\n    acc = 0\n    for v in labels:\n        acc += v\n"
    renamed += "    return acc / len(labels)\n"
    own = "import numpy as np\n\ndef rate(y, g):\n    return float(np.mean(np.asarray(y) == 1))\n"
    answers = [
        Answer("ana", "q", original, "code"),
        Answer("ben", "q", renamed, "code"),
        Answer("cy", "q", own, "code"),
    ]
    pairs = similar_pairs(answers)
    assert [(p.first, p.second) for p in pairs] == [("ana", "ben")] and pairs[0].similarity == 1.0
    assert winnow(list("abcdef"), k=2, window=2) and not winnow([], k=2, window=2)
    with pytest.raises(ValueError, match="threshold"):
        similar_pairs(answers, threshold=0)


def test_the_report_reads_hand_graded_cells_of_a_lab(tmp_path):
    for student, text in (("ana", PRIVACY[0]), ("ben", PRIVACY[0] + " "), ("cy", FAIRNESS[0])):
        cell = nbformat.v4.new_markdown_cell(text)
        cell.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": "answer-g", "points": 5}
        stub = nbformat.v4.new_markdown_cell("YOUR ANSWER HERE")
        stub.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": "answer-h", "points": 2}
        folder = tmp_path / "submitted" / student / "lab"
        folder.mkdir(parents=True)
        nbformat.write(nbformat.v4.new_notebook(cells=[cell, stub]), folder / "lab.ipynb")
    fake_embed = lambda texts: [[1.0, 0.0] if "zip" in t else [0.0, 1.0] for t in texts]  # noqa: E731
    page, data, plot = write_answer_report(tmp_path / "submitted", "lab", tmp_path / "out", embed=fake_embed)
    found = json.loads(data.read_text())
    assert [g["students"] for g in found["groups"]] == [["ana", "ben"], ["cy"]]  # unanswered stubs left out
    assert [(p["first"], p["second"]) for p in found["similar"]] == [("ana", "ben")]
    assert "near-identical" in page.read_text() and plot.stat().st_size > 1000
