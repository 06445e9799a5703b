"""Execute one submission's notebook in the sandbox, recheck it, and judge every test cell.

:func:`execute_submission` is what each grading worker runs, as a pipeline of small phases:

1. **sanitize**: nbgrader's sanitizing preprocessors restore the lab's test cells (gradebook read-only);
2. **run**: the notebook runs in its own sandboxed kernel; before each test cell the variables it
   names are snapshotted, and of the test cell itself the kernel runs only its imports;
3. **recheck**: one fresh sandboxed process runs every test cell on the snapshots, once
   (:mod:`ethicskit.course.recheck`);
4. **judge**: every test cell gets a :class:`~ethicskit.course.tasks.CellVerdict`. Fail closed: a cell
   earns points only when the kernel reached it alive *and* it passed the recheck; a cell that did
   not run, or whose kernel died, or that the recheck could not confirm, scores zero with the reason.
   With the recheck off (trusted code only), the kernel runs whole test cells, as nbgrader does.

The worker never writes the gradebook: it writes the executed notebook back to the task's path and
returns a :class:`~ethicskit.course.tasks.GradingOutcome`.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from ethicskit.course.recheck import BEGIN_HIDDEN, END_HIDDEN, forbidden_helpers, last_verdicts
from ethicskit.course.sanitize import sanitize
from ethicskit.course.tasks import CellVerdict, GradingOutcome, GradingTask, crashed_outcome

__all__ = [
    "execute_submission",
    "is_test_cell",
    "judge_cells",
    "cell_score",
    "visible_source",
    "kernel_source",
    "MAX_OUTPUT_BYTES",
    "error_output",
]

MAX_OUTPUT_BYTES = 2 * 10**6
log = logging.getLogger("ethicskit.course")
#: error names the engine writes into a cell's outputs (feedback shows their message as it is)
ENGINE_ERRORS = ("RecheckFailed", "NotRun", "KernelDied", "KernelStopped")


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded test cell: a code cell with points that is not a solution cell."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


HIDDEN_BLOCK = re.compile(
    rf"^[ \t]*{re.escape(BEGIN_HIDDEN)}.*?^[ \t]*{re.escape(END_HIDDEN)}[^\n]*\n?", re.M | re.S
)


def visible_source(source: str) -> str:
    """A test cell's source without its hidden test blocks (what the student's kernel may run).

    Examples
    --------
    >>> visible_source("check(x)\n### BEGIN HIDDEN TESTS\ncheck(x, seed=1)\n### END HIDDEN TESTS\n")
    'check(x)\n'
    """
    return HIDDEN_BLOCK.sub("", source)


def kernel_source(source: str) -> str:
    """What the student's kernel runs of a test cell when the recheck decides it: its imports only.

    The checks themselves run once, in the recheck; the imports keep the names a test cell binds
    (``from ethicskit.checks import fairness as checks``) for any later cell that uses them.

    Examples
    --------
    >>> kernel_source("from ethicskit.checks import fairness as checks\n\nchecks.check_rates(rates)\n")
    'from ethicskit.checks import fairness as checks'
    """
    try:
        tree = ast.parse(visible_source(source))
    except SyntaxError:  # not Python (an instructor's typo): the recheck reports it; run nothing here
        return ""
    imports = [s for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))]
    return "\n".join(ast.get_source_segment(visible_source(source), s) or "" for s in imports)


def _points(cell: NotebookNode) -> float:
    return float(cell.metadata["nbgrader"].get("points", 0) or 0)


def cell_score(cell: NotebookNode) -> tuple[float, str]:
    """Points a test cell's outputs show, and why it lost any.

    Like nbgrader's ``determine_grade`` (an error output scores zero; a number as the last result is
    partial credit), with two differences: it is only asked about cells that ran to completion (so
    "no output" means the checks passed, never "did not run"), and output on stderr does not fail a
    cell (a logged warning is not a failed check).
    """
    points = _points(cell)
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return 0.0, f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
        if output.get("output_type") == "execute_result":
            text = output.get("data", {}).get("text/plain", "")
            try:
                value = float(text)
            except (TypeError, ValueError):
                continue
            value = max(0.0, min(value, points))
            return value, "" if value >= points else f"{value:g} of {points:g} points"
    return points, ""


def error_output(ename: str, message: str) -> NotebookNode:
    """An error output the engine writes into a cell (feedback shows ``message`` as it is)."""
    return nbformat.v4.new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


@dataclass
class KernelRun:
    """What the run phase leaves behind: which cells completed, snapshots, why it stopped."""

    notebook: NotebookNode
    executed: set[int] = field(default_factory=set)
    #: test cells whose checks run only in the recheck (with the recheck on: all of them)
    decided: set[int] = field(default_factory=set)
    snapshots: dict[int, str] = field(default_factory=dict)
    stopped: str | None = None
    events: list[str] = field(default_factory=list)
    limits_mode: str = "none"


def _manager_class(*, sandbox: bool, runtime: Path, workdir: Path, hidden: tuple[str, ...], limits):
    from traitlets import Any as AnyTrait

    from ethicskit.course.sandbox import PlainIpcKernelManager, SandboxKernelManager, SandboxPolicy

    if not sandbox:
        return type("RunKernelManager", (PlainIpcKernelManager,), {"runtime": AnyTrait(str(runtime))})
    policy = SandboxPolicy(
        hidden=[Path(h) for h in hidden], memory_mb=limits.memory_mb, max_processes=limits.max_processes
    )
    return type(
        "RunSandboxKernelManager",
        (SandboxKernelManager,),
        {
            "runtime": AnyTrait(str(runtime)),
            "policy": AnyTrait(policy),
            "writable": AnyTrait([runtime, workdir]),
            "workdir": AnyTrait(str(workdir)),
            "limits": AnyTrait(limits),
        },
    )


def _run_kernel(notebook, task: GradingTask, *, scratch: Path, start: float) -> KernelRun:
    """The run phase: execute every cell in a limited (sandboxed) kernel.

    With the recheck on, no check runs in the student's kernel: for each test cell the kernel
    snapshots the variables the whole test uses and runs only the cell's import statements (later
    student code may use the names they bind, e.g. ``checks``); the whole test runs once, in the
    recheck, which decides the cell. So nothing a hidden block computes is ever visible to student
    code that runs later, nor is its source in IPython's history, and the checks' work is not paid
    twice (running the visible examples in the kernel too cost lab 1 about 2.6 s per submission).
    """
    from ethicskit.course.kernelexec import make_executor
    from ethicskit.course.sandbox import CgroupLimits

    full_sources = (
        {i: c.source for i, c in enumerate(notebook.cells) if is_test_cell(c)} if task.recheck else {}
    )
    decided = set(full_sources)  # with the recheck on, it decides every test cell
    for index in decided:
        notebook.cells[index].source = kernel_source(full_sources[index])
    runtime, workdir = scratch / "rt", scratch / "work"
    limits = CgroupLimits(memory_mb=task.limits.memory_mb, max_processes=task.limits.max_processes)
    if task.sandbox:
        limits.create()
    try:
        executor = make_executor(
            manager_class=_manager_class(
                sandbox=task.sandbox, runtime=runtime, workdir=workdir, hidden=task.hidden, limits=limits
            ),
            cell_timeout=float(task.limits.cell_timeout),
            deadline=start + float(task.limits.notebook_timeout),
            snapshot_dir=runtime if task.recheck else None,
            full_sources=full_sources,
        )
        try:
            notebook, _ = executor.preprocess(notebook, {"metadata": {"path": str(workdir)}})
        except Exception as error:  # noqa: BLE001 - the kernel never started, or died while starting
            executor.stopped = (
                executor.stopped or f"the notebook could not run ({type(error).__name__}: {error})"
            )
            notebook = executor.nb if getattr(executor, "nb", None) is not None else notebook
        if executor.stopped and limits.killed_by_memory():
            executor.stopped += " (memory limit reached)"
        if limits.hit_process_limit():
            executor.events.append("the process limit refused new processes")
    finally:
        limits.remove()
    for index in decided:  # the graded notebook keeps the whole test, as nbgrader's does
        notebook.cells[index].source = full_sources[index]
    return KernelRun(
        notebook=notebook,
        executed=set(executor.executed),
        decided=decided,
        snapshots=dict(executor.snapshots),
        stopped=executor.stopped,
        events=list(executor.events),
        limits_mode=limits.mode,
    )


#: words in a lab's notebook that mean its checks will load torch: preload it before forking runners
TORCH_HINTS = ("torch", "ethicskit.sft", "ethicskit.attribution", "DPSGD", "fine_tune")


def _preload(run: KernelRun) -> str:
    return _preload_for(run.notebook)


#: words that mean the checks will load a fine-tuned transformer (lab 3): preload its classes too
TRANSFORMER_HINTS = ("ethicskit.sft", "fine_tune", "TextClassifier")
TRANSFORMER_MODULES = "transformers.models.bert.modeling_bert,ethicskit.sft"


def _preload_for(notebook) -> str:
    """Modules the check server imports once, before it forks (comma-separated; "" for none).

    Importing transformers' BERT classes costs about 2 s, which every lab 3 recheck would otherwise
    pay when it loads the student's models.
    """
    text = "\n".join(cell.source for cell in notebook.cells)
    if any(hint in text for hint in TRANSFORMER_HINTS):
        return "torch," + TRANSFORMER_MODULES
    return "torch" if any(hint in text for hint in TORCH_HINTS) else ""


def _start_check_server(notebook, task: GradingTask, scratch: Path) -> None:
    """Start this worker's check server now, if it needs one, so its imports overlap the kernel's run.

    Only a start: a failure here is left for the recheck phase, which retries and fails closed.
    """
    if not (task.sandbox and task.recheck):
        return
    root = Path(task.scratch_root) if task.scratch_root else scratch
    try:
        _check_server(task, _preload_for(notebook), root, wait=False)
    except Exception:  # noqa: BLE001 - the recheck phase starts it again (or reports why it cannot)
        log.debug("the check server could not be started ahead of the kernel", exc_info=True)


def _recheck(run: KernelRun, task: GradingTask, *, scratch: Path) -> tuple[dict[int, dict], str | None]:
    """The recheck phase: rerun test cells in a fresh check process (the warm server when sandboxed)."""
    # a cell that scored zero in the kernel cannot go lower: no need to recheck it, unless the recheck
    # decides it (its checks did not run in the kernel)
    jobs = [
        {"index": i, "source": run.notebook.cells[i].source, "snapshot": path}
        for i, path in sorted(run.snapshots.items())
        if i in run.executed and (i in run.decided or cell_score(run.notebook.cells[i])[0] > 0)
    ]
    if not jobs:
        return {}, None
    job_file = scratch / "rt" / "recheck.json"
    job_file.write_text(json.dumps(jobs))
    runners = 1 + sum(bool(forbidden_helpers(job["source"])) for job in jobs)
    timeout = float(task.limits.cell_timeout) * len(jobs) + 30
    if task.sandbox:
        result = scratch / "rt" / "verdicts.json"
        root = Path(task.scratch_root) if task.scratch_root else scratch  # what the server may see
        server = _check_server(task, _preload(run), root)
        # one call into the student's code may take what a whole cell may take in the kernel
        call_timeout = float(task.limits.cell_timeout)
        problem = server.check(job_file, runners, result, timeout, call_timeout=call_timeout)
        # the cells that finished keep their verdicts; the others fail with the problem
        return _read_verdicts(result), problem
    return _recheck_process(task, scratch, job_file, runners, _preload(run), timeout)


def _read_verdicts(result: Path) -> dict[int, dict]:
    """The verdicts a check process wrote, by cell index (none when it wrote none)."""
    try:
        return {v["index"]: v for v in json.loads(result.read_text())}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


_SERVER = None


def _check_env(*, isolate: bool) -> dict[str, str]:
    """The environment of a check process; ``isolate`` makes its runners hide files (sandboxed grading)."""
    from ethicskit.course.sandbox import RUNNER_ISOLATION_ENV

    env = dict(os.environ, PYTHONWARNINGS="ignore", TQDM_DISABLE="1", MPLBACKEND="Agg", HF_HUB_OFFLINE="1")
    env[RUNNER_ISOLATION_ENV] = "1" if isolate else "0"
    return env


def _close_server() -> None:
    global _SERVER
    if _SERVER is not None and _SERVER.owner == os.getpid():
        _SERVER.close()
        _SERVER.limits.remove()
        _SERVER = None


def _check_server(task: GradingTask, preload: str, root: Path, *, wait: bool = True):
    """This worker's warm check server for ``task`` (started, or restarted, when needed).

    ``root`` is the grading run's scratch folder: the server (trusted code) may read and write it, the
    runners it forks (student code) see it empty. With ``wait=False`` a new server is left importing
    (the worker starts it before running a kernel); :meth:`CheckServer.check` waits for it.
    """
    import atexit
    from multiprocessing import util

    from ethicskit.course.checkserver import CheckServer
    from ethicskit.course.sandbox import CgroupLimits, SandboxPolicy, bwrap_command

    global _SERVER
    key = (task.hidden, str(root), task.limits, preload)
    if _SERVER is not None and _SERVER.owner != os.getpid():
        _SERVER = None  # inherited through a fork: the parent's server, not ours to use or close
    if _SERVER is not None and (_SERVER.key != key or not _SERVER.alive()):
        _close_server()
    if _SERVER is None:
        limits = CgroupLimits(
            memory_mb=task.limits.memory_mb, max_processes=task.limits.max_processes
        ).create()
        policy = SandboxPolicy(
            hidden=[Path(h) for h in task.hidden],
            memory_mb=task.limits.memory_mb,
            max_processes=task.limits.max_processes,
        )
        command = [sys.executable, "-m", "ethicskit.course.checkserver", str(root), preload]
        command = limits.wrap(bwrap_command(command, policy=policy, writable=[root], cwd=root))
        try:
            server = CheckServer(command, key, _check_env(isolate=True), wait=wait)
        except RuntimeError:
            limits.remove()
            raise
        server.limits, server.owner = limits, os.getpid()
        if _SERVER is None and not getattr(_check_server, "registered", False):
            atexit.register(_close_server)
            util.Finalize(None, _close_server, exitpriority=10)
            _check_server.registered = True
        _SERVER = server
    return _SERVER


def _recheck_process(
    task: GradingTask, scratch: Path, job_file: Path, runners: int, preload: str, timeout: float
) -> tuple[dict[int, dict], str | None]:
    """The recheck in a new process of its own (grading without the sandbox)."""
    command = [sys.executable, "-m", "ethicskit.course.recheck", str(job_file), str(runners), preload]
    workdir = scratch / "recheck"
    workdir.mkdir(exist_ok=True)
    env = _check_env(isolate=False)
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=workdir,
            env=env,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as stopped:  # the cells that finished keep their verdicts
        return last_verdicts(stopped.stdout) or {}, "the recheck ran out of time"
    verdicts = last_verdicts(done.stdout)
    if verdicts is not None and done.returncode == 0:
        return verdicts, None
    last = (done.stderr.strip().splitlines() or [""])[-1][:300]
    log.warning("the recheck process failed (exit %s): %s", done.returncode, last)
    return verdicts or {}, f"the recheck process failed (exit {done.returncode})"


def _judge_one(cell, index: int, run: KernelRun, verdicts: dict[int, dict] | None, problem: str | None):
    """The verdict of one test cell; rewrites its outputs so that they show the reason."""
    grade_id, points = cell.metadata["nbgrader"]["grade_id"], _points(cell)
    if index not in run.executed:
        reason = "not run: " + (run.stopped or "the notebook stopped before this cell")
        if not any(o.get("ename") in ENGINE_ERRORS for o in cell.get("outputs", [])):
            cell.outputs = [error_output("NotRun", reason)]
        return CellVerdict(grade_id, 0.0, points, reason)
    score, reason = cell_score(cell)
    if verdicts is None or (score <= 0 and index not in run.decided):
        return CellVerdict(grade_id, score, points, reason)
    verdict = verdicts.get(index)
    printed = _printed((verdict or {}).get("printed", ""))
    if verdict is None or not verdict["passed"]:
        message = (verdict or {}).get("message") or problem or "the test could not be rechecked"
        cell.outputs = printed + [error_output("RecheckFailed", message)]
        return CellVerdict(grade_id, 0.0, points, f"failed the fresh recheck: {message}")
    value = verdict["value"]
    recheck_score = points if value is None else max(0.0, min(float(value), points))
    if index in run.decided:  # the checks ran only in the recheck: it decides
        if recheck_score >= points:
            cell.outputs = printed
            return CellVerdict(grade_id, points, points, "")
        cell.outputs = printed + [_score_output(recheck_score, cell)]
        return CellVerdict(grade_id, recheck_score, points, f"{recheck_score:g} of {points:g} points")
    if recheck_score < score:
        score, reason = recheck_score, f"{recheck_score:g} of {points:g} points in the fresh recheck"
        cell.outputs = printed + [_score_output(recheck_score, cell)]
    return CellVerdict(grade_id, score, points, reason)


def _printed(text: str) -> list[NotebookNode]:
    """What the checks printed in the recheck (which part lost points), as a cell output."""
    return [nbformat.v4.new_output("stream", name="stdout", text=text)] if text.strip() else []


def _score_output(score: float, cell) -> NotebookNode:
    """A cell's result showing ``score`` (nbgrader reads a number as partial credit)."""
    return nbformat.v4.new_output(
        "execute_result", data={"text/plain": repr(score)}, execution_count=cell.get("execution_count")
    )


