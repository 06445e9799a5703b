"""Benchmark: the whole course as `make course` runs it, timed piece by piece (issue 17).

Runs every lesson (a fresh kernel each), regenerates labs/ (`release`), grades every lab's demo
submissions with `course grade --jobs 2` in a temporary copy of the course, as `make course` runs
them (:func:`ethicskit.course.runall.run_course`: two lessons at a time, the release once the last of
them has started, then the grading, one job beside a lesson still running), and prints:

* each lesson's wall time against the time its header states (notebook metadata
  ``ethicskit.max_run_minutes``) and the course's ceiling (2 minutes; lesson 05: 3); lessons run two
  at a time as `make course` runs them (``--lesson-jobs 1``: one at a time, each on idle cores);
* each lab's demo-grading busy time (its submissions' seconds summed: all labs are graded by one pool
  of 2 jobs, the fine-tuning lab first) and seconds per submission;
* the total against the 8-minute target, with the load average before and after (measure idle).

Each piece's seconds are measured beside the others; ``--lessons-only`` / ``--labs-only`` time one
part alone (no release).

Progress is printed as it goes: each lesson when it has run, each lab's grading phases (registering,
each student's time with its recheck share, executing, saving) and then its total.

    python benchmarks/bench_course.py [--lessons-only | --labs-only] [--labs lab1-bias-mitigation,...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ethicskit.course.runall import grade_demos, run_course, run_lessons, stated_minutes  # noqa: E402

CEILING_MINUTES = {"05-ethics-sft.ipynb": 3.0}
COURSE_TARGET_S = 8 * 60


def lesson_table(rows: list[dict]) -> float:
    print(f"{'lesson':32s} {'seconds':>8s} {'stated':>8s} {'ceiling':>8s}  verdict")
    for row in rows:
        stated = stated_minutes(ROOT / "lessons" / row["lesson"])
        ceiling = CEILING_MINUTES.get(row["lesson"], 2.0) * 60
        limit = min(ceiling, stated * 60) if stated else ceiling
        verdict = "FAILED " + row["error"] if not row["ok"] else ("ok" if row["seconds"] <= limit else "SLOW")
        shown = f"{stated * 60:.0f}" if stated else "-"
        print(f"{row['lesson']:32s} {row['seconds']:8.1f} {shown:>8s} {ceiling:8.0f}  {verdict}")
    return sum(r["seconds"] for r in rows)


def lab_table(rows: list[dict]) -> float:
    labs: dict[str, dict] = {}
    for row in rows:
        lab = labs.setdefault(row["lab"], {"seconds": row.get("lab_seconds", 0.0), "n": 0, "ok": True})
        lab["n"] += 1
        lab["ok"] &= bool(row["ok"])
    print(
        f"\n{'lab (demo grading, --jobs 2)':32s} {'busy s':>8s} {'students':>9s} {'s/student':>10s}  grades"
    )
    print("(busy s: the sum of the lab's submissions' seconds; all labs share one pool of 2 jobs)")
    for name, lab in labs.items():
        per = lab["seconds"] / max(lab["n"], 1)
        verdict = "as expected" if lab["ok"] else "MISMATCH"
        print(f"{name:32s} {lab['seconds']:8.1f} {lab['n']:9d} {per:10.1f}  {verdict}")
    return sum(lab["seconds"] for lab in labs.values())


def _lesson_done(row: dict) -> None:
    state = "ok" if row["ok"] else "FAILED " + row["error"]
    print(
        f"  lesson {row['lesson']}: {row['seconds']:.1f} s {state} (load {os.getloadavg()[0]:.1f})",
        flush=True,
    )


def _lab_progress(start: float):
    """Print each lab's grading phases as they happen, then its time per student."""

    def say(lab: str, message) -> None:
        clock = f"[{time.perf_counter() - start:6.0f} s]"
        if isinstance(message, list):  # the lab is graded: its rows
            seconds = message[0].get("lab_seconds", 0.0) if message else 0.0
            wrong = [r["student"] for r in message if not r["ok"]]
            print(
                f"{clock} {lab}: {seconds:.1f} s for {len(message)} students "
                f"({seconds / max(len(message), 1):.1f} s each), "
                f"{'grades as expected' if not wrong else 'MISMATCH: ' + ', '.join(wrong)}; "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        else:
            print(f"{clock} {lab}: {message.strip()}", flush=True)

    return say


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons-only", action="store_true")
    parser.add_argument("--labs-only", action="store_true", help="grade the labs' demos, no lessons")
    parser.add_argument("--labs", help="comma-separated lab ids (default: every lab with demo submissions)")
    parser.add_argument(
        "--lesson-jobs", type=int, default=2, help="lessons run at once, as `make course` does (default 2)"
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average before: {os.getloadavg()[0]:.2f}")
    start = time.perf_counter()
    labs = set(args.labs.split(",")) if args.labs else None
    with tempfile.TemporaryDirectory() as out:
        if args.lessons_only or args.labs_only:
            lesson_rows = (
                [] if args.labs_only else run_lessons(ROOT, jobs=args.lesson_jobs, progress=_lesson_done)
            )
            grade_rows = (
                []
                if args.lessons_only
                else grade_demos(ROOT, out=Path(out), jobs=2, labs=labs, progress=_lab_progress(start))
            )
            release_s = None
        else:  # what `make course` runs (run_course)
            run = run_course(
                ROOT,
                out=Path(out),
                jobs=2,
                labs=labs,
                lesson_progress=_lesson_done,
                lab_progress=_lab_progress(start),
            )
            lesson_rows, grade_rows, release_s = run.lessons, run.grades, run.release_seconds
            print(f"  lessons done after {run.lessons_seconds:.0f} s; release took {release_s:.1f} s")
    if lesson_rows:
        each = lesson_table(lesson_rows)
        print(
            f"lessons: {len(lesson_rows)}, {args.lesson_jobs} at once (the sum of their times: {each:.0f} s)"
        )
    if grade_rows:
        lab_table(grade_rows)
    total = time.perf_counter() - start
    print(
        f"\nwhole run {total:.0f} s (target <= {COURSE_TARGET_S} s: "
        f"{'met' if total <= COURSE_TARGET_S else 'NOT met'})"
        + ("" if release_s is None else ": lessons, release and demo grading as `make course` runs them")
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
