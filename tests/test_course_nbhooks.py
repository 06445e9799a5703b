"""nbgrader's own buttons on this course go through the kit (formgrader's Autograde, Generate, Feedback)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ethicskit.course._config import load_course_config
from ethicskit.course.release import register_lab
from ethicskit.course.sandbox import sandbox_problem
from tests.conftest import REPO_ROOT

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "demo-lab"
pytestmark = [
    pytest.mark.grading,
    pytest.mark.skipif(
        sandbox_problem() is not None, reason="nbgrader's autograde refuses without the sandbox"
    ),
]


def _course(tmp_path: Path, lab: str, origin: Path, demos: Path, students: list[str]) -> Path:
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(origin / "solutions" / lab, course / "solutions" / lab)
    for student in students:
        shutil.copytree(demos / student / lab, course / "submitted" / student / lab)
    register_lab(course, lab)
    return course


def _formgrader_autograde(course: Path, lab: str, student: str) -> float:
    """What formgrader's Autograde button calls: ``NbGraderAPI.autograde``; returns the gradebook score."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = load_course_config(course)
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    outcome = api.autograde(lab, student, force=True, create=True)
    assert outcome["success"], outcome.get("error") or outcome.get("log")
    with Gradebook(config.CourseDirectory.db_url) as gb:
        return float(gb.find_submission(lab, student).score)


def test_formgraders_autograde_is_the_kits_grading(tmp_path):
    expected = json.loads((FIXTURE / "demo_submissions" / "demo-lab.expected.json").read_text())
    students = [
        "correct",
        "hostile-solutions",
        "hostile-monkeypatch",
        "hostile-exit-in-check",
        "hostile-exit-between",
        "hostile-network",
    ]
    course = _course(tmp_path, "demo-lab", FIXTURE, FIXTURE / "demo_submissions", students)
    secret = course / "solutions" / "demo-lab" / "demo-lab.ipynb"
    before = secret.read_bytes()
    scores = {s: _formgrader_autograde(course, "demo-lab", s) for s in students}
    assert scores == {s: float(expected[s]) for s in students}  # the same grades as `ethicskit course grade`
    assert secret.read_bytes() == before
    record = course / "autograded" / "hostile-exit-between" / "demo-lab" / "demo-lab.ipynb"
    assert "not run" in record.read_text()  # the reason is in the graded notebook


def test_nbgraders_generate_is_refused_and_labs_are_untouched(tmp_path):
    course = _course(tmp_path, "demo-lab", FIXTURE, FIXTURE / "demo_submissions", [])
    labs = course / "labs" / "demo-lab"
    labs.mkdir(parents=True)
    (labs / "demo-lab.ipynb").write_text("my answers")
    nbgrader = Path(sys.executable).parent / "nbgrader"
    done = subprocess.run(
        [str(nbgrader), "generate_assignment", "demo-lab", "--force"],
        cwd=course,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "ethicskit course release" in done.stdout + done.stderr
    assert (labs / "demo-lab.ipynb").read_text() == "my answers"


@pytest.mark.slow
def test_lab1_reference_earns_full_marks_through_formgrader(tmp_path):
    lab = "lab1-bias-mitigation"
    expected = json.loads((REPO_ROOT / "demo_submissions" / f"{lab}.expected.json").read_text())
    course = _course(tmp_path, lab, REPO_ROOT, REPO_ROOT / "demo_submissions", ["correct"])
    assert _formgrader_autograde(course, lab, "correct") == float(expected["correct"])
