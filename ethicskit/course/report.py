"""``ethicskit course report``: the gradebook as CSV and a per-question summary with a plot.

Points graded by hand and not graded yet are *pending*, not zeros: ``grades.csv`` marks them
(``needs_manual_grade``), ``totals.csv`` counts them apart (``pending``), and the per-question
summary, its plot and "hardest question" leave them out until an instructor grades them.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from ethicskit.course._config import load_course_config

__all__ = [
    "gradebook_frame",
    "question_summary",
    "plot_questions",
    "write_report",
    "lab_totals",
    "lms_rows",
    "write_lms_export",
]


def gradebook_frame(db_url: str, labs: list[str] | None = None) -> pd.DataFrame:
    """One row per student, lab and question: ``student, lab, question, score, max_score``."""
    from nbgrader.api import Gradebook

    rows = []
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore")
        for assignment in gb.assignments:
            if labs and assignment.name not in labs:
                continue
            for submission in assignment.submissions:
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        rows.append(
                            {
                                "student": submission.student.id,
                                "lab": assignment.name,
                                "question": grade.name,
                                "score": float(grade.score or 0.0),
                                "max_score": float(grade.max_score or 0.0),
                                "needs_manual_grade": bool(grade.needs_manual_grade),
                            }
                        )
    return pd.DataFrame(
        rows, columns=["student", "lab", "question", "score", "max_score", "needs_manual_grade"]
    )


def question_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per lab and question: mean share of points, share with full marks and with zero, students."""
    if frame.empty:
        return pd.DataFrame(
            columns=[
                "lab",
                "question",
                "students",
                "max_score",
                "mean_score",
                "mean_share",
                "full_marks",
                "zero",
            ]
        )
    frame = frame[~frame["needs_manual_grade"].astype(bool)]  # pending: not a score yet
    data = frame.assign(share=frame["score"] / frame["max_score"].where(frame["max_score"] > 0))
    grouped = data.groupby(["lab", "question"], sort=False)
    summary = grouped.agg(
        students=("student", "nunique"),
        max_score=("max_score", "max"),
        mean_score=("score", "mean"),
        mean_share=("share", "mean"),
        full_marks=("share", lambda s: float((s >= 1 - 1e-9).mean())),
        zero=("share", lambda s: float((s <= 1e-9).mean())),
    ).reset_index()
    return summary.round(3)


