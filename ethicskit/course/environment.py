"""The environment a lab is graded in, and whether a student's notebook was run in the same one.

Grades are only comparable when everyone's notebook runs with the same libraries. The grader records
:func:`grading_environment` (key package versions and the sha256 of the course's lock file) with each
submission, and warns with :func:`kernel_environment_mismatch` when the notebook a student submits
shows that it was run in a different kernel environment than the course's.

What a submitted notebook can show about the kernel that ran it:

* ``metadata.kernelspec`` - the Jupyter kernel (the course uses ``python3``, the ``.venv``'s);
* ``metadata.language_info.version`` - the Python version of that kernel;
* an ``ethicskit`` environment record: either ``metadata.ethicskit.environment`` or a cell output
  with the MIME type :data:`ethicskit.envcheck.ENVIRONMENT_MIMETYPE`, which
  :func:`ethicskit.envcheck.record_environment` displays (a kernel cannot write notebook metadata, but
  its displayed outputs are saved in the notebook). It holds the Python version, the key package
  versions and the sha256 of the lock the student's environment was checked against.

>>> from ethicskit.course.environment import grading_environment, kernel_environment_mismatch
>>> record = grading_environment()                          # doctest: +SKIP
>>> kernel_environment_mismatch("submitted/ada/lab1/lab1.ipynb")   # doctest: +SKIP
['the notebook ran on Python 3.12.4; the course grades with Python 3.11.7']
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ethicskit.envcheck import ENVIRONMENT_MIMETYPE, canonical_name, environment_fingerprint

__all__ = ["COURSE_KERNEL", "grading_environment", "kernel_environment_mismatch", "notebook_environment"]

# The kernel name the course's notebooks and the grader use (lessons, labs and nbclient runs).
COURSE_KERNEL = "python3"


def grading_environment(packages: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Describe the environment that grades: Python, key package versions and the course lock.

    Parameters
    ----------
    packages : tuple of str, optional
        The packages to record; default :data:`ethicskit.envcheck.COURSE_PACKAGES` (ethicskit, numpy,
        pandas, scikit-learn, fairlearn, shap, lime, torch, transformers, ...).

    Returns
    -------
    dict
        JSON-serialisable, for a submission's grading record:

        ``python``
            The grader's Python version, e.g. ``"3.11.7"``.
        ``platform``
            ``"<system>-<machine>"``, e.g. ``"linux-x86_64"``.
        ``executable``
            The grader's interpreter.
        ``packages``
            Package name -> installed version (``None`` when not installed).
        ``lock``
            The lock file's name (``None`` when there is no lock for this Python and platform).
        ``lock_sha256``
            The hex sha256 of the lock file's bytes, or ``None``.
        ``lock_differences``
            How the grader's own environment differs from the lock (human-readable; empty when it is
            exactly the lock).
    """
    return environment_fingerprint(packages)


def _load(notebook: Any) -> Mapping:
    if isinstance(notebook, (str, os.PathLike)):
        return json.loads(Path(notebook).read_text(encoding="utf-8"))
    if isinstance(notebook, Mapping):
        return notebook
    raise TypeError(f"expected a notebook path or a notebook dict, got {type(notebook).__name__}")


def notebook_environment(notebook: str | os.PathLike | Mapping) -> dict[str, Any] | None:
    """The ``ethicskit`` environment record a notebook carries, or ``None``.

    Parameters
    ----------
    notebook : str, path-like or mapping
        A notebook file, or a notebook already loaded (a dict or an ``nbformat.NotebookNode``).

    Returns
    -------
    dict or None
        ``metadata.ethicskit.environment`` if present, else the last cell output with the MIME type
        :data:`ethicskit.envcheck.ENVIRONMENT_MIMETYPE` (what
        :func:`ethicskit.envcheck.record_environment` displays), else ``None``.
    """
    nb = _load(notebook)
    block = (nb.get("metadata") or {}).get("ethicskit")
    if isinstance(block, Mapping) and isinstance(block.get("environment"), Mapping):
        return dict(block["environment"])
    found = None
    for cell in nb.get("cells") or []:
        outputs = cell.get("outputs") if isinstance(cell, Mapping) else None
        for output in outputs or []:
            data = output.get("data") if isinstance(output, Mapping) else None
            record = data.get(ENVIRONMENT_MIMETYPE) if isinstance(data, Mapping) else None
            if isinstance(record, str):  # some writers store JSON MIME data as text
                try:
                    record = json.loads(record)
                except ValueError:
                    record = None
            if isinstance(record, Mapping):
                found = dict(record)
    return found


