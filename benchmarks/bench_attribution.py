"""Benchmark the stage-attribution estimators against exact retraining (issue 9 targets).

Prints, for the lesson's three-stage pipeline (gentle and large alignment learning rate) and 3 seeds:
the Pearson / Spearman correlation and sign agreement between each estimator and exact retraining over
the per-example test losses (1,000 queries), and the cost of each estimator relative to training the
whole pipeline once.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_attribution.py [--seeds 0 1 2] [--queries 1000]``
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TQDM_DISABLE", "1")


def _timed(fn, repeat: int = 3):
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return value, best


def run(seeds: list[int], n_queries: int, align_lrs: dict[str, float]) -> None:
    import pandas as pd
    import torch

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

    torch.set_num_threads(1)
    estimators = {"first_order/taylor": ("first_order", "taylor"),
                  "first_order/difference": ("first_order", "difference"),
                  "linearised/difference": ("linearised", "difference")}
    rows = []
    for setting, align_lr in align_lrs.items():
        for seed in seeds:
            data = make_spurious_data(n_test=n_queries, random_state=seed)
            stages = make_pipeline_stages(data, align_lr=align_lr)

            def train(stages=stages, seed=seed):
                return record_training(make_mlp(6, random_state=seed), stages, random_state=seed)

            record, t_train = _timed(train)
            query = example_losses(data.test.X, data.test.y)
            exact, t_exact = _timed(lambda record=record, query=query: exact_stage_effects(record, query))
            for name, (method, mode) in estimators.items():
                est, t_est = _timed(lambda r=record, q=query, m=method, o=mode:
                                    estimate_stage_effects(r, q, method=m, mode=o))
                for stage in exact.index:
                    rows.append({"setting": setting, "seed": seed, "estimator": name, "stage": stage,
                                 **fidelity(est.loc[stage], exact.loc[stage]),
                                 "train_s": t_train, "exact_s": t_exact, "estimator_s": t_est,
                                 "cost_ratio": t_train / t_est})
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 140)
    print(f"per-example test losses as queries: n = {n_queries}; seeds {seeds}; 1 CPU thread\n")
    summary = (table.groupby(["setting", "estimator", "stage"], sort=False)
               [["pearson", "spearman", "sign_agreement", "cost_ratio"]].agg(["mean", "min"]).round(3))
    print(summary.to_string())
    ft = table[(table.stage == "fine-tuning") & (table.setting == "gentle")]
    print("\nTarget: fine-tuning stage, gentle alignment, Pearson >= 0.9 on every seed; >= 20x cheaper than "
          "training all stages once")
    for name, part in ft.groupby("estimator", sort=False):
        ok = (part.pearson >= 0.9).all() and (part.cost_ratio >= 20).all()
        print(f"  {name:24s} Pearson per seed {part.pearson.round(3).tolist()}  cost ratio (train/estimate) "
              f"{part.cost_ratio.round(1).tolist()}  -> {'MET' if ok else 'NOT MET'}")
    timing = table.groupby("setting")[["train_s", "exact_s"]].mean().round(4)
    print(f"\nmean seconds: training once / exact retraining of every stage\n{timing.to_string()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    run(args.seeds, args.queries, {"gentle": 0.005, "large": 0.1})


if __name__ == "__main__":
    main()
