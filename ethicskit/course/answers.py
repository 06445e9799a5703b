"""``ethicskit course answers``: help for hand grading - similar answers grouped, near-copies flagged.

For each hand-graded cell of a lab (an nbgrader cell that is both a solution and graded), the answers
of every student are collected from the submissions and

* **grouped** by meaning: sentence embeddings from the bundled all-MiniLM-L6-v2 (offline), average-
  linkage clustering on cosine distance. Each group shows its representative answer (the medoid), so
  an instructor can read one answer and grade the group in formgrader with the same rubric line;
* **flagged** when two answers are near-identical: for prose, word 3-gram shingles (Jaccard) on
  normalised text; for code, winnowing fingerprints (Schleimer, Wilkerson and Aiken, 2003) of the token
  stream with names and literals normalised, so renaming variables does not hide a copy. A flag is a
  prompt for a person to look, never a verdict.

The result is an HTML page (groups, flagged pairs, a plot of group sizes) and a JSON file; nothing is
written to the gradebook.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "Answer",
    "AnswerGroup",
    "SimilarPair",
    "collect_answers",
    "group_answers",
    "similar_pairs",
    "winnow",
    "write_answer_report",
]

STUB = "YOUR ANSWER HERE"


@dataclass(frozen=True)
class Answer:
    """One student's answer to one hand-graded cell."""

    student: str
    question: str
    text: str
    kind: str  # 'prose' or 'code'


@dataclass
class AnswerGroup:
    """Answers close in meaning; ``representative`` is the member closest to all others."""

    question: str
    representative: str
    students: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SimilarPair:
    """Two students whose answers to one question are near-identical (for a person to review)."""

    question: str
    first: str
    second: str
    similarity: float


def collect_answers(folder: Path, lab: str) -> list[Answer]:
    """Hand-graded answers in ``folder/<student>/<lab>/*.ipynb`` (nbgrader's submitted or autograded layout).

    Unanswered cells (the released stub, or empty) are left out.
    """
    import nbformat

    answers = []
    for notebook_file in sorted(Path(folder).glob(f"*/{lab}/*.ipynb")):
        student = notebook_file.parent.parent.name
        notebook = nbformat.read(notebook_file, as_version=4)
        for cell in notebook.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            text = cell.source.strip()
            if not (meta.get("grade") and meta.get("solution")) or not text or STUB in text:
                continue
            if "raise NotImplementedError()" in text and len(text.splitlines()) <= 2:
                continue
            kind = "code" if cell.cell_type == "code" else "prose"
            answers.append(Answer(student, meta["grade_id"], text, kind))
    return answers


def _default_embed(texts: Sequence[str]) -> np.ndarray:
    from ethicskit.sft.model import embed_texts  # the bundled encoder; imported only when grouping prose

    return embed_texts(list(texts), max_length=256)


def group_answers(
    answers: Sequence[Answer],
    *,
    threshold: float = 0.5,
    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
) -> list[AnswerGroup]:
    """Group the answers of each question by meaning (cosine distance below ``threshold``).

    Parameters
    ----------
    answers : sequence of Answer
        From :func:`collect_answers`.
    threshold : float
        Average-linkage cosine distance at which groups stop merging (0 < threshold < 2).
    embed : callable, optional
        Texts -> embedding matrix (default: the bundled all-MiniLM-L6-v2).

    Returns
    -------
    list of AnswerGroup
        Largest groups first within each question.
    """
    if not 0 < threshold < 2:
        raise ValueError(f"threshold must be between 0 and 2 (a cosine distance), got {threshold!r}")
    embed = embed or _default_embed
    groups: list[AnswerGroup] = []
    for question in sorted({a.question for a in answers}):
        members = [a for a in answers if a.question == question]
        vectors = np.asarray(embed([a.text for a in members]), dtype=float)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
        labels = _cluster(vectors, threshold)
        found = []
        for label in np.unique(labels):
            index = np.flatnonzero(labels == label)
            similarity = vectors[index] @ vectors[index].T
            medoid = index[int(np.argmax(similarity.sum(axis=1)))]
            found.append(
                AnswerGroup(question, members[medoid].text, sorted(members[i].student for i in index))
            )
        groups += sorted(found, key=lambda g: (-len(g.students), g.students))
    return groups


def _cluster(vectors: np.ndarray, threshold: float) -> np.ndarray:
    if len(vectors) == 1:
        return np.zeros(1, dtype=int)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=threshold
    )
    return model.fit_predict(vectors)


def _code_tokens(text: str) -> list[str]:
    """Tokens of Python code with names, numbers and strings normalised (renaming does not hide a copy)."""
    import keyword

    out = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.NAME:
                out.append(token.string if keyword.iskeyword(token.string) else "N")
            elif token.type in (tokenize.NUMBER, tokenize.STRING):
                out.append("L")
            elif token.type == tokenize.OP:
                out.append(token.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        out = re.findall(r"\w+|[^\w\s]", text)
    return out


def _prose_tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def winnow(tokens: Sequence[str], *, k: int = 5, window: int = 4) -> set[int]:
    """Winnowing fingerprints of a token sequence: the minimum k-gram hash in every window.

    Examples
    --------
    >>> winnow(list("abcdefgh"), k=3, window=2) == winnow(list("abcdefgh"), k=3, window=2)
    True
    """
    if k < 1 or window < 1:
        raise ValueError(f"k and window must be positive, got k={k!r}, window={window!r}")
    if not tokens:
        return set()
    grams = [" ".join(tokens[i : i + k]) for i in range(max(1, len(tokens) - k + 1))]
    hashes = [int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "big") for g in grams]
    if len(hashes) <= window:
        return {min(hashes)} if hashes else set()
    return {min(hashes[i : i + window]) for i in range(len(hashes) - window + 1)}


