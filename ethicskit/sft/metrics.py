"""Ethical evaluation of a toxicity classifier: overall and unintended-bias metrics.

Unintended bias (Borkan et al. 2019, "Nuanced Metrics for Measuring Unintended Bias with Real Data for
Text Classification"), for each identity subgroup *g*:

- **subgroup AUC**: AUC on comments that mention *g* only. Low: the model confuses toxic and non-toxic
  comments about *g*.
- **BPSN AUC** (background positive, subgroup negative): non-toxic comments that mention *g* against toxic
  comments that do not. Low: non-toxic mentions of *g* score higher than real toxicity elsewhere - the
  model has learnt "mentions *g*" => toxic (false positives).
- **BNSP AUC** (background negative, subgroup positive): the mirror image (missed toxicity against *g*).
- Their **generalised mean** over subgroups with power -5 (close to the worst subgroup) and the Jigsaw
  "final metric" ``0.25 * overall AUC + 0.75 * mean of the three generalised means``.

Plus false positive / false negative rates per subgroup at a threshold, and counterfactual consistency:
does the prediction change when only the identity term changes (Garg et al. 2019)?
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._deprecation import renamed
from ethicskit._results import DictLike
from ethicskit._validation import (
    Interval,
    as_1d_array,
    as_numeric_array,
    check_binary,
    check_consistent_length,
    check_int,
    check_no_nan,
    check_param,
    check_probability,
)

__all__ = [
    "bias_metrics",
    "generalized_mean",
    "final_bias_score",
    "Evaluation",
    "evaluate",
    "Consistency",
    "counterfactual_consistency",
    "plot_bias",
    "compare",
]

BIAS_COLUMNS = ["subgroup_auc", "bpsn_auc", "bnsp_auc"]


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of ``scores`` for the larger of two labels (NaN with one label), as scikit-learn's.

    Computed from average ranks (Mann-Whitney U, ties counted one half), which equals
    ``roc_auc_score`` but skips its input validation: a bias table takes a few hundred AUCs, and the
    validation was 90 % of their cost (lab 3's checks spent about 4 s of their 24 in it).
    """
    from scipy.stats import rankdata

    labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
    values = np.unique(labels)
    if len(values) < 2:
        return float("nan")
    positive = labels == values[-1]
    n_pos = int(positive.sum())
    n_neg = len(labels) - n_pos
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _probabilities(values: Any, name: str) -> np.ndarray:
    """Scores as floats in [0, 1]: on a 0-100 scale every score >= a 0.5 threshold (fpr 1.0)."""
    array = as_numeric_array(values, name)
    if array.min() < 0 or array.max() > 1:
        raise ValueError(
            f"{name} must be probabilities in [0, 1], found values from {array.min():g} to {array.max():g}"
            " (divide a 0-100 score by 100)"
        )
    return array


def _membership(identities: Any, n: int) -> pd.DataFrame:
    """Boolean DataFrame: one column per identity, True where a comment mentions it."""
    if isinstance(identities, pd.DataFrame):
        frame = identities.reset_index(drop=True)
        if not all(
            pd.api.types.is_bool_dtype(frame[c]) or pd.api.types.is_numeric_dtype(frame[c]) for c in frame
        ):
            raise TypeError("identities as a DataFrame must hold boolean (or 0/1) columns, one per identity")
        return frame.fillna(0).astype(bool)
    values = pd.Series(as_1d_array(identities, "identities"), dtype="object")
    values = values.where(values.notna() & (values.astype(str) != ""), None)
    names = sorted({v for v in values if v is not None}, key=str)
    return pd.DataFrame({name: (values == name).to_numpy() for name in names})


