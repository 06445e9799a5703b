"""Check that a machine can run the course: library versions, the lock, bundled data, the offline encoder.

The course's environment is *locked*: ``requirements/lock-py<X.Y>-<system>-<machine>.txt`` pins every
package to one version (``make env`` installs it; docs/environment.md). :func:`compare_with_lock` says
how the running environment differs from that lock, and :func:`check_environment` includes it.

>>> from ethicskit.envcheck import check_environment, lock_report
>>> report = check_environment(load_encoder=False)   # doctest: +SKIP
>>> lock_report()   # one row per difference, empty when it is the lock  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = [
    "COURSE_PACKAGES",
    "ENVIRONMENT_MIMETYPE",
    "EnvironmentCheck",
    "LockDifference",
    "check_environment",
    "compare_with_lock",
    "environment_fingerprint",
    "find_lock",
    "lock_name",
    "lock_report",
    "read_lock",
    "record_environment",
]

COURSE_PACKAGES = (
    "ethicskit", "numpy", "pandas", "scikit-learn", "fairlearn", "shap", "lime", "torch", "transformers",
    "huggingface_hub", "opacus", "cryptography", "codecarbon", "nbgrader", "jupyterlab",
)


# where the locks live, relative to the repository root (this package's parent folder)
LOCK_FOLDER = "requirements"
LOCK_ENV_VAR = "ETHICSKIT_LOCK"  # an explicit lock file, e.g. on a JupyterHub image built from a clone
# a notebook output with this MIME type carries environment_fingerprint(); the grader reads it
ENVIRONMENT_MIMETYPE = "application/vnd.ethicskit.environment+json"


def canonical_name(name: str) -> str:
    """A distribution name normalised as in PEP 503 (``Scikit_Learn`` -> ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_name(python: str | None = None, system: str | None = None, machine: str | None = None) -> str:
    """File name of the lock for a Python version, operating system and machine (default: this one).

    Parameters
    ----------
    python : str, optional
        ``"X.Y"``; default the running interpreter's.
    system, machine : str, optional
        As :func:`platform.system` and :func:`platform.machine` report them; default this machine's.

    Returns
    -------
    str
        For example ``"lock-py3.11-linux-x86_64.txt"`` (the names ``scripts/lock.py`` writes).
    """
    python = python or "{}.{}".format(*sys.version_info[:2])
    system = (system or platform.system()).lower()
    machine = (machine or platform.machine()).lower()
    return f"lock-py{python}-{system}-{machine}.txt"


def find_lock(path: str | os.PathLike | None = None) -> Path | None:
    """The lock file for this interpreter and platform, or ``None`` when there is none.

    Parameters
    ----------
    path : str or path-like, optional
        Use this file. Otherwise ``$ETHICSKIT_LOCK``, otherwise ``requirements/<lock_name()>`` in the
        repository that holds this package (an editable install, as ``make env`` makes) or in the
        current folder or one above it.

    Returns
    -------
    pathlib.Path or None
    """
    if path is not None:
        return Path(path)
    if os.environ.get(LOCK_ENV_VAR):
        return Path(os.environ[LOCK_ENV_VAR])
    name = lock_name()
    roots = [Path(__file__).resolve().parents[1], *Path.cwd().resolve().parents[:3]]
    roots.insert(1, Path.cwd().resolve())
    for root in roots:
        candidate = root / LOCK_FOLDER / name
        if candidate.is_file():
            return candidate
    return None


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
_LOCK_PYTHON = re.compile(r"(?:with Python|lock-py)\s*(\d+\.\d+)")


def read_lock(path: str | os.PathLike) -> dict[str, str]:
    """Every pinned package of a pip-compile lock.

    Parameters
    ----------
    path : str or path-like
        A lock written by ``pip-compile --generate-hashes`` (``name==version \\`` lines, hashes below).

    Returns
    -------
    dict of str to str
        Canonical package name -> pinned version, in file order.
    """
    pins = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            pins[canonical_name(match.group(1))] = match.group(2)
    return pins


def lock_python(path: str | os.PathLike) -> str | None:
    """The ``X.Y`` Python version a lock was compiled for (its header, else its file name), or ``None``."""
    path = Path(path)
    head = path.read_text(encoding="utf-8")[:400] if path.is_file() else ""
    match = _LOCK_PYTHON.search(head) or _LOCK_PYTHON.search(path.name)
    return match.group(1) if match else None


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def installed_versions() -> dict[str, str]:
    """Canonical name -> version of every distribution the running interpreter can import."""
    versions = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            versions.setdefault(canonical_name(name), dist.version)
    return versions


def _same_version(a: str, b: str) -> bool:
    try:
        from packaging.version import Version

        return Version(a) == Version(b)
    except Exception:  # packaging missing or a version it cannot parse: compare the text
        return a == b


@dataclass(frozen=True)
class LockDifference:
    """One way the running environment differs from the lock.

    Attributes
    ----------
    package : str
        Canonical package name, or ``"python"``.
    installed : str or None
        What is running (``None``: not installed).
    locked : str
        What the lock pins.
    """

    package: str
    installed: str | None
    locked: str

    def __str__(self) -> str:
        if self.installed is None:
            return f"{self.package} is not installed (the lock pins {self.locked})"
        return f"{self.package} {self.installed} is installed, the lock pins {self.locked}"


def compare_with_lock(
    path: str | os.PathLike | None = None, *, installed: dict[str, str] | None = None,
    python: str | None = None,
) -> list[LockDifference]:
    """How the running environment differs from the course's lock.

    Parameters
    ----------
    path : str or path-like, optional
        The lock; default :func:`find_lock`.
    installed : dict of str to str, optional
        Package -> version to compare instead of the running interpreter's (for tests, or another
        environment's ``pip freeze``).
    python : str, optional
        The Python version to compare (default the running one).

    Returns
    -------
    list of LockDifference
        Empty when every locked package is installed at its locked version (packages installed beside
        the lock are not differences). A different Python ``X.Y`` comes first.

    Raises
    ------
    FileNotFoundError
        When there is no lock for this Python and platform (see :func:`find_lock`).
    """
    lock = find_lock(path)
    if lock is None or not lock.is_file():
        raise FileNotFoundError(
            f"no lock {lock or lock_name()} for this Python and platform; `make lock` writes one "
            "(docs/environment.md)"
        )
    differences = []
    wanted_python = lock_python(lock)
    running_python = python or platform.python_version()
    if wanted_python and ".".join(running_python.split(".")[:2]) != wanted_python:
        differences.append(LockDifference("python", running_python, wanted_python))
    have = installed_versions() if installed is None else {canonical_name(k): v for k, v in installed.items()}
    for package, version in read_lock(lock).items():
        current = have.get(package)
        if current is None or not _same_version(current, version):
            differences.append(LockDifference(package, current, version))
    return differences


def lock_report(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """:func:`compare_with_lock` as a table: columns ``package``, ``installed``, ``locked``.

    An empty table means the running environment is exactly the lock; without a lock for this Python
    and platform, one row says so. ``make env`` (``scripts/setup_env.sh``) installs the lock into the
    course's ``.venv``.
    """
    try:
        rows = [vars(d) for d in compare_with_lock(path)]
    except FileNotFoundError:  # nothing to compare with: say so rather than show an empty table
        rows = [{"package": "(no lock)", "installed": f"Python {platform.python_version()}",
                 "locked": f"no {lock_name()} - see docs/environment.md"}]
    return pd.DataFrame(rows, columns=["package", "installed", "locked"])


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path(__file__).resolve().parents[1]))
    except ValueError:
        return str(path)


