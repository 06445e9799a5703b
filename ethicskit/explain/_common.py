"""Shared plumbing of :mod:`ethicskit.explain`: input checks, predictions, quiet library calls."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ethicskit._progress import progress
from ethicskit._quiet import quiet
from ethicskit._validation import check_finite, check_no_nan

__all__ = [
    "quiet",
    "import_shap",
    "progress",
    "check_model",
    "check_frame",
    "positive_proba",
    "ordinal_encode",
]


def import_shap():
    """Import shap with its import-time deprecation warnings (about matplotlib internals) silenced."""
    with quiet():
        import shap
    return shap


def check_model(model: Any, name: str = "model") -> Any:
    """Raise unless ``model`` is a fitted binary classifier with ``predict_proba``."""
    if not hasattr(model, "predict_proba") or not callable(model.predict_proba):
        raise TypeError(
            f"{name} must be a fitted classifier with a predict_proba method, got {type(model).__name__}"
        )
    classes = getattr(model, "classes_", None)
    if classes is not None and len(classes) != 2:
        raise ValueError(
            f"{name} must be a binary classifier (2 classes), it has {len(classes)}: {list(classes)}"
        )
    return model


def check_frame(
    X: Any, name: str = "X", *, columns: pd.Index | None = None, model: Any = None
) -> pd.DataFrame:
    """Return ``X`` as a numeric DataFrame without NaN or inf; with ``columns``, require the same columns.

    With ``model``, the columns must also be the ones the model was fitted on, in the same order:
    an explainer that reads columns by position would otherwise attribute to the wrong features.
    """
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"{name} must be a pandas DataFrame with named feature columns, got {type(X).__name__}"
        )
    if len(X) == 0:
        raise ValueError(f"{name} is empty; at least one row is needed")
    non_numeric = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    if non_numeric:
        raise ValueError(
            f"{name} must hold numeric features; columns {non_numeric} are not numeric "
            "(encode them first, e.g. with ethicskit.explain.ordinal_encode)"
        )
    check_no_nan(X.to_numpy(), name)
    check_finite(X.to_numpy(dtype=float), name)
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is not None and list(X.columns) != list(fitted):
        raise ValueError(
            f"{name} must have the columns the model was fitted on, in the same order: {list(fitted)}; "
            f"got {list(X.columns)} (select them with X[model.feature_names_in_])"
        )
    if columns is not None and list(X.columns) != list(columns):
        raise ValueError(f"{name} must have the model's columns {list(columns)}, got {list(X.columns)}")
    return X


def positive_proba(model: Any, X: pd.DataFrame) -> np.ndarray:
    """Probability of the positive class (label 1) for every row of ``X``."""
    with quiet():
        proba = np.asarray(model.predict_proba(X))
    if proba.ndim != 2 or proba.shape[1] != 2:
        raise ValueError(
            f"model.predict_proba must return two columns (classes 0 and 1), got shape {proba.shape}"
        )
    return proba[:, 1]


def ordinal_encode(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list[Any]]]:
    """Encode the non-numeric columns of ``frame`` as integer codes, keeping numeric ones.

    Parameters
    ----------
    frame : pandas.DataFrame
        Features, possibly with string, categorical or boolean columns.

    Returns
    -------
    encoded : pandas.DataFrame
        Same index and columns; every column numeric.
    categories : dict
        For each encoded column, the list of categories; code ``i`` means ``categories[col][i]``.

    Examples
    --------
    >>> import pandas as pd
    >>> enc, cats = ordinal_encode(pd.DataFrame({"colour": ["red", "blue", "red"], "size": [1, 2, 3]}))
    >>> enc["colour"].tolist(), cats["colour"]
    ([1, 0, 1], ['blue', 'red'])
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    encoded = frame.copy()
    categories: dict[str, list[Any]] = {}
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
            if isinstance(series.dtype, pd.CategoricalDtype):
                cats = list(series.cat.categories)
            else:
                cats = sorted(series.dropna().unique().tolist(), key=str)
            codes = pd.Categorical(series, categories=cats).codes
            encoded[column] = codes.astype(np.int64)
            categories[str(column)] = cats
    return encoded, categories