@renamed(identities="sensitive_features")
def bias_metrics(
    scores: Any,
    labels: Any,
    sensitive_features: Any,
    *,
    threshold: float = 0.5,
    min_size: int = 10,
) -> pd.DataFrame:
    """Per-identity unintended-bias metrics (Borkan et al. 2019) and error rates.

    Parameters
    ----------
    scores : array-like of float
        Predicted P(toxic).
    labels : array-like of 0/1
        True labels.
    sensitive_features : array-like of identity names (None/NaN = no identity), or boolean DataFrame
        Which identity each comment mentions (one per comment), or one column per identity
        (a comment may mention several, as in Civil Comments).
    threshold : float
        For the false positive / false negative rates.
    min_size : int
        Identities mentioned by fewer comments are left out (their AUCs are noise).

    Returns
    -------
    pandas.DataFrame
        One row per identity (index), columns ``size``, ``subgroup_auc``, ``bpsn_auc``, ``bnsp_auc``,
        ``fpr``, ``fnr``, sorted by ``bpsn_auc`` (worst first).
    """
    scores = _probabilities(scores, "scores")
    labels = check_binary(labels, "labels")
    threshold = check_probability(threshold, "threshold")
    min_size = check_int(min_size, "min_size", minimum=1)
    member = _membership(sensitive_features, len(scores))
    check_consistent_length(scores=scores, labels=labels, sensitive_features=member)
    if len(np.unique(labels)) < 2:
        raise ValueError("labels must contain both classes (0 and 1) to compute AUCs")
    predicted = scores >= threshold
    rows = {}
    for name in member.columns:
        inside = member[name].to_numpy()
        if inside.sum() < min_size:
            continue
        pos, neg = labels == 1, labels == 0
        bpsn = (inside & neg) | (~inside & pos)
        bnsp = (inside & pos) | (~inside & neg)
        sub_neg, sub_pos = inside & neg, inside & pos
        rows[name] = {
            "size": int(inside.sum()),
            "subgroup_auc": _auc(labels[inside], scores[inside]),
            "bpsn_auc": _auc(labels[bpsn], scores[bpsn]),
            "bnsp_auc": _auc(labels[bnsp], scores[bnsp]),
            "fpr": float(predicted[sub_neg].mean()) if sub_neg.any() else float("nan"),
            "fnr": float((~predicted[sub_pos]).mean()) if sub_pos.any() else float("nan"),
        }
    if not rows:
        raise ValueError(
            f"sensitive_features: no identity is mentioned by at least min_size={min_size} comments"
        )
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "identity"
    return table.sort_values("bpsn_auc")


def generalized_mean(values: Any, *, power: float = -5.0) -> float:
    """Generalised (power) mean; a negative power weights the worst values most (Borkan et al.: -5)."""
    power = check_param(power, "power", [Interval("real", None, None)])
    array = as_numeric_array(values, "values", allow_nan=True)  # NaN = an undefined AUC, left out
    array = array[~np.isnan(array)]
    if array.size == 0:
        raise ValueError("values must hold at least one non-NaN number")
    if np.any(array < 0):
        raise ValueError(f"values must be >= 0 (AUCs, rates), found {array.min():g}")
    if power <= 0 and np.any(array == 0):
        return 0.0  # the limit: a zero dominates a mean with a non-positive power
    if power == 0:
        return float(np.exp(np.mean(np.log(array))))
    from scipy.special import logsumexp

    with np.errstate(divide="ignore"):  # log(0) = -inf is right here (a zero adds nothing)
        log_mean = logsumexp(power * np.log(array)) - np.log(array.size)
    return float(np.exp(log_mean / power))  # in log space: a power of 1e6 cannot overflow


def final_bias_score(
    overall_auc: float, table: pd.DataFrame, *, weight: float = 0.25, power: float = -5.0
) -> float:
    """Jigsaw's combined score: ``weight * overall AUC + (1 - weight) * mean of the generalised means``."""
    means = [generalized_mean(table[c], power=power) for c in BIAS_COLUMNS]
    return float(weight * overall_auc + (1 - weight) * np.mean(means))


