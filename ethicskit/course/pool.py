"""The execute phase's local process pool: submissions ``jobs`` at a time, a crash fails only its own.

:func:`execute_all` runs :func:`~ethicskit.course.execute.execute_submission` for each task in worker
processes. Jobs that share the cores get a share of the cores' library threads each. ``capacity``, if
given, says how many tasks may run at a given moment (at most ``jobs``): ``make course`` starts the
demo grading while its last lesson still runs, one job at first (at a lower priority, ``nice``), and the
second once the lesson is done.
``on_outcome`` receives each outcome as soon as it arrives, so a caller grading several labs can save a
lab whose submissions are all done while the other labs still run.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from ethicskit.course.execute import execute_submission
from ethicskit.course.tasks import GradingOutcome, GradingTask, crashed_outcome

__all__ = ["THREAD_VARIABLES", "execute_all", "limit_threads", "pool_context", "threads_per_job"]

#: thread pools that numpy/scipy (OpenBLAS, MKL), scikit-learn and torch (OpenMP) size from the environment
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: seconds between two looks at ``capacity`` while tasks wait for it
_POLL_SECONDS = 0.5

Say = Callable[[str], None]
OnOutcome = Callable[[int, GradingOutcome], None]


def threads_per_job(jobs: int) -> int:
    """Library threads each parallel job may use: the grader's cores shared out among the jobs."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, jobs))


def limit_threads(threads: int, env=os.environ) -> None:
    """Cap the library threads of the processes started with ``env`` (this process's, by default).

    A grading worker calls it for its kernels and check processes; ``make course`` for each lesson's
    kernel.
    With ``--jobs`` equal to the cores, every library that sizes a thread pool by the machine (OpenBLAS,
    OpenMP, and :func:`ethicskit.sft.train.default_threads`, which reads ``OMP_NUM_THREADS``) would start
    that many threads in each job's kernel and check process at once: twice the threads there are cores,
    whose spinning waits made a scikit-learn fit 3-4x slower in CPU time (see docs/timings.md). A variable
    ``env`` already sets is kept.
    """
    for name in THREAD_VARIABLES:
        env.setdefault(name, str(threads))


def _init_worker(threads: int | None, nice: int) -> None:
    """A grading worker's initializer: its thread share, and a lower priority if asked."""
    if threads:
        limit_threads(threads)
    if nice:
        os.nice(nice)  # inherited by its kernels and check server


def student_line(task: GradingTask, outcome: GradingOutcome) -> str:
    """The progress line of one executed submission."""
    return (
        f"  {task.student}: {outcome.status} in {outcome.total_seconds:.1f} s "
        f"(recheck {outcome.recheck_seconds:.1f} s, of which checks {outcome.check_seconds:.1f} s)"
    )


def _run_pool(
    tasks: list[GradingTask],
    indices: list[int],
    outcomes: list,
    *,
    workers: int,
    on_outcome: OnOutcome,
    threads: int | None = None,
    capacity: Callable[[], int] | None = None,
    nice: int = 0,
) -> None:
    """Run the tasks at ``indices`` in order, at most ``workers`` (and ``capacity()``) at a time.

    A worker that dies breaks its pool: the tasks that were running get a crashed outcome (the caller
    retries them), and the tasks not started yet go on in a new pool.
    """
    todo = list(indices)
    while todo:
        with ProcessPoolExecutor(
            max_workers=min(workers, len(todo)),
            mp_context=pool_context(),
            initializer=_init_worker if threads or nice else None,
            initargs=(threads, nice) if threads or nice else (),
        ) as pool:
            _feed(pool, tasks, todo, outcomes, workers=workers, on_outcome=on_outcome, capacity=capacity)


