"""Load the course's nbgrader configuration (``nbgrader_config.py`` at the course root)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CourseSettings",
    "course_settings",
    "find_course_root",
    "load_course_config",
    "lab_ids",
    "lab_grading_limits",
    "DEFAULT_LIMITS",
]

#: Sandbox limits for grading a lab whose source notebook sets none (a lab sets its own under the
#: notebook metadata key ``ethicskit.grading``, e.g. lab3 fine-tunes a transformer for minutes).
DEFAULT_LIMITS = {"cell_timeout": 60.0, "notebook_timeout": 600.0, "memory_mb": 4096, "max_processes": 256}


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


def _tools_on_path() -> None:
    """Put this interpreter's ``bin`` folder on PATH: nbgrader runs ``alembic`` from there.

    When the course tools are called as ``.venv/bin/ethicskit`` without activating the environment,
    that folder is not on PATH and every gradebook operation fails. Done when the course configuration
    is first loaded (every gradebook operation starts there), not when the package is imported.
    """
    import sys

    folder = os.path.dirname(sys.executable)
    if folder not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([folder, os.environ.get("PATH", "")])


def _schema_revision_in_process() -> None:
    """Make nbgrader read its gradebook schema's revision once per process, without a subprocess.

    nbgrader's ``Gradebook`` runs the ``alembic heads`` command line for every gradebook it creates:
    2.4 s each on 2 cores, 15 of the 18 s that `release` took (one throw-away gradebook per lab). The
    revision is a constant of the installed nbgrader, so it is read once, in this process, with
    alembic's own API (nbgrader's own way where that API differs).
    """
    import functools

    import nbgrader.api as api

    if getattr(api.get_alembic_version, "in_process", False):
        return
    original = api.get_alembic_version

    @functools.cache
    def revision() -> str:
        try:
            from alembic.config import Config
            from alembic.script import ScriptDirectory
            from nbgrader.dbutil import _temp_alembic_ini

            with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:
                return ScriptDirectory.from_config(Config(ini)).get_current_head()
        except Exception:  # noqa: BLE001 - another alembic or nbgrader: ask the command line, as nbgrader does
            return original()

    revision.in_process = True
    api.get_alembic_version = revision


def load_course_config(root: Path):
    """Return the traitlets ``Config`` of ``root/nbgrader_config.py`` (with its local override)."""
    from traitlets.config.loader import PyFileConfigLoader

    _tools_on_path()
    _schema_revision_in_process()
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


def lab_grading_limits(root: Path, lab: str) -> dict:
    """Grading limits of ``lab``: :data:`DEFAULT_LIMITS` updated with its notebook's own.

    A lab that needs more (a fine-tuning lab) says so in its source notebook's metadata::

        "metadata": {"ethicskit": {"grading": {"cell_timeout": 900, "notebook_timeout": 1800}}}
    """
    import json

    notebook = Path(root) / "solutions" / lab / f"{lab}.ipynb"
    try:
        metadata = json.loads(notebook.read_text()).get("metadata", {})
    except (OSError, ValueError):
        return dict(DEFAULT_LIMITS)
    own = metadata.get("ethicskit", {}).get("grading", {})
    unknown = sorted(set(own) - set(DEFAULT_LIMITS))
    if unknown:
        raise ValueError(f"{notebook}: unknown grading limits {unknown}; known: {sorted(DEFAULT_LIMITS)}")
    return {**DEFAULT_LIMITS, **own}


@dataclass(frozen=True)
class CourseSettings:
    """What the course tools read from ``nbgrader_config.py``, parsed once.

    Parameters
    ----------
    root : Path
        The course root.
    db_url : str
        The gradebook (an SQLAlchemy URL).
    autograded : Path
        nbgrader's autograded folder (absolute).
    """

    root: Path
    db_url: str
    autograded: Path


def course_settings(root: Path) -> CourseSettings:
    """Parse the course configuration of ``root`` into :class:`CourseSettings`."""
    from nbgrader.coursedir import CourseDirectory

    root = Path(root).resolve()
    config = load_course_config(root)
    folder = Path(CourseDirectory(config=config).autograded_directory)
    return CourseSettings(
        root, config.CourseDirectory.db_url, folder if folder.is_absolute() else root / folder
    )
