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
* cost: each estimator's seconds against exact retraining of that stage and against training once.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_attribution.py [--seeds 0 1 2] [--queries 1000]``
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TQDM_DISABLE", "1")

#: alignment learning rate per regime; the lesson's default is 0.02
REGIMES = {"gentle": 0.005, "lesson default": 0.02, "hard": 0.05}
STAGE = "fine-tuning"


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


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


def _one_run(seed: int, align_lr: float, carry: bool, n_queries: int) -> list[dict]:
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
    stages = make_pipeline_stages(data, align_lr=align_lr)

    def train(order_seed: int):
        model = make_mlp(6, random_state=seed)
        return record_training(model, stages, random_state=order_seed, carry_optimizer_state=carry)

    record, t_train = _timed(lambda: train(seed))
    query = example_losses(data.test.X, data.test.y)
    exact, t_exact = _timed(lambda: exact_stage_effects(record, query, stages=[STAGE], show_progress=False))
    exact = exact.loc[STAGE].to_numpy()
    other = exact_stage_effects(train(seed + 100), query, stages=[STAGE], show_progress=False).loc[STAGE]
    estimates = {}
    for method in ("first_order", "linearised"):
        est, seconds = _timed(
            lambda m=method: estimate_stage_effects(record, query, method=m, stages=[STAGE])
        )
        estimates[method] = (est.loc[STAGE].to_numpy(), seconds)
    start = time.perf_counter()
    free = _baselines(record, query)
    free_seconds = (time.perf_counter() - start) / len(free)
    estimates.update({name: (values, free_seconds) for name, values in free.items()})
    estimates["exact, other batch order (noise floor)"] = (other.to_numpy(), t_exact)
    rows = []
    for name, (values, seconds) in estimates.items():
        row = {"seed": seed, "estimator": name, **fidelity(values, exact)}
        for g in (0, 1):
            row[f"pearson_g{g}"] = fidelity(values[data.test.group == g], exact[data.test.group == g])[
                "pearson"
            ]
        row.update({"x_cheaper_than_exact": t_exact / seconds, "x_cheaper_than_training": t_train / seconds})
        rows.append(row)
    rows.append({"seed": seed, "estimator": "(mean exact effect)", "pearson": float(np.mean(exact))})
    return rows


def run(seeds: list[int], n_queries: int) -> None:
    import pandas as pd
    import torch

    torch.set_num_threads(1)
    pd.set_option("display.width", 160)
    print(f"fine-tuning stage's effect on {n_queries} per-example test losses; seeds {seeds}; 1 CPU thread")
    for carry in (False, True):
        for regime, align_lr in REGIMES.items():
            rows = [r for seed in seeds for r in _one_run(seed, align_lr, carry, n_queries)]
            table = pd.DataFrame(rows)
            columns = [
                "pearson",
                "spearman",
                "pearson_g0",
                "pearson_g1",
                "x_cheaper_than_exact",
                "x_cheaper_than_training",
            ]
            summary = table[table.estimator != "(mean exact effect)"].groupby("estimator", sort=False)[
                columns
            ]
            momentum = "carried across stages" if carry else "reset at each stage"
            print(f"\n== {regime} (alignment lr {align_lr}), momentum {momentum}: mean [min] over seeds")
            means, mins = summary.mean().round(3), summary.min().round(3)
            shown = means.astype(str) + " [" + mins.astype(str) + "]"
            print(shown.to_string())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    run(args.seeds, args.queries)


if __name__ == "__main__":
    main()
