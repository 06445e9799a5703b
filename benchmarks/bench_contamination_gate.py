"""Lab3's contamination gate on honest and gamed models (issues 15.5, 16.3): prints, asserts nothing.

Lab3's hidden checks zero a model that fits the public evaluation split clearly better than the hidden
templates nobody trained on. The gate is a rank statistic of the model's *behaviour* (never of what the
model object records about itself): within each label, the AUC of "a public evaluation comment is
scored more clearly right than a held-out template comment" (``ethicskit.checks.sft.membership_auc``;
0.5 = no preference), failed above ``LAB_MAX_MEMBERSHIP``. Ranks are unchanged by any monotone squashing
of the probabilities, which defeated the former loss-ratio gate (issue 15.5: ``0.5 + 0.2 (p - 0.5)``
lifted a contaminated model's ratio from 0.72 to 0.997).

This script fine-tunes *honest* variants (train/validation only: seeds, mitigations, learning rates,
epochs, lengths, the lab's top-2-layer recipe and full fine-tuning) and *gamed* ones (trained on train +
the public evaluation split, or on the evaluation split alone, each also squashed), and prints per model
the membership AUC, the old loss ratio (plain and squashed), and AUC / worst BPSN on the hidden
templates; then the gate's false-positive rate on honest models, its detection rate on gamed ones, and
the AUC / worst-BPSN figures the lab's bounds are set from.

The hidden templates are read from the lab's nbgrader source (solutions/), never printed.

    OMP_NUM_THREADS=2 python benchmarks/bench_contamination_gate.py [--variants N] [--threads 2]

Measured (2026-12-03, 16 honest + 4 gamed models, about 10 minutes on 2 shared cores): see docs/sft.md,
"Evaluation data must stay out of training", and docs/timings.md.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]

LAB = dict(train_top=2, epochs=2, learning_rate=3e-4, max_length=40, random_state=0)  # the lab's recipe
FULL = dict(epochs=2, learning_rate=1e-4, max_length=40, random_state=0)  # all layers (the former recipe)
VARIANTS = [  # (name, mitigation, fine_tune keyword arguments): choices a student may make honestly
    ("lab recipe baseline", None, LAB),
    ("lab recipe CDA", "cda", LAB),
    ("baseline seed 1", None, {**LAB, "seed": 1}),
    ("reweight", "reweight", LAB),
    ("CDA seed 2, lr 1e-4", "cda", {**LAB, "seed": 2, "learning_rate": 1e-4}),
    ("baseline 1 epoch", None, {**LAB, "epochs": 1, "seed": 3}),
    ("CDA 3 epochs, lr 5e-4", "cda", {**LAB, "epochs": 3, "learning_rate": 5e-4, "seed": 4}),
    ("baseline max_length 64", None, {**LAB, "max_length": 64, "seed": 5}),
    ("CDA n_swaps 2", "cda2", {**LAB, "seed": 6}),
    ("reweight seed 7, lr 1e-4", "reweight", {**LAB, "seed": 7, "learning_rate": 1e-4}),
    ("CDA top 3 layers, lr 2e-4", "cda", {**LAB, "train_top": 3, "learning_rate": 2e-4, "seed": 8}),
    ("reweight top 1 layer, lr 5e-4", "reweight", {**LAB, "train_top": 1, "learning_rate": 5e-4, "seed": 9}),
    ("CDA seed 10", "cda", {**LAB, "seed": 10}),
    ("baseline seed 11, batch 16", None, {**LAB, "seed": 11, "batch_size": 16}),
    ("full fine-tuning baseline", None, FULL),
    ("full fine-tuning CDA", "cda", FULL),
]
GAMED = [  # (name, mitigation, kwargs, training data): trained on the public evaluation split
    ("gamed: train + public eval", None, LAB, "train+eval"),
    ("gamed: public eval only", None, {**LAB, "seed": 1}, "eval"),
    ("gamed: CDA on train + public eval", "cda", {**LAB, "seed": 2}, "train+eval"),
    ("gamed: full fine-tuning, train + eval", None, FULL, "train+eval"),
]


def hidden_templates() -> tuple:
    import nbformat

    notebook = nbformat.read(ROOT / "solutions/lab3-ethics-finetuning/lab3-ethics-finetuning.ipynb", 4)
    for cell in notebook.cells:
        if "hidden_templates = (" in cell.source:
            text = cell.source.split("hidden_templates = ", 1)[1]
            return ast.literal_eval(text[: text.index("\nchecks.")].strip())
    raise SystemExit("no hidden templates in the lab's source")


def train(mitigation: str | None, kwargs: dict, *, data: str = "train"):
    import pandas as pd

    from ethicskit.checks.sft import lab_data
    from ethicskit.datasets.moderation import IDENTITY_TERMS
    from ethicskit.sft import counterfactual_augment, fine_tune, reweight

    tr, validation, evaluation = lab_data()
    texts, labels, identities = tr.data["text"], tr.target, tr.data["identity"]
    if data == "eval":
        texts, labels, identities = evaluation.data["text"], evaluation.target, evaluation.data["identity"]
    elif data == "train+eval":
        texts = pd.concat([texts, evaluation.data["text"]], ignore_index=True)
        labels = pd.concat([pd.Series(labels), pd.Series(evaluation.target)], ignore_index=True)
        identities = pd.concat([identities, evaluation.data["identity"]], ignore_index=True)
    extra = {}
    if mitigation in ("cda", "cda2"):
        augmented = counterfactual_augment(
            texts,
            labels,
            identities,
            swap_terms=IDENTITY_TERMS,
            n_swaps=2 if mitigation == "cda2" else 1,
            random_state=0,
        )
        texts, labels = augmented["text"], augmented["label"]
    elif mitigation == "reweight":
        extra["sample_weight"] = reweight(labels, identities)
    return fine_tune(
        texts, labels, val_texts=validation.data["text"], val_labels=validation.target, **kwargs, **extra
    )


def _mean_log_loss(scores, labels) -> float:
    """The former gate's statistic (kept here for contrast)."""
    import numpy as np

    p = np.clip(scores, 1e-6, 1 - 1e-6)
    y = np.asarray(labels, dtype=float)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


