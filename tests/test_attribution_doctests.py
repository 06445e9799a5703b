"""The runnable examples in ethicskit.attribution's docstrings stay true."""

import doctest
import importlib

import pytest

MODULES = ["ethicskit.attribution.recorder", "ethicskit.attribution.queries",
           "ethicskit.attribution.synthetic", "ethicskit.attribution.validation"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
