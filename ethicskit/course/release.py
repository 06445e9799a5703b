"""``ethicskit course release``: generate the student versions in ``labs/`` from ``solutions/``.

nbgrader's ``generate_assignment`` does the work; it runs against a throw-away gradebook and release
folder, so releasing never leaves gradebook state behind, and the result is copied into ``labs/``.
``release`` never overwrites a student's work: a self-learner may have answered a lab in ``labs/``
of the same checkout. A solution cell whose source no longer matches the checksum nbgrader stored
when it released the cell (the rule nbgrader itself uses to tell an answered cell from a stub) is
work; ``release`` refuses to overwrite it, and ``release --force`` moves it to ``labs-backup/``
first and says where. ``ethicskit course work LAB`` copies a lab into ``work/``, which no kit
command writes, so that learners need not work in ``labs/`` at all.

``release --check`` regenerates into a temporary folder and compares with the committed ``labs/``
*semantically*: cell types, sources, outputs and nbgrader metadata count; volatile notebook metadata
(kernel versions, cell ids, execution counts) does not.
"""

from __future__ import annotations

import filecmp
import json
import logging
import shutil
import tempfile
from pathlib import Path

import nbformat

from ethicskit.course._config import lab_ids, load_course_config

__all__ = [
    "StudentWorkError",
    "generate_lab",
    "release",
    "check_release",
    "notebook_differences",
    "register_lab",
    "gradebook_content",
    "edited_cells",
    "copy_for_work",
]

BACKUP_FOLDER = "labs-backup"
WORK_FOLDER = "work"


class StudentWorkError(RuntimeError):
    """Raised instead of overwriting a notebook that holds a student's answers."""


log = logging.getLogger("ethicskit.course")


