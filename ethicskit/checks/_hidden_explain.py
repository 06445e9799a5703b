"""Hidden reference of lab4-explanations: the proxy analysis the grader recomputes, repeat by repeat.

Imported lazily by :mod:`ethicskit.checks.explain`. While a student's code runs for a hidden check (the
recheck's runner), this file and the bundled data read as empty; the trusted check process reads them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def proxy_repeats(model, X: pd.DataFrame, sensitive, *, n_repeats: int = 20, seed: int = 0):
    """The prediction gap between the groups, the group means, and for each feature the gap drop of each
    of ``n_repeats`` single shuffles (``explain.proxy_analysis`` averages such drops)."""
    groups = np.asarray(sensitive).astype(str)
    base = model.predict_proba(X)[:, 1]
    means = pd.Series(base).groupby(groups).mean().sort_values()
    low, high = means.index[0], means.index[-1]
    gap = float(means.iloc[-1] - means.iloc[0])
    rng = np.random.default_rng(seed)
    drops = {}
    for column in X.columns:
        values = X[column].to_numpy()
        stacked = []
        for _ in range(n_repeats):
            shuffled = X.copy()
            shuffled[column] = values[rng.permutation(len(values))]
            stacked.append(shuffled)
        pred = model.predict_proba(pd.concat(stacked, ignore_index=True))[:, 1].reshape(n_repeats, len(X))
        drops[column] = gap - (pred[:, groups == high].mean(axis=1) - pred[:, groups == low].mean(axis=1))
    return gap, {str(k): float(v) for k, v in means.items()}, pd.DataFrame(drops)
