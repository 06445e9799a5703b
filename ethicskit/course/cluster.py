"""Grading on a Dask cluster: ``ethicskit course grade ... --cluster tcp://HOST:8786``.

Only the *execute* phase leaves the instructor's machine (docs/grading.md, "How grade works"):

- **here** (the instructor's process): stage and repair the submissions, restore every test cell from the
  gradebook (nbgrader's sanitizing preprocessors, reading the gradebook), pack each notebook as a
  :class:`RemoteJob`: the sanitized notebook, the student's other files and the lab's released data
  files (what :mod:`ethicskit.course.execute` copies beside the notebook), as bytes. No path of this
  machine, no ``solutions/`` folder and no gradebook URL travels.
- **on a worker** (:func:`run_remote`): the files are written to a private temporary folder and
  :func:`~ethicskit.course.execute.execute_submission` runs them exactly as a local grading worker does:
  the bubblewrap sandbox, the limits, the fresh-process recheck, fail-closed verdicts. The worker returns
  the :class:`~ethicskit.course.tasks.GradingOutcome` and the executed notebook, and deletes its folder.
- **here** again: the executed notebooks are written back and, as with the local pool, the save and
  enforce phases write the gradebook, once per submission, from this process only.

Failures: a task whose worker dies (killed, out of memory, the machine lost) is rescheduled by the Dask
scheduler on another worker; a task that raises is retried ``retries`` times; after that the submission is
recorded as crashed and scores zero (fail closed), never half-graded. Whatever Dask re-runs, each
submission's result is taken once, so nothing is graded twice into the gradebook.

Workers: run ``dask worker tcp://HOST:8786 --nthreads 1 --nworkers N`` in the course environment (the same
lock, bubblewrap installed); each worker process grades one submission at a time (its warm check server is
per process). docs/deploy.md shows the same on Slurm (dask-jobqueue) and Kubernetes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ethicskit.course.tasks import GradingOutcome, GradingTask, crashed_outcome

__all__ = ["RemoteJob", "pack_task", "run_remote", "dask_executor", "execute_on_cluster"]

_ONE_AT_A_TIME = threading.Lock()  # execute.py keeps one warm check server per process


@dataclass(frozen=True)
class RemoteJob:
    """What a remote worker receives for one notebook: the task's settings and the files, as bytes.

    ``task`` has no paths of the instructor's machine except ``hidden`` (hidden too where they exist on
    the worker, e.g. a worker on the instructor's own machine) and no gradebook URL.
    """

    task: GradingTask
    notebook_name: str
    notebook: bytes
    submission_files: tuple[tuple[str, bytes], ...] = ()
    lab_files: tuple[tuple[str, bytes], ...] = ()


def _files(folder: Path, skip) -> tuple[tuple[str, bytes], ...]:
    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        if not skip(relative):
            out.append((relative.as_posix(), path.read_bytes()))
    return tuple(out)


def pack_task(task: GradingTask) -> RemoteJob | GradingOutcome:
    """A :class:`RemoteJob` for ``task``, or the 'rejected' outcome when nbgrader refuses the notebook.

    The test cells are restored here from the gradebook (read only), as a local worker does.
    """
    import nbformat

    from ethicskit.course.sanitize import sanitize

    path = Path(task.notebook)
    try:
        notebook = nbformat.read(path, as_version=4)
        if task.db_url:
            notebook = sanitize(
                notebook, db_url=task.db_url, lab=task.lab, student=task.student, notebook_id=path.stem
            )
    except Exception as error:  # noqa: BLE001 - as execute._grade: not a notebook, or nbgrader refuses it
        detail = str(error).strip().splitlines()[-1][:200] if str(error).strip() else ""
        return GradingOutcome(
            status="rejected", reason=f"nbgrader rejected the notebook ({type(error).__name__}: {detail})"
        )
    submission = _files(path.parent, lambda r: r.suffix == ".ipynb" or r.parts[0].startswith(".ethicskit-"))
    lab_files = ()
    if task.data_dir:
        lab_files = _files(
            Path(task.data_dir), lambda r: r.suffix == ".ipynb" or ".ipynb_checkpoints" in r.parts
        )
    remote = task.with_changes(notebook=path.name, db_url="", data_dir="", scratch_root="")
    return RemoteJob(remote, path.name, nbformat.writes(notebook).encode(), submission, lab_files)


def _worker_hidden(base: Path, given: tuple[str, ...]) -> tuple[str, ...]:
    """What the sandbox hides on this worker: every job's folder, home folders, a course checkout."""
    import ethicskit

    hidden = {base.resolve(), Path.home().resolve()}
    checkout = Path(ethicskit.__file__).resolve().parent.parent
    if (checkout / "solutions").exists() or (checkout / "nbgrader_config.py").exists():
        hidden.add(checkout)
    hidden |= {Path(p) for p in ("/root", "/home", *given) if Path(p).exists()}
    return tuple(sorted(str(p) for p in hidden if str(p) != "/"))