def plot_questions(summary: pd.DataFrame, lab: str):
    """Bar chart of the mean share of points per question of ``lab``; returns the Figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    part = summary[summary["lab"] == lab]
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(part) + 2), 3.5))
    x = np.arange(len(part))
    ax.bar(x - 0.2, part["mean_share"], width=0.4, color="#4477aa", label="mean share of points")
    ax.bar(x + 0.2, part["zero"], width=0.4, color="#cc6677", label="share of students scoring zero")
    ax.set_xticks(x, part["question"], rotation=45, ha="right")
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("share")
    ax.set_title(f"{lab}: points per question")
    ax.legend(loc="upper right", fontsize="small", ncol=2)
    fig.tight_layout()
    return fig


def write_report(root: Path, *, out: Path, labs: list[str] | None = None) -> list[Path]:
    """Write ``grades.csv``, ``totals.csv``, ``questions.csv``, one PNG per lab and ``summary.md``."""
    import matplotlib.pyplot as plt

    root = Path(root)
    out = Path(out) if Path(out).is_absolute() else root / out
    out.mkdir(parents=True, exist_ok=True)
    frame = gradebook_frame(load_course_config(root).CourseDirectory.db_url, labs)
    written = [out / "grades.csv", out / "totals.csv", out / "questions.csv"]
    frame.to_csv(written[0], index=False)
    pending = frame["max_score"].where(frame["needs_manual_grade"].astype(bool), 0.0)
    totals = (
        frame.assign(pending=pending)
        .groupby(["lab", "student"], as_index=False)[["score", "max_score", "pending"]]
        .sum()
    )
    totals.to_csv(written[1], index=False)
    summary = question_summary(frame)
    summary.to_csv(written[2], index=False)
    lines = ["# Grade summary", ""]
    for lab in summary["lab"].unique():
        fig = plot_questions(summary, lab)
        png = out / f"{lab}-questions.png"
        fig.savefig(png, dpi=100)
        plt.close(fig)
        written.append(png)
        part = summary[summary["lab"] == lab].sort_values("mean_share")
        hardest = part.iloc[0]
        waiting = frame[(frame["lab"] == lab) & frame["needs_manual_grade"].astype(bool)]
        lines += [
            f"## {lab}",
            "",
            f"Hardest question: **{hardest['question']}** "
            f"(mean {hardest['mean_share']:.0%} of its points, {hardest['zero']:.0%} scored zero).",
            "",
        ]
        if len(waiting):
            lines += [
                f"Pending hand grading: {len(waiting)} answer(s) in {waiting['question'].nunique()} "
                f"question(s) ({', '.join(sorted(waiting['question'].unique()))}); left out of this table.",
                "",
            ]
        lines += [
            "| question | students | max | mean | full marks | zero |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.question} | {r.students} | {r.max_score:g} | {r.mean_score:.2f} | {r.full_marks:.0%} | "
            f"{r.zero:.0%} |"
            for r in part.itertuples()
        ]
        lines += ["", f"![{lab}]({png.name})", ""]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    written.append(out / "summary.md")
    return written


# ---------------------------------------------------------------------------------------------------------
# LMS export: `ethicskit course report --format canvas|moodle|csv`
# ---------------------------------------------------------------------------------------------------------

LMS_FORMATS = ("canvas", "moodle", "csv")
#: Canvas's gradebook CSV: these identity columns first, then one column per assignment, then (second row)
#: "Points Possible" (Canvas's own export writes that cell with four leading spaces; its import accepts it).
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS_ROW = "    Points Possible"
#: Moodle's "Import grades from CSV": one column that identifies the user (mapped to "Email address",
#: "ID number" or "Username" on the import page), then one column per grade item; a "(feedback)" column
#: per item can be mapped to that item's feedback.
MOODLE_IDENTITY = ("First name", "Last name", "ID number", "Email address")


def lab_totals(db_url: str, labs: list[str] | None = None) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per student and lab: points, points possible, pending (hand-graded, not graded yet) and status.

    Every student of the gradebook gets a row for every lab: ``status`` is ``graded``, ``pending``
    (some hand-graded points are not graded yet; ``score`` then counts only what is graded) or
    ``missing`` (no submission). Returns the frame and ``{lab: points possible}``.
    """
    from nbgrader.api import Gradebook

    rows, possible = [], {}
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore")
        students = {s.id: s for s in gb.students}
        for assignment in sorted(gb.assignments, key=lambda a: (a.duedate is None, a.duedate, a.name)):
            if labs and assignment.name not in labs:
                continue
            possible[assignment.name] = float(assignment.max_score or 0.0)
            done = {}
            for submission in assignment.submissions:
                score = pending = 0.0
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        if grade.needs_manual_grade:
                            pending += float(grade.max_score or 0.0)
                        else:
                            score += float(grade.score or 0.0)
                done[submission.student.id] = (score, pending)
            for sid, student in sorted(students.items()):
                score, pending = done.get(sid, (None, 0.0))
                status = "missing" if score is None else ("pending" if pending > 0 else "graded")
                rows.append(
                    {
                        "student": sid,
                        "first_name": student.first_name or "",
                        "last_name": student.last_name or "",
                        "email": student.email or "",
                        "lms_user_id": student.lms_user_id or "",
                        "lab": assignment.name,
                        "score": score,
                        "max_score": possible[assignment.name],
                        "pending": pending,
                        "status": status,
                    }
                )
    columns = [
        "student",
        "first_name",
        "last_name",
        "email",
        "lms_user_id",
        "lab",
        "score",
        "max_score",
        "pending",
        "status",
    ]
    return pd.DataFrame(rows, columns=columns), possible


def _points(value) -> str:
    return "" if value is None or pd.isna(value) else f"{float(value):g}"


