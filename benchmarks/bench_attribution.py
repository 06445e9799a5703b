"""Benchmark the stage-attribution estimators against exact retraining, honestly (issue 20).

On the lesson's three-stage pipeline (per-example test losses as queries), over a sweep of alignment
strength that includes the lesson's default and a hard case, with the momentum buffer reset at each
stage or carried across stages, and over seeds, it prints for the *fine-tuning* stage (the one the
lesson attributes):

* each estimator's Pearson and Spearman correlation with exact retraining, overall and within each
  group (0: majority, 1: minority);
* the same for two free baselines an estimator must beat: ``param-change`` (subtract the stage's own
  parameter change from the final parameters) and ``in-stage`` (the query's change during the stage);
* the noise floor: Pearson between the exact effects of two runs that differ only in batch order
  (a different ``record_training`` seed), i.e. how reproducible the quantity being estimated is;
* the hybrid estimators (``--replay`` later steps replayed exactly, the first ones or the last ones,
  the rest linearised);
* cost of estimating *every* stage's effect, against (a) exact retraining of every stage from the
  recorded checkpoints, (b) training the pipeline once, and (c) leave-one-stage-out retraining of the
  whole pipeline from scratch for every stage (what exact attribution costs without recorded
  checkpoints), computed from the measured time of each stage (replayed once) plus the query
  evaluations, not run.

``--optimizers adamw`` runs the pipeline with AdamW in every stage and its state (moments, step count)
carried across stages, and prints side by side the linearised estimator that carries the moment and
step-count differences across the boundaries and the same estimator with them dropped (reset), plus the
same pipeline trained with AdamW state reset at every stage.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_attribution.py [--seeds 0 1 2] [--queries 1000]
[--optimizers sgd adamw] [--regimes gentle default hard]``

``--real-model`` runs the same measurements on the pretrained encoder itself (all-MiniLM-L6-v2, bundled):
its top transformer block, pooler and head (1.9 M parameters; ``--top 2`` for two blocks) are trained on
the cached states of the frozen lower layers through two recorded SGD stages, *fine-tuning* on skewed
moderation comments (early stopping: the recorded steps end at the best validation epoch) and
*mitigation* on balanced ones, over a sweep of mitigation strength; queries are the per-example losses
of held-out evaluation comments; cost as above; the parameter-space and query-space trust checks
(``replay_error``, ``query_replay_error``) of the fine-tuning stage are printed per run.
``OMP_NUM_THREADS=1 python benchmarks/bench_attribution.py --real-model [--seeds 0 1] [--regimes default]
[--finetune-size 400] [--corpus civil_comments.csv]``: ``--corpus`` runs it on a real comment corpus of
yours in the Civil Comments / Jigsaw layout (``load_moderation_csv``; nothing is downloaded).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, NamedTuple

import pandas as pd

os.environ.setdefault("TQDM_DISABLE", "1")

#: alignment learning rate per regime (SGD, momentum 0.9); the lesson's default is 0.02
REGIMES = {"gentle": 0.005, "default": 0.02, "hard": 0.05}
#: alignment learning rate per regime with AdamW in every stage (pretraining 0.01, fine-tuning 0.01 -> 0.001)
ADAMW_REGIMES = {"gentle": 0.003, "default": 0.01, "hard": 0.03}
STAGE = "fine-tuning"


#: timings are the fastest of this many runs (``--repeats``): on a shared machine the load changes
#: within one run, and the minimum is the least disturbed measurement
REPEATS = 1


def _timed(fn, repeats: int | None = None):
    """``(value, seconds)``: ``fn()``'s value and its fastest time over ``repeats`` (default REPEATS) runs."""
    best = float("inf")
    for _ in range(repeats or REPEATS):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return value, best


def _baselines(record, query):
    """The two free baselines for ``STAGE``: subtract its parameter change; the query's in-stage change."""
    from ethicskit.attribution import evaluate_query
    from ethicskit.attribution.estimators import stage_change

    k = record.stage_index(STAGE)
    final = evaluate_query(record, query, record.final_params)
    e_theta, _ = stage_change(record, k)
    param_change = (final - evaluate_query(record, query, record.final_params - e_theta)).numpy()
    in_stage = (
        evaluate_query(record, query, record.checkpoints[k + 1])
        - evaluate_query(record, query, record.checkpoints[k])
    ).numpy()
    return {"param-change (free)": param_change, "in-stage (free)": in_stage}


