"""How long a lesson takes a student: a documented, computed estimate instead of a guess.

Each lesson header states "about N minutes to read and do the exercises". N comes from
:func:`study_minutes`, which counts what the student has to get through and prices each part:

* **prose** (markdown cells): words / :data:`WORDS_PER_MINUTE`. Adults read English non-fiction silently at
  about 238 words a minute on average (Brysbaert 2019, "How many words do we read per minute? A review and
  meta-analysis of reading rate", *Journal of Memory and Language* 109, 104047); technical text with
  formulas, tables and references is slower, so the estimate uses 200.
* **code** (code cells that are not exercises): non-blank lines / :data:`CODE_LINES_PER_MINUTE`. Reading a
  line of code, running its cell and looking at what it prints takes longer than a line of prose; 10 lines a
  minute (6 s a line) is this kit's assumption, not a published rate.
* **figures** (code cells tagged ``figure``): :data:`FIGURE_MINUTES` each to look at the picture (the text
  that comments it is counted as prose).
* **exercises** (code cells with a self-check, ``# qN.check(...)`` left for the student to uncomment):
  :data:`EXERCISE_MINUTES` for one answered by a value or a choice, :data:`CODE_EXERCISE_MINUTES` for one
  whose value the student computes with a few lines of code (its instructions say "your code" or
  "yourself"), :data:`WRITING_EXERCISE_MINUTES` for one in which the student writes a function or a text
  (the cell defines a function, or its instructions say "write"). These are this kit's assumptions too: a
  first try, a hint, a second try.

The result is rounded to the nearest 5 minutes. It estimates a student who reads everything once and
does every exercise; it leaves out running time (stated separately in each header, and measured by
``tests/test_lessons.py``) and the time to read any paper the lesson cites. Usage::

    python -m ethicskit.course_time lessons/*.ipynb
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "WORDS_PER_MINUTE",
    "CODE_LINES_PER_MINUTE",
    "FIGURE_MINUTES",
    "EXERCISE_MINUTES",
    "CODE_EXERCISE_MINUTES",
    "WRITING_EXERCISE_MINUTES",
    "StudyTime",
    "study_time",
    "study_minutes",
]

#: Reading rate of technical prose (Brysbaert 2019 measured 238 for non-fiction; technical text is slower).
WORDS_PER_MINUTE = 200
#: Lines of example code read (and run) per minute: an assumption of this kit.
CODE_LINES_PER_MINUTE = 10
#: Minutes to look at one figure.
FIGURE_MINUTES = 1
#: Minutes for an exercise answered by a value or a choice ...
EXERCISE_MINUTES = 3
#: ... for one whose value the student computes with a few lines of code ...
CODE_EXERCISE_MINUTES = 5
#: ... and for one in which the student writes a function or a text.
WRITING_EXERCISE_MINUTES = 8

_CHECK_LINE = re.compile(r"^\s*#\s*\w+\.check\(", re.MULTILINE)
_WRITING = re.compile(r"\bdef \w+\(|\bwrite\b", re.IGNORECASE)
_CODING = re.compile(r"\byourself\b|\byour code\b", re.IGNORECASE)
_WORD = re.compile(
    r"[A-Za-z0-9]"
)  # a token is a word when it holds a letter or a digit ("|" and "---" are not)


@dataclass(frozen=True)
class StudyTime:
    """What a lesson asks of a student, and the minutes it is priced at."""

    words: int
    code_lines: int
    figures: int
    exercises: int
    code_exercises: int
    writing_exercises: int

    @property
    def minutes(self) -> float:
        """Unrounded minutes: prose + code + figures + exercises."""
        return (
            self.words / WORDS_PER_MINUTE
            + self.code_lines / CODE_LINES_PER_MINUTE
            + self.figures * FIGURE_MINUTES
            + (self.exercises - self.code_exercises - self.writing_exercises) * EXERCISE_MINUTES
            + self.code_exercises * CODE_EXERCISE_MINUTES
            + self.writing_exercises * WRITING_EXERCISE_MINUTES
        )

    @property
    def rounded(self) -> int:
        """Minutes rounded to the nearest 5 (at least 5)."""
        return max(5, int(5 * round(self.minutes / 5)))

    def describe(self) -> str:
        """One line: the counts and the result, as a header can quote them."""
        return (
            f"{self.words:,} words of text at {WORDS_PER_MINUTE} a minute, "
            f"{self.code_lines} lines of code at {CODE_LINES_PER_MINUTE} a minute, "
            f"{self.figures} figure(s) at {FIGURE_MINUTES} minute, "
            f"{self.exercises} exercises ({self.writing_exercises} writing a function or text at "
            f"{WRITING_EXERCISE_MINUTES} minutes, {self.code_exercises} computing a value in code at "
            f"{CODE_EXERCISE_MINUTES}, "
            f"{self.exercises - self.code_exercises - self.writing_exercises} answered "
            f"by a value or a choice at {EXERCISE_MINUTES}): "
            f"{self.minutes:.0f} minutes, about {self.rounded}"
        )


def _is_exercise(cell: Any) -> bool:
    return cell["cell_type"] == "code" and bool(_CHECK_LINE.search(cell["source"]))


def study_time(notebook: Any) -> StudyTime:
    """Count a notebook's prose words, code lines, figures and exercises.

    ``notebook`` is a path to an ``.ipynb`` file or a notebook already read with ``nbformat``.
    """
    if isinstance(notebook, (str, Path)):
        import nbformat

        notebook = nbformat.read(str(notebook), as_version=4)
    words = code_lines = figures = exercises = coding = writing = 0
    for cell in notebook["cells"]:
        source = cell["source"]
        if cell["cell_type"] == "markdown":
            words += sum(1 for token in source.split() if _WORD.search(token))
        elif _is_exercise(cell):
            exercises += 1
            if _WRITING.search(source):
                writing += 1
            elif _CODING.search(source):
                coding += 1
        elif cell["cell_type"] == "code":
            code_lines += sum(1 for line in source.splitlines() if line.strip())
            figures += "figure" in cell.get("metadata", {}).get("tags", [])
    return StudyTime(words, code_lines, figures, exercises, coding, writing)


def study_minutes(notebook: Any) -> int:
    """The estimate a header states: :func:`study_time`'s minutes rounded to the nearest 5."""
    return study_time(notebook).rounded


def main(paths: list[str]) -> None:
    for path in paths:
        print(f"{Path(path).name}: {study_time(path).describe()}")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
