"""Benchmark (#18): grading N submissions on a local Dask cluster of 1 and 2 workers vs the process pool.

Grades N copies of a lab's demo submissions (correct, partial, empty in turn; ``--lab demo-lab``, the
engine's fixture, by default; ``--lab lab2-model-card`` for a real lab) four ways, each in its own
temporary course copy, all with the sandbox and the recheck:

* ``ethicskit course grade --jobs 1`` and ``--jobs 2`` (the local process pool);
* ``--cluster`` on a real ``dask scheduler`` with 1 and with 2 ``dask worker`` processes (TCP on
  127.0.0.1; tests/servers.py starts them), the gradebook written here only.

It prints the wall time of the execute phase and of the whole command, the time per submission
(``wall / N``) and the cluster's overhead per submission against the pool with as many processes
(``(cluster wall - pool wall) / N``): shipping files, pickling, scheduling. docs/deploy.md's capacity
table is computed from these numbers and the labs' per-submission costs in docs/timings.md.

    python benchmarks/bench_cluster.py [--n 12] [--lab demo-lab]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _course(folder: Path, lab: str, n: int) -> tuple[Path, Path]:
    fixture = lab == "demo-lab"
    origin = REPO / "tests" / "fixtures" / "demo-lab" if fixture else REPO
    demos = (origin / "demo_submissions") if fixture else REPO / "demo_submissions"
    course = folder / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(origin / "solutions" / lab, course / "solutions" / lab)
    kinds = [k for k in ("correct", "partial", "empty") if (demos / k / lab).is_dir()]
    for i in range(n):
        shutil.copytree(demos / kinds[i % len(kinds)] / lab, folder / "submitted" / f"s{i:03d}" / lab)
    return course, folder / "submitted"


def _run(lab: str, n: int, *, jobs: int = 1, address: str | None = None) -> tuple[float, float, dict]:
    from ethicskit.course.cluster import dask_executor
    from ethicskit.course.grade import grade
    from ethicskit.course.sandbox import sandbox_problem

    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as name:
        course, submissions = _course(Path(name), lab, n)
        messages: list[str] = []
        start = time.perf_counter()
        results = grade(
            course,
            submissions,
            lab=lab,
            jobs=jobs,
            sandbox=sandbox_problem() is None,
            executor=dask_executor(address) if address else None,
            progress=messages.append,
        )
        wall = time.perf_counter() - start
        executed = next(m for m in messages if m.startswith("executed"))
        execute = float(executed.rsplit("(", 1)[1].split(" s")[0])
        return wall, execute, {r.student: r.score for r in results}


def main(argv=None) -> int:
    from tests.servers import DaskCluster

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--lab", default="demo-lab")
    options = parser.parse_args(argv)
    n, lab = options.n, options.lab
    rows, reference = [], None
    for label, jobs, workers in (
        ("process pool, 1 process", 1, 0),
        ("process pool, 2 processes", 2, 0),
        ("Dask cluster, 1 worker", 1, 1),
        ("Dask cluster, 2 workers", 2, 2),
    ):
        if workers:
            with DaskCluster(workers) as cluster:
                _run(
                    lab, 1, address=cluster.address
                )  # warm the workers (imports, check server), as a pool's fork
                wall, execute, scores = _run(lab, n, address=cluster.address)
        else:
            wall, execute, scores = _run(lab, n, jobs=jobs)
        if reference is None:
            reference = scores
        assert scores == reference, f"{label}: grades differ from the process pool's"
        rows.append((label, jobs, wall, execute))
        print(f"{label}: {wall:.1f} s in all, execute phase {execute:.1f} s", flush=True)
    pool = {jobs: execute for label, jobs, _, execute in rows if label.startswith("process")}
    print(f"\n{n} submissions of {lab} (sandbox and recheck on), same grades every way\n")
    print(
        "| how | wall (whole command) | execute phase | per submission (execute / N) "
        "| overhead per submission vs pool |"
    )
    print("|---|---|---|---|---|")
    for label, jobs, wall, execute in rows:
        overhead = "" if label.startswith("process") else f"{(execute - pool[jobs]) / n:+.2f} s"
        print(f"| {label} | {wall:.1f} s | {execute:.1f} s | {execute / n:.2f} s | {overhead} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