def _costs(record, query) -> dict:
    """Reference costs, seconds: (b) training once and (c) leave-one-stage-out retraining from scratch.

    Each stage is replayed once and timed (a replay is exactly the stage's training); (c) is computed,
    not run: for every stage, training all the other stages plus one query evaluation, plus one for the
    final model.
    """
    from ethicskit.attribution import evaluate_query, replay_stage

    per_stage = [_timed(lambda k=k: replay_stage(record, k))[1] for k in range(record.n_stages)]
    _, t_query = _timed(lambda: evaluate_query(record, query, record.final_params))
    once = sum(per_stage)
    loso = sum(once - t for t in per_stage) + (record.n_stages + 1) * t_query
    return {"once_s": once, "loso_s": loso, "query_s": t_query, "per_stage_s": per_stage}


def _adamw_stages(data, align_lr: float) -> list:
    """The lesson's pipeline with AdamW in every stage (weight decay 0.01; learning rates for Adam)."""
    from ethicskit.attribution import Stage, make_pipeline_stages

    sgd = make_pipeline_stages(data)
    lrs = {"pretraining": 0.01, "fine-tuning": [lr / 10 for lr in sgd[1].lr], "alignment": align_lr}
    return [Stage(s.name, s.X, s.y, sample_weight=s.sample_weight, epochs=s.epochs, batch_size=s.batch_size,
                  lr=lrs[s.name], weight_decay=0.01, optimizer="adamw") for s in sgd]


def _linearised_state_dropped(record, query):
    """The linearised estimate of ``STAGE`` with the carried AdamW differences (moments, count) dropped.

    What the estimator would give if it treated the optimiser state as reset at the boundary while the
    training carried it: the comparison that shows what carrying the differences gains.
    """
    from ethicskit.attribution import evaluate_query, replay_stage
    from ethicskit.attribution.estimators import _enter_stage, _initial_state, _linear_step

    k = record.stage_index(STAGE)
    state = _initial_state(record, k)
    zeros = state["theta"] * 0
    state.update(m=zeros, v=zeros, shift=0)
    for j in range(k + 1, record.n_stages):
        _enter_stage(record, j, state)

        def step_fn(t, step, model, j=j):
            _linear_step(record, j, step, model, state, hessian=True)

        replay_stage(record, j, callback=step_fn)
    final = evaluate_query(record, query, record.final_params)
    return (final - evaluate_query(record, query, record.final_params - state["theta"])).numpy()


def _one_run(seed: int, align_lr: float, carry: bool, n_queries: int, optimizer: str = "sgd") -> list[dict]:
    import numpy as np

    from ethicskit.attribution import (
        estimate_stage_effects,
        exact_stage_effects,
        example_losses,
        fidelity,
        make_mlp,
        make_pipeline_stages,
        make_spurious_data,
        record_training,
    )

    data = make_spurious_data(n_test=n_queries, random_state=seed)
    if optimizer == "adamw":
        stages = _adamw_stages(data, align_lr)
    else:
        stages = make_pipeline_stages(data, align_lr=align_lr)

    def train(order_seed: int):
        model = make_mlp(6, random_state=seed)
        return record_training(model, stages, random_state=order_seed, carry_optimizer_state=carry)

    record, t_train = _timed(lambda: train(seed), 1)
    query = example_losses(data.test.X, data.test.y)
    exact_all, t_exact = _timed(lambda: exact_stage_effects(record, query, show_progress=False))
    exact = exact_all.loc[STAGE].to_numpy()
    costs = _costs(record, query)
    other = exact_stage_effects(train(seed + 100), query, stages=[STAGE], show_progress=False).loc[STAGE]
    estimates = {}
    for method in ("first_order", "linearised"):
        est, seconds = _timed(lambda m=method: estimate_stage_effects(record, query, method=m))
        estimates[method] = (est.loc[STAGE].to_numpy(), seconds)
    estimates.update(_hybrids(record, query, ("first_order", "linearised")))
    if optimizer == "adamw" and carry:
        values = _linearised_state_dropped(record, query)
        estimates["linearised, carried state dropped"] = (values, estimates["linearised"][1])
    free, free_seconds = _timed(lambda: _baselines(record, query))
    free_seconds /= len(free)
    estimates.update({name: (values, free_seconds) for name, values in free.items()})
    estimates["exact, other batch order (noise floor)"] = (other.to_numpy(), t_exact)
    rows = []
    for name, (values, seconds) in estimates.items():
        row = {"seed": seed, "estimator": name, **fidelity(values, exact)}
        for g in (0, 1):
            row[f"pearson_g{g}"] = fidelity(values[data.test.group == g], exact[data.test.group == g])[
                "pearson"
            ]
        row.update(_ratios(seconds, t_exact, costs))
        rows.append(row)
    rows.append({"seed": seed, "estimator": "(run)", "mean_exact": float(np.mean(exact)), "train_s": t_train,
                 "exact_all_s": t_exact, **{k: v for k, v in costs.items() if k != "per_stage_s"},
                 **_trust_checks(record, query)})
    return rows


