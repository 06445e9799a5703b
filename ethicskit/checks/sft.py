"""Checks for lesson 05-ethics-sft (self-check exercises) and lab lab3-ethics-finetuning (tests).

Lab checks take the learner's models. Visible checks use the public Dixon-style evaluation split
(``load_moderation(split="eval")``). Hidden checks receive evaluation templates written only in the
nbgrader source notebook, so nobody can train on them: a model must *generalise* to be fair there. All
predictions go through ``model.predict_proba(texts)``, so a constant predictor or a rule that ignores the
text cannot reach the AUC bound.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ethicskit.checks.core import CheckFailed, Parts, expect, expect_close
from ethicskit.checks.exercise import Exercise

__all__ = [
    "LAB_MIN_AUC",
    "LAB_MIN_WORST_BPSN",
    "LAB_MIN_IMPROVEMENT",
    "LAB_MAX_MEMBERSHIP",
    "lab_data",
    "membership_auc",
    "check_baseline",
    "check_bias_table",
    "check_mitigated",
    "q1",
    "q2",
    "q3",
    "q4",
]

# Bounds set from measured honest variants (benchmarks/bench_contamination_gate.py, 16 models trained on
# train/validation only: the lab's top-2-layer recipe with other seeds, mitigations, learning rates,
# epochs, lengths, batch sizes and depths, and full fine-tuning), with a margin below the lowest:
LAB_MIN_AUC = 0.93  # overall AUC, hidden templates (honest 0.979-1.000; a top-3 baseline at lr 2e-4: 0.954)
LAB_MIN_WORST_BPSN = 0.94  # worst per-identity BPSN AUC of a mitigated model (honest mitigated 0.955-1.000)
LAB_MIN_IMPROVEMENT = 0.005  # mitigated minus the learner's own baseline worst BPSN (reference: +0.142)
# Contamination: a model trained on the public evaluation split must not pass. Tested by behaviour only
# (never by what the model object says it trained on): within each label, how often the model ranks a
# public evaluation comment as more clearly right than a held-out template comment (a Mann-Whitney AUC;
# 0.5 = no preference). Ranks ignore any monotone squashing of the probabilities. Measured: honest
# 0.476-0.657 (16 variants, none flagged); trained on train + the public evaluation split 0.789-0.851
# (3 models, all flagged, squashed or not); trained on the evaluation split alone 0.681 (not flagged).
LAB_MAX_MEMBERSHIP = 0.72
LAB_TRAIN_SIZE = 1000


def lab_data():
    """The lab's data: skewed training split, validation split, public evaluation split (Datasets)."""
    from ethicskit.datasets.moderation import load_moderation

    train = load_moderation(split="train", n=LAB_TRAIN_SIZE, random_state=0)
    validation = load_moderation(split="validation", n=300, random_state=0)
    evaluation = load_moderation(split="eval")
    return train, validation, evaluation


def _eval_frame(hidden_templates: tuple[Sequence[str], Sequence[str]] | None) -> pd.DataFrame:
    from ethicskit.datasets.moderation import identity_eval_set, load_moderation

    if hidden_templates is None:
        return load_moderation(split="eval").frame
    toxic, nontoxic = hidden_templates
    return identity_eval_set(toxic_templates=toxic, nontoxic_templates=nontoxic)


#: a graded model's scores per (its snapshot's digest, texts), in one recheck process (see :func:`_scores`)
_RECHECK_SCORES: dict[tuple[Any, tuple[str, ...]], tuple[Any, np.ndarray]] = {}


def _in_runner(model: Any) -> bool:
    """Whether ``model`` is a learner's object the recheck holds through a handle (its runner process)."""
    from ethicskit.course.proxy import Handle

    return isinstance(model, Handle)


def _model_key(model: Any) -> Any:
    """What identifies a graded model's state in the recheck: its snapshot's digest, else the handle."""
    from ethicskit.course.proxy import snapshot_digest

    return snapshot_digest(model) or id(model)