def _generate(root: Path, lab: str, *, release_dir: Path, db_url: str) -> None:
    """Run nbgrader's GenerateAssignment for ``lab`` into ``release_dir`` with gradebook ``db_url``."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    config = load_course_config(root)
    config.CourseDirectory.release_directory = str(release_dir)
    config.CourseDirectory.db_url = db_url
    config.CourseDirectory.assignment_id = lab
    config.KitOnlyRelease.allowed = (
        True  # nbgrader's own Generate is refused on this course; the kit's is not
    )
    coursedir = CourseDirectory(config=config)
    converter = GenerateAssignment(coursedir=coursedir, config=config)
    converter.force = True
    converter.log.setLevel(logging.WARNING)
    converter.start()


def generate_lab(root: Path, lab: str, dest: Path) -> Path:
    """Generate the student version of ``lab`` into ``dest/<lab>`` without touching the gradebook.

    Returns
    -------
    Path
        The generated lab folder.
    """
    root = Path(root)
    if lab not in lab_ids(root):
        raise ValueError(f"lab {lab!r} not found in {root / 'solutions'}; labs there: {lab_ids(root)}")
    with tempfile.TemporaryDirectory(prefix="ethicskit-release-") as scratch:
        scratch = Path(scratch)
        _generate(root, lab, release_dir=scratch / "labs", db_url=f"sqlite:///{scratch / 'gradebook.db'}")
        target = Path(dest) / lab
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(scratch / "labs" / lab, target)
    for path in target.rglob("*"):
        if path.is_file():
            path.chmod(0o644)
    return target


def gradebook_content(db_url: str, lab: str) -> dict | None:
    """What a gradebook holds for ``lab``: its notebooks' cells, without database ids; None if absent.

    Two registrations of the same source give equal contents, whichever database they went to.
    """
    from nbgrader.api import Gradebook, MissingEntry

    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///") :]).exists():
        return None  # opening it would create an empty file, which nbgrader then wants to upgrade
    with Gradebook(db_url) as gb:
        try:
            assignment = gb.find_assignment(lab)
        except MissingEntry:
            return None
        return {
            notebook.name: {
                kind: sorted(json.dumps({**cell.to_dict(), "id": None}, sort_keys=True) for cell in cells)
                for kind, cells in (
                    ("grade", notebook.grade_cells),
                    ("solution", notebook.solution_cells),
                    ("task", notebook.task_cells),
                    ("source", notebook.source_cells),
                )
            }
            for notebook in assignment.notebooks
        }


def register_lab(root: Path, lab: str, *, db_url: str | None = None, release_dir: Path | None = None) -> bool:
    """Record ``lab`` (cells, points, source of test cells) in the course gradebook for grading.

    The released notebooks go to ``release_dir/<lab>`` (default: a temporary folder), never ``labs/``.
    A gradebook that already holds the lab is written only when it holds something else: the lab is
    generated against a private gradebook first and the two are compared. That matters with a shared
    server gradebook: nbgrader re-registers a notebook by deleting and re-creating its cells, which
    would pull them from under another instructor who is grading the same lab at that moment.

    Returns
    -------
    bool
        True when the course gradebook was written, False when it already held this lab.
    """
    root = Path(root)
    url = db_url or load_course_config(root).CourseDirectory.db_url
    with tempfile.TemporaryDirectory(prefix="ethicskit-register-") as scratch:
        out = Path(release_dir) if release_dir is not None else Path(scratch) / "released"
        held = gradebook_content(url, lab)
        if held is None:  # never held: no grader's cells to pull away, one generation
            _generate(root, lab, release_dir=out, db_url=url)
            return True
        private = f"sqlite:///{Path(scratch) / 'gradebook.db'}"
        _generate(root, lab, release_dir=out, db_url=private)
        if held == gradebook_content(private, lab):
            return False
        _generate(root, lab, release_dir=Path(scratch) / "again", db_url=url)
        return True


def edited_cells(notebook_path: Path) -> list[str]:
    """Grade ids of the solution cells of a released notebook that hold someone's answer.

    A released solution cell carries the checksum of its stub; a cell whose source changed no longer
    matches it. Unreadable notebooks count as edited (whatever they hold, it is not ours to delete).
    """
    from nbgrader.utils import compute_checksum, is_solution

    try:
        notebook = nbformat.read(notebook_path, as_version=4)
    except Exception:  # noqa: BLE001 - not a notebook we wrote
        return ["(unreadable notebook)"]
    edited = []
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if is_solution(cell) and meta.get("checksum") and compute_checksum(cell) != meta["checksum"]:
            edited.append(meta.get("grade_id", "?"))
    return edited


def _work_in(folder: Path) -> dict[str, list[str]]:
    return {p.name: found for p in sorted(folder.glob("*.ipynb")) if (found := edited_cells(p))}


def _back_up(root: Path, lab: str) -> Path:
    import time

    target = root / BACKUP_FOLDER / f"{lab}-{time.strftime('%Y%m%d-%H%M%S')}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(root / "labs" / lab), str(target))
    return target


def release(root: Path, labs: list[str] | None = None, *, force: bool = False) -> list[str]:
    """Regenerate ``labs/<lab>`` for every lab (or those named); return the lab ids released.

    Raises
    ------
    StudentWorkError
        When ``labs/<lab>`` holds answered cells and ``force`` is False. With ``force``, the lab's
        folder is moved to ``labs-backup/<lab>-<time>/`` first (and logged), never deleted.
    """
    root = Path(root)
    chosen = list(labs) if labs else lab_ids(root)
    answered = {lab: work for lab in chosen if (work := _work_in(root / "labs" / lab))}
    if answered and not force:
        where = "; ".join(
            f"labs/{lab}/{nb}: {', '.join(ids)}" for lab, w in answered.items() for nb, ids in w.items()
        )
        raise StudentWorkError(
            f"labs/ holds a student's answers ({where}). Nothing was changed. Keep working on a copy "
            "(`ethicskit course work LAB` copies a lab into work/, which no kit command writes), or run "
            f"`ethicskit course release --force` to move the answered labs to {BACKUP_FOLDER}/ and "
            "regenerate."
        )
    for lab in chosen:
        if lab in answered:
            log.warning("moved the answered lab %s to %s", lab, _back_up(root, lab))
        generate_lab(root, lab, root / "labs")
        log.info("released %s", lab)
    return chosen


def copy_for_work(root: Path, lab: str, dest: Path | None = None) -> Path:
    """Copy the released ``labs/<lab>`` into ``work/<lab>`` (a folder no kit command writes).

    Raises
    ------
    FileExistsError
        When the target exists: it may hold answers, so it is never overwritten.
    """
    root = Path(root)
    source = root / "labs" / lab
    if not source.is_dir():
        raise ValueError(f"lab {lab!r} not found in {root / 'labs'}; labs there: {lab_ids(root)}")
    target = Path(dest) if dest else root / WORK_FOLDER / lab
    if target.exists():
        raise FileExistsError(
            f"{target} exists (it may hold your answers); open it, or choose another folder"
        )
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return target


def _semantic_cells(path: Path) -> list[tuple]:
    notebook = nbformat.read(path, as_version=4)
    cells = []
    for cell in notebook.cells:
        outputs = []
        for output in cell.get("outputs", []):
            outputs.append({k: v for k, v in output.items() if k != "execution_count"})
        cells.append(
            (
                cell.cell_type,
                cell.source.rstrip(),
                repr(outputs),
                repr(sorted(cell.metadata.get("nbgrader", {}).items())),
            )
        )
    return cells


def notebook_differences(expected: Path, found: Path) -> list[str]:
    """Describe how notebook ``found`` differs from ``expected``, ignoring volatile metadata."""
    want, have = _semantic_cells(expected), _semantic_cells(found)
    problems = []
    if len(want) != len(have):
        problems.append(f"{len(have)} cells where {len(want)} are generated")
    for index, (a, b) in enumerate(zip(want, have, strict=False)):
        for part, x, y in zip(("cell type", "source", "outputs", "nbgrader metadata"), a, b, strict=False):
            if x != y:
                problems.append(f"cell {index}: {part} differs")
    return problems


def _folder_differences(expected: Path, found: Path) -> list[str]:
    if not found.is_dir():
        return ["missing from labs/"]
    want = {p.relative_to(expected) for p in expected.rglob("*") if p.is_file()}
    have = {
        p.relative_to(found) for p in found.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts
    }
    problems = [f"{p} is missing" for p in sorted(want - have)]
    problems += [f"{p} should not be there" for p in sorted(have - want)]
    for rel in sorted(want & have):
        if rel.suffix == ".ipynb":
            problems += [f"{rel}: {d}" for d in notebook_differences(expected / rel, found / rel)]
        elif not filecmp.cmp(expected / rel, found / rel, shallow=False):
            problems.append(f"{rel} differs")
    return problems


def check_release(root: Path, labs: list[str] | None = None) -> dict[str, list[str]]:
    """Compare the committed ``labs/`` with what ``solutions/`` generate.

    Returns
    -------
    dict
        Lab id -> list of differences, only for labs that differ (empty dict: all up to date). A lab
        folder in ``labs/`` with no source in ``solutions/`` is reported too.
    """
    root = Path(root)
    chosen = list(labs) if labs else lab_ids(root)
    stale: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="ethicskit-check-") as scratch:
        for lab in chosen:
            generated = generate_lab(root, lab, Path(scratch))
            problems = _folder_differences(generated, root / "labs" / lab)
            if problems:
                stale[lab] = problems
    if not labs and (root / "labs").is_dir():
        for folder in sorted((root / "labs").iterdir()):
            if folder.is_dir() and folder.name not in chosen:
                stale[folder.name] = ["in labs/ but has no source in solutions/"]
    return stale