def _lock_row() -> EnvironmentCheck:
    lock = find_lock()
    if lock is None or not lock.is_file():
        return EnvironmentCheck(
            "lock", False,
            f"no lock {lock_name()} for Python {platform.python_version()} on this platform: versions "
            "are not pinned; see docs/environment.md (`make lock`)",
        )
    differences = compare_with_lock(lock)
    where = f"{_relative(lock)} (sha256 {file_sha256(lock)[:12]})"
    if not differences:
        return EnvironmentCheck("lock", True, f"all {len(read_lock(lock))} packages match {where}")
    shown = "; ".join(str(d) for d in differences[:5])
    more = f"; and {len(differences) - 5} more" if len(differences) > 5 else ""
    return EnvironmentCheck(
        "lock", False,
        f"{len(differences)} differ from {where}: {shown}{more} - run `make env` (lock_report() lists all)",
    )


def environment_fingerprint(packages: tuple[str, ...] | None = None) -> dict:
    """What this kernel runs: Python, platform, key package versions, the lock and how it differs.

    Parameters
    ----------
    packages : tuple of str, optional
        Packages to list; default :data:`COURSE_PACKAGES`.

    Returns
    -------
    dict
        JSON-serialisable: ``python``, ``platform``, ``executable``, ``packages`` (name -> version or
        ``None``), ``lock`` (file name or ``None``), ``lock_sha256`` (or ``None``) and
        ``lock_differences`` (list of str).
    """
    have = installed_versions()
    lock = find_lock()
    lock = lock if lock is not None and lock.is_file() else None
    return {
        "python": platform.python_version(),
        "platform": f"{platform.system().lower()}-{platform.machine().lower()}",
        "executable": sys.executable,
        "packages": {p: have.get(canonical_name(p)) for p in (packages or COURSE_PACKAGES)},
        "lock": lock.name if lock else None,
        "lock_sha256": file_sha256(lock) if lock else None,
        "lock_differences": [str(d) for d in compare_with_lock(lock, installed=have)] if lock else [],
    }