def _scores(model: Any, texts: list[str], what: str) -> np.ndarray:
    """P(toxic) of ``model`` for ``texts``, after checking what it returns.

    In the recheck the visible and hidden checks of lab 3's three test cells ask the same model for
    the same texts up to five times (the public evaluation split); each pass is a full encoder run
    over it. The first answer is kept for the rest of the recheck, keyed by the digest of the snapshot
    bytes the model was loaded from: a later cell whose snapshot holds the same bytes holds the same
    model in the same state (no check changes a model), while a model retrained between cells has
    other bytes and is asked again. Outside the recheck nothing is kept.
    """
    expect(
        hasattr(model, "predict_proba"),
        f"{what} should have a predict_proba(texts) method (fine_tune returns such a TextClassifier).",
    )
    key = (_model_key(model), tuple(texts)) if _in_runner(model) else None
    if key is not None and key in _RECHECK_SCORES:
        return _RECHECK_SCORES[key][1].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            raw = model.predict_proba(texts)
        except Exception as error:  # noqa: BLE001 - report the learner's crash in plain words
            raise CheckFailed(f"{what}.predict_proba(texts) raised {type(error).__name__}: {error}") from None
    scores = np.asarray(raw, dtype=float)
    if scores.ndim == 2 and scores.shape[1] == 2:
        scores = scores[:, 1]
    expect(
        scores.shape == (len(texts),),
        f"{what}.predict_proba should return one probability per text ({len(texts)}), "
        f"got shape {scores.shape}.",
    )
    expect(bool(np.all(np.isfinite(scores))), f"{what}.predict_proba returned NaN or infinite values.")
    if key is not None:
        _RECHECK_SCORES[key] = (model, scores.copy())
    return scores


def _report(model: Any, frame: pd.DataFrame, what: str) -> Any:
    from ethicskit.sft.metrics import evaluate

    scores = _scores(model, frame["text"].tolist(), what)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # report.scores are these scores, reused by the contamination check: one prediction pass per frame
        return evaluate(scores, frame["text"], frame["toxic"], frame["identity"], min_size=2)


def membership_auc(public_scores: Any, public_labels: Any, hidden_scores: Any, hidden_labels: Any) -> float:
    """How much better a model fits public evaluation comments than held-out ones (0.5: no difference).

    Within each label, the AUC of "public comment scored more clearly right than a held-out comment"
    (toxic: higher P(toxic); non-toxic: lower), averaged over the two labels. It depends only on the
    ranks of the scores, so squashing probabilities towards 0.5 (or any monotone change) leaves it as is.
    """
    from sklearn.metrics import roc_auc_score

    public_scores, hidden_scores = np.asarray(public_scores, float), np.asarray(hidden_scores, float)
    public_labels, hidden_labels = np.asarray(public_labels), np.asarray(hidden_labels)
    aucs = []
    for label, sign in ((1, 1.0), (0, -1.0)):
        pub, hid = public_scores[public_labels == label], hidden_scores[hidden_labels == label]
        if len(pub) and len(hid):
            member = np.r_[np.ones(len(pub)), np.zeros(len(hid))]
            aucs.append(roc_auc_score(member, sign * np.r_[pub, hid]))
    return float(np.mean(aucs)) if aucs else 0.5


def _expect_generalises(model: Any, hidden: dict, hidden_frame: pd.DataFrame, what: str) -> None:
    """Fail when the model fits the public evaluation split clearly better than unseen templates.

    ``hidden`` is the model's report on ``hidden_frame`` (the held-out templates), scores included. Only
    the model's predictions count: what the object records about its training is never read.
    """
    public = _eval_frame(None)
    public_scores = _scores(model, public["text"].tolist(), what)
    member = membership_auc(public_scores, public["toxic"], hidden["scores"], hidden_frame["toxic"])
    expect(
        member <= LAB_MAX_MEMBERSHIP,
        f"{what} fits the public evaluation comments far better than comments it has never seen "
        f"(membership AUC {member:.2f}; honest models stay below {LAB_MAX_MEMBERSHIP}). Was it trained on "
        "the evaluation split? Train only on `train` and `validation`.",
    )


def _expect_auc(report: dict, what: str, where: str) -> None:
    auc = report["overall_auc"]
    expect(
        auc >= LAB_MIN_AUC,
        f"{what} reaches an overall AUC of {auc:.3f} on {where}; at least {LAB_MIN_AUC} is needed "
        "(a model that ignores the text scores 0.5). Did training run on the comments and labels?",
    )


