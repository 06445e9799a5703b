"""Per-student HTML feedback without leaks, for ``ethicskit course feedback`` and nbgrader's own button.

Per graded part: its title (the lab's own heading above it), the points, and the plain-words message
of the check (the ``CheckFailed`` text, "not answered", or "your code raised ValueError: ..."), plus
the grader's comment. Never a test cell's source (so never hidden tests or their seeds), never a
traceback (so nothing from inside ethicskit or the harness), never a reference solution: only the
error *message* and the cell's printed output are read, with ANSI codes and paths stripped and
everything HTML-escaped. Points graded by hand and not graded yet are shown as pending, not as zero.

The same page comes out of both paths: :func:`write_feedback` (``ethicskit course feedback``) and
nbgrader's ``generate_feedback`` (formgrader's "Generate Feedback" button), which the course's
``nbgrader_config.py`` points at :class:`KitFeedbackExporter`.
"""

from __future__ import annotations

import html
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbconvert.exporters import Exporter
from traitlets import default

from ethicskit.course._config import course_settings
from ethicskit.course.grade import GRADING_RECORD

__all__ = [
    "FeedbackRow",
    "KitFeedbackExporter",
    "cell_messages",
    "feedback_rows",
    "part_titles",
    "render_feedback",
    "write_feedback",
]

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PATHS = re.compile(r"(/[\w.\-]+){2,}")
UNDEFINED = re.compile(r"name '(\w+)' is not defined")
#: errors whose message is already plain words (the engine's own, the checks')
PLAIN_ERRORS = {"RecheckFailed", "NotRun", "KernelDied", "KernelStopped", "CheckFailed", "AssertionError"}


@dataclass(frozen=True)
class FeedbackRow:
    """One graded part on the feedback page; ``score`` None means graded by hand, not yet graded."""

    title: str
    score: float | None
    max_score: float
    message: str
    comment: str = ""


def _plain(text: str, limit: int = 600) -> str:
    text = ANSI.sub("", text or "").strip()
    text = PATHS.sub("<path>", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error_message(name: str, value: str) -> str:
    if name in PLAIN_ERRORS:
        return value
    if name == "CellTimeoutError":
        return "this cell ran past the time limit"
    if name == "NotImplementedError" or "NotImplementedError" in value:
        return "not answered (the answer cell still raises NotImplementedError)"
    missing = UNDEFINED.search(value) if name in ("NameError", "RecheckFailed") else None
    if missing:
        return (
            f"not answered: `{missing.group(1)}` is not defined (answer the part that defines it and run it)"
        )
    return f"your code raised {name}: {value}" if value else f"your code raised {name}"


def cell_messages(notebook) -> dict[str, str]:
    """``{grade_id: plain message}`` for every graded cell of an autograded notebook."""
    messages = {}
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade"):
            continue
        parts = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                parts.append(_error_message(output.get("ename", ""), _plain(output.get("evalue", ""))))
            elif output.get("output_type") == "stream" and output.get("name") == "stdout":
                parts.append(_plain(output.get("text", "")))
        if meta.get("solution"):
            parts = ["graded by hand" if cell.cell_type == "markdown" else "graded by hand (free answer)"]
        messages[meta["grade_id"]] = "\n".join(p for p in parts if p) or "passed"
    return messages


def part_titles(notebook) -> dict[str, str]:
    """``{grade_id: title}``: the nearest markdown heading above each graded cell (else its id)."""
    titles, heading = {}, ""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            lines = [line for line in cell.source.splitlines() if line.lstrip().startswith("#")]
            if lines:
                heading = re.sub(r"[*_`]", "", lines[-1].lstrip("#").strip())
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            kind = "written answer" if meta.get("solution") else "tests"
            titles[meta["grade_id"]] = f"{heading} ({kind})" if heading else meta["grade_id"]
    return titles


def feedback_rows(notebook, grades: dict[str, tuple[float | None, float, str]]) -> list[FeedbackRow]:
    """The rows of one notebook's page.

    Parameters
    ----------
    notebook : NotebookNode
        The autograded notebook.
    grades : dict
        ``grade_id -> (score, max_score, comment)``; score None while a part waits for hand grading.
    """
    messages, titles = cell_messages(notebook), part_titles(notebook)
    rows = []
    for grade_id, message in messages.items():
        if grade_id not in grades:
            continue
        score, maximum, comment = grades[grade_id]
        if score is None:
            message = "graded by hand: not graded yet"
        rows.append(
            FeedbackRow(titles[grade_id], score, float(maximum), message, _plain(comment or "", 2000))
        )
    return rows


def render_feedback(
    *, student: str, lab: str, rows: list[FeedbackRow], total: float, max_total: float, note: str = ""
) -> str:
    """The HTML page for one student; pending points are counted apart from the score."""
    esc = html.escape
    body = "".join(
        f"<tr><td>{esc(row.title)}</td>"
        f"<td>{'pending' if row.score is None else f'{row.score:g}'} / {row.max_score:g}</td>"
        f"<td><pre>{esc(row.message)}</pre>"
        + (f"<p class='comment'>Grader's comment: {esc(row.comment)}</p>" if row.comment else "")
        + "</td></tr>"
        for row in rows
    )
    pending = sum(row.max_score for row in rows if row.score is None)
    pending_html = f" ({pending:g} points graded by hand, not graded yet)" if pending else ""
    note_html = f"<p class='note'>{esc(note)}</p>" if note else ""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{esc(lab)}: feedback for {esc(student)}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "td,th{border-bottom:1px solid #ccc;padding:.4em;vertical-align:top;text-align:left}"
        "pre{white-space:pre-wrap;margin:0}.note{color:#a40}.comment{color:#046;margin:.3em 0 0}</style>"
        f"</head><body><h1>{esc(lab)}</h1><p>Student: {esc(student)}. "
        f"Score: <b>{total:g} / {max_total - pending:g}</b>{esc(pending_html)}</p>"
        f"{note_html}<table><tr><th>part</th><th>points</th><th>feedback</th></tr>{body}</table></body></html>"
    )


