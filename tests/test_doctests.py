"""The runnable examples in ethicskit's docstrings stay true (one table for every topic)."""

import doctest
import importlib

import pytest

NORMALIZE, ELLIPSIS = doctest.NORMALIZE_WHITESPACE, doctest.ELLIPSIS
MODULES = {
    "ethicskit.explain._common": NORMALIZE,
    "ethicskit.explain.attributions": NORMALIZE,
    "ethicskit.explain.quality": NORMALIZE,
    "ethicskit.privacy.consent": NORMALIZE,
    "ethicskit.privacy.crypto": NORMALIZE,
    "ethicskit.privacy.anonymity": NORMALIZE,
    "ethicskit.privacy.mechanisms": NORMALIZE,
    "ethicskit.sft.train": NORMALIZE,
    "ethicskit.attribution.recorder": ELLIPSIS,
    "ethicskit.attribution.queries": ELLIPSIS,
    "ethicskit.attribution.synthetic": ELLIPSIS,
    "ethicskit.attribution.validation": ELLIPSIS,
}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=MODULES[name])
    assert result.attempted > 0 and result.failed == 0