def _fingerprint(answer: Answer) -> set[int]:
    if answer.kind == "code":
        return winnow(_code_tokens(answer.text), k=5, window=4)
    return winnow(_prose_tokens(answer.text), k=3, window=1)


def similar_pairs(answers: Sequence[Answer], *, threshold: float = 0.6) -> list[SimilarPair]:
    """Pairs of students whose answers to a question share at least ``threshold`` of their fingerprints.

    The similarity is the Jaccard index of the two fingerprint sets (1.0: the same text, up to
    renaming in code and to case and punctuation in prose).
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    pairs = []
    for question in sorted({a.question for a in answers}):
        members = [a for a in answers if a.question == question]
        prints = [_fingerprint(a) for a in members]
        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                union = prints[i] | prints[j]
                score = len(prints[i] & prints[j]) / len(union) if union else 0.0
                if score >= threshold:
                    pairs.append(
                        SimilarPair(question, members[i].student, members[j].student, round(score, 3))
                    )
    return sorted(pairs, key=lambda p: (p.question, -p.similarity, p.first, p.second))


def _plot(groups: list[AnswerGroup], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    questions = sorted({g.question for g in groups})
    fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(questions) + 2), 3.2))
    for x, question in enumerate(questions):
        bottom = 0
        for group in [g for g in groups if g.question == question]:
            ax.bar(x, len(group.students), bottom=bottom, color="#4477aa", edgecolor="white")
            bottom += len(group.students)
    ax.set_xticks(range(len(questions)), questions, rotation=20, ha="right")
    ax.set_ylabel("answers (one block per group)")
    ax.set_title("Answers grouped by meaning: grade one block at a time")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_answer_report(
    folder: Path, lab: str, out: Path, *, threshold: float = 0.5, embed: Callable | None = None
) -> list[Path]:
    """Write ``answers.html``, ``answers.json`` and ``answer-groups.png`` for ``lab`` into ``out``."""
    answers = collect_answers(folder, lab)
    if not answers:
        raise ValueError(f"no hand-graded answers of lab {lab!r} under {folder}")
    groups = group_answers([a for a in answers if a.kind == "prose"], threshold=threshold, embed=embed)
    groups += _code_groups([a for a in answers if a.kind == "code"])
    pairs = similar_pairs(answers)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _plot(groups, out / "answer-groups.png")
    (out / "answers.json").write_text(
        json.dumps({"groups": [asdict(g) for g in groups], "similar": [asdict(p) for p in pairs]}, indent=1)
    )
    (out / "answers.html").write_text(_page(lab, groups, pairs))
    return [out / "answers.html", out / "answers.json", out / "answer-groups.png"]


def _code_groups(answers: Sequence[Answer]) -> list[AnswerGroup]:
    """Code answers grouped by identical normalised token streams (same program up to renaming)."""
    groups: dict[tuple, AnswerGroup] = {}
    for answer in answers:
        key = (answer.question, tuple(_code_tokens(answer.text)))
        groups.setdefault(key, AnswerGroup(answer.question, answer.text)).students.append(answer.student)
    return sorted(groups.values(), key=lambda g: (g.question, -len(g.students)))


def _page(lab: str, groups: list[AnswerGroup], pairs: list[SimilarPair]) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{esc(lab)}: hand-graded answers</title><style>body{{font-family:sans-serif;max-width:60em;"
        "margin:2em auto}pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em}.flag{color:#a40}</style>",
        f"</head><body><h1>{esc(lab)}: hand-graded answers</h1>",
        "<p>Groups are answers close in meaning: read the representative, grade the group with one rubric "
        "line in formgrader, and open any member that reads differently. Flags are near-identical answers "
        "for a person to review; they are not a finding of misconduct.</p>",
        "<img src='answer-groups.png' alt='group sizes per question'>",
    ]
    for question in sorted({g.question for g in groups}):
        parts.append(f"<h2>{esc(question)}</h2>")
        for number, group in enumerate([g for g in groups if g.question == question], start=1):
            parts.append(
                f"<h3>group {number}: {len(group.students)} answer(s)</h3>"
                f"<pre>{esc(group.representative)}</pre><p>{esc(', '.join(group.students))}</p>"
            )
        flagged = [p for p in pairs if p.question == question]
        if flagged:
            parts.append("<h3 class='flag'>near-identical answers (review)</h3><ul>")
            parts += [
                f"<li>{esc(p.first)} and {esc(p.second)}: {p.similarity:.0%} shared</li>" for p in flagged
            ]
            parts.append("</ul>")
    parts.append("</body></html>")
    return "".join(parts)
