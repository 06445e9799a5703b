"""The engine's tiny fixture lab (tests/fixtures/demo-lab), shared by the server tests."""

from __future__ import annotations

from tests.conftest import REPO_ROOT

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "demo-lab"
LAB = "demo-lab"
#: what each fixture student earns (of 6)
SCORES = {"correct": 6.0, "partial": 3.0, "empty": 0.0}
#: tight limits: the fixture notebooks run in about a second
LIMITS = dict(cell_timeout=8, notebook_timeout=30, memory_mb=768, max_processes=64)
#: the same limits as `ethicskit course grade` options
LIMIT_ARGS = [arg for name, value in LIMITS.items() for arg in (f"--{name.replace('_', '-')}", str(value))]


def sandbox_available() -> bool:
    """Whether bubblewrap can sandbox here (CI installs it; elsewhere grade unsandboxed)."""
    from ethicskit.course.sandbox import sandbox_problem

    return sandbox_problem() is None
