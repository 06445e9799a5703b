"""Execute one sanitized submission (in the sandbox), snapshot before test cells, recheck after.

:func:`execute_submission` is what each parallel grading worker runs. It never touches the
gradebook: it reads the sanitized notebook, writes the executed one back, and returns a small dict
(status, reason, timings) that the grader records.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from ethicskit.course.recheck import MARKER, variables_used

__all__ = ["execute_submission", "is_test_cell", "sanitize", "MAX_OUTPUT_BYTES"]

MAX_OUTPUT_BYTES = 2 * 10**6


def sanitize(notebook, *, db_url: str, lab: str, student: str, notebook_id: str):
    """nbgrader's sanitizing preprocessors (as in ``Autograde``), reading the gradebook only."""
    import warnings

    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearOutput,
        DeduplicateIds,
        OverwriteCells,
        OverwriteKernelspec,
    )

    resources = {
        "nbgrader": {"student": student, "assignment": lab, "notebook": notebook_id, "db_url": db_url}
    }
    quiet = logging.getLogger("ethicskit.course.nbgrader")
    quiet.setLevel(logging.ERROR)  # nbgrader warns about every restored test cell: expected here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for preprocessor in (
            ClearOutput,
            DeduplicateIds,
            OverwriteKernelspec,
            OverwriteCells,
            CheckCellMetadata,
        ):
            notebook, resources = preprocessor(log=quiet).preprocess(notebook, resources)
    return notebook


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded test cell: a code cell with points that is not a solution cell."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _error_output(ename: str, message: str) -> NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


