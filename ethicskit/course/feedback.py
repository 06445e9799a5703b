"""``ethicskit course feedback``: per-student HTML feedback without leaks.

Per graded cell: its name, the points, and the plain-words message of the check (the
``CheckFailed`` text, or "your code raised NameError: ..."). Never the test cell's source (so never
hidden tests), never a traceback (so nothing from inside ethicskit or the harness), never a
reference solution: only the error *message* and the cell's printed output are read, with ANSI
codes stripped and everything HTML-escaped.
"""

from __future__ import annotations

import html
import json
import re
import warnings
from pathlib import Path

import nbformat

from ethicskit.course._config import load_course_config
from ethicskit.course.grade import GRADING_RECORD, _autograded_root

__all__ = ["cell_messages", "render_feedback", "write_feedback"]

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PATHS = re.compile(r"(/[\w.\-]+){2,}")
FRIENDLY = {
    "RecheckFailed": "",
    "NotRun": "",
    "KernelDied": "",
    "KernelStopped": "",
    "CheckFailed": "",
    "AssertionError": "",
    "CellTimeoutError": "this cell ran past the time limit",
}


def _plain(text: str, limit: int = 600) -> str:
    text = ANSI.sub("", text or "").strip()
    text = PATHS.sub("<path>", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
                name, value = output.get("ename", ""), _plain(output.get("evalue", ""))
                if name in FRIENDLY:
                    parts.append(FRIENDLY[name] or value)
                else:
                    parts.append(f"your code raised {name}: {value}" if value else f"your code raised {name}")
            elif output.get("output_type") == "stream" and output.get("name") == "stdout":
                parts.append(_plain(output.get("text", "")))
        if meta.get("solution"):
            parts = ["graded by hand" if cell.cell_type == "markdown" else "graded by hand (free answer)"]
        messages[meta["grade_id"]] = "\n".join(p for p in parts if p) or "passed"
    return messages


def render_feedback(
    *,
    student: str,
    lab: str,
    rows: list[tuple[str, float | None, float, str]],
    total: float,
    max_total: float,
    note: str = "",
) -> str:
    """The HTML page for one student."""
    esc = html.escape
    body = "".join(
        f"<tr><td>{esc(name)}</td><td>{'-' if score is None else f'{score:g}'} / {maximum:g}</td>"
        f"<td><pre>{esc(message)}</pre></td></tr>"
        for name, score, maximum, message in rows
    )
    note_html = f"<p class='note'>{esc(note)}</p>" if note else ""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{esc(lab)}: feedback for {esc(student)}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "td,th{border-bottom:1px solid #ccc;"
        "padding:.4em;vertical-align:top;text-align:left}pre{white-space:pre-wrap;margin:0}.note{color:#a40}</style>"
        f"</head><body><h1>{esc(lab)}</h1><p>Student: {esc(student)}. "
        f"Score: <b>{total:g} / {max_total:g}</b></p>"
        f"{note_html}<table><tr><th>question</th><th>points</th><th>feedback</th></tr>{body}</table></body></html>"
    )


def write_feedback(
    root: Path, *, lab: str, out: Path | None = None, students: list[str] | None = None
) -> list[Path]:
    """Write ``<out>/<student>/<lab>/<lab>.html`` for every graded student; return the paths.

    ``out`` defaults to the course's ``feedback/`` folder.
    """
    from nbgrader.api import Gradebook, MissingEntry

    root = Path(root)
    autograded = _autograded_root(root)
    out = Path(out) if out else root / "feedback"
    db_url = load_course_config(root).CourseDirectory.db_url
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
                messages = cell_messages(nbformat.read(nb_file, as_version=4))
                notebook = gb.find_submission_notebook(nb_file.stem, lab, student)
                grades = {g.name: g for g in notebook.grades}
                for name, message in messages.items():
                    g = grades.get(name)
                    if g is None:
                        continue
                    rows.append((name, g.score, float(g.max_score), message))
            record = folder / GRADING_RECORD
            note = ""
            if record.exists():
                info = json.loads(record.read_text())
                if info.get("status") not in (None, "complete"):
                    reason = _plain(info.get("reason", ""))
                    note = f"Grading note: {reason}. Questions after that point score zero."
            page = render_feedback(
                student=student,
                lab=lab,
                rows=rows,
                total=float(submission.score or 0),
                max_total=float(submission.max_score or 0),
                note=note,
            )
            target = out / student / lab / f"{lab}.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(page)
            written.append(target)
    return written
