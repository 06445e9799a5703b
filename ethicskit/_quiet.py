"""One policy for warnings inside the kit: library noise off, the kit's own warnings on.

Fairlearn, shap, lime, scikit-learn and numba warn about their own internals (deprecations,
convergence of an inner solver, NaN slices in a bootstrap); a learner cannot act on those, and a
grader must not see them as failures. What the kit warns about the learner's *data* (a group too
small for its metrics to mean much) derives from :class:`KitWarning` and is never silenced.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np

__all__ = ["KitWarning", "quiet"]


class KitWarning(UserWarning):
    """Base of ethicskit's own warnings: about the learner's data or choices, always shown."""


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence library warnings and numpy floating-point noise; keep :class:`KitWarning`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("default", KitWarning)  # inserted first, so it takes precedence
        with np.errstate(all="ignore"):
            yield
