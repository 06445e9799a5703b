"""What a grading worker receives and what it returns: small, frozen, picklable dataclasses.

A :class:`GradingTask` holds everything one worker (a local process or a remote Dask worker) needs
to grade one notebook: the staged submission, the lab's limits, the paths the sandbox hides. It never
holds ``solutions/`` test code beyond the lab's data folder, nor the gradebook for writing. A
:class:`GradingOutcome` is what comes back; only the instructor's process writes the gradebook.

Fail closed: an outcome carries one :class:`CellVerdict` per autograded test cell, and a test cell
earns points only through a verdict that says it ran to completion in the sandbox and passed the
recheck. An outcome without a verdict for a cell (a crashed worker, a dead kernel, a lost notebook)
gives that cell zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ethicskit.course._config import DEFAULT_LIMITS

__all__ = ["Limits", "GradingTask", "CellVerdict", "GradingOutcome", "crashed_outcome"]


@dataclass(frozen=True)
class Limits:
    """Sandbox limits of one grading run.

    Parameters
    ----------
    cell_timeout, notebook_timeout : float
        Wall-time limits in seconds, per cell and for the whole notebook.
    memory_mb : int
        Memory of the kernel and all its children.
    max_processes : int
        Processes (and threads) the kernel may hold at once.
    """

    cell_timeout: float = DEFAULT_LIMITS["cell_timeout"]
    notebook_timeout: float = DEFAULT_LIMITS["notebook_timeout"]
    memory_mb: int = DEFAULT_LIMITS["memory_mb"]
    max_processes: int = DEFAULT_LIMITS["max_processes"]

    def __post_init__(self):
        for name in ("cell_timeout", "notebook_timeout", "memory_mb", "max_processes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")

    @classmethod
    def from_mapping(cls, values: dict) -> Limits:
        """Limits from a dict such as :data:`~ethicskit.course._config.DEFAULT_LIMITS`."""
        unknown = sorted(set(values) - set(DEFAULT_LIMITS))
        if unknown:
            raise ValueError(f"unknown grading limits {unknown}; known: {sorted(DEFAULT_LIMITS)}")
        return cls(**values)


@dataclass(frozen=True)
class GradingTask:
    """One notebook of one submission to execute and recheck.

    Parameters
    ----------
    student, lab : str
        Who and what.
    notebook : str
        The staged notebook; the executed version is written back to this path.
    db_url : str
        The gradebook, read (never written) to restore the lab's test cells; "" to skip sanitizing.
    data_dir : str
        The lab's folder whose non-notebook files are copied beside the notebook ("" for none).
    hidden : tuple of str
        Paths the sandbox hides from student code.
    limits : Limits
        Time, memory and process limits.
    sandbox, recheck : bool
        Run the kernel in the bubblewrap sandbox; recheck every test cell in a fresh process.
    scratch_root : str
        A folder for per-submission scratch space ("" for the system's temporary folder).
    """

    student: str
    lab: str
    notebook: str
    db_url: str = ""
    data_dir: str = ""
    hidden: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    sandbox: bool = True
    recheck: bool = True
    scratch_root: str = ""

    def with_changes(self, **changes) -> GradingTask:
        """A copy with some fields changed."""
        return replace(self, **changes)


@dataclass(frozen=True)
class CellVerdict:
    """The grade of one autograded test cell, decided by the engine.

    Parameters
    ----------
    grade_id : str
        The test cell's nbgrader id.
    score, max_score : float
        Points earned and available.
    reason : str
        Why the cell scored less than its points ("" when it earned them all).
    """

    grade_id: str
    score: float
    max_score: float
    reason: str = ""


@dataclass(frozen=True)
class GradingOutcome:
    """What a worker returns for one :class:`GradingTask`.

    Parameters
    ----------
    status : str
        'complete' (every cell ran), 'stopped' (a limit or a dead kernel ended the run), 'rejected'
        (not a gradable notebook) or 'error' (the engine failed; nothing scores).
    reason : str
        Why the status is not 'complete'.
    events : tuple of str
        What the grader noticed (cells at the time limit, recheck disagreements, ...).
    verdicts : tuple of CellVerdict
        One per test cell the worker could judge; a test cell without one scores zero.
    written : bool
        Whether the executed notebook was written back to the task's path.
    seconds, recheck_seconds, total_seconds : float
        Time to execute the notebook, to recheck it, and in all.
    check_seconds : float
        Of ``recheck_seconds``, the time the test cells themselves ran (the checks' own work, the
        student's code they call included); the rest is the check process's overhead.
    limits_mode : str
        How limits were enforced ('cgroup-v1', 'cgroup-v2', 'prlimit' or 'none').
    """

    status: str
    reason: str = ""
    events: tuple[str, ...] = ()
    verdicts: tuple[CellVerdict, ...] = ()
    written: bool = False
    seconds: float = 0.0
    recheck_seconds: float = 0.0
    total_seconds: float = 0.0
    limits_mode: str = "none"
    check_seconds: float = 0.0

    def scores(self) -> dict[str, CellVerdict]:
        """The verdicts by grade id."""
        return {v.grade_id: v for v in self.verdicts}


def crashed_outcome(reason: str) -> GradingOutcome:
    """The outcome of a task whose worker failed: nothing was judged, so nothing scores."""
    return GradingOutcome(status="error", reason=reason)
