"""Membership inference: does a model give away who was in its training set?

The loss-threshold attack (Yeom et al., 2018) guesses "member" when the model's loss on a record is
small: models fit their training records better than unseen ones. Its success, measured as ROC AUC
(0.5 = guessing) and *advantage* (max TPR - FPR, 0 = no leakage), is an empirical lower bound on the
leakage. An (epsilon, delta)-DP model caps the advantage of *any* attack at
``(e^eps - 1 + 2 delta) / (e^eps + 1)`` (:func:`dp_advantage_bound`; about epsilon / 2 for small epsilon).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._plotting import axes
from ethicskit._validation import (
    Interval,
    check_binary,
    check_consistent_length,
    check_param,
    check_positive_int,
    check_random_state,
    validate_params,
)

__all__ = [
    "MembershipResult",
    "dp_advantage_bound",
    "loss_threshold_attack",
    "per_example_loss",
    "shadow_model_attack",
    "summarise",
]


def per_example_loss(model: Any, X: Any, y: Any) -> np.ndarray:
    """Cross-entropy of ``model.predict_proba(X)`` on each record of ``(X, y)``."""
    if not hasattr(model, "predict_proba"):
        raise TypeError(f"model must have a predict_proba method, got {type(model).__name__}")
    labels = check_binary(y, "y")
    check_consistent_length(X=X, y=labels)
    proba = np.asarray(model.predict_proba(X), dtype=float)
    if proba.ndim != 2 or proba.shape[0] != len(labels):
        raise ValueError(f"model.predict_proba returned shape {proba.shape}; expected ({len(labels)}, 2)")
    chosen = np.clip(proba[np.arange(len(labels)), labels], 1e-12, 1.0)
    return -np.log(chosen)


@dataclass
class MembershipResult:
    """The outcome of :func:`loss_threshold_attack`.

    Attributes
    ----------
    auc : float
        ROC AUC of the attack (0.5 = no better than guessing).
    advantage : float
        max over thresholds of TPR - FPR (0 = no leakage, 1 = perfect attack).
    threshold : float
        The loss threshold that achieves ``advantage`` (loss <= threshold: guess "member").
    member_loss, non_member_loss : ndarray
        The losses compared (equal numbers of each).
    """

    auc: float
    advantage: float
    threshold: float
    member_loss: np.ndarray = field(repr=False)
    non_member_loss: np.ndarray = field(repr=False)

    def plot(self, ax=None, *, log_counts: bool = True):
        """Histogram of member vs non-member losses (log-scaled counts by default); returns the Axes."""
        ax = axes(ax, (6, 3.5))
        high = float(np.quantile(np.concatenate([self.member_loss, self.non_member_loss]), 0.99))
        bins = np.linspace(0, max(high, 1e-3), 40)
        ax.hist(self.member_loss, bins=bins, histtype="step", linewidth=1.5, label="members (training)")
        ax.hist(self.non_member_loss, bins=bins, histtype="step", linewidth=1.5, label="non-members")
        if np.isfinite(self.threshold):
            ax.axvline(self.threshold, color="k", linestyle="--", label="attack threshold")
        if log_counts:
            ax.set_yscale("log")
        ax.set(
            xlabel="per-example loss",
            ylabel="records" + (" (log scale)" if log_counts else ""),
            title=f"membership inference: AUC {self.auc:.2f}, advantage {self.advantage:.2f}",
        )
        ax.legend()
        return ax


_RECORDS = [None, Interval("integral", 10, None)]  # fewer than 10 of each measures nothing


def _check_pair(X: Any, y: Any, x_name: str, y_name: str) -> None:
    """Labels 0/1, one per row of the table, named as the caller's argument."""
    labels = check_binary(y, y_name)
    if X is None or not hasattr(X, "__len__"):
        raise TypeError(f"{x_name} must be a table (DataFrame or 2-d array), got {type(X).__name__}")
    check_consistent_length(**{x_name: X, y_name: labels})


