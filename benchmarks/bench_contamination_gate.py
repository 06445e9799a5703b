"""False-positive rate of lab3's contamination gate on honest models (issue 16.3): prints, asserts nothing.

Lab3's hidden checks zero a model whose loss on the public evaluation split is much lower than on the
hidden templates: ``ratio = loss(public eval) / loss(hidden templates) >= LAB_MIN_FIT_RATIO`` (0.85).
This script fine-tunes *honest* variants (trained on train/validation only: other seeds, mitigations,
learning rates, epochs, lengths) and prints each one's ratio, AUC and worst BPSN on the hidden templates,
then the gate's false-positive rate at the current bound and the bound that would pass every honest
variant. For contrast it also trains on train + the public evaluation split (contaminated; the gate
should fire) and applies the squashing ``0.5 + 0.2 (p - 0.5)`` of issue 15.5 to every model's scores
(a monotone change that moves the ratio without changing any AUC).

The hidden templates are read from the lab's nbgrader source (solutions/), never printed.

    OMP_NUM_THREADS=2 python benchmarks/bench_contamination_gate.py [--variants 8] [--threads 2]

Measured (2026-12-03, 2 shared cores, 10 honest variants + 1 contaminated, about 15 minutes): honest
ratios 0.877 (reweight, seed 7, lr 5e-5) to 1.419 (CDA, n_swaps 2), none below 0.85 (false-positive
rate 0 / 10, but the lowest is only 0.03 above the bound, and issue 16.3 reports an honest 0.75);
contaminated (train + public eval) 0.720, flagged; the same model with squashed scores 0.997, not
flagged (issue 15.5). Ten variants cannot show a false-positive rate below about 10 %, and squashing
defeats the gate: a loss ratio is not a sound contamination test (see the report in issue 16).
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

VARIANTS = [  # (name, mitigation, fine_tune keyword arguments): choices a student may make honestly
    ("reference baseline", None, dict(epochs=2, learning_rate=1e-4, max_length=40, seed=0)),
    ("reference CDA", "cda", dict(epochs=2, learning_rate=1e-4, max_length=40, seed=0)),
    ("baseline seed 1", None, dict(epochs=2, learning_rate=1e-4, max_length=40, seed=1)),
    ("reweight", "reweight", dict(epochs=2, learning_rate=1e-4, max_length=40, seed=0)),
    ("CDA seed 2, lr 5e-5", "cda", dict(epochs=2, learning_rate=5e-5, max_length=40, seed=2)),
    ("baseline 1 epoch", None, dict(epochs=1, learning_rate=1e-4, max_length=40, seed=3)),
    ("CDA 3 epochs, lr 2e-4", "cda", dict(epochs=3, learning_rate=2e-4, max_length=40, seed=4)),
    ("baseline max_length 64", None, dict(epochs=2, learning_rate=1e-4, max_length=64, seed=5)),
    ("CDA n_swaps 2", "cda2", dict(epochs=2, learning_rate=1e-4, max_length=40, seed=6)),
    ("reweight seed 7, lr 5e-5", "reweight", dict(epochs=2, learning_rate=5e-5, max_length=40, seed=7)),
]


def hidden_templates() -> tuple:
    import nbformat

    notebook = nbformat.read(ROOT / "solutions/lab3-ethics-finetuning/lab3-ethics-finetuning.ipynb", 4)
    for cell in notebook.cells:
        if "hidden_templates = (" in cell.source:
            text = cell.source.split("hidden_templates = ", 1)[1]
            return ast.literal_eval(text[: text.index("\nchecks.")].strip())
    raise SystemExit("no hidden templates in the lab's source")


def train(mitigation: str | None, kwargs: dict, *, contaminated: bool = False):
    import pandas as pd

    from ethicskit.checks.sft import lab_data
    from ethicskit.datasets.moderation import IDENTITY_TERMS
    from ethicskit.sft import counterfactual_augment, fine_tune, reweight

    tr, validation, evaluation = lab_data()
    texts, labels, identities = tr.data["text"], tr.target, tr.data["identity"]
    if contaminated:
        texts = pd.concat([texts, evaluation.data["text"]], ignore_index=True)
        labels = pd.concat([pd.Series(labels), pd.Series(evaluation.target)], ignore_index=True)
        identities = pd.concat([identities, evaluation.data["identity"]], ignore_index=True)
    extra = {}
    if mitigation in ("cda", "cda2"):
        augmented = counterfactual_augment(texts, labels, identities, swap_terms=IDENTITY_TERMS,
                                           n_swaps=2 if mitigation == "cda2" else 1, random_state=0)
        texts, labels = augmented["text"], augmented["label"]
    elif mitigation == "reweight":
        extra["sample_weight"] = reweight(labels, identities)
    return fine_tune(texts, labels, val_texts=validation.data["text"], val_labels=validation.target,
                     **kwargs, **extra)


def measure(model, templates) -> dict:
    import numpy as np

    from ethicskit.checks import sft

    hidden_frame, public = sft._eval_frame(templates), sft._eval_frame(None)
    report = sft._report(model, hidden_frame, "model")
    public_scores = sft._scores(model, public["text"].tolist(), "model")
    out = {}
    for label, squash in (("", lambda p: p), ("squashed ", lambda p: 0.5 + 0.2 * (p - 0.5))):
        public_loss = sft._mean_log_loss(squash(np.asarray(public_scores)), public["toxic"])
        hidden_loss = sft._mean_log_loss(squash(np.asarray(report["scores"])), hidden_frame["toxic"])
        out[f"{label}ratio"] = public_loss / max(hidden_loss, 1e-9)
    out.update(auc=report["overall_auc"], worst_bpsn=report["worst_bpsn_auc"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=len(VARIANTS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-contaminated", action="store_true")
    args = parser.parse_args()
    import torch

    from ethicskit.checks.sft import LAB_MIN_FIT_RATIO

    torch.set_num_threads(args.threads)
    templates = hidden_templates()
    rows = []
    jobs = [(name, m, kw, False) for name, m, kw in VARIANTS[: args.variants]]
    if not args.no_contaminated:  # second, so that a short run has both kinds
        jobs.insert(1, ("contaminated: train + public eval", None, VARIANTS[0][2], True))
    for name, mitigation, kwargs, contaminated in jobs:
        start = time.time()
        model = train(mitigation, kwargs, contaminated=contaminated)
        row = dict(name=name, contaminated=contaminated, **measure(model, templates))
        row["seconds"] = round(time.time() - start, 1)
        rows.append(row)
        print(f"{name:<36} ratio {row['ratio']:.3f}  squashed {row['squashed ratio']:.3f}  "
              f"AUC {row['auc']:.3f}  worst BPSN {row['worst_bpsn']:.3f}  ({row['seconds']} s)", flush=True)
    honest = [r for r in rows if not r["contaminated"]]
    flagged = [r for r in honest if r["ratio"] < LAB_MIN_FIT_RATIO]
    print(f"\nhonest variants: {len(honest)}; flagged by the gate at {LAB_MIN_FIT_RATIO}: {len(flagged)} "
          f"(false-positive rate {len(flagged) / max(len(honest), 1):.2f}); lowest honest ratio "
          f"{min(r['ratio'] for r in honest):.3f}, highest {max(r['ratio'] for r in honest):.3f}")
    for r in rows:
        if r["contaminated"]:
            print(f"contaminated: ratio {r['ratio']:.3f} (flagged: {r['ratio'] < LAB_MIN_FIT_RATIO}); "
                  f"squashed {r['squashed ratio']:.3f} (flagged: {r['squashed ratio'] < LAB_MIN_FIT_RATIO})")
    json.dump(rows, sys.stderr)


if __name__ == "__main__":
    main()
