"""How far to trust an explanation: faithfulness, stability, agreement and sparsity.

Conventions used by every measure here:

* Features are ranked per instance by the **absolute** value of their attribution.
* A feature is "removed" by setting it to its value in a ``reference`` row (by default the median
  of the background sample). With a reference of several rows, the prediction is averaged over them.
* Predictions are the probability of class 1.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._validation import (
    Interval,
    as_numeric_array,
    check_in_choices,
    check_int,
    check_random_state,
    validate_params,
)
from ethicskit.explain._common import check_frame, check_model, positive_proba, progress
from ethicskit.explain.attributions import LocalExplanation, lime_values, shap_values

__all__ = [
    "reference_row",
    "comprehensiveness",
    "sufficiency",
    "deletion_curve",
    "insertion_curve",
    "faithfulness_correlation",
    "rank_agreement",
    "agreement",
    "sparsity",
    "stability",
    "lime_stability",
    "shap_stability",
    "quality_table",
]


def reference_row(background: pd.DataFrame, *, categorical: Any = ()) -> pd.DataFrame:
    """The one-row "feature removed" reference: each column's typical value in ``background``.

    A numeric column gets its lower median (always a value that occurs in the column). A column named
    in ``categorical`` (integer category codes, e.g. from :func:`ordinal_encode`) gets its most common
    category: the median of arbitrary codes would be a category chosen by alphabetical order.

    Examples
    --------
    >>> reference_row(pd.DataFrame({"code": [0, 1, 2, 3], "x": [0.5, 1.5, 2.5, 3.5]}))
       code    x
    0     1  1.5
    >>> codes = pd.DataFrame({"colour": [0, 2, 2, 1], "x": [0.5, 1.5, 2.5, 3.5]})
    >>> reference_row(codes, categorical=["colour"])
       colour    x
    0       2  1.5
    """
    background = check_frame(background, "background")
    if isinstance(categorical, str) or not all(c in background.columns for c in categorical):
        raise ValueError(
            f"categorical must be a list of columns of background, got {categorical!r}; "
            f"the columns are {list(background.columns)}"
        )
    medians = background.quantile(0.5, interpolation="lower", numeric_only=False)
    for column in categorical:
        medians[column] = background[column].mode().iloc[0]  # ties: the smallest code
    return medians.to_frame().T.reset_index(drop=True).astype(background.dtypes.to_dict())


def _check_expl(explanation: Any, name: str = "explanation") -> LocalExplanation:
    if not isinstance(explanation, LocalExplanation):
        raise TypeError(
            f"{name} must be a LocalExplanation (from shap_values or lime_values), "
            f"got {type(explanation).__name__}"
        )
    return explanation


def _reference(reference: pd.DataFrame | None, expl: LocalExplanation) -> pd.DataFrame:
    if reference is None:
        return reference_row(expl.data)
    return check_frame(reference, "reference", columns=expl.data.columns)


def _ranks(values: np.ndarray, random_order: np.random.Generator | None = None) -> np.ndarray:
    """Per row, feature indices from most to least important (|value|), or random."""
    if random_order is not None:
        return np.argsort(random_order.random(values.shape), axis=1)
    return np.argsort(-np.abs(values), axis=1, kind="stable")


def _predict_masked(model: Any, data: np.ndarray, keep: np.ndarray, reference: pd.DataFrame) -> np.ndarray:
    """Predictions with features where ``keep`` is False set from every reference row, averaged."""
    ref = reference.to_numpy(dtype=float)
    n = len(data)
    stacked = np.repeat(data[None, :, :], len(ref), axis=0)  # (n_ref, n, p)
    stacked = np.where(keep[None, :, :], stacked, ref[:, None, :])
    frame = pd.DataFrame(stacked.reshape(-1, data.shape[1]), columns=reference.columns)
    frame = frame.astype(reference.dtypes.to_dict())
    return positive_proba(model, frame).reshape(len(ref), n).mean(axis=0)


def _curve(model, expl, reference, *, mode: str, random_state: int | None) -> np.ndarray:
    check_model(model)
    expl = _check_expl(expl)
    check_frame(expl.data, "explanation.data", model=model)
    reference = _reference(reference, expl)
    data = expl.data.to_numpy(dtype=float)
    rng = None if random_state is None else check_random_state(random_state)
    order = _ranks(expl.values.to_numpy(), rng)
    n, p = data.shape
    full = positive_proba(model, expl.data)
    points = np.zeros((n, p + 1))
    for k in range(p + 1):
        top = np.zeros((n, p), dtype=bool)
        np.put_along_axis(top, order[:, :k], True, axis=1)
        keep = ~top if mode == "deletion" else top
        points[:, k] = np.abs(full - _predict_masked(model, data, keep, reference))
    return points.mean(axis=0)


def _order_seed(order: str, random_state: Any, random_order: Any, name: str) -> Any:
    """The seed of a random order, or None for the explanation's order (``random_order`` is the old API)."""
    if random_order is not None:
        warnings.warn(
            f"{name}(random_order=SEED) is now {name}(order='random', random_state=SEED); "
            "the old name will be removed",
            FutureWarning,
            stacklevel=3,
        )
        return random_order
    check_in_choices(order, ("explanation", "random"), "order")
    return random_state if order == "random" else None


