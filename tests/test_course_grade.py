"""`ethicskit course grade`: inputs, refusal without a sandbox, parallel = serial, idempotent re-runs."""

from __future__ import annotations

import shutil
import sqlite3
import zipfile

import pytest

import ethicskit.course.sandbox as sandbox
from ethicskit.course.cli import main
from ethicskit.course.grade import collect_submissions, grade
from tests.conftest import REPO_ROOT

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "demo-lab"
DEMO = FIXTURE / "demo_submissions"


@pytest.fixture()
def course(tmp_path):
    root = tmp_path / "course"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(FIXTURE / "solutions" / "demo-lab", root / "solutions" / "demo-lab")
    return root


def test_collect_submissions_accepts_notebooks_and_zips(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(DEMO / "correct" / "demo-lab" / "demo-lab.ipynb", flat / "ada.ipynb")
    with zipfile.ZipFile(flat / "bob.zip", "w") as archive:
        archive.write(DEMO / "partial" / "demo-lab" / "demo-lab.ipynb", "work/demo-lab.ipynb")
        archive.writestr("../../escape.txt", "no")
    submitted, students = collect_submissions(flat, "demo-lab", tmp_path / "scratch")
    assert students == ["ada", "bob"]
    assert (submitted / "bob" / "demo-lab" / "demo-lab.ipynb").exists()
    assert not (tmp_path / "escape.txt").exists()
    nested, students = collect_submissions(DEMO, "demo-lab", tmp_path / "scratch2")
    assert nested == DEMO and "correct" in students
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ValueError, match="no submissions"):
        collect_submissions(tmp_path / "nothing", "demo-lab", tmp_path / "scratch3")


def test_grade_refuses_without_sandbox_and_says_how_to_install(course, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "BWRAP", "/nonexistent/bwrap")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["course", "grade", str(DEMO), "--lab", "demo-lab", "--course", str(course)]) == 2
    err = capsys.readouterr().err
    assert "bubblewrap" in err and "apt-get install bubblewrap" in err and "--no-sandbox" in err
    assert not (course / "gradebook.db").exists()


def test_unknown_lab_and_bad_jobs_are_named(course):
    with pytest.raises(ValueError, match="lab 'nope' not found"):
        grade(course, DEMO, lab="nope", sandbox=False)
    with pytest.raises(ValueError, match="jobs must be a positive integer"):
        grade(course, DEMO, lab="demo-lab", jobs=0, sandbox=False)