@dataclass(frozen=True, eq=False)  # fields hold arrays: compare them explicitly, not with ==
class Evaluation(DictLike):
    """Result of :func:`evaluate`: overall quality and unintended bias of one classifier.

    Attributes
    ----------
    overall_auc, accuracy : float
    worst_bpsn_auc : float
        The lowest BPSN AUC of any identity (the most harmful confusion of mentions with toxicity).
    worst_bpsn_identity : str
    gmean_subgroup_auc, gmean_bpsn_auc, gmean_bnsp_auc : float
        Generalised means (p = -5) over identities, as in the Jigsaw competition.
    final_score : float
        The competition's final bias score.
    scores : numpy.ndarray
        P(toxic) per text.
    table : pandas.DataFrame
        :func:`bias_metrics` per identity.
    """

    overall_auc: float
    accuracy: float
    worst_bpsn_auc: float
    worst_bpsn_identity: str
    gmean_subgroup_auc: float
    gmean_bpsn_auc: float
    gmean_bnsp_auc: float
    final_score: float
    scores: np.ndarray = field(repr=False)
    table: pd.DataFrame = field(repr=False)


@renamed(identities="sensitive_features")
def evaluate(
    model: Any,
    texts: Sequence[str],
    labels: Any,
    sensitive_features: Any,
    *,
    threshold: float = 0.5,
    min_size: int = 10,
) -> Evaluation:
    """Overall and per-identity evaluation of a classifier (or of precomputed scores).

    Parameters
    ----------
    model : TextClassifier, callable, or array-like of scores
        Anything with ``predict_proba(texts)``, a function texts -> P(toxic), or the scores themselves.
    texts, labels, sensitive_features : the evaluation data (see :func:`bias_metrics`).

    Returns
    -------
    Evaluation
        Its fields (also readable as keys, as when this returned a dict).
    """
    scores = _scores(model, texts)
    labels = check_binary(labels, "labels")
    check_consistent_length(scores=scores, labels=labels)
    table = bias_metrics(scores, labels, sensitive_features, threshold=threshold, min_size=min_size)
    overall = _auc(labels, scores)
    return Evaluation(
        overall_auc=overall,
        accuracy=float(np.mean((scores >= threshold) == labels)),
        worst_bpsn_auc=float(table["bpsn_auc"].min()),
        worst_bpsn_identity=str(table["bpsn_auc"].idxmin()),
        gmean_subgroup_auc=generalized_mean(table["subgroup_auc"]),
        gmean_bpsn_auc=generalized_mean(table["bpsn_auc"]),
        gmean_bnsp_auc=generalized_mean(table["bnsp_auc"]),
        final_score=final_bias_score(overall, table),
        scores=scores,
        table=table,
    )


def _scores(model: Any, texts: Sequence[str]) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        raw = model.predict_proba(list(texts))
    elif callable(model):
        raw = model(list(texts))
    else:
        raw = model
    array = np.asarray(raw, dtype=float)
    if array.ndim == 2 and array.shape[1] == 2:
        array = array[:, 1]
    return check_no_nan(as_1d_array(array, "scores"), "scores")


@dataclass(frozen=True)
class Consistency(DictLike):
    """Result of :func:`counterfactual_consistency` (fields also readable as keys)."""

    consistency: float
    mean_abs_change: float
    max_gap: float
    n_texts: int


