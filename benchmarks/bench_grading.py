"""Benchmark: `ethicskit course grade --jobs 2` against plain serial `nbgrader autograde`, same run.

Grades N copies (default 20) of a lab's demo submissions (correct and partial, alternating) twice,
each in its own temporary copy of the course. ``--lab demo-lab`` (the default) is the engine's tiny
fixture; ``--lab lab1-bias-mitigation`` or ``--lab lab2-model-card`` grade a real lab (plain nbgrader
then gets the lab's own cell time limit instead of its 30 s default, so both sides grade the same):

* plain serial ``nbgrader autograde`` (no sandbox, no recheck: what nbgrader does out of the box);
* ``ethicskit course grade --jobs J`` (sandbox, limits, fresh-process recheck, serial gradebook writes).

It prints the wall times, the speed-up (target >= 1.7x on 2 cores), the time to execute one notebook
with a bare nbclient kernel, and the per-submission overhead beyond that (target < 1.5 s), computed as
``jobs * wall / N - bare execution``: the core-seconds each submission costs on top of running it.
The overhead can come out below zero: ethicskit's kernel client skips the 0.2 s of idle waiting that
jupyter_client adds to every kernel start (``QuickReadyKernelClient``), which the bare run still pays.

    python benchmarks/bench_grading.py [--n 20] [--jobs 2] [--no-sandbox]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "demo-lab"
LAB = "demo-lab"


PLAIN_CONFIG = """c = get_config()
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.db_url = "sqlite:///" + __import__("os").path.join(
    __import__("os").path.dirname(__import__("os").path.abspath(__file__)), "gradebook.db"
)
"""


def make_course(folder: Path, n: int, *, plain: bool = False, lab: str = LAB) -> Path:
    """A course copy with the demo lab and ``n`` submissions in nbgrader's submitted/ layout.

    ``plain``: nbgrader's own defaults (the course's config routes nbgrader's autograde through the kit).
    """
    from ethicskit.course._config import lab_grading_limits

    origin = FIXTURE if lab == LAB else REPO
    (folder / "solutions").mkdir(parents=True)
    shutil.copytree(origin / "solutions" / lab, folder / "solutions" / lab)
    if plain:
        timeout = int(lab_grading_limits(folder, lab)["cell_timeout"])
        (folder / "nbgrader_config.py").write_text(PLAIN_CONFIG + f"c.Execute.timeout = {timeout}\n")
    else:
        shutil.copy(REPO / "nbgrader_config.py", folder / "nbgrader_config.py")
    for i in range(n):
        kind = "correct" if i % 2 == 0 else "partial"
        shutil.copytree(
            origin / "demo_submissions" / kind / lab, folder / "submitted" / f"student{i:02d}" / lab
        )
    return folder


def bare_execution_seconds(samples: int = 3) -> float:
    """Median time to execute the correct demo notebook once with a bare nbclient kernel."""
    import nbformat
    from nbclient import NotebookClient

    times = []
    for _ in range(samples):
        notebook = nbformat.read(
            FIXTURE / "demo_submissions" / "correct" / LAB / f"{LAB}.ipynb", as_version=4
        )
        start = time.perf_counter()
        NotebookClient(notebook, timeout=60, kernel_name="python3", allow_errors=True).execute()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(command: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    return time.perf_counter() - start, done.stderr


def isolated_overhead(samples: int = 3, *, sandbox: bool = True) -> tuple[float, float]:
    """Median seconds of one submission through ethicskit's worker (sanitize skipped) vs a bare run."""
    from ethicskit.course.execute import execute_submission
    from ethicskit.course.tasks import GradingTask, Limits

    ours, bare = [], []
    source = FIXTURE / "demo_submissions" / "correct" / LAB / f"{LAB}.ipynb"
    with tempfile.TemporaryDirectory(prefix="bench-one-") as scratch:
        for _ in range(samples):  # interleaved, so both see the same machine load
            bare.append(bare_execution_seconds(1))
            target = Path(scratch) / f"{LAB}.ipynb"
            shutil.copy(source, target)
            start = time.perf_counter()
            execute_submission(
                GradingTask(
                    student="bench",
                    lab=LAB,
                    notebook=str(target),
                    sandbox=sandbox,
                    limits=Limits(cell_timeout=60),
                )
            )
            ours.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(bare)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="number of submissions (default 20)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel jobs for ethicskit (default 2)")
    parser.add_argument("--no-sandbox", action="store_true", help="grade ethicskit's side unsandboxed")
    parser.add_argument(
        "--lab", default=LAB, help="demo-lab (the engine's fixture) or a lab id in solutions/"
    )
    args = parser.parse_args(argv)
    # no thread settings: plain nbgrader runs with the libraries' defaults (every core, it runs serially);
    # `course grade --jobs J` gives each job its share of the cores' threads itself
    bindir = Path(sys.executable).parent
    # nbgrader runs `alembic` from this environment's bin folder, also when it is not activated
    os.environ["PATH"] = os.pathsep.join([str(bindir), os.environ.get("PATH", "")])
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as scratch:
        scratch = Path(scratch)
        plain = make_course(scratch / "plain", args.n, plain=True, lab=args.lab)
        ours = make_course(scratch / "ours", args.n, lab=args.lab)
        run(
            [
                str(bindir / "nbgrader"),
                "generate_assignment",
                args.lab,
                "--force",
                f"--CourseDirectory.release_directory={scratch / 'released'}",
            ],
            plain,
        )
        nbgrader_s, _ = run([str(bindir / "nbgrader"), "autograde", args.lab], plain)
        command = [
            str(bindir / "ethicskit"),
            "course",
            "grade",
            str(ours / "submitted"),
            "--lab",
            args.lab,
            "--jobs",
            str(args.jobs),
        ]
        if args.no_sandbox:
            command.append("--no-sandbox")
        # both sides start with the lab registered in the gradebook (nbgrader: generate_assignment above)
        run(command + ["--student", "student00", "--quiet"], ours)
        ours_s, progress = run(command + ["--json", str(scratch / "ours.json")], ours)
        import json
        import re

        results = json.loads((scratch / "ours.json").read_text())
        phases = dict(re.findall(r"^(registered|executed|saved).*\(([0-9.]+) s\)$", progress, flags=re.M))
        each = [
            (float(t), float(r), float(c))
            for t, r, c in re.findall(
                r"in ([0-9.]+) s \(recheck ([0-9.]+) s, of which checks ([0-9.]+) s\)", progress
            )
        ]
        one_ours, one_bare = isolated_overhead(sandbox=not args.no_sandbox) if args.lab == LAB else (0, 0)
    per_submission = args.jobs * ours_s / args.n
    speedup = nbgrader_s / ours_s
    scores = sorted({r["score"] for r in results})
    print(f"submissions:                          {args.n} ({args.lab}, scores seen {scores})")
    assert len(results) == args.n
    print(f"plain serial nbgrader autograde:      {nbgrader_s:7.1f} s  ({nbgrader_s / args.n:.2f} s each)")
    print(
        f"ethicskit course grade --jobs {args.jobs}:     {ours_s:7.1f} s  "
        f"(sandbox {'off' if args.no_sandbox else 'on'}, recheck on)"
    )
    print(f"speed-up:                             {speedup:7.2f} x  (target >= 1.7 x)")
    print(
        f"  of which: register lab {float(phases.get('registered', 'nan')):.1f} s, "
        f"parallel sandboxed execution + recheck {float(phases.get('executed', 'nan')):.1f} s, "
        f"saving grades {float(phases.get('saved', 'nan')):.1f} s, the rest start-up"
    )
    print(f"core-seconds per submission (ours):   {per_submission:7.2f} s  (jobs x wall / submissions)")
    if each:
        total, recheck = statistics.median(t for t, _, _ in each), statistics.median(r for _, r, _ in each)
        checks = statistics.median(c for _, _, c in each)
        beyond = statistics.median(r - c for _, r, c in each)
        print(
            f"per submission (median, ours):        {total:7.2f} s, of which the check process "
            f"{recheck:.2f} s (notebook run {total - recheck:.2f} s)"
        )
        print(
            f"check process beyond the checks' work: {beyond:6.2f} s  (checks themselves {checks:.2f} s; "
            "target <= 1 s)"
        )
    if args.lab == LAB:
        print(f"one submission, bare nbclient run:    {one_bare:7.2f} s  (median of 3)")
        print(
            f"one submission, ethicskit worker:     {one_ours:7.2f} s  (sandbox, limits, snapshots, recheck)"
        )
        print(f"overhead per submission beyond execution: {one_ours - one_bare:5.2f} s  (target < 1.5 s)")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
