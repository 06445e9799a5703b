"""A PostgreSQL gradebook (#18): the whole cycle on a real server, two instructors at once, parallel save.

The server is Debian's PostgreSQL, a throw-away cluster started on 127.0.0.1 for this module
(tests/servers.py); the course is a temporary copy holding the engine's fixture lab (tests/fixtures/demo-lab,
seconds per submission). Nothing is mocked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.demo_lab import FIXTURE, LAB, LIMIT_ARGS, LIMITS, sandbox_available
from tests.demo_lab import SCORES as EXPECTED
from tests.servers import postgres_problem, postgres_server

pytestmark = [pytest.mark.server, pytest.mark.grading]
PROBLEM = postgres_problem()


@pytest.fixture(scope="module")
def pg_url():
    if PROBLEM:
        pytest.skip(f"no PostgreSQL here: {PROBLEM}")
    with postgres_server() as url:
        yield url


@pytest.fixture
def database(pg_url):
    """A fresh database on the module's server for each test; yields its URL."""
    import sqlalchemy as sa

    name = "t" + os.urandom(4).hex()
    admin = sa.create_engine(pg_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    yield pg_url.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def _course(folder: Path) -> Path:
    (folder / "solutions").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", folder / "nbgrader_config.py")
    shutil.copytree(FIXTURE / "solutions" / LAB, folder / "solutions" / LAB)
    return folder


def _submissions(folder: Path, copies: dict[str, str]) -> Path:
    for student, demo in copies.items():
        shutil.copytree(FIXTURE / "demo_submissions" / demo / LAB, folder / student / LAB)
    return folder


def _query(url: str, sql: str) -> list[tuple]:
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _no_doubles(url: str) -> None:
    """One submission per student, one grade per cell and submission, one notebook per submission."""
    assert (
        _query(url, "SELECT student_id, count(*) FROM submitted_assignment GROUP BY 1 HAVING count(*) > 1")
        == []
    )
    assert (
        _query(url, "SELECT notebook_id, cell_id, count(*) FROM grade GROUP BY 1, 2 HAVING count(*) > 1")
        == []
    )
    assert (
        _query(url, "SELECT assignment_id, count(*) FROM submitted_notebook GROUP BY 1 HAVING count(*) > 1")
        == []
    )
    assert _query(url, "SELECT count(*) FROM assignment") == [(1,)]


def test_release_grade_feedback_report_on_postgresql(database, tmp_path, monkeypatch):
    from ethicskit.course.cli import main
    from ethicskit.course.feedback import write_feedback
    from ethicskit.course.grade import grade
    from ethicskit.course.release import release
    from ethicskit.course.report import write_report

    monkeypatch.setenv("ETHICSKIT_DB_URL", database)
    course = _course(tmp_path / "course")
    assert release(course, [LAB]) == [LAB]
    assert (course / "labs" / LAB / f"{LAB}.ipynb").exists()
    assert not (course / "gradebook.db").exists()  # release uses a throw-away gradebook
    submissions = _submissions(tmp_path / "submitted", {s: s for s in EXPECTED})
    results = grade(course, submissions, lab=LAB, jobs=2, sandbox=sandbox_available(), **LIMITS)
    assert {r.student: r.score for r in results} == pytest.approx(EXPECTED)
    assert not (course / "gradebook.db").exists()  # everything went to PostgreSQL
    rows = dict(_query(database, "SELECT student_id, count(*) FROM submitted_assignment GROUP BY 1"))
    assert rows == {s: 1 for s in EXPECTED}
    pages = write_feedback(course, lab=LAB)
    assert len(pages) == 3 and "6 / 6" in pages[0].read_text().replace("6.0", "6")
    totals = write_report(course, out=tmp_path / "reports")[1].read_text()
    assert "correct" in totals and "partial" in totals
    assert (
        main(["course", "report", "--course", str(course), "--format", "canvas", "--out", str(tmp_path)]) == 0
    )
    canvas = (tmp_path / "canvas-grades.csv").read_text(encoding="utf-8-sig").splitlines()
    assert canvas[0].endswith(LAB) and any(
        line.startswith("correct,,correct") and line.endswith(",6") for line in canvas
    )
    _no_doubles(database)


def test_two_instructors_grade_the_same_lab_at_once(database, tmp_path):
    """Two graders (separate processes, own course copies) grade the same students into one gradebook."""
    submissions = _submissions(tmp_path / "submitted", {s: s for s in EXPECTED})
    env = dict(os.environ, ETHICSKIT_DB_URL=database)
    sandbox = [] if sandbox_available() else ["--no-sandbox"]
    runs = []
    for name in ("alice", "bob"):
        course = _course(tmp_path / name)
        command = [
            str(Path(sys.executable).parent / "ethicskit"),
            "course",
            "grade",
            str(submissions),
            "--lab",
            LAB,
            "--course",
            str(course),
            "-j",
            "1",
            "--json",
            str(tmp_path / f"{name}.json"),
            *LIMIT_ARGS,
            *sandbox,
        ]
        runs.append(
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output
    for name in ("alice", "bob"):
        seen = {r["student"]: r["score"] for r in json.loads((tmp_path / f"{name}.json").read_text())}
        assert seen == pytest.approx(EXPECTED), (name, outputs)
    _no_doubles(database)
    totals = _query(
        database,
        "SELECT s.student_id, sum(coalesce(g.manual_score, g.auto_score, 0)) FROM grade g "
        "JOIN submitted_notebook n ON g.notebook_id = n.id "
        "JOIN submitted_assignment s ON n.assignment_id = s.id "
        "GROUP BY 1",
    )
    assert {k: float(v) for k, v in totals} == pytest.approx(EXPECTED)


def test_parallel_save_measured(database, tmp_path, monkeypatch, capsys):
    """Save N executed submissions into PostgreSQL with 1, 2 and 4 processes; print whether it helps."""
    from ethicskit.course.grade import grade
    from ethicskit.course.pool import execute_all

    monkeypatch.setenv("ETHICSKIT_DB_URL", database)
    course = _course(tmp_path / "course")
    n = 12
    submissions = _submissions(
        tmp_path / "submitted", {f"s{i:02d}": ("partial", "empty")[i % 2] for i in range(n)}
    )
    executed: dict[str, tuple] = {}

    def record(tasks, say):  # execute once, keep what came back
        outcomes = execute_all(tasks, jobs=2, say=say)
        for task, outcome in zip(tasks, outcomes, strict=True):
            executed[task.student] = (outcome, Path(task.notebook).read_bytes())
        return outcomes

    def replay(tasks, say):  # the same outcomes and executed notebooks, so only the save phase is timed
        for task in tasks:
            Path(task.notebook).write_bytes(executed[task.student][1])
        return [executed[task.student][0] for task in tasks]

    sandbox = sandbox_available()
    first = grade(course, submissions, lab=LAB, jobs=2, sandbox=sandbox, executor=record, **LIMITS)
    want = {r.student: r.score for r in first}
    timings = {}
    for jobs in (1, 2, 4, 1):
        messages = []
        results = grade(
            course,
            submissions,
            lab=LAB,
            sandbox=sandbox_available(),
            executor=replay,
            save_jobs=jobs,
            progress=messages.append,
            **LIMITS,
        )
        assert {r.student: r.score for r in results} == want
        saved = next(m for m in messages if m.startswith("saved the grades"))
        timings.setdefault(jobs, []).append(float(saved.split("(")[1].split(" s")[0]))
        _no_doubles(database)
    best = {jobs: min(values) for jobs, values in timings.items()}
    with capsys.disabled():
        print(
            f"\nPostgreSQL save phase, {n} submissions on {os.cpu_count()} cores: "
            + ", ".join(
                f"{jobs} process(es) {best[jobs]:.2f} s ({best[jobs] / n:.3f} s each)" for jobs in best
            )
            + f"; parallel speed-up x{best[1] / min(best[2], best[4]):.2f}"
        )
    assert all(value > 0 for value in best.values())