def _expect_fair(report: dict, what: str, where: str) -> None:
    expect(
        report["overall_auc"] >= LAB_MIN_AUC,
        f"{what}: fairness only counts for a model that also meets the overall AUC bound.",
    )
    worst = report["worst_bpsn_auc"]
    expect(
        worst >= LAB_MIN_WORST_BPSN,
        f"{what}: the worst per-identity BPSN AUC on {where} is {worst:.3f} "
        f"(identity '{report['worst_bpsn_identity']}'); at least {LAB_MIN_WORST_BPSN} is needed. "
        "Non-toxic comments that mention this identity still score like toxic ones.",
    )


def _expect_improvement(report: dict, base: dict, where: str) -> None:
    expect(
        report["overall_auc"] >= LAB_MIN_AUC,
        "an improvement in fairness only counts for a model that also meets the overall AUC bound.",
    )
    gain = report["worst_bpsn_auc"] - base["worst_bpsn_auc"]
    expect(
        gain >= LAB_MIN_IMPROVEMENT,
        f"on {where} the worst BPSN AUC improves by {gain:+.4f} over baseline_model; at least "
        f"+{LAB_MIN_IMPROVEMENT} is needed. Is mitigated_model really a different, mitigated model?",
    )


def check_baseline(model: Any, *, hidden_templates: tuple | None = None, points: float = 2) -> float | None:
    """Lab part A: the unmitigated fine-tuned model (overall AUC bound)."""
    frame = _eval_frame(hidden_templates)
    report = _report(model, frame, "baseline_model")
    where = "held-out evaluation templates" if hidden_templates else "the public evaluation split"
    if hidden_templates is None:
        _expect_auc(report, "baseline_model", where)
        print(f"baseline_model: overall AUC {report['overall_auc']:.3f} on {where} - visible check passed.")
        return None
    parts = Parts(total=points)
    if parts.run(0, lambda: _expect_generalises(model, report, frame, "baseline_model"), "evaluation data"):
        parts.run(points, lambda: _expect_auc(report, "baseline_model", where), "overall AUC")
    return parts.result()


def check_bias_table(table: Any, model: Any, *, points: float = 2, hidden: bool = False) -> float | None:
    """Lab part B: the per-identity bias table of baseline_model on the public evaluation split."""
    from ethicskit.sft.metrics import bias_metrics

    def check() -> None:
        expect(
            isinstance(table, pd.DataFrame),
            f"bias_table should be a DataFrame, it is a {type(table).__name__}.",
        )
        missing = [c for c in ("subgroup_auc", "bpsn_auc", "bnsp_auc", "fpr") if c not in table.columns]
        expect(not missing, f"bias_table should have the columns {missing} (use ethicskit.sft.bias_metrics).")
        frame = _eval_frame(None)
        scores = _scores(model, frame["text"].tolist(), "baseline_model")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = bias_metrics(scores, frame["toxic"], frame["identity"])
        expect(
            set(map(str, table.index)) == set(expected.index),
            f"bias_table should have one row per identity term ({len(expected)}), indexed by the term; "
            f"it has {len(table)} rows.",
        )
        found = table.rename(index=str).loc[expected.index]
        for column in ("bpsn_auc", "fpr"):
            expect_close(
                found[column].to_numpy(dtype=float),
                expected[column].to_numpy(),
                f"bias_table['{column}']",
                tol=1e-3,
                reveal=not hidden,
            )

    if not hidden:
        check()
        print("bias_table matches baseline_model on the public evaluation split - visible check passed.")
        return None
    parts = Parts(total=points)
    parts.run(points, check, "bias table")
    return parts.result()


def check_mitigated(
    model: Any, baseline: Any, *, hidden_templates: tuple | None = None, points: float = 6
) -> float | None:
    """Lab part C: the mitigated model - overall AUC, worst BPSN AUC, improvement over the baseline."""
    frame = _eval_frame(hidden_templates)
    where = "held-out evaluation templates" if hidden_templates else "the public evaluation split"
    if hidden_templates is None:
        expect(
            model is not baseline, "mitigated_model is the same object as baseline_model; train a new model."
        )
    report = _report(model, frame, "mitigated_model")
    base = _report(baseline, frame, "baseline_model")
    if hidden_templates is None:
        _expect_auc(report, "mitigated_model", where)
        _expect_fair(report, "mitigated_model", where)
        _expect_improvement(report, base, where)
        print(
            f"mitigated_model: AUC {report['overall_auc']:.3f}, worst BPSN {report['worst_bpsn_auc']:.3f} "
            f"(baseline {base['worst_bpsn_auc']:.3f}) on {where} - visible check passed."
        )
        return None
    parts = Parts(total=points)

    def uncontaminated() -> None:  # a model trained on the evaluation split earns none of the parts
        _expect_generalises(model, report, frame, "mitigated_model")

    if not parts.run(0, uncontaminated, "evaluation data"):
        return parts.result()
    parts.run(points / 3, lambda: _expect_auc(report, "mitigated_model", where), "overall AUC")
    parts.run(points / 3, lambda: _expect_fair(report, "mitigated_model", where), "worst BPSN AUC")
    parts.run(points / 3, lambda: _expect_improvement(report, base, where), "improvement")
    return parts.result()


