"""The kernel run of one submission: nbgrader's Execute with the kit's guards.

Imported lazily by :mod:`ethicskit.course.execute` (nbgrader's preprocessors are slow to import).
The guards: a notebook-wide deadline, a snapshot of the test's variables before each test cell (the
recheck judges those; the kernel runs only the cell's imports, see ``execute._run_kernel``), a dead or
unresponsive kernel recorded as the reason the run stopped, and an output flood dropped before it
fills the grader's memory.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from nbgrader.preprocessors import Execute

from ethicskit.course.execute import MAX_OUTPUT_BYTES, error_output, is_test_cell
from ethicskit.course.recheck import variables_used

__all__ = ["GuardedExecute", "make_executor"]


class GuardedExecute(Execute):
    """nbgrader's Execute with a notebook deadline, snapshots before test cells and crash capture."""

    def __init__(self, *, deadline: float, snapshot_dir: Path | None, full_sources: dict[int, str], **kwargs):
        super().__init__(**kwargs)
        self.deadline = deadline
        self.snapshot_dir = snapshot_dir
        self.full_sources = full_sources
        self.stopped: str | None = None
        self.events: list[str] = []
        self.snapshots: dict[int, str] = {}
        self.executed: set[int] = set()
        self.output_bytes: dict[int, int] = {}
        self.flooded: set[int] = set()

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type != "code":
            return cell
        if self.stopped is None and time.monotonic() >= self.deadline:
            self.stopped = "notebook time limit reached"
        if self.stopped is not None:
            return cell
        if self.snapshot_dir is not None and is_test_cell(cell):
            await self._snapshot(cell, cell_index)
        try:
            await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            self._stop(cell, cell_index, "KernelDied", "the kernel died")
            return cell
        except Exception as error:  # noqa: BLE001 - an unresponsive kernel, a timeout without interrupt
            self._stop(
                cell,
                cell_index,
                "KernelStopped",
                f"the kernel stopped responding ({type(error).__name__})",
            )
            return cell
        self.executed.add(cell_index)
        if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
            self.events.append(f"cell {cell_index} stopped at the time limit")
        return cell

    def _stop(self, cell, cell_index, ename: str, reason: str) -> None:
        self.stopped = reason
        cell.outputs.append(error_output(ename, "the notebook stopped here: " + reason))
        self.nb.cells[cell_index] = cell  # nbclient left whatever ran last at this index

    async def _snapshot(self, cell, cell_index):
        # the variables the whole test uses, hidden blocks included (they run only in the recheck)
        names = variables_used(self.full_sources.get(cell_index, cell.source))
        path = self.snapshot_dir / f"snapshot-{cell_index}.pkl"
        code = f"__import__('ethicskit.course._snapshot', fromlist=['save']).save({names!r}, {str(path)!r})"
        probe = nbformat.v4.new_code_cell(code)
        try:
            await super().async_execute_cell(probe, cell_index, None, False)
        except Exception:  # noqa: BLE001 - the recheck then reports a missing snapshot
            return
        finally:
            self.nb.cells[cell_index] = cell  # nbclient stores the probe at the test cell's index
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


def make_executor(
    *,
    manager_class: type,
    cell_timeout: float,
    deadline: float,
    snapshot_dir: Path | None,
    full_sources: dict[int, str] | None = None,
) -> GuardedExecute:
    """A :class:`GuardedExecute` whose cells stop at ``cell_timeout`` and the notebook at ``deadline``."""
    executor = GuardedExecute(
        kernel_manager_class=manager_class,
        deadline=deadline,
        snapshot_dir=snapshot_dir,
        full_sources=full_sources or {},
    )
    executor.timeout_func = lambda cell: max(1, int(min(cell_timeout, deadline - time.monotonic() + 1)))
    executor.timeout = int(cell_timeout)
    executor.startup_timeout = 120
    executor.iopub_timeout = 10
    executor.raise_on_iopub_timeout = False
    # every output is in hand when the last cell ends: kill the kernel rather than wait for it to exit
    executor.shutdown_kernel = "immediate"
    return executor