@validate_params({"random_state": [None, "seed"]})
def deletion_curve(
    model: Any,
    explanation: LocalExplanation,
    *,
    reference: pd.DataFrame | None = None,
    order: str = "explanation",
    random_state: int = 0,
    random_order: int | None = None,
) -> np.ndarray:
    """Mean change |f(x) - f(x without its top k features)| for k = 0..p.

    A faithful explanation names first the features whose removal changes the prediction most, so
    its curve rises fast. Compare with ``order="random"`` (features removed in a random order).

    Parameters
    ----------
    model, explanation
        The fitted classifier and a :class:`LocalExplanation` of some of its rows.
    reference : DataFrame, optional
        Rows a removed feature takes its values from (default: the median row of the data).
    order : {"explanation", "random"}
        Remove features by decreasing |attribution|, or in a random order (the baseline to beat).
    random_state : int
        Seed of the random order.
    random_order : int, optional
        Deprecated: ``order="random", random_state=random_order``.

    Returns
    -------
    numpy.ndarray of length p + 1 (starts at 0).
    """
    seed = _order_seed(order, random_state, random_order, "deletion_curve")
    return _curve(model, explanation, reference, mode="deletion", random_state=seed)


@validate_params({"random_state": [None, "seed"]})
def insertion_curve(
    model: Any,
    explanation: LocalExplanation,
    *,
    reference: pd.DataFrame | None = None,
    order: str = "explanation",
    random_state: int = 0,
    random_order: int | None = None,
) -> np.ndarray:
    """Mean gap |f(x) - f(reference with only the top k features of x)| for k = 0..p.

    A faithful explanation closes the gap fast (the curve falls quickly to 0). Parameters as in
    :func:`deletion_curve`.
    """
    seed = _order_seed(order, random_state, random_order, "insertion_curve")
    return _curve(model, explanation, reference, mode="insertion", random_state=seed)


def _at_k(model, explanation, reference, k, mode) -> float:
    explanation = _check_expl(explanation)
    k = check_int(k, "k", minimum=1)
    p = explanation.values.shape[1]
    if k > p:
        raise ValueError(f"k must be at most the number of features ({p}), got {k}")
    curve = _curve(model, explanation, reference, mode=mode, random_state=None)
    return float(curve[k])


def comprehensiveness(
    model: Any, explanation: LocalExplanation, *, k: int = 3, reference: pd.DataFrame | None = None
) -> float:
    """Mean |f(x) - f(x with its top-k features set to the reference)|: higher = more faithful.

    Examples
    --------
    >>> # removing the k features the explanation calls most important should move the prediction
    >>> # much more than removing k random features
    """
    return _at_k(model, explanation, reference, k, "deletion")


def sufficiency(
    model: Any, explanation: LocalExplanation, *, k: int = 3, reference: pd.DataFrame | None = None
) -> float:
    """Mean |f(x) - f(reference with only the top-k features of x)|: lower = the top k suffice."""
    return _at_k(model, explanation, reference, k, "insertion")


def faithfulness_correlation(
    model: Any, explanation: LocalExplanation, *, reference: pd.DataFrame | None = None
) -> float:
    """Mean (over instances) Pearson correlation between each feature's attribution and the change
    in prediction when that feature alone is removed. 1 = attributions predict the effects exactly."""
    check_model(model)
    explanation = _check_expl(explanation)
    check_frame(explanation.data, "explanation.data", model=model)
    reference = _reference(reference, explanation)
    data = explanation.data.to_numpy(dtype=float)
    n, p = data.shape
    full = positive_proba(model, explanation.data)
    effects = np.zeros((n, p))
    for j in range(p):
        keep = np.ones((n, p), dtype=bool)
        keep[:, j] = False
        effects[:, j] = full - _predict_masked(model, data, keep, reference)
    values = explanation.values.to_numpy()
    correlations = [_pearson(values[i], effects[i]) for i in range(n)]
    return float(np.nanmean(correlations)) if not np.all(np.isnan(correlations)) else float("nan")


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import rankdata

    return _pearson(rankdata(a), rankdata(b))