#: later steps the hybrid estimators replay exactly (``--replay``): half of the synthetic pipeline's
#: alignment stage (14 steps), a third of the real model's mitigation stage (21 steps)
REPLAY = 7


def _hybrids(record, query, methods) -> dict:
    """The hybrid estimates of ``STAGE`` (``REPLAY`` steps replayed first or last), timed for every stage."""
    from ethicskit.attribution import estimate_stage_effects

    estimates = {}
    for side in ("first", "last"):
        for method in methods:
            est, seconds = _timed(lambda m=method, s=side: estimate_stage_effects(
                record, query, method=m, **{f"replay_{s}": REPLAY}))
            estimates[f"{method}, replay {side} {REPLAY} (hybrid)"] = (est.loc[STAGE].to_numpy(), seconds)
    return estimates


def _trust_checks(record, query) -> dict:
    """Both replay checks of ``STAGE`` per method: parameter proxy, query proxy (and its parts, time)."""
    from ethicskit.attribution import query_replay_error, replay_error

    checks = {}
    for m in ("first_order", "linearised"):
        checks[f"replay_error_{m}"] = replay_error(record, STAGE, method=m)
        check, seconds = _timed(lambda m=m: query_replay_error(record, STAGE, query, method=m))
        checks[f"query_check_s_{m}"] = seconds
        checks.update({f"query_{key}_{m}": value for key, value in check.items()})
    return checks


def _print_checks(runs) -> None:
    """The trust checks of one regime, one value per seed."""
    for m in ("first_order", "linearised"):
        print(f"  trust checks, {m}: parameter proxy {list(runs[f'replay_error_{m}'].round(2))}; query "
              f"proxy {list(runs[f'query_error_{m}'].round(2))} (after the replayed steps "
              f"{list(runs[f'query_partial_error_{m}'].round(3))}, Pearson of the replayed change "
              f"{list(runs[f'query_pearson_{m}'].round(2))}; {runs[f'query_check_s_{m}'].mean():.2f} s)")


def _ratios(seconds: float, t_exact: float, costs: dict) -> dict:
    """How many times cheaper than (a) exact retraining from checkpoints, (b) training once, (c) LOSO.

    (b) is the sum of the stages' replay times: the recording's own time also holds first-call overheads.
    """
    return {"x_vs_exact": t_exact / seconds, "x_vs_once": costs["once_s"] / seconds,
            "x_vs_loso": costs["loso_s"] / seconds, "seconds": seconds}


#: mitigation learning rate per regime of the real-model benchmark (SGD, momentum 0.9)
REAL_REGIMES = {"gentle": 0.003, "default": 0.01, "hard": 0.03}


#: fine-tuning comments of the real-model benchmark (``--finetune-size``); the cost ratios against training
#: scale with training passes over query passes, so a larger set shows where the estimate pays off
FINETUNE_SIZE = 400


class _Split(NamedTuple):
    data: Any
    target: Any


