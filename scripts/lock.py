#!/usr/bin/env python3
"""Regenerate the course's lock file (and environment.yml) from pyproject.toml's ranges with pip-tools.

    python3 scripts/lock.py             # `make lock`: after editing pyproject.toml; keeps every pin that
                                        #   still fits, adds what is new (the same versions as before)
    python3 scripts/lock.py --upgrade   # `make upgrade`: the newest release of everything within the
                                        #   ranges (torch stays on requirements/torch-cpu.txt's pin)
    python3 scripts/lock.py --upgrade-package shap   # only move shap (and what it needs)

The lock is requirements/lock-py<X.Y>-<system>-<machine>.txt for the interpreter that runs this script
(`PYTHON=python3.12 make lock` for another one). pip-compile (pip-tools, pinned below) runs in its own
small virtual environment, build/lock-tools, so the course environment never contains the lock tool.
It resolves with plain pip and pip's configuration (index, find-links), pins every package with
``==`` and records the sha256 of every file of that version, so ``pip install --require-hashes -r
<lock>`` installs exactly this environment on any machine with that Python and platform.
docs/environment.md describes the upgrade between terms.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
TOOLS = ROOT / "build" / "lock-tools"
# The lock tool itself is pinned, so two instructors regenerating the lock get the same format.
TOOL_PINS = ("pip==26.3", "pip-tools==7.6.2")
EXTRAS = ("dev",)  # the course environment = the package's dependencies + the dev extra
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# The lock CI and the tests use, and the one environment.yml mirrors.
REFERENCE_LOCK = "lock-py3.11-linux-x86_64.txt"


def lock_name(python: str | None = None, system: str | None = None, machine: str | None = None) -> str:
    """File name of the lock for a Python ``X.Y``, ``platform.system()`` and ``platform.machine()``."""
    python = python or "{}.{}".format(*sys.version_info[:2])
    system = (system or platform.system()).lower()
    machine = (machine or platform.machine()).lower()
    return f"lock-py{python}-{system}-{machine}.txt"


def _tools_python() -> Path:
    bindir = "Scripts" if os.name == "nt" else "bin"
    python = TOOLS / bindir / ("python.exe" if os.name == "nt" else "python")
    stamp = TOOLS / "pins.txt"
    want = "\n".join((sys.version, *TOOL_PINS))  # rebuilt for another interpreter or other pins
    if not (python.exists() and stamp.exists() and stamp.read_text() == want):
        print(f"Installing {', '.join(TOOL_PINS)} into {TOOLS.relative_to(ROOT)} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(TOOLS)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        *TOOL_PINS], check=True)
        stamp.write_text(want)
    return python


def _torch_constraint(tmp: Path) -> Path:
    """requirements/torch-cpu.txt, with the ``+cpu`` local version dropped on macOS (no such wheels)."""
    source = REQUIREMENTS / "torch-cpu.txt"
    if platform.system() != "Darwin":
        return source
    text = re.sub(r"\+cpu\b", "", source.read_text())
    tmp.write_text(text)
    return tmp


def compile_lock(*, upgrade: bool = False, upgrade_packages: tuple[str, ...] = ()) -> Path:
    """Run pip-compile; return the path of the lock it wrote."""
    python = _tools_python()
    lock = REQUIREMENTS / lock_name()
    constraint = _torch_constraint(ROOT / "build" / "torch-constraint.txt")
    command = "make upgrade" if upgrade or upgrade_packages else "make lock"
    args = [
        str(python), "-m", "piptools", "compile",
        "--quiet", "--generate-hashes", "--allow-unsafe", "--strip-extras",
        "--no-emit-index-url", "--no-emit-find-links", "--no-emit-trusted-host",
        "--constraint", os.path.relpath(constraint, ROOT),
        "--output-file", os.path.relpath(lock, ROOT),
    ]
    for extra in EXTRAS:
        args += ["--extra", extra]
    if upgrade:
        args.append("--upgrade")
    for package in upgrade_packages:
        args += ["--upgrade-package", package]
    args.append("pyproject.toml")
    env = dict(os.environ, CUSTOM_COMPILE_COMMAND=command)
    print(f"pip-compile -> {lock.relative_to(ROOT)} (a few minutes: it fetches the hashes) ...", flush=True)
    subprocess.run(args, cwd=ROOT, env=env, check=True)
    return lock


def read_pins(lock: Path) -> list[tuple[str, str]]:
    """``(name, version)`` for every ``name==version`` line of a pip-compile lock, in file order."""
    pins = []
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if match:
            pins.append((match.group(1), match.group(2)))
    return pins


def environment_yml(lock: Path) -> str:
    """The text of environment.yml for a lock: the same Python minor version and the same pins."""
    python = re.search(r"py(\d+\.\d+)-", lock.name).group(1)
    lines = [
        "# conda/mamba environment for the ethics course kit, GENERATED from the lock by `make lock` /",
        f"# `make upgrade` (scripts/lock.py) - do not edit by hand. Same pins as {lock.relative_to(ROOT)}",
        "# (tests/test_environment.py checks it); the lock also holds the sha256 of every file.",
        "#   mamba env create -f environment.yml && conda activate ethicskit && pip install -e . --no-deps",
        "# torch is the CPU build from the PyTorch CPU index, so no CUDA build is pulled in.",
        "name: ethicskit",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={python}",
        "  - pip",
        "  - pip:",
        f"      - --extra-index-url {PYTORCH_CPU_INDEX}",
    ]
    lines += [f"      - {name}=={version}" for name, version in read_pins(lock)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--upgrade", action="store_true", help="newest releases within pyproject's ranges")
    parser.add_argument("--upgrade-package", action="append", default=[], metavar="NAME",
                        help="upgrade only this package (repeatable)")
    parser.add_argument("--environment-yml-only", action="store_true",
                        help="only rewrite environment.yml from the existing lock")
    options = parser.parse_args(argv)
    lock = REQUIREMENTS / lock_name()
    if not options.environment_yml_only:
        lock = compile_lock(upgrade=options.upgrade, upgrade_packages=tuple(options.upgrade_package))
    print(f"Wrote {lock.relative_to(ROOT)} ({len(read_pins(lock))} packages).")
    if lock.name == REFERENCE_LOCK:
        (ROOT / "environment.yml").write_text(environment_yml(lock))
        print("Wrote environment.yml from it.")
    print("Next: `make env` (installs it), `make test` and `make course`, then commit both files.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
