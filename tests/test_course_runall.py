"""``ethicskit.course.runall``: lessons run (two at a time) and report each one's result."""

from __future__ import annotations

import nbformat

from ethicskit.course.runall import run_lessons


def _lesson(path, source: str, minutes: float | None = None) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if minutes is not None:
        notebook.metadata["ethicskit"] = {"max_run_minutes": minutes}
    nbformat.write(notebook, path)


def test_lessons_run_two_at_a_time_and_report_in_name_order(tmp_path):
    (tmp_path / "lessons").mkdir()
    _lesson(tmp_path / "lessons" / "00-a.ipynb", "x = 1")
    _lesson(tmp_path / "lessons" / "01-b.ipynb", "raise ValueError('broken on purpose')", minutes=3)
    _lesson(tmp_path / "lessons" / "02-c.ipynb", "import time; time.sleep(0.2)", minutes=1)
    seen = []
    rows = run_lessons(tmp_path, jobs=2, timeout=60, progress=lambda row: seen.append(row["lesson"]))
    assert [r["lesson"] for r in rows] == ["00-a.ipynb", "01-b.ipynb", "02-c.ipynb"]
    assert [r["ok"] for r in rows] == [True, False, True]
    assert "broken on purpose" in rows[1]["error"]
    assert sorted(seen) == [r["lesson"] for r in rows]  # each reported as soon as it ran


def test_run_course_releases_beside_the_last_lesson(tmp_path):
    import shutil

    from ethicskit.course.runall import run_course
    from tests.conftest import REPO_ROOT

    (tmp_path / "lessons").mkdir()
    (tmp_path / "solutions").mkdir()
    (tmp_path / "demo_submissions").mkdir()
    shutil.copy(REPO_ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    _lesson(tmp_path / "lessons" / "00-a.ipynb", "import time; time.sleep(3)", minutes=1)
    run = run_course(tmp_path, out=tmp_path / "report", jobs=2)
    assert [r["lesson"] for r in run.lessons] == ["00-a.ipynb"] and run.lessons[0]["ok"]
    assert run.released == [] and run.grades == []
    # the release started while the last lesson ran, not after it
    assert run.release_started < 2.0 < 3.0 < run.lessons_seconds