def lms_rows(
    frame: pd.DataFrame,
    possible: dict[str, float],
    fmt: str,
    *,
    pending: str = "blank",
    canvas_ids: dict[str, str] | None = None,
) -> list[list[str]]:
    """The rows (header first) of the ``fmt`` gradebook file for :func:`lab_totals`'s frame.

    ``pending="blank"`` leaves a lab with hand-graded points not graded yet empty in the canvas and moodle
    files (both LMSs then leave that grade as it is, "not graded", instead of showing a too-low grade);
    ``"partial"`` writes the points graded so far. The csv file always has both, plus a status column.
    ``canvas_ids`` maps a lab to its Canvas assignment id (the header is then ``lab (id)``, which Canvas
    matches to the existing assignment; without an id Canvas creates an assignment of that name).
    """
    if fmt not in LMS_FORMATS:
        raise ValueError(f"format must be one of {LMS_FORMATS}, not {fmt!r}")
    if pending not in ("blank", "partial"):
        raise ValueError(f"pending must be 'blank' or 'partial', not {pending!r}")
    labs = list(possible)
    people = frame.drop_duplicates("student").set_index("student")
    by = {(r.student, r.lab): r for r in frame.itertuples()}

    def cell(sid, lab):
        r = by.get((sid, lab))
        if r is None or r.status == "missing" or (r.status == "pending" and pending == "blank"):
            return ""
        return _points(r.score)

    rows: list[list[str]] = []
    if fmt == "canvas":
        canvas_ids = canvas_ids or {}
        rows.append(
            [*CANVAS_IDENTITY, *[f"{lab} ({canvas_ids[lab]})" if lab in canvas_ids else lab for lab in labs]]
        )
        rows.append([CANVAS_POINTS_ROW, "", "", "", "", *[_points(possible[lab]) for lab in labs]])
        for sid, p in people.iterrows():
            name = f"{p.last_name}, {p.first_name}" if p.last_name and p.first_name else sid
            rows.append([name, p.lms_user_id, sid, p.email or sid, "", *[cell(sid, lab) for lab in labs]])
    elif fmt == "moodle":
        rows.append([*MOODLE_IDENTITY, *[h for lab in labs for h in (lab, f"{lab} (feedback)")]])
        for sid, p in people.iterrows():
            out = [p.first_name, p.last_name, sid, p.email]
            for lab in labs:
                r = by.get((sid, lab))
                note = ""
                if r is not None and r.status == "pending":
                    note = (
                        f"pending: {r.pending:g} of {r.max_score:g} points graded by hand, not graded yet"
                        f" ({r.score:g} points graded so far)"
                    )
                elif r is not None and r.status == "missing":
                    note = "no submission"
                out += [cell(sid, lab), note]
            rows.append(out)
    else:
        rows.append(
            [
                "student",
                "email",
                "lms_user_id",
                *[h for lab in labs for h in (lab, f"{lab} pending", f"{lab} status")],
            ]
        )
        rows.append(
            ["points possible", "", "", *[h for lab in labs for h in (_points(possible[lab]), "", "")]]
        )
        for sid, p in people.iterrows():
            out = [sid, p.email, p.lms_user_id]
            for lab in labs:
                r = by[(sid, lab)]
                out += [_points(r.score), _points(r.pending), r.status]
            rows.append(out)
    return rows


def write_lms_export(
    root: Path,
    fmt: str,
    *,
    out: Path,
    labs: list[str] | None = None,
    pending: str = "blank",
    canvas_ids: dict[str, str] | None = None,
) -> tuple[Path, pd.DataFrame]:
    """Write ``out/<fmt>-grades.csv`` for an LMS import; return its path and :func:`lab_totals`'s frame."""
    import csv

    root = Path(root)
    out = Path(out) if Path(out).is_absolute() else root / out
    out.mkdir(parents=True, exist_ok=True)
    frame, possible = lab_totals(load_course_config(root).CourseDirectory.db_url, labs)
    path = out / f"{fmt}-grades.csv"
    # utf-8 with a BOM: Excel and both LMSs read it; names with accents survive
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        csv.writer(handle).writerows(lms_rows(frame, possible, fmt, pending=pending, canvas_ids=canvas_ids))
    return path, frame
