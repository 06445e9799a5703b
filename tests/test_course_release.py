"""`ethicskit course release` and `release --check` on the engine's demo lab."""

from __future__ import annotations

import json
import shutil

import pytest

from ethicskit.course.cli import main
from ethicskit.course.release import check_release, release
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


def test_unknown_lab_is_named(course):
    with pytest.raises(ValueError, match="no-such-lab"):
        release(course, ["no-such-lab"])


@pytest.mark.slow
def test_committed_labs_match_solutions():
    """The student versions in labs/ are exactly what solutions/ generate (CI fails on drift)."""
    stale = check_release(REPO_ROOT)
    assert stale == {}, f"labs/ is out of date; run `ethicskit course release`: {stale}"
