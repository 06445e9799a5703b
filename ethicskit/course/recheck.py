"""Tamper resistance: re-run each autograded test cell in a fresh process.

Just before a test cell runs in the student's kernel, the grader pickles (cloudpickle) the variables
that the cell's instructor source names (``variables_used``). After the notebook has run, one fresh,
sandboxed Python process per submission loads each snapshot into a clean namespace and runs the
instructor source of the test cell there, with ``ethicskit.checks``, builtins, numpy and pandas
untouched by the student's kernel. The grader keeps the *lower* of the two verdicts.

The snapshots are loaded as data only (:mod:`ethicskit.course.proxy`); the student's functions and
objects live in a separate runner process and are called through handles, so no student code runs
in the process that runs the checks and prints the verdict.

Run as ``python -m ethicskit.course.recheck JOBFILE``: JOBFILE is a JSON list of
``{"index", "source", "snapshot"}``; the verdicts are printed as one JSON line after a marker.
"""

from __future__ import annotations

import ast
import builtins
import json
import sys

__all__ = ["variables_used", "run_cell", "main", "last_verdicts", "MARKER"]

MARKER = "@@ethicskit-recheck@@"


def variables_used(source: str) -> list[str]:
    """Names ``source`` reads but does not define itself (nor gets from builtins).

    Examples
    --------
    >>> variables_used("from m import check\\ncheck(model, X_test)\\nn = 3\\nprint(n)")
    ['X_test', 'model', 'n']

    Names the cell assigns are included too (the cell may read the notebook's value first); they
    are snapshotted only where they exist.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    bound: set[str] = set()  # imports, defs, arguments, exception names: made by the cell itself
    assigned: set[str] = set()  # plain assignments: the notebook may hold a value the cell reads first
    loaded: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else assigned).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    needed = {name for name in loaded if name not in bound and name not in dir(builtins)}
    return sorted(needed)


BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def _hidden_lines(source: str) -> set[int]:
    """Line numbers (1-based) inside hidden blocks, markers included."""
    lines, inside = set(), False
    for number, line in enumerate(source.splitlines(), start=1):
        if line.strip().startswith(BEGIN_HIDDEN):
            inside = True
        if inside:
            lines.add(number)
        if line.strip().startswith(END_HIDDEN):
            inside = False
    return lines


def _hidden_decides(source: str) -> ast.Module:
    """A test cell whose hidden blocks decide: a failed *visible* check does not stop the cell.

    Visible checks are examples for the student; the hidden ones grade (and may give partial
    credit). Each top-level statement with no hidden line in it runs under ``except AssertionError``
    (a failed check), so the hidden checks always run; any other error still fails the cell.
    Statements that hold hidden lines (a hidden block, or a function with one inside) run as they are.
    """
    tree = ast.parse(source)
    hidden = _hidden_lines(source)
    body: list[ast.stmt] = []
    last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    for statement in tree.body:
        span = set(range(statement.lineno, (statement.end_lineno or statement.lineno) + 1))
        # the last expression is the cell's result (partial credit): it stays as it is
        if span & hidden or statement is last or isinstance(statement, (ast.Import, ast.ImportFrom)):
            body.append(statement)
            continue
        handler = ast.ExceptHandler(type=ast.Name("AssertionError", ast.Load()), body=[ast.Pass()])
        body.append(ast.Try(body=[statement], handlers=[handler], orelse=[], finalbody=[]))
    tree.body = body
    return ast.fix_missing_locations(tree)


def run_cell(source: str, namespace: dict) -> tuple[bool, float | None, str]:
    """Run ``source`` in ``namespace`` like a notebook cell (hidden blocks decide, when it has any).

    Returns
    -------
    (passed, value, message)
        ``value`` is the float of the last expression when it is a number (partial credit), else None.
    """
    tree = _hidden_decides(source) if BEGIN_HIDDEN in source else ast.parse(source)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    try:
        exec(compile(tree, "<test cell>", "exec"), namespace)
        value = eval(compile(last, "<test cell>", "eval"), namespace) if last is not None else None
    except AssertionError as failure:
        return False, None, getattr(failure, "message", None) or str(failure) or "a check failed"
    except BaseException as error:  # noqa: BLE001 - any error fails the cell, as in nbgrader
        detail = f": {error}" if str(error) else ""
        return False, None, f"your code raised {type(error).__name__}{detail}"
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        try:
            import numpy as np

            if isinstance(value, np.number):
                number = float(value)
        except ImportError:  # pragma: no cover
            pass
    return True, number, ""


FORBID = "# ethicskit: forbid "


def forbidden_helpers(source: str) -> list[str]:
    """The helpers a test cell says the part must be solved without.

    A line ``# ethicskit: forbid ethicskit.fairness.reweighing_weights, fairlearn.metrics.MetricFrame``
    makes the runner replace each (under any alias the student gave it) by a stub that raises.

    Examples
    --------
    >>> forbidden_helpers("# ethicskit: forbid a.b, c.d\ncheck(f)")
    ['a.b', 'c.d']
    """
    names = []
    for line in source.splitlines():
        if line.strip().startswith(FORBID):
            names += [n.strip() for n in line.strip()[len(FORBID) :].split(",") if n.strip()]
    return names


def _check_one(job: dict, runner) -> dict:
    import warnings

    from ethicskit.course.proxy import SafeUnpickler, StudentCodeError

    verdict = {"index": job["index"], "passed": False, "value": None, "message": ""}
    try:
        with open(job["snapshot"], "rb") as handle:
            snapshot = SafeUnpickler(handle).load()  # written in the student's kernel: data only
        blobs = dict(snapshot.get("blobs", {}))
    except Exception as error:  # noqa: BLE001
        verdict["message"] = f"the variables this test uses could not be recorded ({type(error).__name__})"
        return verdict
    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    saved_builtins = dict(vars(builtins))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, blob in blobs.items():
            if not isinstance(blob, bytes):  # unpicklable in the kernel: left out, the message says why
                continue
            try:
                namespace[name] = runner.load(blob)
            except (StudentCodeError, Exception) as error:  # noqa: BLE001
                verdict["message"] = (
                    f"the variable {name!r} could not be restored ({type(error).__name__}: {error})"
                )
                return verdict
        current = vars(builtins)
        for key in [k for k in current if k not in saved_builtins]:
            del current[key]
        current.update(saved_builtins)
        passed, value, message = run_cell(job["source"], namespace)
    unpicklable = sorted(snapshot.get("problems", {}))
    if not passed and unpicklable:
        message += (
            f" (the variable(s) {unpicklable} could not be copied for grading: keep answers picklable,"
            " e.g. no open files or generators)"
        )
    verdict.update(passed=passed, value=value, message=message)
    return verdict


#: imported before the runners are forked, so neither the recheck nor its runners pay for them twice
PRELOAD = (
    "numpy",
    "pandas",
    "scipy.stats",
    "sklearn.base",
    "sklearn.linear_model",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.ensemble",
    "sklearn.metrics",
    "cloudpickle",
)


def _preload(extra: list[str]) -> None:
    import importlib

    for name in (*PRELOAD, *extra):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing optional library is imported (or not) later
            pass


def _runners(count: int, timeout: float, hide_dirs: list[str] | None = None) -> list:
    """Fork ``count`` runners now, before any test source or hidden input is read (they copy our memory)."""
    import os
    from pathlib import Path

    from ethicskit.course.proxy import Runner
    from ethicskit.course.sandbox import RUNNER_ISOLATION_ENV, runner_hidden_files

    hide = None
    if os.environ.get(RUNNER_ISOLATION_ENV) == "1":
        hide = runner_hidden_files() + [Path(d) for d in hide_dirs or []]
    return [Runner.forked(timeout=timeout, hide=hide) for _ in range(count)]


def run_jobs(
    job_file: str,
    count: int = 1,
    *,
    hide_dirs: list[str] | None = None,
    call_timeout: float | None = None,
    on_verdict=None,
) -> list[dict]:
    """Recheck every job of ``job_file`` with ``count`` runners forked first; return the verdicts.

    One runner serves the cells without a ``forbid`` line; each cell with one gets a runner of its
    own, so its rule holds for that part only. ``hide_dirs`` are emptied for the runners too.
    ``call_timeout`` bounds each call into the student's code (default: the environment's
    ``ETHICSKIT_RECHECK_CALL_TIMEOUT``, else 120 s); ``on_verdict(verdicts)``, if given, receives the
    verdicts so far after each cell, so a recheck stopped later keeps the cells it finished.
    """
    import io
    import os
    import time

    timeout = call_timeout or float(os.environ.get("ETHICSKIT_RECHECK_CALL_TIMEOUT", "120"))
    runners = _runners(max(1, count), timeout, hide_dirs)
    with open(job_file) as handle:
        jobs = json.load(handle)
    saved, sys.stdout = sys.stdout, io.StringIO()  # the cells' own prints are not part of the verdict
    shared, spare = runners[0], runners[1:]
    verdicts = []
    try:
        for job in jobs:
            forbidden = forbidden_helpers(job["source"])
            runner = spare.pop(0) if forbidden and spare else shared
            if forbidden and runner is shared:  # no runner of its own left: the rule cannot be enforced
                message = "this part could not be checked in isolation"
                verdicts.append({"index": job["index"], "passed": False, "value": None, "message": message})
                continue
            clock = time.perf_counter()
            try:
                if forbidden:
                    runner.forbid(forbidden)
                verdicts.append(_check_one(job, runner))
            finally:
                if runner is not shared:
                    runner.close()
            verdicts[-1]["seconds"] = round(time.perf_counter() - clock, 3)  # the checks' own work
            # what the checks printed (which part lost points), for the student's feedback
            verdicts[-1]["printed"] = sys.stdout.getvalue()[-2000:]
            sys.stdout = io.StringIO()
            if on_verdict is not None:
                on_verdict(verdicts)
    finally:
        sys.stdout = saved
        for runner in runners:
            runner.close()
    return verdicts


def main(argv: list[str] | None = None) -> int:
    """Recheck every job of a JSON job file; print the verdicts after :data:`MARKER`.

    Usage: ``python -m ethicskit.course.recheck JOBFILE [RUNNERS [PRELOAD,...]]``: RUNNERS runner
    processes are forked after importing PRELOAD, before the job file is read. After each cell the
    verdicts so far are printed as one marker line, so a caller that stops this process at a time
    limit still has the cells that finished; the last marker line holds them all.
    """
    import os

    args = sys.argv[1:] if argv is None else argv
    _preload([m for m in (args[2].split(",") if len(args) > 2 else []) if m])
    real_stdout = os.fdopen(os.dup(1), "w")

    def emit(verdicts: list[dict]) -> None:
        real_stdout.write(MARKER + json.dumps(verdicts) + "\n")
        real_stdout.flush()

    emit(run_jobs(args[0], int(args[1]) if len(args) > 1 else 1, on_verdict=emit))
    return 0


def last_verdicts(stdout: str | bytes | None) -> dict[int, dict] | None:
    """The verdicts in the last marker line :func:`main` printed, by cell index (None: no line)."""
    text = stdout.decode(errors="replace") if isinstance(stdout, bytes) else (stdout or "")
    for line in reversed(text.splitlines()):
        if line.startswith(MARKER):
            return {v["index"]: v for v in json.loads(line[len(MARKER) :])}
    return None


if __name__ == "__main__":
    sys.exit(main())
