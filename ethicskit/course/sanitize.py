"""Before a submission runs: repair tampered nbgrader metadata, then nbgrader's own sanitizing.

:func:`sanitize` runs nbgrader's sanitizing preprocessors (in the grading workers, reading the gradebook
only); :func:`repair_notebook` runs first, in the grader.

nbgrader rejects a whole submission when a student changed a graded cell's metadata ("Inconsistent
checksums") and, when a grade id occurs twice, blanks the earlier copies to ``{}`` which then fails
its own schema check ("old version of the nbgrader metadata format"). Either way the student scores
nothing for honest work. This step makes the grade right instead: every cell whose ``grade_id`` is
one of the lab's gets the released metadata back (points, grade/solution/locked flags, checksum);
for a grade id that occurs more than once only the last copy keeps it (as nbgrader's
DeduplicateIds does); unknown grade ids lose their nbgrader metadata. Cells the student deleted are
put back by nbgrader's OverwriteCells afterwards, and score zero.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import nbformat

__all__ = ["released_metadata", "repair_notebook", "sanitize"]


def released_metadata(released: Path) -> dict[str, dict]:
    """``{grade_id: nbgrader metadata}`` of every nbgrader cell of the released notebook."""
    notebook = nbformat.read(released, as_version=4)
    spec = {}
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta and meta.get("grade_id"):
            spec[meta["grade_id"]] = {"cell_type": cell.cell_type, "nbgrader": copy.deepcopy(dict(meta))}
    return spec


def repair_notebook(path: Path, spec: dict[str, dict]) -> list[str]:
    """Restore the released nbgrader metadata in the notebook at ``path``; return what was changed."""
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # noqa: BLE001 - not a notebook: nbgrader reports it
        return [f"unreadable notebook ({type(error).__name__})"]
    changes = []
    last_index = {}
    for index, cell in enumerate(notebook.cells):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id:
            last_index[grade_id] = index
    for index, cell in enumerate(notebook.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            continue
        grade_id = meta.get("grade_id")
        if grade_id not in spec or last_index.get(grade_id) != index:
            del cell.metadata["nbgrader"]
            changes.append(
                f"cell {index}: {'duplicate' if grade_id in spec else 'unknown'} "
                f"grade id {grade_id!r} ignored"
            )
            continue
        wanted = spec[grade_id]
        restored = copy.deepcopy(wanted["nbgrader"])
        if dict(meta) != restored or cell.cell_type != wanted["cell_type"]:
            changes.append(f"cell {index}: metadata of {grade_id!r} restored")
        cell.metadata["nbgrader"] = restored
        if cell.cell_type != wanted["cell_type"]:
            source = cell.source
            cell.clear()
            fresh = (
                nbformat.v4.new_code_cell if wanted["cell_type"] == "code" else nbformat.v4.new_markdown_cell
            )(source, metadata={"nbgrader": restored})
            notebook.cells[index] = fresh
    if changes:
        nbformat.write(notebook, path)
    return changes


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