def corpus_splits(path: str, n_finetune: int = FINETUNE_SIZE, *, random_state: int = 1) -> dict:
    """A user's Civil-Comments-style corpus (``load_moderation_csv``) in the bundled generator's roles.

    ``train``: ``n_finetune`` comments as the corpus has them (its own identity skew is the bias to
    study); ``validation``: 200 others; ``balanced`` (the mitigation stage): up to 200 others with as
    many toxic as non-toxic comments within each identity (and within comments naming none);
    ``eval``: the rest. Raises ValueError when the corpus is too small for that.
    """
    import numpy as np

    from ethicskit.datasets import load_moderation_csv

    corpus = load_moderation_csv(path)
    frame = corpus.data.assign(target=np.asarray(corpus.target)).sample(frac=1.0, random_state=random_state)
    need = n_finetune + 200 + 200 + 300  # the mitigation stage at most 200, the queries (300) from the rest
    if len(frame) < need:
        raise ValueError(f"{path}: {len(frame)} comments; --finetune-size {n_finetune} needs at least {need}")
    train, validation, rest = frame[:n_finetune], frame[n_finetune:n_finetune + 200], frame[n_finetune + 200:]
    named = rest.assign(who=rest["identity"].fillna("(none)"))
    per_cell = max(1, 200 // (2 * named["who"].nunique()))
    picked = []
    for _, group in named.groupby("who", sort=True):
        toxic, clean = group[group["target"] == 1], group[group["target"] == 0]
        k = min(per_cell, len(toxic), len(clean))  # as many toxic as non-toxic for this identity
        picked += [toxic[:k], clean[:k]]
    balanced = pd.concat(picked).drop(columns="who")
    evaluation = rest.drop(balanced.index)
    return {name: _Split(part.drop(columns="target").reset_index(drop=True), part["target"].to_numpy())
            for name, part in (("train", train), ("validation", validation), ("balanced", balanced),
                               ("eval", evaluation))}


def _real_data(seed: int, n_top: int, n_queries: int, n_finetune: int = FINETUNE_SIZE,
               corpus: str | None = None) -> dict:
    """Encoder (head seeded by ``seed``), cached states of the moderation splits, held-out queries.

    ``n_finetune`` skewed comments are drawn from the bundled generator (``load_moderation``, any size),
    or from ``corpus``, a Civil-Comments-style CSV of the user's (:func:`corpus_splits`).
    """
    import numpy as np

    from ethicskit.attribution.encoder import encoder_inputs
    from ethicskit.datasets import load_moderation
    from ethicskit.sft import load_encoder

    model, tokenizer = load_encoder(random_state=seed)
    if corpus:
        splits = corpus_splits(corpus, n_finetune)
        evaluation = splits.pop("eval")
    else:
        splits = {
            "train": load_moderation(split="train", n=n_finetune, random_state=1),
            "validation": load_moderation(split="validation", n=200, random_state=1),
            "balanced": load_moderation(split="balanced", n=200, random_state=1),
        }
        evaluation = load_moderation(split="eval")
    pick = np.random.default_rng(seed).choice(len(evaluation.data), n_queries, replace=False)
    data = {"model": model}
    for name, split in splits.items():
        data[name] = (encoder_inputs(model, tokenizer, list(split.data["text"]), n_top=n_top),
                      np.array(split.target))
    texts = list(evaluation.data["text"].iloc[pick])
    data["queries"] = (encoder_inputs(model, tokenizer, texts, n_top=n_top),
                       np.array(evaluation.target)[pick])
    return data


def _real_record(data: dict, mitigation_lr: float, n_top: int, order_seed: int):
    """Record fine-tuning (early-stopped at its best validation epoch) and mitigation on the top blocks."""
    from ethicskit.attribution import Stage, example_losses, record_training
    from ethicskit.attribution.encoder import cut_at_best_epoch, top_blocks

    stages = [
        Stage("fine-tuning", *data["train"], epochs=4, lr=0.05, momentum=0.9, weight_decay=1e-3),
        Stage("mitigation", *data["balanced"], epochs=3, lr=mitigation_lr, momentum=0.9, weight_decay=1e-3),
    ]
    record, seconds = _timed(lambda: record_training(top_blocks(data["model"], n_top), stages,
                                                     random_state=order_seed), 1)
    cut, best = cut_at_best_epoch(record, STAGE, example_losses(*data["validation"]))
    return cut, best, seconds


def _real_run(data: dict, seed: int, mitigation_lr: float, n_top: int) -> list[dict]:
    import numpy as np

    from ethicskit.attribution import (
        estimate_stage_effects,
        exact_stage_effects,
        example_losses,
        fidelity,
    )

    record, best, t_train = _real_record(data, mitigation_lr, n_top, seed)  # t_train: recording only
    query = example_losses(*data["queries"])
    exact_all, t_exact = _timed(lambda: exact_stage_effects(record, query, show_progress=False))
    exact = exact_all.loc[STAGE].to_numpy()
    costs = _costs(record, query)
    other, _, _ = _real_record(data, mitigation_lr, n_top, seed + 100)
    noise = exact_stage_effects(other, query, stages=[STAGE], show_progress=False).loc[STAGE].to_numpy()
    estimates = {}
    for method in ("first_order", "linearised"):
        for mode in ("difference", "taylor"):
            if method == "linearised" and mode == "taylor":
                continue
            est, seconds = _timed(
                lambda m=method, o=mode: estimate_stage_effects(record, query, method=m, mode=o)
            )
            estimates[f"{method} ({mode})"] = (est.loc[STAGE].to_numpy(), seconds)
    estimates.update(_hybrids(record, query, ("first_order",)))  # linearised: dearer than exact here
    free, free_seconds = _timed(lambda: _baselines(record, query))
    free_seconds /= len(free)
    estimates.update({name: (values, free_seconds) for name, values in free.items()})
    estimates["exact, other batch order (noise floor)"] = (noise, t_exact)
    rows = []
    for name, (values, seconds) in estimates.items():
        rows.append({"seed": seed, "estimator": name, **fidelity(values, exact),
                     **_ratios(seconds, t_exact, costs)})
    proxies = _trust_checks(record, query)
    rows.append({"seed": seed, "estimator": "(run)", "best_epoch": best, "train_s": t_train, **proxies,
                 "exact_all_s": t_exact, "mean_exact": float(np.mean(exact)),
                 "mean_abs_exact": float(np.mean(np.abs(exact))),
                 **{k: v for k, v in costs.items() if k != "per_stage_s"},
                 "per_stage_s": [round(t, 2) for t in costs["per_stage_s"]]})
    return rows


def run_real_model(seeds: list[int], n_queries: int, n_top: int, regimes: list[str] | None = None,
                   n_finetune: int = FINETUNE_SIZE, corpus: str | None = None) -> None:
    """The real-model benchmark (``--real-model``): print one table per mitigation strength."""
    import pandas as pd
    import torch

    torch.set_num_threads(1)
    pd.set_option("display.width", 200)
    print(f"all-MiniLM-L6-v2, top {n_top} block(s) + pooler + head on cached lower-layer states; "
          f"fine-tuning ({n_finetune} comments) stage's effect on {n_queries} held-out per-example losses; "
          f"seeds {seeds}; 1 CPU thread; load {os.getloadavg()[0]:.2f}")
    if corpus:
        print(f"comments from {corpus} (load_moderation_csv), not the bundled generator")
    data = {seed: _real_data(seed, n_top, n_queries, n_finetune, corpus) for seed in seeds}
    for regime, lr in REAL_REGIMES.items():
        if regimes and regime not in regimes:
            continue
        table = pd.DataFrame([row for seed in seeds for row in _real_run(data[seed], seed, lr, n_top)])
        runs = table[table.estimator == "(run)"]
        print(f"\n== {regime} (mitigation lr {REAL_REGIMES[regime]}): best fine-tuning epoch "
              f"{list(runs.best_epoch.astype(int))}; mean exact effect {runs.mean_exact.mean():+.3f} (mean "
              f"|effect| {runs.mean_abs_exact.mean():.3f}); load {os.getloadavg()[0]:.2f}")
        _print_costs(runs)
        _print_checks(runs)
        _print_summary(table, ["pearson", "spearman", "sign_agreement", "x_vs_exact", "x_vs_once",
                               "x_vs_loso", "seconds"])


def _print_costs(runs) -> None:
    """The reference costs of one regime, mean over seeds."""
    print(f"  seconds: training once {runs.train_s.mean():.2f} (stages replayed one by one: "
          f"{runs.once_s.mean():.2f}); (a) exact retraining of every stage from the checkpoints "
          f"{runs.exact_all_s.mean():.2f}; (c) leave-one-stage-out retraining from scratch, computed "
          f"{runs.loso_s.mean():.2f}; one query evaluation {runs.query_s.mean():.3f}")


def _print_summary(table, columns: list[str]) -> None:
    """Mean [min] over seeds per estimator."""
    rows = table[~table.estimator.str.startswith("(")]
    summary = rows.groupby("estimator", sort=False)[columns]
    means, mins = summary.mean().round(3), summary.min().round(3)
    print((means.astype(str) + " [" + mins.astype(str) + "]").to_string(), flush=True)


def run(seeds: list[int], n_queries: int, optimizers: list[str], regimes: list[str] | None = None) -> None:
    """The synthetic benchmark: one table per optimiser, state handling and alignment strength."""
    import pandas as pd
    import torch

    torch.set_num_threads(1)
    pd.set_option("display.width", 200)
    print(f"fine-tuning stage's effect on {n_queries} per-example test losses; seeds {seeds}; 1 CPU thread; "
          f"costs are for estimating every stage; load {os.getloadavg()[0]:.2f}")
    columns = ["pearson", "spearman", "pearson_g0", "pearson_g1", "x_vs_exact", "x_vs_once", "x_vs_loso"]
    for optimizer in optimizers:
        strengths = ADAMW_REGIMES if optimizer == "adamw" else REGIMES
        for carry in (True, False) if optimizer == "adamw" else (False, True):
            for regime, align_lr in strengths.items():
                if regimes and regime not in regimes:
                    continue
                rows = [r for seed in seeds for r in _one_run(seed, align_lr, carry, n_queries, optimizer)]
                table = pd.DataFrame(rows)
                state = ("momentum" if optimizer == "sgd" else "AdamW state") + (
                    " carried across stages" if carry else " reset at each stage")
                runs = table[table.estimator == "(run)"]
                print(f"\n== {regime} (alignment lr {align_lr}), {optimizer}, {state}: mean [min] over "
                      f"seeds; mean exact effect {runs.mean_exact.mean():+.3f}; "
                      f"load {os.getloadavg()[0]:.2f}")
                _print_costs(runs)
                _print_checks(runs)
                _print_summary(table, columns)


def main() -> None:
    global REPEATS, REPLAY
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="default 0 1 2 (0 1 with --real-model)")
    parser.add_argument("--queries", type=int, default=None,
                        help="held-out queries (default 1000; 300 with --real-model)")
    parser.add_argument("--real-model", action="store_true",
                        help="the pretrained encoder's top block(s) instead of the synthetic pipeline")
    parser.add_argument("--top", type=int, default=1, help="with --real-model: transformer blocks trained")
    parser.add_argument("--finetune-size", type=int, default=FINETUNE_SIZE,
                        help="with --real-model: skewed fine-tuning comments (default %(default)s)")
    parser.add_argument("--corpus", default=None,
                        help="with --real-model: a Civil-Comments-style CSV of yours (e.g. Jigsaw's) instead "
                             "of the bundled generator's comments")
    parser.add_argument("--regimes", nargs="+", choices=list(REAL_REGIMES), default=None,
                        help="only these strengths of the last stage (default: all)")
    parser.add_argument("--replay", type=int, default=REPLAY,
                        help="later steps the hybrid estimators replay exactly (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="time every estimator and reference this many times and keep the fastest")
    parser.add_argument("--optimizers", nargs="+", choices=["sgd", "adamw"], default=["sgd", "adamw"],
                        help="synthetic pipeline: SGD (momentum reset and carried) and/or AdamW (state "
                             "carried and reset)")
    args = parser.parse_args()
    REPEATS, REPLAY = args.repeats, args.replay
    if args.real_model:
        run_real_model(args.seeds or [0, 1], args.queries or 300, args.top, args.regimes, args.finetune_size,
                       args.corpus)
    else:
        run(args.seeds or [0, 1, 2], args.queries or 1000, args.optimizers, args.regimes)


if __name__ == "__main__":
    main()