def record_environment() -> dict:
    """Display :func:`environment_fingerprint` in a notebook so that it is saved with the notebook.

    The output carries the MIME type :data:`ENVIRONMENT_MIMETYPE` (read by
    :func:`ethicskit.course.environment.kernel_environment_mismatch` when a lab is graded) and a short
    text summary for people.

    Returns
    -------
    dict
        The fingerprint.
    """
    fingerprint = environment_fingerprint()
    summary = (
        f"Python {fingerprint['python']}, lock {fingerprint['lock'] or 'none'}: "
        + (f"{len(fingerprint['lock_differences'])} differences" if fingerprint["lock_differences"]
           else "no differences")
    )
    try:
        from IPython.display import display

        display({ENVIRONMENT_MIMETYPE: fingerprint, "text/plain": summary}, raw=True)
    except ImportError:  # not in IPython: nothing to record into
        print(summary)
    return fingerprint


@dataclass(frozen=True)
class EnvironmentCheck:
    """One line of the environment report."""

    item: str
    ok: bool
    detail: str


def _versions() -> list[EnvironmentCheck]:
    rows = [EnvironmentCheck("python", True, platform.python_version())]
    for package in COURSE_PACKAGES:
        try:
            rows.append(EnvironmentCheck(package, True, importlib.metadata.version(package)))
        except importlib.metadata.PackageNotFoundError:
            rows.append(EnvironmentCheck(package, False, "not installed - run `make env`"))
    return rows


def _datasets() -> list[EnvironmentCheck]:
    from ethicskit.datasets import load_adult, load_compas, load_german

    rows = []
    for loader in (load_adult, load_compas, load_german):
        try:
            dataset = loader()
            detail = f"{len(dataset):,} rows, checksum verified"
            rows.append(EnvironmentCheck(f"dataset {dataset.name}", True, detail))
        except Exception as error:  # report every failure, do not stop at the first
            rows.append(EnvironmentCheck(f"dataset {loader.__name__[5:]}", False, str(error)))
    return rows


def _encoder() -> EnvironmentCheck:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        start = time.perf_counter()
        from ethicskit.sft.model import model_path  # the one place that knows where the weights are

        folder = model_path()
        tokenizer = AutoTokenizer.from_pretrained(folder)
        hf_logging.disable_progress_bar()  # a weight-loading bar is noise in a report
        try:
            model = AutoModel.from_pretrained(folder).eval()
        finally:
            hf_logging.enable_progress_bar()
        with torch.no_grad():
            hidden = model(**tokenizer(["An offline test sentence."], return_tensors="pt")).last_hidden_state
        seconds = time.perf_counter() - start
        parameters = sum(p.numel() for p in model.parameters())
        detail = (
            f"all-MiniLM-L6-v2 loaded offline: {parameters / 1e6:.1f} M parameters, "
            f"hidden size {hidden.shape[-1]}, {seconds:.1f} s"
        )
        return EnvironmentCheck("pretrained encoder", True, detail)
    except Exception as error:
        return EnvironmentCheck("pretrained encoder", False, f"{type(error).__name__}: {error}")


def check_environment(*, load_encoder: bool = True) -> pd.DataFrame:
    """Report library versions, how they differ from the lock, whether the bundled datasets load, and
    whether the encoder loads offline.

    Parameters
    ----------
    load_encoder : bool, default True
        Also load the pretrained encoder with transformers (a few seconds; imports torch).

    Returns
    -------
    pandas.DataFrame
        Columns ``item``, ``ok``, ``detail``; one row per check. The ``lock`` row says whether every
        package matches the course's lock (:func:`lock_report` lists the differences).
    """
    rows = _versions() + [_lock_row()] + _datasets()
    if load_encoder:
        rows.append(_encoder())
    return pd.DataFrame([vars(r) for r in rows])
