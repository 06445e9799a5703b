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

__all__ = ["gradebook_frame", "question_summary", "plot_questions", "write_report"]


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
