"""``ethicskit.course.pool``: the execute phase's pool (crashes contained, capacity, one report per task)."""

from __future__ import annotations

import threading
import time

import ethicskit.course.pool as pool
from ethicskit.course.tasks import GradingTask


def _fake_execute(task):
    import os
    import time

    from ethicskit.course.tasks import GradingOutcome

    if task.student == "crasher":
        os._exit(1)  # the worker process dies
    started = time.time()
    time.sleep(0.3)
    return GradingOutcome(
        status="complete", reason=f"{task.student} {started} {time.time()}", total_seconds=0.3
    )


def _tasks(*students):
    return [GradingTask(student=s, lab="lab", notebook="x.ipynb") for s in students]


def test_a_crashing_worker_fails_only_its_own_submission_and_each_task_is_reported_once(monkeypatch):
    monkeypatch.setattr(pool, "execute_submission", _fake_execute)
    reported: list[int] = []
    outcomes = pool.execute_all(
        _tasks("a", "crasher", "b", "c"),
        jobs=2,
        say=lambda m: None,
        on_outcome=lambda i, o: reported.append(i),
    )
    assert [o.reason.split()[0] for o in outcomes[::2]] == ["a", "b"] and outcomes[3].reason.startswith("c")
    assert outcomes[1].status == "error" and "crashed" in outcomes[1].reason
    assert outcomes[1].verdicts == ()  # nothing judged, so nothing can score
    assert sorted(reported) == [0, 1, 2, 3]  # the crashed one after its retry, once


def _overlaps(outcomes) -> int:
    """The most tasks that ran at the same moment."""
    spans = [tuple(map(float, o.reason.split()[1:])) for o in outcomes]
    return max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)


def test_capacity_holds_tasks_back_until_a_slot_is_free(monkeypatch):
    monkeypatch.setattr(pool, "execute_submission", _fake_execute)
    monkeypatch.setattr(pool, "_POLL_SECONDS", 0.05)
    allowed = [0]  # nothing may run at first (e.g. both cores busy with lessons)
    threading.Timer(0.6, lambda: allowed.__setitem__(0, 1)).start()
    start = time.time()
    outcomes = pool.execute_all(
        _tasks("a", "b", "c"), jobs=2, say=lambda m: None, capacity=lambda: allowed[0]
    )
    first_start = min(float(o.reason.split()[1]) for o in outcomes)
    assert first_start - start >= 0.55  # waited for the slot
    assert _overlaps(outcomes) == 1  # one slot: one at a time although there are 2 workers
    both = pool.execute_all(_tasks("a", "b", "c", "d"), jobs=2, say=lambda m: None, capacity=lambda: 2)
    assert _overlaps(both) == 2


def test_threads_per_job_shares_the_cores_out():
    import os

    cores = len(os.sched_getaffinity(0))
    assert pool.threads_per_job(1) == cores
    assert pool.threads_per_job(cores) == 1
    assert pool.threads_per_job(cores * 4) == 1


def _niceness(task):
    import os

    from ethicskit.course.tasks import GradingOutcome

    return GradingOutcome(status="complete", reason=str(os.nice(0)))


def test_nice_lowers_the_workers_priority(monkeypatch):
    import os

    monkeypatch.setattr(pool, "execute_submission", _niceness)
    outcomes = pool.execute_all(_tasks("a", "b"), jobs=2, say=lambda m: None, nice=3)
    assert {o.reason for o in outcomes} == {str(min(os.nice(0) + 3, 19))}