def _grading_note(folder: Path) -> str:
    record = folder / GRADING_RECORD
    if not record.exists():
        return ""
    info = json.loads(record.read_text())
    if info.get("status") in (None, "complete"):
        return ""
    return f"Grading note: {_plain(info.get('reason', ''))}. Questions after that point score zero."


def _gradebook_grades(gb, notebook_id: str, lab: str, student: str) -> dict:
    notebook = gb.find_submission_notebook(notebook_id, lab, student)
    comments = {c.name: c.comment for c in notebook.comments}
    return {
        g.name: (
            None if g.needs_manual_grade else float(g.score or 0),
            float(g.max_score),
            comments.get(g.name),
        )
        for g in notebook.grades
    }


def write_feedback(
    root: Path, *, lab: str, out: Path | None = None, students: list[str] | None = None
) -> list[Path]:
    """Write ``<out>/<student>/<lab>/<lab>.html`` for every graded student; return the paths.

    ``out`` defaults to the course's ``feedback/`` folder.
    """
    from nbgrader.api import Gradebook, MissingEntry

    settings = course_settings(root)
    root, autograded, db_url = settings.root, settings.autograded, settings.db_url
    out = Path(out) if out else root / "feedback"
    written = []
    folders = sorted(p for p in autograded.glob(f"*/{lab}") if p.is_dir())
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore")
        for folder in folders:
            student = folder.parent.name
            if students and student not in students:
                continue
            try:
                submission = gb.find_submission(lab, student)
            except MissingEntry:
                continue
            rows = []
            for nb_file in sorted(folder.glob("*.ipynb")):
                notebook = nbformat.read(nb_file, as_version=4)
                rows += feedback_rows(notebook, _gradebook_grades(gb, nb_file.stem, lab, student))
            page = render_feedback(
                student=student,
                lab=lab,
                rows=rows,
                total=float(submission.score or 0),
                max_total=float(submission.max_score or 0),
                note=_grading_note(folder),
            )
            target = out / student / lab / f"{lab}.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(page)
            written.append(target)
    return written


class KitFeedbackExporter(Exporter):
    """nbgrader's feedback exporter, replaced: the kit's page instead of the notebook as HTML.

    ``nbgrader generate_feedback`` (and formgrader's button) run ``GetGrades`` first, which puts each
    graded cell's score and the grader's comment into its metadata; this exporter turns that into
    the same page as :func:`write_feedback`, so no test source, seed or traceback is ever rendered.
    """

    output_mimetype = "text/html"

    @default("file_extension")
    def _file_extension_default(self):
        return ".html"

    def from_notebook_node(self, nb, resources=None, **kw):
        nb, resources = super().from_notebook_node(nb, resources, **kw)
        info = resources.get("nbgrader", {})
        grades = {}
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade"):
                score = meta.get("score")
                pending = score is None and meta.get("solution")
                grades[meta["grade_id"]] = (
                    None if pending else float(score or 0),
                    float(meta.get("points", 0)),
                    meta.get("comment"),
                )
        rows = feedback_rows(nb, grades)
        folder = Path(resources.get("metadata", {}).get("path", "."))
        page = render_feedback(
            student=str(info.get("student", "")),
            lab=str(info.get("assignment", "")),
            rows=rows,
            total=float(info.get("score", 0) or 0),
            max_total=float(info.get("max_score", 0) or 0),
            note=_grading_note(folder),
        )
        return page, resources
