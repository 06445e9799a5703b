#!/usr/bin/env bash
# Create (or reuse) the course's virtual environment in .venv.
# Idempotent: a second run only compares a stamp and exits, changing nothing.
# Environment knobs:
#   PYTHON      the interpreter to build the venv from (default: python3)
#   TORCH_SPEC  how torch is installed before everything else (default: torch==2.13.0, a CPU build
#               where the machine provides one); installing it first keeps any later range from
#               pulling a multi-GB CUDA build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.ethicskit-stamp"
python="${PYTHON:-python3}"
torch_spec="${TORCH_SPEC:-torch==2.13.0}"
want="$(cat "$root/pyproject.toml" "$root/scripts/setup_env.sh" | sha256sum | cut -d' ' -f1) $torch_spec"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0   # environment is up to date
fi

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -c 'import sys; v=sys.version_info; sys.exit(0 if (3,10)<=v[:2]<=(3,12) else "Python 3.10-3.12 needed, found %d.%d" % v[:2])'
    echo "Creating the course environment in $venv ..."
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install --quiet --upgrade pip
"${pip[@]}" install --quiet "$torch_spec"
"${pip[@]}" install --quiet -e "$root[dev]"
"$venv/bin/python" -c 'import torch; print("torch", torch.__version__, "(CPU build)" if torch.version.cuda is None else "(CUDA build)")'
echo "$want" > "$stamp"
echo "Course environment ready: $venv"