def judge_cells(
    run: KernelRun, verdicts: dict[int, dict] | None, problem: str | None = None
) -> tuple[list[CellVerdict], list[str]]:
    """The judge phase: one verdict per test cell of ``run.notebook``, failing closed.

    Parameters
    ----------
    run : KernelRun
        The executed notebook and which cells ran to completion.
    verdicts : dict or None
        The recheck's verdicts by cell index; None when rechecking is off.
    problem : str, optional
        Why the recheck gave no verdicts, if it failed.

    Returns
    -------
    (list of CellVerdict, list of str)
        The verdicts, and events where the recheck lowered a kernel score.
    """
    judged, events = [], []
    for index, cell in enumerate(run.notebook.cells):
        if not is_test_cell(cell):
            continue
        before = cell_score(cell)[0] if index in run.executed else 0.0
        verdict = _judge_one(cell, index, run, verdicts, problem)
        if verdict.score < before:
            events.append(
                f"cell {index}: {before:g} points in the notebook, {verdict.score:g} after the recheck"
            )
        judged.append(verdict)
    return judged, events


def _prepare(notebook_path: Path, task: GradingTask) -> Path:
    """Scratch space: ``rt`` (kernel runtime, snapshots) and ``work`` (the student's files, lab data)."""
    scratch = Path(tempfile.mkdtemp(prefix="sub-", dir=task.scratch_root or None))
    (scratch / "rt").mkdir()
    workdir = scratch / "work"
    shutil.copytree(notebook_path.parent, workdir, ignore=shutil.ignore_patterns("*.ipynb", ".ethicskit-*"))
    if task.data_dir:  # the lab's own data files, as nbgrader's autograde copies them
        shutil.copytree(
            task.data_dir,
            workdir,
            ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"),
            dirs_exist_ok=True,
        )
    for folder in (scratch, scratch / "rt", workdir):
        folder.chmod(0o777)
    return scratch