def _safe(relative: str) -> Path:
    path = Path(relative)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"refusing a file outside the job's folder: {relative!r}")
    return path


def run_remote(job: RemoteJob) -> tuple[GradingOutcome, bytes | None, str]:
    """On a worker: grade one :class:`RemoteJob`; return the outcome, the executed notebook, the worker.

    Runs :func:`~ethicskit.course.execute.execute_submission` in a private folder under this worker's
    temporary directory, deleted afterwards.
    """
    from ethicskit.course.execute import execute_submission

    base = Path(tempfile.gettempdir()) / f"ethicskit-dask-{os.getuid()}"
    base.mkdir(mode=0o711, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="job-", dir=base))
    try:
        submission = folder / "submission" / job.task.student / job.task.lab
        lab = folder / "lab"
        for target, files in ((submission, job.submission_files), (lab, job.lab_files)):
            target.mkdir(parents=True, exist_ok=True)
            for relative, data in files:
                destination = target / _safe(relative)
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(data)
        notebook = submission / _safe(job.notebook_name)
        notebook.write_bytes(job.notebook)
        (folder / "scratch").mkdir()
        task = job.task.with_changes(
            notebook=str(notebook),
            data_dir=str(lab) if job.lab_files else "",
            scratch_root=str(folder / "scratch"),
            hidden=_worker_hidden(base, job.task.hidden),
        )
        with _ONE_AT_A_TIME:
            outcome = execute_submission(task)
        executed = notebook.read_bytes() if outcome.written and notebook.exists() else None
        return outcome, executed, f"{os.uname().nodename}:{os.getpid()}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def execute_on_cluster(
    tasks: list[GradingTask], address, *, retries: int = 2, say=None, timeout: float | None = None
) -> list[GradingOutcome]:
    """The execute phase on a Dask cluster: one outcome per task, in order (see the module's description).

    ``address`` is a scheduler address (``tcp://HOST:8786``) or a ``distributed.Client``.
    """
    from distributed import Client, as_completed

    say = say or (lambda message: None)
    outcomes: list[GradingOutcome | None] = [None] * len(tasks)
    jobs: dict[int, RemoteJob] = {}
    client = address if isinstance(address, Client) else Client(address, timeout=timeout or 30)
    try:
        workers = len(client.scheduler_info().get("workers", {}))
        say(f"cluster {client.scheduler.address}: {workers} worker(s), {len(tasks)} notebook(s)")
        run_id = uuid.uuid4().hex[:8]
        futures, attempts = {}, {}

        def submit(index):
            job = jobs[index]
            attempts[index] = attempts.get(index, 0) + 1
            key = (
                f"ethicskit-grade-{job.task.lab}-{job.task.student}-{Path(job.notebook_name).stem}-{run_id}"
                f"-{attempts[index]}"
            )
            future = client.submit(run_remote, job, key=key, retries=retries, pure=False)
            futures[future] = index
            return future

        pending = as_completed()
        started = time.monotonic()
        for index, task in enumerate(tasks):  # each job leaves as soon as it is packed: workers start at once
            packed = pack_task(task)
            if isinstance(packed, GradingOutcome):
                outcomes[index] = packed
            else:
                jobs[index] = packed
                pending.add(submit(index))
        for future in pending:
            index = futures[future]
            task = tasks[index]
            if outcomes[index] is not None:
                continue  # taken once: a second result for the same task is never used
            try:
                outcome, executed, worker = future.result()
            except Exception as error:  # noqa: BLE001 - retries spent, or its result was lost with a worker
                # a result lost with its worker (it finished there, then the worker died before the result
                # was fetched) is not a failure of the submission: run it again, as Dask does for a task
                # that was running there
                if attempts[index] <= retries:
                    say(f"  {task.student}: {type(error).__name__} on the cluster, submitted again")
                    pending.add(submit(index))
                    continue
                outcomes[index] = crashed_outcome(f"grading on the cluster failed ({type(error).__name__})")
                say(f"  {task.student}: failed on the cluster ({type(error).__name__}: {str(error)[:120]})")
                continue
            if executed is not None:
                path = Path(task.notebook)
                if path.exists():
                    path.chmod(0o644)
                path.write_bytes(executed)
            else:
                outcome = GradingOutcome(**{**outcome.__dict__, "written": False})
            outcomes[index] = outcome
            say(
                f"  {task.student}: {outcome.status} in {outcome.total_seconds:.1f} s on {worker} "
                f"({time.monotonic() - started:.1f} s since start)"
            )
    finally:
        if client is not address:
            client.close()
    return [o or crashed_outcome("not executed") for o in outcomes]


def dask_executor(address, *, retries: int = 2, timeout: float | None = None):
    """An ``executor`` for :func:`ethicskit.course.grade.grade` that runs the execute phase on ``address``."""

    def run(tasks, say):
        return execute_on_cluster(tasks, address, retries=retries, say=say, timeout=timeout)

    return run