def _feed(pool, tasks, todo: list[int], outcomes: list, *, workers, on_outcome, capacity) -> None:
    """Start tasks from ``todo`` as slots free up, until it is empty and all have ended, or the pool broke."""
    running: dict = {}
    broken = False
    while (todo and not broken) or running:
        allowed = workers if capacity is None else max(0, min(workers, capacity()))
        while todo and not broken and len(running) < allowed:
            try:
                future = pool.submit(execute_submission, tasks[todo[0]])
            except BrokenProcessPool:  # a worker died since the last look: go on in a new pool
                broken = True
                break
            running[future] = todo.pop(0)
        if not running:  # every slot is taken by other work: look again shortly
            time.sleep(_POLL_SECONDS)
            continue
        timeout = _POLL_SECONDS if capacity is not None and todo else None
        done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            index = running.pop(future)
            try:
                outcomes[index] = future.result()
            except Exception as error:  # noqa: BLE001 - the worker process died
                outcomes[index] = crashed_outcome(f"grading crashed ({type(error).__name__})")
                broken = broken or isinstance(error, BrokenProcessPool)
                continue
            on_outcome(index, outcomes[index])


def execute_all(
    tasks: list[GradingTask],
    *,
    jobs: int,
    say: Say,
    capacity: Callable[[], int] | None = None,
    on_outcome: OnOutcome | None = None,
    nice: int = 0,
) -> list[GradingOutcome]:
    """Run :func:`execute_submission` for every task, ``jobs`` at a time; a crash fails only its task.

    Parameters
    ----------
    tasks : list of GradingTask
        Run in this order (put the longest first: the last ones then fill the cores' idle ends).
    jobs : int
        Worker processes.
    say : callable
        Receives one progress line per executed submission (unless ``on_outcome`` is given).
    capacity : callable, optional
        ``capacity()`` is how many tasks may run now; looked at before each start (default: ``jobs``).
    on_outcome : callable, optional
        ``on_outcome(index, outcome)``, once per task, with its final outcome as it arrives (a task whose
        worker died, or that ended in an error, is retried alone after the others, and reported then).
    nice : int
        Added to the workers' niceness (and so to their kernels' and check servers'): ``make course``
        grades at a lower priority than the lesson that still runs beside it.

    Returns
    -------
    list of GradingOutcome
        One per task, in order.
    """
    if not tasks:
        return []
    report = on_outcome or (lambda index, outcome: say(student_line(tasks[index], outcome)))
    outcomes: list[GradingOutcome | None] = [None] * len(tasks)
    # jobs that share the cores get a share of the cores' threads each (one job alone keeps them all)
    threads = threads_per_job(jobs) if min(jobs, len(tasks)) > 1 else None
    def first_pass(index: int, outcome: GradingOutcome) -> None:
        if outcome.status != "error":  # an error is retried below, and reported then
            report(index, outcome)

    _run_pool(
        tasks, list(range(len(tasks))), outcomes, workers=jobs, on_outcome=first_pass, threads=threads,
        capacity=capacity, nice=nice,
    )  # fmt: skip
    # a worker that died takes the pool's other running tasks with it: retry those one by one, each in its
    # own pool, so only the submission that really crashes the worker is recorded as crashed
    for index in [i for i, o in enumerate(outcomes) if o is None or o.status == "error"]:
        _run_pool(tasks, [index], outcomes, workers=1, on_outcome=lambda i, o: None, nice=nice)
        outcomes[index] = outcomes[index] or crashed_outcome("not executed")
        report(index, outcomes[index])
    return [o or crashed_outcome("not executed") for o in outcomes]


def pool_context():
    """The multiprocessing context of the grader's process pools."""
    # fork when the grader is single-threaded (the command line): workers inherit its imports and start at
    # once; otherwise (e.g. under pytest-xdist) forking is unsafe, so a forkserver imports nbgrader and
    # nbclient once and each worker forks from that
    import threading

    if not sys.platform.startswith("linux"):  # pragma: no cover
        context = get_context("spawn")
    elif threading.active_count() == 1:
        import nbclient  # noqa: F401
        import nbgrader.preprocessors  # noqa: F401

        context = get_context("fork")
    else:
        context = get_context("forkserver")
        context.set_forkserver_preload(["ethicskit.course.execute", "nbclient", "nbgrader.preprocessors"])
    return context
