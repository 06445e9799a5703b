"""The environment files agree, the import is cheap, and nothing pulls a CUDA torch."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the dev extra installs tomli
    import tomli as tomllib

from tests.conftest import REPO_ROOT

HEAVY = ("torch", "transformers", "shap", "lime", "opacus", "codecarbon")


def _pyproject_dependencies() -> list[str]:
    with open(REPO_ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]["dependencies"]


def _environment_pip_dependencies() -> list[str]:
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return [line for line in pip_section if not line.startswith("--")]


def test_environment_yml_matches_pyproject():
    in_pyproject = sorted(_pyproject_dependencies())
    in_environment = sorted(_environment_pip_dependencies())
    only_pyproject = set(in_pyproject) - set(in_environment)
    only_environment = set(in_environment) - set(in_pyproject)
    assert not only_pyproject and not only_environment, (
        f"environment.yml and pyproject.toml disagree: only in pyproject {sorted(only_pyproject)}, "
        f"only in environment.yml {sorted(only_environment)}"
    )


def test_python_range_agrees():
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    python_spec = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    with open(REPO_ROOT / "pyproject.toml", "rb") as handle:
        requires = tomllib.load(handle)["project"]["requires-python"]
    assert python_spec == "python" + requires


def test_torch_range_cannot_pull_a_newer_build():
    torch_spec = next(d for d in _pyproject_dependencies() if d.startswith("torch"))
    assert "<" in torch_spec, "torch needs an upper bound so an install never fetches a newer (CUDA) build"


def test_import_ethicskit_is_cheap():
    code = (
        "import sys, ethicskit, ethicskit.datasets, ethicskit.checks; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import ethicskit loaded heavy modules: {out.stdout.strip()}"


# Topic packages promise to load their heavy libraries only inside the functions that need them.
TOPIC_IMPORTS = {
    "ethicskit.explain, ethicskit.checks.explain": ("torch", "shap", "lime", "sklearn", "matplotlib"),
    "ethicskit.privacy, ethicskit.checks.privacy": ("torch", "opacus", "cryptography", "sklearn", "scipy"),
}


@pytest.mark.parametrize("modules", TOPIC_IMPORTS)
def test_topic_imports_are_cheap(modules):
    code = f"import sys, {modules}; print(sorted(m for m in {TOPIC_IMPORTS[modules]!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_installed_torch_is_a_cpu_build():
    code = "import torch; print(torch.version.cuda)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None", "a CUDA build of torch was installed; run scripts/setup_env.sh"
