"""Data diagnostics before any model: who is in the data, their base rates, and proxies.

Dataset bias shows up before a model is trained: a group that is rare in the data, a base rate that
differs between groups (often the trace of past decisions), and features that encode the sensitive
attribute so well that dropping the attribute changes little ("fairness through unawareness" fails).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ethicskit._validation import Interval, check_columns, check_random_state, validate_params
from ethicskit.fairness._common import as_sensitive_frame, check_lengths, quiet, validate_labels

__all__ = ["group_representation", "proxy_scores"]


def group_representation(
    data: pd.DataFrame, *, sensitive_features: list[str] | str, target: Any = None
) -> pd.DataFrame:
    """Count, share and base rate of every group of every sensitive attribute.

    Parameters
    ----------
    data : pandas.DataFrame
        Features, sensitive columns included.
    sensitive_features : str or list of str
        Column names of ``data`` to describe.
    target : array-like of 0/1, optional
        Labels; adds ``base_rate`` (share of label 1) and ``base_rate_vs_overall`` (difference
        from the overall base rate).

    Returns
    -------
    pandas.DataFrame
        One row per (sensitive_feature, group): ``sensitive_feature, group, count, share``
        [``, base_rate, base_rate_vs_overall``], largest groups first.

    Examples
    --------
    >>> df = pd.DataFrame({"sex": ["F", "M", "M", "M"]})
    >>> table = group_representation(df, sensitive_features="sex", target=[1, 0, 1, 1])
    >>> table[["group", "share", "base_rate"]]
      group  share  base_rate
    0     M   0.75   0.666667
    1     F   0.25   1.000000
    """
    columns = [sensitive_features] if isinstance(sensitive_features, str) else list(sensitive_features)
    check_columns(data, columns, "data (sensitive_features)")
    y = None if target is None else validate_labels(target, "target")
    check_lengths(data=data, target=y)
    frame = as_sensitive_frame(data[columns], name="data[sensitive_features]")
    rows = []
    for column in columns:
        groups = frame[column]
        table = pd.DataFrame({"count": groups.value_counts()})
        table["share"] = table["count"] / len(groups)
        if y is not None:
            table["base_rate"] = pd.Series(y).groupby(groups.to_numpy()).mean()
            table["base_rate_vs_overall"] = table["base_rate"] - y.mean()
        table = table.rename_axis("group").reset_index()
        table.insert(0, "sensitive_feature", column)
        rows.append(table)
    return pd.concat(rows, ignore_index=True)


def _encode_column(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=float).reshape(-1, 1)
    codes = pd.get_dummies(column.astype(str), dtype=float)
    return codes.to_numpy()


def _cv_balanced_accuracy(X: np.ndarray, groups: np.ndarray, *, max_depth: int, cv: int, seed: int) -> float:
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier

    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    model = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=5, random_state=seed)
    with quiet():
        return float(np.mean(cross_val_score(model, X, groups, cv=folds, scoring="balanced_accuracy")))


@validate_params(
    {
        "cv": [Interval("integral", 2, None)],
        "max_depth": [Interval("integral", 1, None)],
        "max_rows": [None, Interval("integral", 10, None)],
        "random_state": [None, Interval("integral", 0, None)],
    }
)
def proxy_scores(
    data: pd.DataFrame,
    *,
    sensitive_feature: str,
    exclude: list[str] | None = None,
    cv: int = 3,
    max_depth: int = 4,
    max_rows: int | None = 20_000,
    random_state: int = 0,
) -> pd.DataFrame:
    """How well each feature, alone and all together, predicts the sensitive attribute.

    A shallow decision tree is cross-validated on each feature to predict ``sensitive_feature``;
    its balanced accuracy is compared with chance (``1 / number of groups``). A feature far above
    chance is a *proxy*: a model can use it to treat groups differently even when the sensitive
    column itself is dropped.

    Parameters
    ----------
    data : pandas.DataFrame
        Features including the sensitive column.
    sensitive_feature : str
        The attribute to predict.
    exclude : list of str, optional
        Columns to leave out (e.g. other sensitive attributes).
    cv : int, default 3
        Stratified folds.
    max_depth : int, default 4
        Depth of the probing tree.
    max_rows : int or None, default 20000
        Random subsample for speed (None: all rows).
    random_state : int, default 0
        Seed of the subsample, the folds and the trees.

    Returns
    -------
    pandas.DataFrame
        Columns ``feature, balanced_accuracy, chance, lift`` (lift = balanced accuracy - chance),
        one row per feature plus ``"(all features)"``, strongest proxies first.
    """
    check_columns(data, [sensitive_feature], "data (sensitive_feature)")
    exclude = list(exclude or [])
    check_columns(data, exclude, "data (exclude)")
    rng = check_random_state(random_state)
    if max_rows is not None and len(data) > max_rows:
        data = data.iloc[np.sort(rng.choice(len(data), size=max_rows, replace=False))]
    groups = (
        as_sensitive_frame(data[sensitive_feature], name=f"data[{sensitive_feature!r}]").iloc[:, 0].to_numpy()
    )
    counts = pd.Series(groups).value_counts()
    if counts.min() < cv:
        raise ValueError(
            f"every group of {sensitive_feature!r} needs at least cv={cv} rows for cross-validation; "
            f"smallest has {counts.min()}"
        )
    features = [c for c in data.columns if c != sensitive_feature and c not in exclude]
    if not features:
        raise ValueError("data has no feature left to test as a proxy besides sensitive_feature and exclude")
    chance = 1.0 / counts.size
    seed = int(random_state) if random_state is not None else 0
    rows = [
        (f, _cv_balanced_accuracy(_encode_column(data[f]), groups, max_depth=max_depth, cv=cv, seed=seed))
        for f in features
    ]
    all_X = np.hstack([_encode_column(data[f]) for f in features])
    rows.append(
        ("(all features)", _cv_balanced_accuracy(all_X, groups, max_depth=max_depth + 2, cv=cv, seed=seed))
    )
    out = pd.DataFrame(rows, columns=["feature", "balanced_accuracy"])
    out["chance"] = chance
    out["lift"] = out["balanced_accuracy"] - chance
    return out.sort_values("balanced_accuracy", ascending=False, ignore_index=True)
