"""`ethicskit course release` and `release --check` on the engine's demo lab."""

from __future__ import annotations

import json
import shutil

import pytest

from ethicskit.course.cli import main
from ethicskit.course.release import check_release, gradebook_content, register_lab, release
from tests.conftest import REPO_ROOT

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "demo-lab"


@pytest.fixture()
def course(tmp_path):
    shutil.copy(REPO_ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    shutil.copytree(FIXTURE / "solutions", tmp_path / "solutions")
    return tmp_path


@pytest.mark.slow
def test_release_then_check_then_drift(course, capsys):
    assert release(course) == ["demo-lab"]
    released = course / "labs" / "demo-lab" / "demo-lab.ipynb"
    text = released.read_text()
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text and "NotImplementedError" in text
    assert not (course / "gradebook.db").exists()  # no gradebook side effects
    assert check_release(course) == {}
    # volatile metadata does not count
    notebook = json.loads(text)
    notebook["metadata"]["language_info"] = {"name": "python", "version": "3.99"}
    for cell in notebook["cells"]:
        cell["id"] = cell.get("id", "x") + "0"
    released.write_text(json.dumps(notebook))
    assert check_release(course) == {}
    # a real change does, and the CLI names the lab
    notebook["cells"][0]["source"] = "edited by hand"
    released.write_text(json.dumps(notebook))
    assert main(["course", "release", "--check", "--course", str(course)]) == 1
    assert "demo-lab" in capsys.readouterr().err
    (course / "labs" / "stale-lab").mkdir()
    assert "stale-lab" in check_release(course)


def _cell_ids(db_url: str) -> set[int]:
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        notebooks = gb.find_assignment("demo-lab").notebooks
        return {cell.id for notebook in notebooks for cell in notebook.grade_cells}


@pytest.mark.slow
def test_registering_an_unchanged_lab_leaves_the_gradebook_alone(course):
    """nbgrader re-registers by deleting and re-creating cells: that must not happen under a grader's feet."""
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    assert register_lab(course, "demo-lab", db_url=db_url) is True
    held, ids = gradebook_content(db_url, "demo-lab"), _cell_ids(db_url)
    assert held and held["demo-lab"]["grade"]
    assert register_lab(course, "demo-lab", db_url=db_url) is False
    assert _cell_ids(db_url) == ids  # the very same rows, not equal copies
    # an edited lab is registered again
    solution = course / "solutions" / "demo-lab" / "demo-lab.ipynb"
    notebook = json.loads(solution.read_text())
    graded = next(c for c in notebook["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("points"))
    graded["metadata"]["nbgrader"]["points"] += 1
    solution.write_text(json.dumps(notebook))
    assert register_lab(course, "demo-lab", db_url=db_url) is True
    assert gradebook_content(db_url, "demo-lab") != held


def test_unknown_lab_is_named(course):
    with pytest.raises(ValueError, match="no-such-lab"):
        release(course, ["no-such-lab"])


@pytest.mark.slow
def test_committed_labs_match_solutions():
    """The student versions in labs/ are exactly what solutions/ generate (CI fails on drift)."""
    stale = check_release(REPO_ROOT)
    assert stale == {}, f"labs/ is out of date; run `ethicskit course release`: {stale}"


@pytest.mark.slow
def test_release_never_overwrites_a_students_answers(course, capsys):
    import nbformat

    release(course)
    released = course / "labs" / "demo-lab" / "demo-lab.ipynb"
    notebook = nbformat.read(released, as_version=4)
    answer = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution"))
    answer.source = "def mean_gap(a, b):\n    return sum(a) / len(a) - sum(b) / len(b)  # my own answer\n"
    nbformat.write(notebook, released)
    mine = released.read_text()
    assert main(["course", "release", "--course", str(course)]) == 1
    message = capsys.readouterr().err
    assert "q1-answer" in message and "ethicskit course work" in message and "--force" in message
    assert released.read_text() == mine  # untouched
    # the self-learner's own copy: made once, never overwritten
    assert main(["course", "work", "demo-lab", "--course", str(course)]) == 0
    assert (course / "work" / "demo-lab" / "demo-lab.ipynb").exists()
    assert main(["course", "work", "demo-lab", "--course", str(course)]) == 1
    # --force regenerates, after moving the answers aside
    assert main(["course", "release", "--force", "--course", str(course)]) == 0
    backups = list((course / "labs-backup").glob("demo-lab-*/demo-lab.ipynb"))
    assert len(backups) == 1 and backups[0].read_text() == mine
    assert "my own answer" not in released.read_text()


def test_new_gradebooks_get_the_schema_revision_without_running_alembic(tmp_path, monkeypatch):
    import os
    import sqlite3
    import subprocess
    import sys

    import nbgrader.api as api
    from nbgrader.dbutil import _temp_alembic_ini

    from ethicskit.course._config import load_course_config

    load_course_config(REPO_ROOT)  # every gradebook operation of the kit starts there
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]))
    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:  # what nbgrader's own way answers
        heads = subprocess.check_output(["alembic", "-c", ini, "heads"], env=env).decode()
    expected = heads.split("\n")[0].split(" ")[0]

    def no_command(*args, **kwargs):
        raise AssertionError(f"a command ran: {args}")

    monkeypatch.setattr(api.sp, "check_output", no_command)
    for name in ("a.db", "b.db"):
        with api.Gradebook(f"sqlite:///{tmp_path / name}"):
            pass
        with sqlite3.connect(tmp_path / name) as db:
            assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == expected