def _minor(version: str) -> str:
    return ".".join(str(version).split(".")[:2])


def kernel_environment_mismatch(
    notebook: str | os.PathLike | Mapping, course: Mapping[str, Any] | None = None
) -> list[str]:
    """How the kernel environment a student's notebook shows differs from the course's.

    Only what the notebook records is compared; a notebook that records nothing (never run, or
    metadata stripped) yields no differences. Python is compared by ``X.Y`` (a patch release does not
    change results); packages by exact version.

    Parameters
    ----------
    notebook : str, path-like or mapping
        The submitted notebook (a path, or a loaded notebook dict / ``nbformat.NotebookNode``).
    course : mapping, optional
        The course's environment as :func:`grading_environment` returns it (default: computed now,
        in the grader's own interpreter).

    Returns
    -------
    list of str
        Human-readable differences, e.g. ``"the notebook ran on Python 3.12.4; the course grades with
        Python 3.11.7"``; empty when nothing recorded differs.
    """
    nb = _load(notebook)
    course = grading_environment() if course is None else course
    metadata = nb.get("metadata") or {}
    differences = _kernel_differences(metadata, course)
    record = notebook_environment(nb)
    if record:
        language = metadata.get("language_info")
        python = language.get("version") if isinstance(language, Mapping) else None
        differences += _record_differences(record, course, python)
    return differences


def _kernel_differences(metadata: Mapping[str, Any], course: Mapping[str, Any]) -> list[str]:
    """Kernel name, language and Python version from the notebook's own metadata."""
    differences = []
    kernelspec = metadata.get("kernelspec") or {}
    kernel = kernelspec.get("name") if isinstance(kernelspec, Mapping) else None
    if kernel and kernel != COURSE_KERNEL:
        shown = kernelspec.get("display_name") or kernel
        differences.append(
            f"the notebook ran in the kernel {kernel!r} ({shown}); the course's kernel is {COURSE_KERNEL!r}"
        )
    language = metadata.get("language_info") or {}
    language = language if isinstance(language, Mapping) else {}
    if language.get("name") and language["name"] != "python":
        differences.append(f"the notebook's kernel runs {language['name']!r}, not Python")
    course_python, python = course.get("python"), language.get("version")
    if python and course_python and _minor(python) != _minor(course_python):
        differences.append(
            f"the notebook ran on Python {python}; the course grades with Python {course_python}"
        )
    return differences


def _record_differences(
    record: Mapping[str, Any], course: Mapping[str, Any], python: str | None
) -> list[str]:
    """What the environment check recorded in the notebook (Python, packages, lock) against the course."""
    differences = []
    recorded, course_python = record.get("python"), course.get("python")
    if (
        recorded
        and course_python
        and _minor(recorded) != _minor(course_python)
        and not (python and _minor(python) == _minor(recorded))  # already said by the kernel's metadata
    ):
        differences.append(
            f"the notebook's environment check ran on Python {recorded}; the course grades "
            f"with Python {course_python}"
        )
    differences += _package_differences(record.get("packages") or {}, course.get("packages") or {})
    return differences + _lock_differences(record, course)


def _package_differences(theirs: Mapping[str, str], ours: Mapping[str, str]) -> list[str]:
    """Packages whose recorded version differs from the course's (only packages the course records)."""
    ours = {canonical_name(k): v for k, v in ours.items()}
    differences = []
    for name, version in sorted(theirs.items()):
        if canonical_name(name) not in ours:
            continue  # a package the course does not record: nothing to compare with
        expected = ours[canonical_name(name)]
        if version != expected:
            differences.append(
                f"{name}: the notebook's environment has {version or 'nothing installed'}, "
                f"the course grades with {expected or 'nothing installed'}"
            )
    return differences


def _lock_differences(record: Mapping[str, Any], course: Mapping[str, Any]) -> list[str]:
    """Another term's lock, or, with the same lock, drift the grader's own environment does not have."""
    their_lock, our_lock = record.get("lock_sha256"), course.get("lock_sha256")
    if their_lock and our_lock and their_lock != our_lock:
        return [
            f"the notebook's environment was checked against a different lock "
            f"(sha256 {their_lock[:12]}, the course's is {our_lock[:12]}): an older or newer term's"
        ]
    ours_off = set(map(str, course.get("lock_differences") or []))
    drift = [str(d) for d in record.get("lock_differences") or [] if str(d) not in ours_off]
    if not drift:
        return []
    return [
        f"the notebook's environment differed from the course lock in {len(drift)} package(s): "
        + "; ".join(drift[:3])
        + ("; ..." if len(drift) > 3 else "")
    ]
