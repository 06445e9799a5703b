"""Repairing tampered nbgrader metadata so nbgrader grades the honest work."""

from __future__ import annotations

import nbformat

from ethicskit.course.sanitize import released_metadata, repair_notebook


def _meta(grade_id, *, grade=False, solution=False, points=0):
    return {
        "nbgrader": {
            "grade": grade,
            "solution": solution,
            "locked": not solution,
            "points": points,
            "grade_id": grade_id,
            "schema_version": 3,
            "task": False,
        }
    }


def test_repair_restores_metadata_drops_duplicates_and_unknown_ids(tmp_path):
    released = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = 1", metadata=_meta("answer", solution=True)),
            nbformat.v4.new_code_cell("assert x == 1", metadata=_meta("test", grade=True, points=2)),
        ]
    )
    nbformat.write(released, tmp_path / "released.ipynb")
    spec = released_metadata(tmp_path / "released.ipynb")
    tampered = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = 1", metadata=_meta("answer", solution=True)),
            nbformat.v4.new_code_cell("assert x == 1", metadata=_meta("test", grade=True, points=2)),
            nbformat.v4.new_code_cell("pass", metadata=_meta("test", grade=False, points=99)),
            nbformat.v4.new_code_cell("pass", metadata=_meta("bonus", grade=True, points=50)),
        ]
    )
    path = tmp_path / "student.ipynb"
    nbformat.write(tampered, path)
    changes = repair_notebook(path, spec)
    repaired = nbformat.read(path, as_version=4)
    metas = [c.metadata.get("nbgrader") for c in repaired.cells]
    assert metas[1] is None  # the earlier copy of a duplicated id loses its metadata
    assert metas[2]["points"] == 2 and metas[2]["grade"] is True  # the last copy gets the released metadata
    assert metas[3] is None  # an id that is not in the lab is ignored
    assert len(changes) == 3
    assert repair_notebook(path, spec) == []  # idempotent
