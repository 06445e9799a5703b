#!/usr/bin/env bash
# Create (or reuse) the course's virtual environment in .venv and install the LOCKED environment into it:
#   pip install --require-hashes -r requirements/lock-py<X.Y>-<system>-<machine>.txt   (exact versions,
#   every file checked against its sha256), then the course package itself: pip install --no-deps -e .
# Idempotent: a second run only compares a stamp (the lock, pyproject.toml and this script) and the
# installed versions with the lock, and exits.
# After `git pull` brings a new lock, the next run syncs the environment to it (docs/environment.md).
# Environment knobs:
#   PYTHON        the interpreter to build the venv from (default: python3)
#   VENV_DIR      where the venv goes (default: .venv at the repository root)
#   REQUIRE_LOCK  1: fail when there is no lock for this Python and platform (CI sets it); default 0:
#                 warn and install from pyproject.toml's ranges instead (torch==2.13.0 first, so no
#                 range pulls a multi-GB CUDA build), and say how to make a lock here (`make lock`).
# Where no local CPU wheel of torch exists, pip finds torch 2.13.0+cpu on the PyTorch CPU index:
#   PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu make env
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV_DIR:-$root/.venv}"
stamp="$venv/.ethicskit-stamp"
python="${PYTHON:-python3}"
require_lock="${REQUIRE_LOCK:-0}"

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -c 'import sys; v=sys.version_info; sys.exit(0 if (3,10)<=v[:2]<=(3,12) else "Python 3.10-3.12 needed, found %d.%d" % v[:2])'
    echo "Creating the course environment in $venv ..."
    "$python" -m venv "$venv"
fi
# the lock for the venv's own interpreter and platform (the names scripts/lock.py writes)
lock_name="$("$venv/bin/python" -c 'import platform, sys; print("lock-py%d.%d-%s-%s.txt" % (*sys.version_info[:2], platform.system().lower(), platform.machine().lower()))')"
lock="$root/requirements/$lock_name"
if [[ -f "$lock" ]]; then
    want="lock $(cat "$lock" "$root/pyproject.toml" "$root/scripts/setup_env.sh" | sha256sum | cut -d' ' -f1)"
else
    want="ranges $(cat "$root/pyproject.toml" "$root/scripts/setup_env.sh" | sha256sum | cut -d' ' -f1)"
fi
# A matching stamp is not enough when someone has since pip-installed another version of a locked
# package into the venv: then the venv is synced again (a fraction of a second to check).
in_sync() {
    [[ ! -f "$lock" ]] && return 0
    "$venv/bin/python" - "$lock" <<'PY'
import importlib.metadata as md, re, sys
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
try:
    from packaging.version import Version as V
except ImportError:
    V = str
have = {norm(d.metadata["Name"] or ""): d.version for d in md.distributions()}
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
    if m and (norm(m[1]) not in have or V(have[norm(m[1])]) != V(m[2])):
        sys.exit(1)
PY
}
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && in_sync; then
    exit 0   # environment is up to date
fi

pip=("$venv/bin/python" -m pip --disable-pip-version-check)
if [[ -f "$lock" ]]; then
    echo "Installing the locked environment (requirements/$lock_name) ..."
    # Installs exactly the locked versions (and changes any that differ); packages installed by hand
    # beside them stay. The venv's own pip does it: the lock pins everything, so there is nothing to resolve.
    # --no-compile + compileall -j 0: the bytecode is compiled on all cores in parallel rather than file
    # by file inside pip; compiled up front because the grading sandbox (read-only) cannot write it later.
    "${pip[@]}" install --quiet --no-compile --require-hashes --no-deps -r "$lock"
    "$venv/bin/python" -c 'import sysconfig; print("\n".join(sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})))' \
        | xargs "$venv/bin/python" -m compileall -q -q -j 0 >/dev/null 2>&1 || true
    "${pip[@]}" install --quiet --no-deps --no-build-isolation -e "$root" 2>/dev/null \
        || "${pip[@]}" install --quiet --no-deps -e "$root"
    "${pip[@]}" check >/dev/null || { "${pip[@]}" check >&2 || true; echo "WARNING: pip check found broken requirements (above)." >&2; }
else
    if [[ "$require_lock" == 1 ]]; then
        echo "No lock requirements/$lock_name for this Python and platform (REQUIRE_LOCK=1)." >&2
        echo "Locks present: $(cd "$root/requirements" && ls lock-*.txt 2>/dev/null | tr '\n' ' ')" >&2
        exit 1
    fi
    echo "WARNING: no lock for this Python and platform (requirements/$lock_name): installing from" >&2
    echo "pyproject.toml's ranges, so versions depend on the day. \`make lock\` writes a lock here." >&2
    "${pip[@]}" install --quiet "${TORCH_SPEC:-torch==2.13.0}"
    "${pip[@]}" install --quiet -e "$root[dev]"
fi
"$venv/bin/python" -c 'import torch; print("torch", torch.__version__, "(CPU build)" if torch.version.cuda is None else "(CUDA build)")'
echo "$want" > "$stamp"
echo "Course environment ready: $venv"