def _read(notebook_path: Path, task: GradingTask):
    notebook = nbformat.read(notebook_path, as_version=4)
    if task.db_url:
        notebook = sanitize(
            notebook, db_url=task.db_url, lab=task.lab, student=task.student, notebook_id=notebook_path.stem
        )
    return notebook


def _grade(task: GradingTask, start: float) -> GradingOutcome:
    notebook_path = Path(task.notebook)
    try:
        notebook = _read(notebook_path, task)
    except Exception as error:  # noqa: BLE001 - not a notebook, or nbgrader's checks refuse it
        detail = str(error).strip().splitlines()[-1][:200] if str(error).strip() else ""
        return GradingOutcome(
            status="rejected",
            reason=f"nbgrader rejected the notebook ({type(error).__name__}: {detail})",
            total_seconds=round(time.monotonic() - start, 3),
        )
    scratch = _prepare(notebook_path, task)
    try:
        _start_check_server(notebook, task, scratch)
        run = _run_kernel(notebook, task, scratch=scratch, start=start)
        seconds = time.monotonic() - start
        verdicts, problem = _recheck(run, task, scratch=scratch) if task.recheck else (None, None)
        judged, lowered = judge_cells(run, verdicts, problem)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    notebook_path.chmod(0o644)
    nbformat.write(run.notebook, notebook_path)
    return GradingOutcome(
        status="stopped" if run.stopped else "complete",
        reason=run.stopped or "",
        events=tuple(run.events + lowered),
        verdicts=tuple(judged),
        written=True,
        seconds=round(seconds, 3),
        recheck_seconds=round(time.monotonic() - start - seconds, 3),
        check_seconds=round(sum(v.get("seconds", 0.0) for v in (verdicts or {}).values()), 3),
        total_seconds=round(time.monotonic() - start, 3),
        limits_mode=run.limits_mode,
    )


def execute_submission(task: GradingTask) -> GradingOutcome:
    """Execute, recheck and judge the notebook ``task.notebook``; write the executed version back.

    Parameters
    ----------
    task : GradingTask
        The notebook, its sandbox, limits and the paths to hide.

    Returns
    -------
    GradingOutcome
        Status, reason, events, timings and one verdict per test cell. Any failure of the engine
        itself gives status 'error' and no verdicts, so no cell scores (fail closed).
    """
    start = time.monotonic()
    try:
        return _grade(task, start)
    except Exception as error:  # noqa: BLE001 - whatever went wrong, nothing unjudged may score
        return crashed_outcome(f"grading failed ({type(error).__name__}: {str(error)[:200]})")
