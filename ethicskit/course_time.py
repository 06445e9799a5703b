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
``tests/test_lessons.py``) and the time to read any paper the lesson cites. A lab's working time
(:func:`lab_time`, counted on its solution notebook) prices the reference solution's code lines at
:data:`SOLUTION_LINES_PER_MINUTE` and each written answer at :data:`WRITTEN_ANSWER_MINUTES`,
rounded to the nearest 10 minutes. Usage::

    python -m ethicskit.course_time lessons/*.ipynb solutions/*/*.ipynb
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
    "SOLUTION_LINES_PER_MINUTE",
    "WRITTEN_ANSWER_MINUTES",
    "LabTime",
    "lab_time",
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

#: Lines of the reference solution a student writes, runs and corrects per minute: an assumption of
#: this kit (lab answers are short and guided by the lab's text and visible tests).
SOLUTION_LINES_PER_MINUTE = 1
#: Minutes for an answer written in prose and graded by hand (a paragraph of about 150 words: composition
#: typing alone runs at about 19 words a minute, Karat et al. 1999, CHI; plus planning): an assumption.
WRITTEN_ANSWER_MINUTES = 15

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


def _words(text: str) -> int:
    """Words of prose (a token with a letter or a digit)."""
    return sum(1 for token in text.split() if _WORD.search(token))


def _lines(code: str) -> int:
    """Non-blank lines of code."""
    return sum(1 for line in code.splitlines() if line.strip())


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
            words += _words(source)
        elif _is_exercise(cell):
            exercises += 1
            if _WRITING.search(source):
                writing += 1
            elif _CODING.search(source):
                coding += 1
        elif cell["cell_type"] == "code":
            code_lines += _lines(source)
            figures += "figure" in cell.get("metadata", {}).get("tags", [])
    return StudyTime(words, code_lines, figures, exercises, coding, writing)


def study_minutes(notebook: Any) -> int:
    """The estimate a header states: :func:`study_time`'s minutes rounded to the nearest 5."""
    return study_time(notebook).rounded


@dataclass(frozen=True)
class LabTime:
    """What a lab asks of a student (counted on its solution notebook), and the minutes it is priced at."""

    words: int
    code_lines: int
    solution_lines: int
    written_answers: int

    @property
    def minutes(self) -> float:
        """Unrounded minutes: reading the lab, writing the code answers, composing the written ones."""
        return (
            self.words / WORDS_PER_MINUTE
            + self.code_lines / CODE_LINES_PER_MINUTE
            + self.solution_lines / SOLUTION_LINES_PER_MINUTE
            + self.written_answers * WRITTEN_ANSWER_MINUTES
        )

    @property
    def rounded(self) -> int:
        """Minutes rounded to the nearest 10 (at least 10)."""
        return max(10, int(10 * round(self.minutes / 10)))

    def describe(self) -> str:
        """One line: the counts and the result, as a header can quote them."""
        return (
            f"{self.words:,} words of text at {WORDS_PER_MINUTE} a minute, "
            f"{self.code_lines} lines of given code and tests at {CODE_LINES_PER_MINUTE} a minute, "
            f"{self.solution_lines} lines of reference solution at {SOLUTION_LINES_PER_MINUTE} a minute, "
            f"{self.written_answers} written answer(s) at {WRITTEN_ANSWER_MINUTES} minutes: "
            f"{self.minutes:.0f} minutes, about {self.rounded}"
        )


_SOLUTION_BLOCK = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.DOTALL)


def lab_time(solution: Any) -> LabTime:
    """Count what a lab's *solution* notebook asks a student to read and to write.

    Prose and given code (visible tests included, hidden test blocks not: the student never sees
    them) are read as in a lesson; the reference solution's code (between nbgrader's solution
    markers, or the whole solution cell) is what a student writes; each hand-graded markdown answer
    is one written answer.
    """
    from ethicskit.course.execute import visible_source

    if isinstance(solution, (str, Path)):
        import nbformat

        solution = nbformat.read(str(solution), as_version=4)
    words = code_lines = solution_lines = written = 0
    for cell in solution["cells"]:
        source, meta = cell["source"], cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "markdown":
            written += 1
        elif meta.get("solution"):
            blocks = _SOLUTION_BLOCK.findall(source) or [source]
            solution_lines += sum(_lines(block) for block in blocks)
            code_lines += _lines(_SOLUTION_BLOCK.sub("", source))
        elif cell["cell_type"] == "markdown":
            words += _words(source)
        elif cell["cell_type"] == "code":
            code_lines += _lines(visible_source(source))
    return LabTime(words, code_lines, solution_lines, written)


def main(paths: list[str]) -> None:
    for path in paths:
        counted = lab_time(path) if "solutions" in Path(path).parts else study_time(path)
        print(f"{Path(path).name}: {counted.describe()}")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