def rank_agreement(a: Any, b: Any, *, k: int = 3) -> dict[str, float]:
    """Agreement between two importance vectors over the same features.

    Parameters
    ----------
    a, b : pandas.Series or array-like
        Importances (e.g. global mean |SHAP| and permutation importance). Series are aligned on
        their index; signs are ignored (ranks use absolute values).
    k : int
        Size of the top sets compared.

    Returns
    -------
    dict
        ``spearman``: Spearman rank correlation of |a| and |b|; ``top_k_overlap``: share of the k
        most important features of ``a`` that are also among the k most important of ``b``.

    Examples
    --------
    >>> rank_agreement([3, 2, 1, 0], [2, 3, 0, 1], k=2)
    {'spearman': 0.6, 'top_k_overlap': 1.0}
    """
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        if set(a.index) != set(b.index):
            raise ValueError(
                f"a and b must cover the same features; differ on {sorted(set(a.index) ^ set(b.index))}"
            )
        b = b.reindex(a.index)
    x = np.abs(as_numeric_array(np.ravel(a), "a"))  # NaN would rank as "most important", silently
    y = np.abs(as_numeric_array(np.ravel(b), "b"))
    if x.shape != y.shape:
        raise ValueError(f"a and b must have the same number of features, got {x.size} and {y.size}")
    k = check_int(k, "k", minimum=1)
    if k > x.size:
        raise ValueError(f"k must be at most the number of features ({x.size}), got {k}")
    top_a = set(np.argsort(-x, kind="stable")[:k].tolist())
    top_b = set(np.argsort(-y, kind="stable")[:k].tolist())
    return {"spearman": round(_spearman(x, y), 12), "top_k_overlap": len(top_a & top_b) / k}


def agreement(first: LocalExplanation, second: LocalExplanation, *, k: int = 3) -> dict[str, float]:
    """Mean per-instance :func:`rank_agreement` of two local explanations of the same instances."""
    first, second = _check_expl(first, "first"), _check_expl(second, "second")
    if list(first.values.index) != list(second.values.index) or first.feature_names != second.feature_names:
        raise ValueError("first and second must explain the same instances with the same features")
    pairs = zip(first.values.to_numpy(), second.values.to_numpy(), strict=True)
    rows = [rank_agreement(a, b, k=k) for a, b in pairs]
    return {key: float(np.nanmean([r[key] for r in rows])) for key in ("spearman", "top_k_overlap")}


def sparsity(explanation: LocalExplanation, *, k: int = 3) -> dict[str, float]:
    """How concentrated the attributions are.

    Returns
    -------
    dict
        ``top_k_share``: mean share of the total |attribution| carried by the k largest;
        ``effective_features``: mean exp(entropy) of the normalised |attributions| (1 = a single
        feature explains everything, p = all features share equally).
    """
    explanation = _check_expl(explanation)
    values = np.abs(explanation.values.to_numpy())
    k = check_int(k, "k", minimum=1)
    totals = values.sum(axis=1)
    valid = totals > 0
    if not np.any(valid):
        return {"top_k_share": float("nan"), "effective_features": float("nan")}
    shares = values[valid] / totals[valid, None]
    top = np.sort(shares, axis=1)[:, ::-1][:, :k].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(shares > 0, shares * np.log(shares), 0.0), axis=1)
    return {"top_k_share": float(top.mean()), "effective_features": float(np.exp(entropy).mean())}


def stability(explanations: Sequence[LocalExplanation], *, k: int = 3) -> dict[str, float]:
    """Spread of several explanations of the same instances (other seeds or background samples).

    Returns
    -------
    dict
        ``spearman`` and ``top_k_overlap``: mean over pairs of runs of :func:`agreement` (1 = the
        runs agree); ``relative_std``: mean over instances and features of the standard deviation
        across runs, divided by the mean |attribution| (0 = identical runs).
    """
    explanations = [_check_expl(e, "explanations[i]") for e in explanations]
    if len(explanations) < 2:
        raise ValueError(
            f"explanations must hold at least 2 runs to measure stability, got {len(explanations)}"
        )
    pairs = [agreement(a, b, k=k) for a, b in combinations(explanations, 2)]
    stacked = np.stack([e.values.to_numpy() for e in explanations])
    scale = np.abs(stacked).mean()
    spread = float(stacked.std(axis=0).mean() / scale) if scale > 0 else 0.0
    result = {key: float(np.mean([p[key] for p in pairs])) for key in ("spearman", "top_k_overlap")}
    result["relative_std"] = spread
    return result