def _make_executor(*, manager_class, cell_timeout: float, deadline: float, snapshot_dir: Path | None):
    from nbclient.exceptions import DeadKernelError
    from nbclient.util import run_sync
    from nbgrader.preprocessors import Execute

    class GuardedExecute(Execute):
        """nbgrader's Execute with a notebook deadline, snapshots before test cells and crash capture."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.stopped: str | None = None
            self.events: list[str] = []
            self.snapshots: dict[int, str] = {}
            self.executed: set[int] = set()
            self.output_bytes: dict[int, int] = {}
            self.flooded: set[int] = set()

        async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
            if cell.cell_type != "code":
                return cell
            if self.stopped is None and time.monotonic() >= deadline:
                self.stopped = "notebook time limit reached"
            if self.stopped is not None:
                return cell
            if snapshot_dir is not None and is_test_cell(cell):
                await self._snapshot(cell, cell_index)
            try:
                await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            except DeadKernelError:
                self.stopped = "the kernel died"
                cell.outputs.append(_error_output("KernelDied", "the notebook stopped here: " + self.stopped))
                return cell
            except Exception as error:  # noqa: BLE001 - an unresponsive kernel, a timeout without interrupt
                self.stopped = f"the kernel stopped responding ({type(error).__name__})"
                cell.outputs.append(
                    _error_output("KernelStopped", "the notebook stopped here: " + self.stopped)
                )
                return cell
            self.executed.add(cell_index)
            if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
                self.events.append(f"cell {cell_index} stopped at the time limit")
            return cell

        async def _snapshot(self, cell, cell_index):
            names = variables_used(cell.source)
            path = snapshot_dir / f"snapshot-{cell_index}.pkl"
            code = (
                f"__import__('ethicskit.course._snapshot', fromlist=['save']).save({names!r}, {str(path)!r})"
            )
            probe = nbformat.v4.new_code_cell(code)
            try:
                await super().async_execute_cell(probe, cell_index, None, False)
            except Exception:  # noqa: BLE001 - the recheck then reports a missing snapshot
                return
            self.snapshots[cell_index] = str(path)

        execute_cell = run_sync(async_execute_cell)

        def output(self, outs, msg, display_id, cell_index):
            # an output flood (print in an endless loop) must not fill the grader's memory
            if msg.get("msg_type") in ("stream", "display_data", "execute_result", "update_display_data"):
                size = len(str(msg.get("content", "")))
                self.output_bytes[cell_index] = self.output_bytes.get(cell_index, 0) + size
                if self.output_bytes[cell_index] > MAX_OUTPUT_BYTES:
                    if cell_index not in self.flooded:
                        self.flooded.add(cell_index)
                        limit = MAX_OUTPUT_BYTES // 10**6
                        self.events.append(f"cell {cell_index}: output beyond {limit} MB dropped")
                    return None
            return super().output(outs, msg, display_id, cell_index)

    def timeout_func(cell):
        return max(1, int(min(cell_timeout, deadline - time.monotonic() + 1)))

    executor = GuardedExecute(kernel_manager_class=manager_class)
    executor.timeout_func = timeout_func
    executor.timeout = int(cell_timeout)
    executor.startup_timeout = 120
    executor.iopub_timeout = 10
    executor.raise_on_iopub_timeout = False
    # every output is in hand when the last cell ends: kill the kernel rather than wait for it to exit
    executor.shutdown_kernel = "immediate"
    return executor


def _manager_class(*, sandbox: bool, runtime: Path, workdir: Path, hidden: list[str], limits):
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


def _recheck(
    notebook,
    snapshots: dict[int, str],
    *,
    scratch: Path,
    sandbox: bool,
    hidden: list[str],
    limits,
    timeout: float,
) -> tuple[dict[int, dict], str | None]:
    """Run the recheck process; return verdicts by cell index and a problem description."""
    from ethicskit.course.sandbox import SandboxPolicy, bwrap_command

    jobs = [
        {"index": i, "source": notebook.cells[i].source, "snapshot": path}
        for i, path in sorted(snapshots.items())
    ]
    if not jobs:
        return {}, None
    job_file = scratch / "rt" / "recheck.json"
    job_file.write_text(json.dumps(jobs))
    command = [sys.executable, "-m", "ethicskit.course.recheck", str(job_file)]
    workdir = scratch / "recheck"
    workdir.mkdir(exist_ok=True)
    if sandbox:
        policy = SandboxPolicy(
            hidden=[Path(h) for h in hidden], memory_mb=limits.memory_mb, max_processes=limits.max_processes
        )
        command = limits.wrap(
            bwrap_command(command, policy=policy, writable=[workdir, scratch / "rt"], cwd=workdir)
        )
    env = dict(os.environ, PYTHONWARNINGS="ignore", TQDM_DISABLE="1", MPLBACKEND="Agg", HF_HUB_OFFLINE="1")
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
    except subprocess.TimeoutExpired:
        return {}, "the recheck ran out of time"
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(MARKER):
            return {v["index"]: v for v in json.loads(line[len(MARKER) :])}, None
    return {}, f"the recheck process failed (exit {done.returncode})"


def _kernel_score(cell) -> float:
    from nbgrader.utils import determine_grade

    score, _ = determine_grade(cell)
    return float(score or 0.0)


def _apply_recheck(
    notebook, verdicts: dict[int, dict], snapshots: dict[int, str], problem: str | None, executed: set[int]
) -> list[str]:
    """Keep the lower verdict of kernel and recheck for every test cell; return what changed."""
    from nbgrader.utils import determine_grade

    changes = []
    for index, cell in enumerate(notebook.cells):
        if not is_test_cell(cell) or index not in executed:
            continue
        kernel_score, max_points = determine_grade(cell)
        if not kernel_score:
            continue  # already zero
        verdict = verdicts.get(index)
        if verdict is None:
            message = problem or "the test could not be rechecked"
            passed, value = False, None
        else:
            passed, value, message = verdict["passed"], verdict["value"], verdict["message"]
        if not passed:
            if kernel_score:
                changes.append(f"cell {index}: passed in the notebook but failed the fresh recheck")
            cell.outputs = [_error_output("RecheckFailed", message or "the fresh recheck failed")]
            continue
        recheck_score = max_points if value is None else max(0.0, min(float(value), max_points))
        if kernel_score is not None and recheck_score < kernel_score:
            changes.append(
                f"cell {index}: {kernel_score:g} points in the notebook, {recheck_score:g} in the recheck"
            )
            cell.outputs = [
                nbformat.v4.new_output(
                    "execute_result",
                    data={"text/plain": repr(recheck_score)},
                    execution_count=cell.get("execution_count"),
                )
            ]
    return changes


def execute_submission(task: dict) -> dict:
    """Execute the sanitized notebook ``task['notebook']`` and write the executed version back.

    Parameters
    ----------
    task : dict
        ``notebook`` (path), ``sandbox`` (bool), ``hidden`` (paths the kernel must not see),
        ``cell_timeout``, ``notebook_timeout`` (seconds), ``memory_mb``, ``max_processes``,
        ``recheck`` (bool), ``scratch_root`` (folder for per-submission scratch space).

    Returns
    -------
    dict
        ``status`` ('complete' or 'stopped'), ``reason``, ``events``, ``seconds``, ``recheck_seconds``.
    """
    from ethicskit.course.sandbox import CgroupLimits

    start = time.monotonic()
    notebook_path = Path(task["notebook"])
    try:
        notebook = nbformat.read(notebook_path, as_version=4)
        if task.get("db_url"):
            notebook = sanitize(
                notebook,
                db_url=task["db_url"],
                lab=task["lab"],
                student=task["student"],
                notebook_id=notebook_path.stem,
            )
    except Exception as error:  # noqa: BLE001 - not a notebook, or nbgrader's checks refuse it
        return {
            "status": "rejected",
            "reason": f"nbgrader rejected the notebook ({type(error).__name__}: "
            f"{str(error).strip().splitlines()[-1][:200] if str(error).strip() else ''})",
            "events": [],
            "total_seconds": round(time.monotonic() - start, 3),
        }
    scratch = Path(tempfile.mkdtemp(prefix="sub-", dir=task.get("scratch_root")))
    runtime, workdir = scratch / "rt", scratch / "work"
    runtime.mkdir()
    shutil.copytree(notebook_path.parent, workdir, ignore=shutil.ignore_patterns("*.ipynb", ".ethicskit-*"))
    if task.get("source_dir"):  # the lab's own data files, as nbgrader's autograde copies them
        shutil.copytree(
            task["source_dir"],
            workdir,
            ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"),
            dirs_exist_ok=True,
        )
    for folder in (scratch, runtime, workdir):
        folder.chmod(0o777)
    limits = CgroupLimits(memory_mb=task.get("memory_mb", 4096), max_processes=task.get("max_processes", 256))
    if task.get("sandbox", True):
        limits.create()
    hidden = list(task.get("hidden", []))
    result = {
        "status": "complete",
        "reason": "",
        "events": [],
        "seconds": 0.0,
        "recheck_seconds": 0.0,
        "limits": limits.mode if task.get("sandbox", True) else "none",
    }
    try:
        manager = _manager_class(
            sandbox=task.get("sandbox", True), runtime=runtime, workdir=workdir, hidden=hidden, limits=limits
        )
        deadline = start + float(task.get("notebook_timeout", 600))
        executor = _make_executor(
            manager_class=manager,
            cell_timeout=float(task.get("cell_timeout", 60)),
            deadline=deadline,
            snapshot_dir=runtime if task.get("recheck", True) else None,
        )
        resources = {"metadata": {"path": str(workdir)}}
        try:
            notebook, _ = executor.preprocess(notebook, resources)
        except Exception as error:  # noqa: BLE001 - the kernel never started, or died while starting
            executor.stopped = (
                executor.stopped or f"the notebook could not run ({type(error).__name__}: {error})"
            )
        if executor.stopped and limits.killed_by_memory():
            executor.stopped += " (memory limit reached)"
        if limits.hit_process_limit():
            executor.events.append("the process limit refused new processes")
        if executor.stopped:
            result["status"], result["reason"] = "stopped", executor.stopped
            for index, cell in enumerate(notebook.cells):
                if is_test_cell(cell) and index not in executor.executed and not cell.get("outputs"):
                    cell.outputs = [_error_output("NotRun", "not run: " + executor.stopped)]
        result["events"] = list(executor.events)
        result["seconds"] = round(time.monotonic() - start, 3)
        limits.remove()
        if task.get("recheck", True):
            recheck_start = time.monotonic()
            # a cell that already scored zero in the kernel cannot go lower: no need to recheck it
            executor.snapshots = {
                i: p for i, p in executor.snapshots.items() if _kernel_score(notebook.cells[i])
            }
            # a fresh cgroup: whatever the notebook left behind cannot starve the recheck
            limits = CgroupLimits(memory_mb=limits.memory_mb, max_processes=limits.max_processes)
            if task.get("sandbox", True):
                limits.create()
            verdicts, problem = _recheck(
                notebook,
                executor.snapshots,
                scratch=scratch,
                sandbox=task.get("sandbox", True),
                hidden=hidden,
                limits=limits,
                timeout=float(task.get("cell_timeout", 60)) * max(1, len(executor.snapshots)) + 30,
            )
            result["events"] += _apply_recheck(
                notebook, verdicts, executor.snapshots, problem, executor.executed
            )
            result["recheck_seconds"] = round(time.monotonic() - recheck_start, 3)
    finally:
        limits.remove()
        shutil.rmtree(scratch, ignore_errors=True)
    if notebook_path.exists():
        notebook_path.chmod(0o644)
    nbformat.write(notebook, notebook_path)
    result["total_seconds"] = round(time.monotonic() - start, 3)
    return result