def measure(model, templates) -> dict:
    import numpy as np

    from ethicskit.checks import sft

    hidden_frame, public = sft._eval_frame(templates), sft._eval_frame(None)
    report = sft._report(model, hidden_frame, "model")
    public_scores = sft._scores(model, public["text"].tolist(), "model")
    out = {
        "membership": sft.membership_auc(
            public_scores, public["toxic"], report["scores"], hidden_frame["toxic"]
        )
    }
    for label, squash in (("", lambda p: p), ("squashed ", lambda p: 0.5 + 0.2 * (p - 0.5))):
        public_loss = _mean_log_loss(squash(np.asarray(public_scores)), public["toxic"])
        hidden_loss = _mean_log_loss(squash(np.asarray(report["scores"])), hidden_frame["toxic"])
        out[f"{label}ratio"] = public_loss / max(hidden_loss, 1e-9)
    out.update(auc=report["overall_auc"], worst_bpsn=report["worst_bpsn_auc"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=len(VARIANTS))
    parser.add_argument("--gamed", type=int, default=len(GAMED))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    from ethicskit.checks.sft import LAB_MAX_MEMBERSHIP

    torch.set_num_threads(args.threads)
    templates = hidden_templates()
    jobs = [(name, m, kw, "train") for name, m, kw in VARIANTS[: args.variants]]
    jobs += list(GAMED[: args.gamed])
    rows = []
    for name, mitigation, kwargs, data in jobs:
        wall, cpu = time.time(), time.process_time()
        model = train(mitigation, kwargs, data=data)
        row = dict(name=name, mitigation=mitigation, gamed=data != "train", **measure(model, templates))
        row.update(seconds=round(time.time() - wall, 1), cpu_s=round(time.process_time() - cpu, 1))
        rows.append(row)
        print(
            f"{name:<40} membership {row['membership']:.3f}  ratio {row['ratio']:.3f}  squashed "
            f"{row['squashed ratio']:.3f}  AUC {row['auc']:.3f}  worst BPSN {row['worst_bpsn']:.3f}  "
            f"({row['cpu_s']} CPU-s)",
            flush=True,
        )
    _summary(rows, LAB_MAX_MEMBERSHIP)
    json.dump(rows, sys.stderr)


def _summary(rows: list[dict], bound: float) -> None:
    honest = [r for r in rows if not r["gamed"]]
    gamed = [r for r in rows if r["gamed"]]
    if honest:
        flagged = [r["name"] for r in honest if r["membership"] > bound]
        print(
            f"\nhonest models: {len(honest)}; membership {min(r['membership'] for r in honest):.3f}-"
            f"{max(r['membership'] for r in honest):.3f}; flagged at {bound}: {len(flagged)} "
            f"(false-positive rate {len(flagged) / len(honest):.2f}) {flagged}"
        )
        nan = float("nan")
        mitigated = min((r["worst_bpsn"] for r in honest if r["mitigation"]), default=nan)
        unmitigated = max((r["worst_bpsn"] for r in honest if not r["mitigation"]), default=nan)
        print(
            f"honest overall AUC on hidden templates: min {min(r['auc'] for r in honest):.3f}; worst BPSN "
            f"of mitigated models: min {mitigated:.3f}; of unmitigated ones: max {unmitigated:.3f}"
        )
    if gamed:
        caught = [r for r in gamed if r["membership"] > bound]
        print(
            f"gamed models: {len(gamed)}; membership {min(r['membership'] for r in gamed):.3f}-"
            f"{max(r['membership'] for r in gamed):.3f}; detected: {len(caught)} / {len(gamed)} "
            "(squashed: the same, ranks are unchanged)"
        )


if __name__ == "__main__":
    main()
