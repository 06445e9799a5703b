"""Grading on a real Dask cluster (#18): a ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1.

The engine's fixture lab (tests/fixtures/demo-lab, seconds per submission) is graded through the cluster
and must get the grades of a local run; a worker killed mid-run (SIGKILL of its whole process group, as a
lost machine) loses nothing and grades nothing twice. Nothing is mocked.
"""

from __future__ import annotations

import pickle
import shutil
import sqlite3

import pytest

from tests.conftest import REPO_ROOT
from tests.demo_lab import FIXTURE, LAB, LIMIT_ARGS, LIMITS, sandbox_available
from tests.demo_lab import SCORES as DEMO
from tests.servers import DaskCluster

pytestmark = [pytest.mark.server, pytest.mark.grading]


def _course(tmp_path, students: dict[str, str]):
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(FIXTURE / "solutions" / LAB, course / "solutions" / LAB)
    (course / "solutions" / LAB / "released-data.csv").write_text("a,b\n1,2\n")  # a released data file
    submissions = tmp_path / "submitted"
    for student, demo in students.items():
        shutil.copytree(FIXTURE / "demo_submissions" / demo / LAB, submissions / student / LAB)
    return course, submissions


@pytest.fixture(scope="module")
def cluster():
    with DaskCluster(2) as running:
        yield running


def _submissions_in_gradebook(course) -> dict[str, int]:
    with sqlite3.connect(course / "gradebook.db") as db:
        return dict(db.execute("SELECT student_id, count(*) FROM submitted_assignment GROUP BY 1").fetchall())


def test_a_remote_job_carries_only_the_submission_and_released_files(tmp_path):
    from ethicskit.course.cluster import RemoteJob, pack_task
    from ethicskit.course.tasks import GradingTask

    course, submissions = _course(tmp_path, {"correct": "correct"})
    notebook = submissions / "correct" / LAB / f"{LAB}.ipynb"
    (notebook.parent / "notes.txt").write_text("mine")
    task = GradingTask(
        student="correct", lab=LAB, notebook=str(notebook), data_dir=str(course / "solutions" / LAB)
    )
    job = pack_task(task)
    assert isinstance(job, RemoteJob)
    assert job.task.db_url == "" and job.task.data_dir == "" and job.task.notebook == f"{LAB}.ipynb"
    assert {name for name, _ in job.submission_files} == {"notes.txt", "timestamp.txt"}  # the student's own
    assert [name for name, _ in job.lab_files] == ["released-data.csv"]  # never the source notebook
    assert b"### BEGIN SOLUTION" not in pickle.dumps(job)


def test_cluster_grades_equal_local_grades(cluster, tmp_path, capsys):
    """`ethicskit course grade ... --cluster tcp://127.0.0.1:PORT`: the grades of a local run."""
    import json

    from ethicskit.course.cli import main

    course, submissions = _course(tmp_path, {s: s for s in DEMO})
    command = [
        "course",
        "grade",
        str(submissions),
        "--lab",
        LAB,
        "--course",
        str(course),
        "--cluster",
        cluster.address,
        "--json",
        str(tmp_path / "results.json"),
        *LIMIT_ARGS,
    ]
    assert main(command + ([] if sandbox_available() else ["--no-sandbox"])) == 0
    messages = capsys.readouterr().err.splitlines()
    results = [type("R", (), r) for r in json.loads((tmp_path / "results.json").read_text())]
    assert {r.student: r.score for r in results} == pytest.approx(DEMO), messages
    assert {r.status for r in results} == {"complete"}
    # the executed notebooks came back and were saved here; the workers' folders are gone
    for student in DEMO:
        assert (course / "autograded" / student / LAB / f"{LAB}.ipynb").exists()
    workers = {m.rsplit(" on ", 1)[1].split(" ")[0] for m in messages if " on " in m and "complete" in m}
    assert len(workers) == 2, messages  # both workers graded
    assert _submissions_in_gradebook(course) == {s: 1 for s in DEMO}


def test_a_killed_worker_loses_nothing(tmp_path):
    from distributed import Client

    from ethicskit.course.cluster import dask_executor
    from ethicskit.course.grade import grade

    students = {f"s{i}": ("correct", "partial", "empty")[i % 3] for i in range(6)}
    course, submissions = _course(tmp_path, students)
    messages, lost = [], []
    with DaskCluster(2) as running, Client(running.address) as observer:

        def progress(message):
            messages.append(message)
            if " on " in message and not lost:  # the first result is in: kill a worker that is grading
                info = observer.scheduler_info()["workers"]
                busy = {a: keys for a, keys in observer.processing().items() if keys}
                address, keys = sorted(busy.items())[0]
                running.kill_worker(int(info[address]["name"][1:]))
                lost.extend(keys)

        results = grade(
            course,
            submissions,
            lab=LAB,
            sandbox=sandbox_available(),
            executor=dask_executor(running.address),
            progress=progress,
            **LIMITS,
        )
    assert lost, messages  # a task was running on the killed worker
    want = {s: DEMO[d] for s, d in students.items()}
    assert {r.student: r.score for r in results} == pytest.approx(want), messages
    assert {r.status for r in results} == {"complete"}, messages
    assert _submissions_in_gradebook(course) == {s: 1 for s in students}  # nothing graded twice
    rescheduled = [s for s in students if any(f"-{s}-" in str(key) for key in lost)]
    assert rescheduled and all(any(m.startswith(f"  {s}: complete") for m in messages) for s in rescheduled)