def lime_stability(
    model: Any,
    X: pd.DataFrame,
    *,
    training_data: pd.DataFrame,
    seeds: Sequence[int] = (0, 1, 2),
    k: int = 3,
    **lime_kwargs: Any,
) -> dict[str, float]:
    """:func:`stability` of LIME explanations of ``X`` across LIME's random seeds."""
    if len(seeds) < 2:
        raise ValueError(f"seeds must hold at least 2 seeds, got {list(seeds)}")
    runs = [
        lime_values(model, X, training_data=training_data, random_state=s, show_progress=False, **lime_kwargs)
        for s in progress(seeds, desc="LIME seeds", total=len(seeds))
    ]
    return stability(runs, k=k)


def shap_stability(
    model: Any,
    X: pd.DataFrame,
    *,
    background_pool: pd.DataFrame,
    background_size: int = 100,
    n_draws: int = 3,
    k: int = 3,
    random_state: int = 0,
) -> dict[str, float]:
    """:func:`stability` of SHAP explanations of ``X`` across background samples drawn from a pool."""
    background_pool = check_frame(background_pool, "background_pool")
    background_size = check_int(background_size, "background_size", minimum=1)
    if background_size > len(background_pool):
        raise ValueError(
            f"background_size ({background_size}) exceeds the pool's {len(background_pool)} rows"
        )
    n_draws = check_int(n_draws, "n_draws", minimum=1)
    if n_draws < 2:
        raise ValueError(f"n_draws must be at least 2, got {n_draws}")
    rng = check_random_state(random_state)
    runs = []
    for _ in progress(range(n_draws), desc="SHAP backgrounds", total=n_draws):
        seed = int(rng.integers(2**31 - 1))
        background = background_pool.sample(background_size, random_state=seed)
        runs.append(shap_values(model, X, background=background, random_state=seed))
    return stability(runs, k=k)


@validate_params({"k": [Interval("integral", 1, None)], "random_state": [None, "seed"]})
def quality_table(
    model: Any,
    explanations: Mapping[str, LocalExplanation],
    *,
    k: int = 3,
    reference: pd.DataFrame | None = None,
    stability_scores: Mapping[str, Mapping[str, float]] | None = None,
    random_state: int = 0,
) -> pd.DataFrame:
    """The "explainability indices" of several explanations of one model, one row per method.

    Parameters
    ----------
    model : fitted binary classifier
    explanations : mapping name -> LocalExplanation
        Explanations of the same instances (e.g. ``{"SHAP": ..., "LIME": ...}``); the first one is
        the reference for the agreement columns.
    k : int
        Number of top features for comprehensiveness, sufficiency, overlap and sparsity.
    reference : pandas.DataFrame, optional
        Rows standing in for removed features (default: median of the explained instances).
    stability_scores : mapping name -> dict, optional
        Output of :func:`lime_stability` / :func:`shap_stability` per method, added as a column.
    random_state : int
        Seed of the random-order baseline row.

    Returns
    -------
    pandas.DataFrame
        Columns: comprehensiveness, sufficiency, deletion_auc (mean of the deletion curve, higher =
        more faithful), faithfulness_corr, top_k_share, effective_features, spearman_vs_first,
        top_k_overlap_vs_first, and stability_spearman when given. A last row "random order" shows
        what an uninformative explanation scores.
    """
    if not isinstance(explanations, Mapping) or not explanations:
        raise TypeError("explanations must be a non-empty dict mapping a method name to a LocalExplanation")
    n_features = min(
        _check_expl(e, f"explanations[{name!r}]").values.shape[1]
        for name, e in explanations.items()
    )
    if k > n_features:
        raise ValueError(f"k must be at most the number of features ({n_features}), got {k}")
    names = list(explanations)
    first = _check_expl(explanations[names[0]], f"explanations[{names[0]!r}]")
    rows = {}
    for name in names:
        expl = _check_expl(explanations[name], f"explanations[{name!r}]")
        deletion = deletion_curve(model, expl, reference=reference)
        insertion = insertion_curve(model, expl, reference=reference)
        row = {
            "comprehensiveness": deletion[k],
            "sufficiency": insertion[k],
            "deletion_auc": float(deletion.mean()),
            "faithfulness_corr": faithfulness_correlation(model, expl, reference=reference),
            **{key: v for key, v in sparsity(expl, k=k).items()},
        }
        agree = agreement(first, expl, k=k)
        row["spearman_vs_first"] = agree["spearman"]
        row["top_k_overlap_vs_first"] = agree["top_k_overlap"]
        if stability_scores and name in stability_scores:
            row["stability_spearman"] = stability_scores[name]["spearman"]
        rows[name] = row
    random_del = deletion_curve(model, first, reference=reference, order="random", random_state=random_state)
    random_ins = insertion_curve(model, first, reference=reference, order="random", random_state=random_state)
    rows["random order"] = {
        "comprehensiveness": random_del[k],
        "sufficiency": random_ins[k],
        "deletion_auc": float(random_del.mean()),
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "method"
    return table