@renamed(identities="sensitive_features")
def counterfactual_consistency(
    model: Any,
    texts: Sequence[str],
    sensitive_features: Any,
    *,
    swap_terms: Sequence[str],
    threshold: float = 0.5,
    max_texts: int | None = 300,
    random_state: int = 0,
) -> Consistency:
    """How often does the decision stay the same when only the identity term is swapped?

    For each text that mentions an identity term, every term of ``swap_terms`` is substituted for it
    (:func:`ethicskit.datasets.moderation.swap_identity`) and the model scores all versions.

    Parameters
    ----------
    model : TextClassifier or callable
        Anything with ``predict_proba(texts)`` or a function texts -> P(toxic).
    texts : sequence of str
        Comments.
    sensitive_features : array-like
        The identity term each comment mentions (None/NaN = none; those are skipped).
    swap_terms : sequence of str
        Terms to swap in.
    max_texts : int, optional
        Use a seeded sample of at most this many texts (each yields ``len(swap_terms)`` variants).

    Returns
    -------
    Consistency
        ``consistency`` (share of texts whose decision is identical for every term), ``mean_abs_change``
        (mean |score(variant) - score(original)|), ``max_gap`` (mean over texts of max - min score
        across the variants) and ``n_texts``.
    """
    from ethicskit.datasets.moderation import swap_identity

    texts = list(texts)
    idents = pd.Series(as_1d_array(sensitive_features, "sensitive_features"), dtype="object")
    check_consistent_length(texts=texts, sensitive_features=idents)
    swap_terms = list(swap_terms)
    if len(swap_terms) < 2:
        raise ValueError("swap_terms must hold at least two identity terms")
    candidates = [i for i, v in enumerate(idents) if isinstance(v, str) and v]
    if not candidates:
        raise ValueError("sensitive_features: no text mentions an identity term, nothing to swap")
    rng = np.random.default_rng(random_state)
    if max_texts is not None and len(candidates) > max_texts:
        candidates = sorted(rng.choice(candidates, size=max_texts, replace=False).tolist())
    variants = [swap_identity(texts[i], idents[i], term) for i in candidates for term in swap_terms]
    originals = _scores(model, [texts[i] for i in candidates])
    scores = _scores(model, variants).reshape(len(candidates), len(swap_terms))
    decisions = scores >= threshold
    return Consistency(
        consistency=float(np.mean(decisions.all(axis=1) | (~decisions).all(axis=1))),
        mean_abs_change=float(np.mean(np.abs(scores - originals[:, None]))),
        max_gap=float(np.mean(scores.max(axis=1) - scores.min(axis=1))),
        n_texts=len(candidates),
    )


def plot_bias(table: pd.DataFrame, *, ax: Any = None, top: int | None = 15, title: str | None = None):
    """Horizontal bars of subgroup, BPSN and BNSP AUC per identity (worst BPSN first).

    Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    missing = [c for c in BIAS_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"table must come from bias_metrics (missing columns {missing})")
    shown = table.sort_values("bpsn_auc").head(top) if top else table.sort_values("bpsn_auc")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.32 * len(shown) + 1.2))
    positions = np.arange(len(shown))
    for offset, column in zip((-0.27, 0.0, 0.27), BIAS_COLUMNS, strict=False):
        ax.barh(positions + offset, shown[column], height=0.27, label=column.replace("_", " "))
    ax.set_yticks(positions, [str(i) for i in shown.index])
    ax.invert_yaxis()
    ax.set_xlim(max(0.0, float(np.nanmin(shown[BIAS_COLUMNS].to_numpy())) - 0.05), 1.0)
    ax.axvline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("AUC (1 = perfect, 0.5 = chance)")
    ax.set_title(title or "Unintended bias per identity (lowest BPSN AUC first)")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def compare(results: dict[str, Mapping], *, extra: dict[str, dict] | None = None) -> pd.DataFrame:
    """One table comparing several :func:`evaluate` results (rows: model names).

    ``extra`` adds columns per model (e.g. counterfactual consistency, energy).
    """
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict of name -> evaluate(...) result")
    keep = [
        "overall_auc",
        "accuracy",
        "worst_bpsn_auc",
        "worst_bpsn_identity",
        "gmean_bpsn_auc",
        "gmean_bnsp_auc",
        "gmean_subgroup_auc",
        "final_score",
    ]
    rows = {name: {k: r[k] for k in keep if k in r} for name, r in results.items()}
    for name, values in (extra or {}).items():
        rows.setdefault(name, {}).update(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.DataFrame.from_dict(rows, orient="index")
