"""Every lesson runs top to bottom headless, offline, and is committed without outputs.

Executed with the inline plotting backend, as a reader's Jupyter does, so a test sees what a reader sees:
every cell tagged ``figure`` must show a figure, and every figure must come from a tagged cell (a plot
that breaks, or draws nothing, fails). A lesson whose metadata holds ``ethicskit.max_run_minutes`` states
that time in its header ("up to N minutes") and must run within it, scaled by how overloaded the cores
were (the headers promise the time "with some other work on them, longer on a heavily loaded machine";
this suite runs two tests at once). The idle times are measured by ``benchmarks/bench_course.py``.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.conftest import REPO_ROOT
from tests.notebook_runner import execute_notebook, figure_count

LESSONS = sorted((REPO_ROOT / "lessons").glob("*.ipynb"))
ALL_NOTEBOOKS = sorted(
    p
    for folder in ("lessons", "solutions", "labs")
    for p in (REPO_ROOT / folder).rglob("*.ipynb")
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


def _stated_minutes(notebook) -> float | None:
    return notebook.metadata.get("ethicskit", {}).get("max_run_minutes")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_lesson_header_states_its_run_time(lesson):
    """The header's "up to N minutes" is the number the run-time test holds the lesson to."""
    import nbformat

    notebook = nbformat.read(lesson, as_version=4)
    minutes = _stated_minutes(notebook)
    if minutes is None:
        pytest.skip(f"{lesson.name} has no ethicskit.max_run_minutes in its metadata yet")
    header = " ".join(notebook.cells[0].source.split())  # line breaks do not matter
    stated = f"up to {minutes:g} minute"
    assert stated in header, f"{lesson.name}: the header should say '{stated}s' (metadata max_run_minutes)"


@pytest.mark.notebook
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_lesson_runs_top_to_bottom(lesson):
    load_before, start = os.getloadavg()[0], time.perf_counter()
    executed = execute_notebook(lesson, timeout=600)
    elapsed = time.perf_counter() - start
    overload = max(1.0, max(load_before, os.getloadavg()[0]) / (os.cpu_count() or 1))
    errors = [
        c for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors, f"{lesson.name} produced error outputs"
    print(f"{lesson.name}: {elapsed:.1f} s")

    code = [(i, c) for i, c in enumerate(executed.cells) if c.cell_type == "code"]
    promised = [i for i, c in code if "figure" in c.metadata.get("tags", [])]
    missing = [i for i in promised if figure_count(executed.cells[i]) == 0]
    assert not missing, f"{lesson.name}: cells {missing} promise a figure (tag 'figure') but show none"
    untagged = [i for i, c in code if figure_count(c) and i not in promised]
    assert not untagged, f"{lesson.name}: cells {untagged} draw a figure; tag them 'figure' so it is checked"

    minutes = _stated_minutes(executed)
    if minutes is not None:
        assert elapsed <= minutes * 60 * overload, (
            f"{lesson.name} took {elapsed:.0f} s; its header promises up to {minutes:g} minutes "
            f"(allowed {minutes * 60 * overload:.0f} s at {overload:.1f}x more work than cores)"
        )


#: Lessons whose header states the study time that ``ethicskit.course_time`` computes. Add a lesson's file
#: name here once its header says "about N minutes to read and do the exercises (computed by
#: `ethicskit.course_time` ...)".
STUDY_TIME_CHECKED = {
    "00-welcome.ipynb",
    "01-fairness.ipynb",
    "02-transparency.ipynb",
    "03-accountability.ipynb",
    "04-privacy.ipynb",
    "05-ethics-sft.ipynb",
    "06-stage-attribution.ipynb",
}
#: How far the stated minutes may drift from the computed ones before the header must be updated.
STUDY_TIME_TOLERANCE = 0.25


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_lesson_header_states_the_computed_study_time(lesson):
    """The header's "about N minutes to read and do the exercises" is computed, not guessed."""
    import re

    import nbformat

    from ethicskit.course_time import study_time

    if lesson.name not in STUDY_TIME_CHECKED:
        pytest.skip(f"{lesson.name}: add it to STUDY_TIME_CHECKED once its header states the computed time")
    notebook = nbformat.read(lesson, as_version=4)
    header = " ".join(notebook.cells[0].source.split())
    found = re.search(
        r"about (\d+) minutes to read and do the exercises \(computed by `ethicskit.course_time`", header
    )
    assert found, (
        f"{lesson.name}: the header should say 'about N minutes to read and do the exercises "
        "(computed by `ethicskit.course_time` ...)'"
    )
    stated, computed = int(found.group(1)), study_time(notebook)
    assert abs(stated - computed.minutes) <= STUDY_TIME_TOLERANCE * computed.minutes, (
        f"{lesson.name}: the header says {stated} minutes; ethicskit.course_time computes "
        f"{computed.describe()}. Update the header."
    )
