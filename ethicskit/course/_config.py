"""Load the course's nbgrader configuration (``nbgrader_config.py`` at the course root)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["find_course_root", "load_course_config", "lab_ids"]


def find_course_root(start: str | os.PathLike | None = None) -> Path:
    """Return the nearest folder at or above ``start`` holding ``nbgrader_config.py``.

    Raises
    ------
    FileNotFoundError
        When no such folder exists.
    """
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file():
            return folder
    raise FileNotFoundError(
        f"no nbgrader_config.py found in {here} or above; run the command inside the course folder "
        "or pass --course PATH"
    )


def load_course_config(root: Path):
    """Return the traitlets ``Config`` of ``root/nbgrader_config.py`` (with its local override)."""
    from traitlets.config.loader import PyFileConfigLoader

    loader = PyFileConfigLoader("nbgrader_config.py", path=str(root))
    config = loader.load_config()
    config.CourseDirectory.root = str(root)
    return config


def lab_ids(root: Path) -> list[str]:
    """The lab ids under ``root/solutions`` (folders holding a notebook of the same name)."""
    source = root / "solutions"
    if not source.is_dir():
        return []
    return sorted(p.name for p in source.iterdir() if p.is_dir() and (p / f"{p.name}.ipynb").is_file())
