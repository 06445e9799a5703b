"""Hidden inputs of lab2-model-card: the held-out rows the hidden tests evaluate a card builder on.

Imported lazily by :mod:`ethicskit.checks.cards`. While a student's code runs for a hidden check (the
recheck's runner), this file and the bundled data read as empty, so no lookup finds these rows; the
trusted check process reads them normally and passes them to the student's function as arguments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def held_out(test, *, hidden_seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """A bootstrap resample of ``test`` (a Dataset: the lab's test split), drawn with ``hidden_seed``."""
    rng = np.random.default_rng(hidden_seed)
    rows = rng.choice(len(test.target), size=len(test.target), replace=True)
    return test.data.iloc[rows].reset_index(drop=True), test.target.iloc[rows].reset_index(drop=True)
