"""The examples in the ethicskit.privacy docstrings run and give the values they show."""

import doctest
import importlib

import pytest

MODULES = ["consent", "crypto", "anonymity", "mechanisms"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"ethicskit.privacy.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_import_is_cheap():
    import subprocess
    import sys

    code = (
        "import sys, ethicskit.privacy, ethicskit.checks.privacy; "
        "print(sorted(m for m in ('torch', 'opacus', 'cryptography', 'sklearn', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
