"""``ethicskit course run-all``: run the whole course headless and write a short Markdown report.

Executes every lesson, regenerates ``labs/`` (``release``), grades every lab's demo submissions in a
temporary copy of the course (the course's own gradebook is never touched) and compares them with
``demo_submissions/<lab>.expected.json``, then writes ``README.md``, the grade report and the
students' HTML feedback into the report folder (:func:`run_course`): two lessons run at a time, the
release beside the last of them, then the grading.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["run_lessons", "stated_minutes", "grade_demos", "run_course", "CourseRun", "run_all"]


def stated_minutes(lesson: Path) -> float | None:
    """The run time a lesson's metadata states (``ethicskit.max_run_minutes``), if any."""
    metadata = json.loads(Path(lesson).read_text()).get("metadata", {})
    value = (metadata.get("ethicskit") or {}).get("max_run_minutes")
    return float(value) if value is not None else None


def _run_lesson(lesson: Path, timeout: int, threads: int | None = None) -> dict:
    """Execute one lesson in a fresh kernel; its row (name, seconds, ok, error).

    ``threads``, if given, caps the kernel's library threads (``OMP_NUM_THREADS`` and friends; a value
    this process's environment sets is kept), for lessons that share the cores with other work.
    """
    import nbformat
    from nbclient import NotebookClient

    from ethicskit.course.pool import limit_threads
    from ethicskit.course.sandbox import PlainIpcKernelManager

    start = time.perf_counter()
    notebook = nbformat.read(lesson, as_version=4)
    env = dict(os.environ)
    if threads:
        limit_threads(threads, env)
    error = ""
    try:
        NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            kernel_manager_class=PlainIpcKernelManager,
            resources={"metadata": {"path": str(lesson.parent)}},
        ).execute(env=env)
    except Exception as failure:  # noqa: BLE001 - reported, the run goes on
        text = str(failure).strip()
        error = f"{type(failure).__name__}: {text.splitlines()[-1][:200] if text else ''}"
    return {
        "lesson": lesson.name,
        "seconds": round(time.perf_counter() - start, 1),
        "ok": not error,
        "error": error,
    }