@pytest.mark.grading
def test_parallel_equals_serial_and_rerun_is_idempotent(course):
    students = ["correct", "partial", "empty", "hostile-monkeypatch"]
    use_sandbox = sandbox.sandbox_problem() is None
    if not use_sandbox:
        students.remove("hostile-monkeypatch")
    serial = grade(
        course, DEMO, lab="demo-lab", jobs=1, sandbox=use_sandbox, students=students, cell_timeout=20
    )
    parallel = grade(
        course, DEMO, lab="demo-lab", jobs=2, sandbox=use_sandbox, students=students, cell_timeout=20
    )
    assert [(r.student, r.score, r.cells) for r in serial] == [
        (r.student, r.score, r.cells) for r in parallel
    ]
    expected = {"correct": 6, "partial": 3, "empty": 0, "hostile-monkeypatch": 0}
    assert {r.student: r.score for r in parallel} == {s: expected[s] for s in students}
    with sqlite3.connect(course / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM submitted_assignment").fetchone()[0] == len(students)
        assert db.execute("SELECT COUNT(*) FROM student").fetchone()[0] == len(students)


def _fake_execute(task):
    import os
    import time

    from ethicskit.course.tasks import GradingOutcome

    if task.student == "crasher":
        os._exit(1)  # the worker process dies
    time.sleep(0.2)
    return GradingOutcome(status="complete", reason=task.student, total_seconds=0.2)


def test_a_crashing_worker_fails_only_its_own_submission(monkeypatch):
    import ethicskit.course.grade as grading

    monkeypatch.setattr(grading, "execute_submission", _fake_execute)
    from ethicskit.course.tasks import GradingTask

    tasks = [GradingTask(student=s, lab="lab", notebook="x.ipynb") for s in ("a", "crasher", "b", "c")]
    outcomes = grading._execute_all(tasks, jobs=2, say=lambda message: None)
    assert [o.reason for o in outcomes[::2]] == ["a", "b"] and outcomes[3].reason == "c"
    assert outcomes[1].status == "error" and "crashed" in outcomes[1].reason
    assert outcomes[1].verdicts == ()  # nothing judged, so nothing can score


def test_a_lab_sets_its_own_grading_limits(tmp_path):
    import json

    from ethicskit.course._config import DEFAULT_LIMITS, lab_grading_limits

    assert lab_grading_limits(REPO_ROOT, "lab1-bias-mitigation") == DEFAULT_LIMITS
    finetuning = lab_grading_limits(REPO_ROOT, "lab3-ethics-finetuning")  # minutes of training per cell
    assert finetuning["cell_timeout"] > DEFAULT_LIMITS["cell_timeout"]
    assert finetuning["max_processes"] == DEFAULT_LIMITS["max_processes"]
    lab = tmp_path / "solutions" / "odd"
    lab.mkdir(parents=True)
    (lab / "odd.ipynb").write_text(json.dumps({"metadata": {"ethicskit": {"grading": {"cpu": 3}}}}))
    with pytest.raises(ValueError, match="unknown grading limits"):
        lab_grading_limits(tmp_path, "odd")


def test_the_grading_record_holds_the_environment_and_a_foreign_kernel_is_flagged(course, tmp_path):
    import json

    import nbformat

    notebook = nbformat.read(DEMO / "correct" / "demo-lab" / "demo-lab.ipynb", as_version=4)
    notebook.metadata["language_info"] = {"name": "python", "version": "3.9.1"}
    (tmp_path / "flat").mkdir()
    nbformat.write(notebook, tmp_path / "flat" / "ada.ipynb")
    messages = []
    use_sandbox = sandbox.sandbox_problem() is None
    [result] = grade(course, tmp_path / "flat", lab="demo-lab", sandbox=use_sandbox, progress=messages.append)
    assert result.score == 6
    assert any("Python 3.9.1" in event for event in result.events)
    assert any("warning: ada" in message and "3.9.1" in message for message in messages)
    record = json.loads((course / "autograded" / "ada" / "demo-lab" / "ethicskit-grading.json").read_text())
    assert record["environment"]["python"] and "lock_sha256" in json.dumps(record["environment"])


@pytest.mark.skipif(sandbox.sandbox_problem() is not None, reason="needs the sandbox")
def test_hidden_tests_never_run_in_the_students_kernel(course, tmp_path):
    import nbformat

    notebook = nbformat.read(DEMO / "correct" / "demo-lab" / "demo-lab.ipynb", as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in notebook.cells]
    spy = "seen = [k for k in ('rng', 'a', 'b') if k in globals()]\n"
    spy += "seen += [x for x in In if 'default_' + 'rng' in x]"
    spy += "\nprint(seen)"
    notebook.cells.insert(ids.index("q1-test") + 1, nbformat.v4.new_code_cell(spy))
    (tmp_path / "flat").mkdir()
    nbformat.write(notebook, tmp_path / "flat" / "spy.ipynb")
    [result] = grade(course, tmp_path / "flat", lab="demo-lab", sandbox=True)
    assert result.score == 6  # the hidden tests still decide, in the recheck
    graded = nbformat.read(course / "autograded" / "spy" / "demo-lab" / "demo-lab.ipynb", as_version=4)
    printed = next(c for c in graded.cells if c.source.startswith("seen = "))
    assert printed.outputs[0]["text"].strip() == "[]"
    assert (
        "BEGIN HIDDEN TESTS" in graded.cells[ids.index("q1-test")].source
    )  # the instructor sees the whole test
