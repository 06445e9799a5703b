"""Proxy analysis: through which features does a sensitive attribute reach the prediction?

A model trained without the sensitive column can still treat groups differently: other features
(marital status, relationship, postcode...) carry the group into the prediction. This module measures,
for each input feature, how much of the **gap in predictions between groups** travels through it.

This is not the same question as "how well does a feature predict the sensitive attribute" (that is a
property of the data, see the proxy diagnostic of :mod:`ethicskit.fairness`): a feature can predict
the group perfectly and still carry nothing if the model ignores it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ethicskit._deprecation import renamed
from ethicskit._validation import (
    as_1d_array,
    as_numeric_array,
    check_consistent_length,
    check_int,
    check_min_groups,
    check_no_nan,
    check_random_state,
)
from ethicskit.explain._common import check_frame, check_model, positive_proba, progress
from ethicskit.explain.attributions import LocalExplanation

__all__ = ["prediction_gap", "proxy_analysis"]


def _groups(sensitive_features: Any, n: int) -> np.ndarray:
    groups = check_no_nan(as_1d_array(sensitive_features, "sensitive_features"), "sensitive_features")
    check_consistent_length(predictions_or_X=range(n), sensitive_features=groups)
    return check_min_groups(groups, "sensitive_features")


@renamed(sensitive="sensitive_features")
def prediction_gap(predictions: Any, sensitive_features: Any) -> float:
    """Largest difference in mean prediction between two groups (max group mean - min group mean)."""
    predictions = as_numeric_array(predictions, "predictions")
    groups = _groups(sensitive_features, len(predictions))
    means = pd.Series(predictions).groupby(groups).mean()
    return float(means.max() - means.min())


@renamed(sensitive="sensitive_features")
def proxy_analysis(
    model: Any,
    X: pd.DataFrame,
    sensitive_features: Any,
    *,
    attributions: LocalExplanation | None = None,
    n_repeats: int = 5,
    random_state: int = 0,
    show_progress: bool = True,
) -> pd.DataFrame:
    """Which features carry the sensitive attribute into the model's predictions.

    Two complementary measures per feature:

    ``gap_drop`` (always)
        How much the prediction gap between groups shrinks when the feature is shuffled across all
        rows (which makes it independent of the group), averaged over ``n_repeats`` shuffles. A
        feature through which the group reaches the prediction has a large positive drop.
    ``attribution_gap`` (when ``attributions`` of the rows of ``X`` are given)
        Difference between the groups' mean attribution of the feature (highest-prediction group
        minus lowest). For SHAP values in probability units these add up to the prediction gap.

    Parameters
    ----------
    model : fitted binary classifier
        Trained **without** the sensitive column.
    X : pandas.DataFrame
        Numeric features of a sample of people (the model's input columns).
    sensitive_features : array-like
        The sensitive attribute of the same rows (not a column of ``X``).
    attributions : LocalExplanation, optional
        Attributions of exactly the rows of ``X``.
    n_repeats : int
        Shuffles per feature.
    random_state : int
        Seed of the shuffles.
    show_progress : bool
        Progress bar over features (quiet when not interactive).

    Returns
    -------
    pandas.DataFrame
        Index: features, sorted by ``gap_drop`` (largest first); columns ``gap_drop``,
        ``gap_drop_share`` (share of the total gap) and ``attribution_gap`` if available.
        ``table.attrs["prediction_gap"]`` holds the gap itself and ``table.attrs["groups"]`` the
        group means of the predictions.
    """
    check_model(model)
    X = check_frame(X, model=model)
    groups = _groups(sensitive_features, len(X))
    n_repeats = check_int(n_repeats, "n_repeats", minimum=1)
    rng = check_random_state(random_state)
    base = positive_proba(model, X)
    means = pd.Series(base).groupby(groups).mean().sort_values()
    gap = float(means.iloc[-1] - means.iloc[0])
    low, high = means.index[0], means.index[-1]

    def gap_of(pred: np.ndarray) -> float:
        return float(pred[groups == high].mean() - pred[groups == low].mean())

    drops = {}
    for column in progress(list(X.columns), desc="proxy features", total=X.shape[1], enabled=show_progress):
        shuffled = X.copy()
        values = X[column].to_numpy()
        stacked = []
        for _ in range(n_repeats):
            shuffled[column] = values[rng.permutation(len(values))]
            stacked.append(shuffled.copy())
        pred = positive_proba(model, pd.concat(stacked, ignore_index=True)).reshape(n_repeats, len(X))
        drops[column] = gap - float(np.mean([gap_of(p) for p in pred]))
    table = pd.DataFrame({"gap_drop": pd.Series(drops)})
    table["gap_drop_share"] = table["gap_drop"] / gap if gap > 0 else np.nan
    if attributions is not None:
        if not isinstance(attributions, LocalExplanation):
            raise TypeError(f"attributions must be a LocalExplanation, got {type(attributions).__name__}")
        if list(attributions.values.index) != list(X.index) or attributions.feature_names != list(X.columns):
            raise ValueError("attributions must explain exactly the rows and columns of X")
        values = attributions.values.to_numpy()
        table["attribution_gap"] = values[groups == high].mean(axis=0) - values[groups == low].mean(axis=0)
    table = table.sort_values("gap_drop", ascending=False)
    table.index.name = "feature"
    table.attrs["prediction_gap"] = gap
    table.attrs["groups"] = {str(k): float(v) for k, v in means.items()}
    return table