# ------------------------------------------------------------------------------------------ lesson exercises
def _check_metric_name(answer: Any) -> None:
    expect(
        isinstance(answer, str),
        f"answer with a string such as 'subgroup', 'bpsn' or 'bnsp', not {type(answer).__name__}.",
    )
    said = " ".join(answer.strip().lower().replace("_", " ").replace("-", " ").replace(",", " ").split())
    expect(
        said.removesuffix(" auc").removesuffix(" roc") in {"bpsn", "background positive subgroup negative"},
        f"'{answer}' is not it: which comparison puts the identity's NON-toxic comments against toxic "
        "comments elsewhere?",
    )


q1 = Exercise(
    "Exercise 5.1",
    _check_metric_name,
    hints=[
        "A false positive is a non-toxic comment scored as toxic.",
        "Background Positive, Subgroup Negative: toxic comments elsewhere vs non-toxic comments about "
        "the group.",
    ],
    solution="q1.check('bpsn')  # BPSN AUC drops when non-toxic mentions of a group score like real toxicity",
)


def _check_kappa(answer: Any, *, labels_a: Any, labels_b: Any) -> None:
    from sklearn.metrics import cohen_kappa_score

    # the lesson prints kappa with 2 decimals: that figure is accepted too
    expect_close(answer, cohen_kappa_score(labels_a, labels_b), "your Cohen's kappa", tol=5e-3 + 1e-9)


q2 = Exercise(
    "Exercise 5.2",
    _check_kappa,
    hints=[
        "kappa = (observed agreement - chance agreement) / (1 - chance agreement).",
        "sklearn.metrics.cohen_kappa_score(labels_a, labels_b) computes it.",
    ],
    solution=(
        "from sklearn.metrics import cohen_kappa_score\n"
        "q2.check(cohen_kappa_score(a, b), labels_a=a, labels_b=b)"
    ),
)


def _check_bpsn(answer: Any, *, scores: Any, labels: Any, identities: Any, identity: str) -> None:
    from ethicskit.sft.metrics import bias_metrics

    table = bias_metrics(scores, labels, identities, min_size=1)
    expect(identity in table.index, f"'{identity}' is not an identity of this data.")
    expect_close(answer, table.loc[identity, "bpsn_auc"], f"your BPSN AUC for '{identity}'", tol=1e-6)


q3 = Exercise(
    "Exercise 5.3",
    _check_bpsn,
    hints=[
        "Keep the rows that are (mention the identity AND non-toxic) OR (do not mention it AND toxic).",
        "On those rows compute sklearn.metrics.roc_auc_score(labels, scores).",
    ],
    solution=(
        "mask = ((ids == g) & (y == 0)) | ((ids != g) & (y == 1))\n"
        "q3.check(roc_auc_score(y[mask], s[mask]), scores=s, labels=y, identities=ids, identity=g)"
    ),
)


def _check_best(answer: Any, *, table: pd.DataFrame, column: str = "worst_bpsn_auc") -> None:
    expect(
        isinstance(table, pd.DataFrame) and column in table.columns,
        f"pass the comparison table (with a '{column}' column) as table=...",
    )
    best = str(table[column].idxmax())
    expect(
        str(answer).strip().lower() == best.lower(),
        f"'{answer}' is not the row with the highest {column} in your table.",
    )


q4 = Exercise(
    "Exercise 5.4",
    _check_best,
    hints=[
        "Look at the worst_bpsn_auc column of the comparison table: higher is fairer.",
        "table['worst_bpsn_auc'].idxmax() gives the row name.",
    ],
    solution="q4.check(comparison['worst_bpsn_auc'].idxmax(), table=comparison)",
)