def run_lessons(
    root: Path,
    *,
    timeout: int = 600,
    jobs: int = 1,
    progress=None,
    all_started: threading.Event | None = None,
    on_start=None,
) -> list[dict]:
    """Execute each ``lessons/*.ipynb`` in a fresh kernel; return name, seconds, ok, error (in name order).

    With ``jobs`` > 1 that many lessons run at once, the longest (by the run time its header states)
    first, each with its share of the cores' library threads (one each on 2 cores: a kernel that
    fine-tunes with 2 threads beside other work makes both wait, and costs about 20 % more CPU time
    than with one; giving lesson 05 two threads beside the grading made it take 337 s instead of
    158-178 s): on 2 cores two at a time finish the set sooner. Each lesson's seconds are then
    measured beside another lesson. ``progress``, if given, is called with
    each lesson's row as soon as it has run; ``all_started``, if given, is set when the last lesson
    starts (or when there is none), so that other work can take the cores the lessons free;
    ``on_start()``, if given, is called as each lesson starts.
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from ethicskit.course.pool import threads_per_job

    lessons = sorted((Path(root) / "lessons").glob("*.ipynb"))
    order = (
        sorted(lessons, key=lambda lesson: stated_minutes(lesson) or 0.0, reverse=True)
        if jobs > 1
        else lessons
    )
    signal = all_started or threading.Event()
    if not order:
        signal.set()
    threads = threads_per_job(jobs) if jobs > 1 else None

    def run(lesson: Path) -> dict:
        if on_start:
            on_start()
        if lesson == order[-1]:
            signal.set()
        return _run_lesson(lesson, timeout, threads)

    rows = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(run, lesson) for lesson in order]
        for future in as_completed(futures) if jobs > 1 else futures:
            rows.append(future.result())
            if progress:
                progress(rows[-1])
    return sorted(rows, key=lambda row: row["lesson"])


def _demo_rows(lab: str, results, expected: dict, seconds: float) -> list[dict]:
    """One row per graded demo student: the score against the expected one."""
    rows = []
    for r in results:
        want = float(expected.get(r.student, float("nan")))
        rows.append(
            {
                "lab": lab,
                "student": r.student,
                "expected": want,
                "score": r.score,
                "max": r.max_score,
                "ok": abs(want - r.score) < 1e-6,
                "note": r.reason,
                "seconds": round(r.seconds, 1),
                "lab_seconds": round(seconds, 1),
            }
        )
    return rows


def grade_demos(
    root: Path,
    *,
    out: Path,
    jobs: int = 2,
    sandbox: bool = True,
    labs=None,
    progress=None,
    capacity=None,
    nice: int = 0,
) -> list[dict]:
    """Grade every lab's demo submissions in a temporary course copy; write report and feedback to ``out``.

    All labs are graded by one pool of ``jobs`` workers, the fine-tuning lab first
    (:func:`~ethicskit.course.grade.grade_labs`). ``labs`` limits the grading to those lab ids.
    ``progress(lab, message)``, if given, receives the grading phases of each lab as they happen, then,
    once every lab is graded, each lab's rows (a list). ``capacity``, if given, says how many
    submissions may run at a moment and ``nice`` lowers the grading's priority
    (:func:`~ethicskit.course.pool.execute_all`). Each row's
    ``lab_seconds`` is the lab's busy time: the sum of its submissions' seconds.
    """
    from ethicskit.course.feedback import write_feedback
    from ethicskit.course.grade import grade_labs
    from ethicskit.course.report import write_report

    root = Path(root)
    rows = []
    expected_files = sorted((root / "demo_submissions").glob("*.expected.json"))
    with tempfile.TemporaryDirectory(prefix="ethicskit-runall-") as scratch:
        course = Path(scratch) / "course"
        (course / "solutions").mkdir(parents=True)
        shutil.copy(root / "nbgrader_config.py", course / "nbgrader_config.py")
        chosen: dict[str, dict] = {}
        for expected_file in expected_files:
            lab = expected_file.name[: -len(".expected.json")]
            if labs is not None and lab not in labs:
                continue
            if not (root / "solutions" / lab).is_dir():
                rows.append({"lab": lab, "student": "-", "expected": None, "score": None, "ok": False,
                             "note": "no source in solutions/"})  # fmt: skip
                continue
            shutil.copytree(root / "solutions" / lab, course / "solutions" / lab)
            chosen[lab] = json.loads(expected_file.read_text())
        results = grade_labs(
            course, root / "demo_submissions", labs=list(chosen), jobs=jobs, sandbox=sandbox,
            students={lab: list(expected) for lab, expected in chosen.items()}, progress=progress,
            capacity=capacity, nice=nice,
            cell_timeout=1200, notebook_timeout=1800, memory_mb=6144, max_processes=512,
        ) if chosen else {}  # fmt: skip
        for lab, expected in chosen.items():
            graded = _demo_rows(lab, results[lab], expected, sum(r.seconds for r in results[lab]))
            rows += graded
            if progress:
                progress(lab, graded)
            write_feedback(course, lab=lab, out=out / "feedback")
        if expected_files:
            write_report(course, out=out / "grades")
    return rows


@dataclass(frozen=True)
class CourseRun:
    """What :func:`run_course` did: each lesson's and each graded student's row, and the release."""

    lessons: list[dict]
    released: list[str]
    release_seconds: float
    grades: list[dict]
    #: seconds from the start until the last lesson ended, and until the release began
    lessons_seconds: float
    release_started: float


def run_course(
    root: Path,
    *,
    out: Path,
    jobs: int = 2,
    sandbox: bool = True,
    labs=None,
    lesson_progress=None,
    lab_progress=None,
) -> CourseRun:
    """Every lesson, the release and every lab's demo grading, with no core left idle.

    The lessons run ``jobs`` at a time in a background thread, the long lesson 05 first, so the
    others run beside it. Once the last one has started, the release (one core, about 20 s) runs in
    the core the shorter lessons have freed; then the demo grading starts, one submission for each
    core no lesson holds any more (a lesson that still runs keeps its core, and the grading runs at a
    lower priority, so the lesson keeps to its stated time). Starting the grading
    beside lesson 05 with both jobs was measured: no faster (530 s against 500 s + the release), and
    lesson 05 then took 227 s, past its 3-minute ceiling.
    """
    from concurrent.futures import ThreadPoolExecutor

    from ethicskit.course.release import release

    started = threading.Event()
    clock = time.perf_counter()
    lessons_seconds: list[float] = []
    running = [0]  # lessons that have started and not ended

    def count(row: dict) -> None:
        _add(running, -1)
        if lesson_progress:
            lesson_progress(row)

    def lessons_lane() -> list[dict]:
        try:
            return run_lessons(
                root, jobs=jobs, progress=count, all_started=started, on_start=lambda: _add(running, 1)
            )
        finally:
            started.set()  # also when the lessons failed to start: the grading must not wait forever
            running[0] = 0
            lessons_seconds.append(time.perf_counter() - clock)

    with ThreadPoolExecutor(max_workers=1) as lane:
        lessons = lane.submit(lessons_lane)
        started.wait()
        start = time.perf_counter()
        release_started = start - clock
        released = release(root)
        release_seconds = time.perf_counter() - start
        grades = grade_demos(
            root, out=out, jobs=jobs, sandbox=sandbox, labs=labs, progress=lab_progress,
            capacity=lambda: jobs - running[0], nice=GRADING_NICE,
        )  # fmt: skip
        rows = lessons.result()
    return CourseRun(rows, released, release_seconds, grades, lessons_seconds[0], release_started)


_COUNT_LOCK = threading.Lock()
#: niceness added to the demo grading's workers in run_course (the lessons keep the default priority)
GRADING_NICE = 19


def _add(counter: list[int], step: int) -> None:
    with _COUNT_LOCK:
        counter[0] += step


def run_all(root: Path, *, report: Path, jobs: int = 2, sandbox: bool = True) -> int:
    """Run lessons, release and demo grading; write ``report/README.md``; return 0 when all is well."""
    root = Path(root)
    report = Path(report) if Path(report).is_absolute() else root / report
    report.mkdir(parents=True, exist_ok=True)
    run = run_course(root, out=report, jobs=jobs, sandbox=sandbox)
    lessons, released, release_seconds, grades = run.lessons, run.released, run.release_seconds, run.grades
    lines = [
        "# Course run",
        "",
        f"Sandbox: {'on' if sandbox else 'OFF'}; jobs: {jobs}.",
        "",
        "## Lessons",
        "",
        "| lesson | seconds | result |",
        "|---|---|---|",
    ]
    lines += [
        f"| {r['lesson']} | {r['seconds']} | {'ok' if r['ok'] else 'FAILED: ' + r['error']} |"
        for r in lessons
    ]
    lines += [
        "",
        "## Release",
        "",
        f"Released {len(released)} lab(s) in {release_seconds:.1f} s: " + ", ".join(released),
        "",
        "## Demo submissions",
        "",
        "| lab | student | expected | score | result | note |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['lab']} | {r['student']} | {r['expected']} | {r['score']} | "
        f"{'ok' if r['ok'] else 'MISMATCH'} | "
        f"{(r.get('note') or '')[:80]} |"
        for r in grades
    ]
    lines += [
        "",
        "Grade report: `grades/summary.md`; students' feedback: `feedback/<student>/<lab>/<lab>.html`.",
        "",
    ]
    (report / "README.md").write_text("\n".join(lines))
    print(f"wrote {report / 'README.md'}")
    failed = [r for r in lessons if not r["ok"]] + [r for r in grades if not r["ok"]]
    return 1 if failed else 0
