"""The examples in the ethicskit.explain docstrings run and give the values they show; imports stay cheap."""

import doctest
import importlib
import subprocess
import sys

import pytest

MODULES = ["_common", "attributions", "quality"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"ethicskit.explain.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_import_is_cheap():
    code = (
        "import sys, ethicskit.explain, ethicskit.checks.explain; "
        "print(sorted(m for m in ('torch', 'shap', 'lime', 'sklearn', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
