"""`ethicskit course report --format canvas|moodle|csv`: gradebook files laid out as the LMSs document.

Canvas ("How do I import grades in the Gradebook?", Canvas Instructor Guide): the first columns are
Student, ID, SIS User ID, SIS Login ID, Section; then one column per assignment, named "Name (id)" to
match an existing assignment or just "Name" to create one; the second row is "Points Possible".
Moodle ("Import grades", CSV): one column that identifies the user (email address, ID number or
username, chosen on the import page), then one column per grade item (and optionally its feedback).
The gradebook here is a real nbgrader gradebook (sqlite), filled through nbgrader's API as formgrader
and `ethicskit course grade` fill it.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pytest

from ethicskit.course.cli import main
from tests.conftest import REPO_ROOT


def _make_gradebook(url: str) -> None:
    from nbgrader.api import Gradebook

    from ethicskit.course._config import _tools_on_path

    _tools_on_path()  # nbgrader runs alembic from the environment's bin folder
    with warnings.catch_warnings(), Gradebook(url) as gb:
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy warnings
        for lab, cells in (
            ("lab1-bias-mitigation", {"a": 6, "b": 4}),
            ("lab2-model-card", {"c": 5, "hand": 5}),
        ):
            gb.add_assignment(lab)
            gb.add_notebook(lab, lab)
            for name, points in cells.items():
                gb.add_grade_cell(
                    name, lab, lab, max_score=points, cell_type="code" if name != "hand" else "markdown"
                )
        gb.add_student(
            "ada", first_name="Ada", last_name="Lovelace", email="ada@uni.example", lms_user_id="1001"
        )
        gb.add_student("bob", email="bob@uni.example")
        gb.add_student("cyd")
        scores = {
            ("ada", "lab1-bias-mitigation"): {"a": 6, "b": 3},
            ("ada", "lab2-model-card"): {"c": 5, "hand": ("manual", 4)},
            ("bob", "lab1-bias-mitigation"): {"a": 2, "b": 0},
            ("bob", "lab2-model-card"): {"c": 3, "hand": "pending"},
        }
        for (student, lab), cells in scores.items():
            gb.add_submission(lab, student)
            for name, value in cells.items():
                grade = gb.find_grade(name, lab, lab, student)
                if value == "pending":
                    grade.auto_score, grade.needs_manual_grade = None, True
                elif isinstance(value, tuple):
                    grade.manual_score, grade.needs_manual_grade = value[1], False
                else:
                    grade.auto_score, grade.needs_manual_grade = value, False
            gb.db.commit()


@pytest.fixture
def gradebook(tmp_path, monkeypatch) -> Path:
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    _make_gradebook(url)
    monkeypatch.setenv("ETHICSKIT_DB_URL", url)
    return tmp_path


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


def _export(out: Path, fmt: str, *extra: str) -> int:
    """``ethicskit course report --format FMT --out OUT`` on the repository's course."""
    return main(["course", "report", "--course", str(REPO_ROOT), "--format", fmt, "--out", str(out), *extra])


def test_canvas_layout_points_possible_manual_and_pending(gradebook, capsys):
    out = gradebook / "lms"
    assert _export(out, "canvas", "--canvas-id", "lab2-model-card=4242") == 0
    rows = _read(out / "canvas-grades.csv")
    assert rows[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "lab1-bias-mitigation",
        "lab2-model-card (4242)",
    ]
    assert rows[1][0].strip() == "Points Possible" and rows[1][5:] == ["10", "10"]
    body = {r[2]: r for r in rows[2:]}
    assert body["ada"][:4] == ["Lovelace, Ada", "1001", "ada", "ada@uni.example"]
    assert body["ada"][5:] == ["9", "9"]  # the hand grade (4 of 5) is included
    assert body["bob"][5:] == ["2", ""]  # pending hand grading: left empty, Canvas keeps it ungraded
    assert body["cyd"][5:] == ["", ""]  # no submission
    assert "bob/lab2-model-card" in capsys.readouterr().err


def test_canvas_partial_writes_points_so_far(gradebook):
    _export(gradebook, "canvas", "--pending", "partial")
    body = {r[2]: r for r in _read(gradebook / "canvas-grades.csv")[2:]}
    assert body["bob"][5:] == ["2", "3"]


def test_moodle_layout_identifier_and_feedback(gradebook):
    _export(gradebook, "moodle")
    rows = _read(gradebook / "moodle-grades.csv")
    assert rows[0] == [
        "First name",
        "Last name",
        "ID number",
        "Email address",
        "lab1-bias-mitigation",
        "lab1-bias-mitigation (feedback)",
        "lab2-model-card",
        "lab2-model-card (feedback)",
    ]
    body = {r[2]: r for r in rows[1:]}
    assert len(rows) == 4  # no points row: Moodle takes the maximum from the grade item
    assert body["ada"][3] == "ada@uni.example" and body["ada"][4] == "9" and body["ada"][6] == "9"
    assert body["bob"][6] == "" and body["bob"][7].startswith("pending: 5 of 10 points graded by hand")
    assert body["cyd"][5] == "no submission"


def test_plain_csv_has_status_and_pending(gradebook):
    _export(gradebook, "csv")
    rows = _read(gradebook / "csv-grades.csv")
    assert rows[0][:6] == [
        "student",
        "email",
        "lms_user_id",
        "lab1-bias-mitigation",
        "lab1-bias-mitigation pending",
        "lab1-bias-mitigation status",
    ]
    assert rows[1][0] == "points possible" and rows[1][3] == "10"
    body = {r[0]: r for r in rows[2:]}
    assert body["bob"][6:9] == ["3", "5", "pending"]
    assert body["cyd"][3:6] == ["", "0", "missing"]
