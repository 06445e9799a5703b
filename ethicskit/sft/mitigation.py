"""Mitigating unintended identity-term bias before or during fine-tuning.

Three standard remedies, each a small function that prepares data or weights for
:func:`ethicskit.sft.train.train_stage`:

- :func:`counterfactual_augment` - counterfactual data augmentation (CDA; Lu et al. 2018, Dixon et al.
  2018's "bias mitigation by data balancing"): add copies of identity-bearing comments with the identity
  term swapped for others, same label. The term stops predicting the label.
- :func:`reweight` - weights that make every identity equally often toxic and non-toxic in the loss
  (Kamiran & Calders' reweighing applied to identity x label cells); no new data.
- A second, balanced fine-tuning stage - call ``train_stage`` again on a balanced set
  (``load_moderation(split="balanced")`` or an augmented one) with a small learning rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._deprecation import renamed
from ethicskit._validation import (
    as_1d_array,
    check_binary,
    check_consistent_length,
    check_positive_int,
    validate_params,
)

__all__ = ["counterfactual_augment", "reweight"]


@renamed(identities="sensitive_features")
@validate_params({"random_state": [None, "seed"]})
def counterfactual_augment(
    texts: Sequence[str],
    labels: Any,
    sensitive_features: Any,
    *,
    swap_terms: Sequence[str] | dict[str, Sequence[str]],
    n_swaps: int = 1,
    random_state: int = 0,
) -> pd.DataFrame:
    """Add identity-swapped copies of every comment that mentions an identity term.

    Parameters
    ----------
    texts, labels : the training comments and their 0/1 labels.
    sensitive_features : array-like
        The identity term each comment mentions (None/NaN = none; such comments are kept, not copied).
    swap_terms : sequence of str, or dict category -> terms
        Replacement terms. With a dict, a term is swapped only for terms of its own category (when the
        term is in one), which keeps the sentences sensible.
    n_swaps : int
        Copies per identity-bearing comment (different terms, drawn without replacement).
    random_state : int
        Seed for the choice of replacement terms.

    Returns
    -------
    pandas.DataFrame
        Columns ``text``, ``label``, ``identity``, ``augmented`` (True for the new copies): the original
        rows first, then the copies.
    """
    from ethicskit.datasets.moderation import swap_identity
    from ethicskit.sft.tokens import check_texts

    texts = check_texts(texts)
    labels = check_binary(labels, "labels")
    idents = pd.Series(as_1d_array(sensitive_features, "sensitive_features"), dtype="object")
    check_consistent_length(texts=texts, labels=labels, sensitive_features=idents)
    check_positive_int(n_swaps, "n_swaps")
    pools = _pools(swap_terms)
    rng = np.random.default_rng(random_state)
    rows = [
        {"text": t, "label": int(y), "identity": i if isinstance(i, str) else None, "augmented": False}
        for t, y, i in zip(texts, labels, idents, strict=False)
    ]
    for text, label, term in zip(texts, labels, idents, strict=False):
        if not isinstance(term, str) or not term:
            continue
        pool = [t for t in pools.get(term, pools[None]) if t != term]
        if not pool:
            continue
        for new in rng.choice(pool, size=min(n_swaps, len(pool)), replace=False):
            rows.append(
                {
                    "text": swap_identity(text, term, str(new)),
                    "label": int(label),
                    "identity": str(new),
                    "augmented": True,
                }
            )
    return pd.DataFrame(rows)


def _pools(swap_terms: Sequence[str] | dict[str, Sequence[str]]) -> dict:
    """term -> candidate replacements (same category when categories are given); None -> all terms."""
    if isinstance(swap_terms, dict):
        groups = {category: [str(t) for t in terms] for category, terms in swap_terms.items()}
        everything = [t for terms in groups.values() for t in terms]
        pools: dict = {term: terms for terms in groups.values() for term in terms}
    else:
        if isinstance(swap_terms, str):
            raise TypeError("swap_terms must be a list of terms (or a dict category -> terms), not a string")
        everything = [str(t) for t in swap_terms]
        pools = {}
    if len(everything) < 2:
        raise ValueError("swap_terms must hold at least two identity terms")
    pools[None] = everything
    return pools


@renamed(identities="sensitive_features")
def reweight(labels: Any, sensitive_features: Any) -> np.ndarray:
    """Weights that balance toxic and non-toxic comments within every identity (and the rest).

    Each (identity, label) cell gets total weight proportional to the identity's size times the
    overall label share, so that ``P(toxic | identity)`` under the weights equals ``P(toxic)`` overall
    for every identity. Weights average 1. A group whose comments all carry the same label cannot be
    balanced by weights (its cell for the other label is empty); add data for it instead (CDA).

    Parameters
    ----------
    labels : array-like of 0/1
    sensitive_features : array-like (None/NaN = no identity; treated as one more group)

    Returns
    -------
    numpy.ndarray of float, one weight per comment
    """
    labels = check_binary(labels, "labels")
    values = as_1d_array(sensitive_features, "sensitive_features")
    groups = pd.Series(values, dtype="object").fillna("<none>").astype(str)
    check_consistent_length(labels=labels, sensitive_features=groups)
    frame = pd.DataFrame({"group": groups.to_numpy(), "label": labels})
    p_label = frame["label"].map(frame["label"].value_counts(normalize=True))
    p_group = frame["group"].map(frame["group"].value_counts(normalize=True))
    p_cell = frame.groupby(["group", "label"])["label"].transform("size") / len(frame)
    weights = (p_group * p_label / p_cell).to_numpy(dtype=float)
    return weights / weights.mean()
