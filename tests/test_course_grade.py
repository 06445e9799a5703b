"""`ethicskit course grade`: inputs, refusal without a sandbox, parallel = serial, idempotent re-runs."""

from __future__ import annotations

import shutil
import sqlite3
import zipfile

import pytest

import ethicskit.course.sandbox as sandbox
from ethicskit.course.cli import main
from ethicskit.course.grade import collect_submissions, grade, grade_labs
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


def _second_lab(course, name: str, notebook_timeout: int):
    """A copy of the fixture lab under another id, with its own notebook time limit, and its submissions."""
    import json

    source = course / "solutions" / "demo-lab"
    target = course / "solutions" / name
    target.mkdir()
    notebook = json.loads((source / "demo-lab.ipynb").read_text())
    notebook["metadata"]["ethicskit"] = {"grading": {"notebook_timeout": notebook_timeout}}
    (target / f"{name}.ipynb").write_text(json.dumps(notebook))
    submissions = course.parent / "submitted"
    for student in ("correct", "empty"):
        folder = submissions / student / name
        folder.mkdir(parents=True)
        shutil.copy(DEMO / student / "demo-lab" / "demo-lab.ipynb", folder / f"{name}.ipynb")
        shutil.copytree(DEMO / student / "demo-lab", submissions / student / "demo-lab")
    return submissions


@pytest.mark.grading
def test_grade_labs_runs_the_longest_lab_first_and_saves_each_lab_when_its_last_submission_is_done(course):
    submissions = _second_lab(course, "slow-lab", notebook_timeout=900)
    said: list[tuple[str, str]] = []
    graded = grade_labs(
        course, submissions, labs=["demo-lab", "slow-lab"], jobs=2, sandbox=sandbox.sandbox_problem() is None,
        progress=lambda lab, message: said.append((lab, message.strip())), cell_timeout=20,
    )  # fmt: skip
    expected = {"correct": 6, "empty": 0}
    for lab in ("demo-lab", "slow-lab"):
        assert {r.student: r.score for r in graded[lab]} == expected, lab
    executed = [lab for lab, message in said if message.startswith(("correct:", "empty:"))]
    # the lab with the longer notebook limit is started first (it ends first: its tasks went out first)
    assert executed[0] == "slow-lab" and sorted(executed) == ["demo-lab"] * 2 + ["slow-lab"] * 2
    # each lab is saved right after its own last submission, the first one before the other lab's end
    saved = [i for i, (lab, message) in enumerate(said) if message.startswith("saved the grades")]
    assert [said[i][0] for i in saved] == ["slow-lab", "demo-lab"]
    ran = ("correct:", "empty:")
    demo_done = [i for i, (lab, m) in enumerate(said) if lab == "demo-lab" and m.startswith(ran)]
    assert saved[0] < max(demo_done)
    with sqlite3.connect(course / "gradebook.db") as db:
        rows = db.execute("SELECT COUNT(*) FROM submitted_assignment").fetchone()[0]
    assert rows == 4