@validate_params({"max_records": _RECORDS})
def loss_threshold_attack(
    model: Any,
    X_members: Any,
    y_members: Any,
    X_non_members: Any,
    y_non_members: Any,
    *,
    max_records: int | None = 5000,
    random_state: int | np.random.Generator | None = 0,
) -> MembershipResult:
    """Run the loss-threshold membership-inference attack against ``model``.

    Parameters
    ----------
    model : estimator with ``predict_proba``
    X_members, y_members : table and labels
        Records the model was trained on.
    X_non_members, y_non_members : table and labels
        Records from the same population that it never saw.
    max_records : int or None
        Use at most this many records of each kind (equal numbers of each, sampled with ``random_state``).

    Returns
    -------
    MembershipResult
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    _check_pair(X_members, y_members, "X_members", "y_members")
    _check_pair(X_non_members, y_non_members, "X_non_members", "y_non_members")
    member = per_example_loss(model, X_members, y_members)
    outside = per_example_loss(model, X_non_members, y_non_members)
    rng = check_random_state(random_state)
    n = min(len(member), len(outside), max_records or np.inf)
    if n < 10:
        raise ValueError(f"need at least 10 members and 10 non-members to measure leakage, got {n}")
    member = member[rng.choice(len(member), size=int(n), replace=False)]
    outside = outside[rng.choice(len(outside), size=int(n), replace=False)]
    truth = np.r_[np.ones(len(member)), np.zeros(len(outside))]
    score = -np.r_[member, outside]  # low loss -> high membership score
    fpr, tpr, thresholds = roc_curve(truth, score)
    best = int(np.argmax(tpr - fpr))
    threshold = float(-thresholds[best]) if np.isfinite(thresholds[best]) else float("-inf")
    return MembershipResult(
        auc=float(roc_auc_score(truth, score)),
        advantage=float(tpr[best] - fpr[best]),
        threshold=threshold,
        member_loss=member,
        non_member_loss=outside,
    )


def _attack_features(model: Any, X: Any, y: Any) -> np.ndarray:
    """Per-record attack features: loss, confidence in the true class, top probability, label."""
    labels = check_binary(y, "y")
    proba = np.asarray(model.predict_proba(X), dtype=float)
    true = np.clip(proba[np.arange(len(labels)), labels], 1e-12, 1.0)
    return np.column_stack([-np.log(true), true, proba.max(axis=1), labels])


def _subset(X: Any, rows: np.ndarray) -> Any:
    return X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]


@validate_params({"max_records": _RECORDS, "n_shadows": [Interval("integral", 1, None)]})
def shadow_model_attack(
    make_model: Callable[[], Any],
    X_shadow: Any,
    y_shadow: Any,
    model: Any,
    X_members: Any,
    y_members: Any,
    X_non_members: Any,
    y_non_members: Any,
    *,
    n_shadows: int = 4,
    max_records: int | None = 5000,
    random_state: int | np.random.Generator | None = 0,
) -> MembershipResult:
    """Shokri et al.'s (2017) shadow-model attack: learn what membership looks like, then apply it.

    Each shadow model (``make_model()``, then ``fit``) is trained on a random half of the attacker's own
    data ``(X_shadow, y_shadow)``, so the attacker knows who is "in" and who is "out". A logistic
    regression learns to tell them apart from the shadow models' outputs and is then applied to the
    target ``model`` on its real members and non-members.

    Returns
    -------
    MembershipResult
        ``threshold`` is the attack-score threshold (probability of membership) of the best advantage.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score, roc_curve

    if not callable(make_model):
        raise TypeError("make_model must be a function returning a new, unfitted model")
    check_positive_int(n_shadows, "n_shadows")
    labels = check_binary(y_shadow, "y_shadow")
    check_consistent_length(X_shadow=X_shadow, y_shadow=labels)
    if len(labels) < 40:
        raise ValueError(f"X_shadow needs at least 40 records to train shadow models, got {len(labels)}")
    _check_pair(X_members, y_members, "X_members", "y_members")
    _check_pair(X_non_members, y_non_members, "X_non_members", "y_non_members")
    rng = check_random_state(random_state)
    features, membership = [], []
    for _ in range(int(n_shadows)):
        order = rng.permutation(len(labels))
        inside, outside = order[: len(order) // 2], order[len(order) // 2 :]
        shadow = make_model().fit(_subset(X_shadow, inside), labels[inside])
        for rows, flag in ((inside, 1), (outside, 0)):
            features.append(_attack_features(shadow, _subset(X_shadow, rows), labels[rows]))
            membership.append(np.full(len(rows), flag))
    attacker = LogisticRegression(max_iter=1000).fit(np.vstack(features), np.concatenate(membership))
    member = _attack_features(model, X_members, y_members)
    outside = _attack_features(model, X_non_members, y_non_members)
    n = min(len(member), len(outside), max_records or np.inf)
    member = member[rng.choice(len(member), size=int(n), replace=False)]
    outside = outside[rng.choice(len(outside), size=int(n), replace=False)]
    score = attacker.predict_proba(np.vstack([member, outside]))[:, 1]
    truth = np.r_[np.ones(len(member)), np.zeros(len(outside))]
    fpr, tpr, thresholds = roc_curve(truth, score)
    best = int(np.argmax(tpr - fpr))
    return MembershipResult(
        auc=float(roc_auc_score(truth, score)),
        advantage=float(tpr[best] - fpr[best]),
        threshold=float(min(thresholds[best], 1.0)),
        member_loss=member[:, 0],
        non_member_loss=outside[:, 0],
    )


def dp_advantage_bound(epsilon: float, delta: float = 0.0) -> float:
    """Largest membership advantage any attack can reach against an (epsilon, delta)-DP model.

    For (epsilon, delta)-DP, TPR <= e^eps * FPR + delta and 1 - FPR <= e^eps (1 - TPR) + delta; the
    largest TPR - FPR allowed is ``(e^eps - 1 + 2 delta) / (e^eps + 1)``.
    """
    check_param(delta, "delta", [Interval("real", 0, 1)])
    if isinstance(epsilon, (float, np.floating)) and epsilon == np.inf:
        return 1.0  # no privacy guarantee (a model trained without DP reports epsilon_ = inf)
    epsilon = check_param(epsilon, "epsilon", [Interval("real", 0, None)])
    # (e^eps - 1 + 2 delta) / (e^eps + 1) written so that a huge epsilon cannot overflow
    tail = 2 * delta * np.exp(-epsilon) / (1 + np.exp(-epsilon))
    return float(min(1.0, np.tanh(epsilon / 2) + tail))


def summarise(results: dict[str, MembershipResult]) -> pd.DataFrame:
    """One row per named attack result (auc, advantage)."""
    return pd.DataFrame({k: {"auc": r.auc, "advantage": r.advantage} for k, r in results.items()}).T
