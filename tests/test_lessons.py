"""Every lesson runs top to bottom headless, offline, and is committed without outputs."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import REPO_ROOT
from tests.notebook_runner import execute_notebook

LESSONS = sorted((REPO_ROOT / "lessons").glob("*.ipynb"))
ALL_NOTEBOOKS = sorted(
    p for folder in ("lessons", "solutions", "labs") for p in (REPO_ROOT / folder).rglob("*.ipynb")
    if ".ipynb_checkpoints" not in p.parts
)


@pytest.mark.parametrize("notebook", ALL_NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_notebook_committed_without_outputs(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    with_output = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
    ]
    assert not with_output, f"{notebook.name}: cells {with_output} carry outputs; strip them first"


@pytest.mark.notebook
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_lesson_runs_top_to_bottom(lesson):
    start = time.perf_counter()
    executed = execute_notebook(lesson, timeout=600)
    elapsed = time.perf_counter() - start
    errors = [
        c for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors, f"{lesson.name} produced error outputs"
    print(f"{lesson.name}: {elapsed:.1f} s")
