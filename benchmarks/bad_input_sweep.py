"""Sweep bad inputs a learner would plausibly pass through the public API and classify each outcome.

Run: ``python benchmarks/bad_input_sweep.py`` (about a minute on 2 cores; no torch training).
Compare with an older checkout: ``PYTHONPATH=/path/to/old python benchmarks/bad_input_sweep.py``.

Every case calls one public function with valid arguments except one bad argument, and lands in:

* ``clear``  - a ValueError/TypeError whose message names the argument (the goal);
* ``vague``  - a ValueError/TypeError that does not name it;
* ``raw``    - another exception, from deep inside numpy/pandas/sklearn/torch;
* ``silent`` - a result came back (wrong or meaningless for such an input);
* ``hang``   - no answer within the per-case time limit.

Prints one table row per outcome, then every case that is not ``clear``.
"""

from __future__ import annotations

import collections
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

os.environ.setdefault("TQDM_DISABLE", "1")
import numpy as np
import pandas as pd

TIME_LIMIT_S = 10
NAN, INF = float("nan"), float("inf")

#: Bad values by kind of parameter: (label, value).
BAD_SCALARS = {
    "probability": [("nan", NAN), ("-0.1", -0.1), ("1.5", 1.5), ("inf", INF), ("str", "0.5"), ("None", None)],
    "positive": [
        ("nan", NAN),
        ("-1", -1.0),
        ("0", 0.0),
        ("inf", INF),
        ("-inf", -INF),
        ("str", "1"),
        ("None", None),
    ],
    "count": [("-1", -1), ("0", 0), ("2.5", 2.5), ("True", True), ("str", "3"), ("nan", NAN)],
    "flag": [("'yes'", "yes"), ("2", 2), ("None", None), ("'False'", "False")],
    "seed": [("-1", -1), ("2.5", 2.5), ("True", True), ("str", "3"), ("nan", NAN)],
    "real": [("nan", NAN), ("inf", INF), ("-inf", -INF), ("str", "1"), ("None", None)],
    "text": [("''", ""), ("None", None), ("int", 3)],
}


def _labels(n: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, n)


def bad_arrays(valid: np.ndarray, *, paired: bool = True, optional: bool = False) -> list[tuple[str, Any]]:
    """Bad versions of a 0/1 label array (lengths only when another array must match; None when required)."""
    with_nan = valid.astype(float)
    with_nan[0] = NAN
    three = valid.copy()
    three[0] = 2
    cases = [
        ("too short", valid[:3]),
        ("length 1", valid[:1]),
        ("with NaN", with_nan),
        ("strings", np.array(["yes", "no"] * (len(valid) // 2))),
        ("3 classes", three),
        ("empty", []),
        ("None", None),
        ("2-d", np.c_[valid, valid]),
    ]
    return [
        (label, value)
        for label, value in cases
        if (paired or label not in ("too short", "length 1")) and not (optional and label == "None")
    ]


def bad_scores(valid: np.ndarray, *, paired: bool = True) -> list[tuple[str, Any]]:
    """Bad versions of an array of probabilities."""
    with_nan, with_inf = valid.copy(), valid.copy()
    with_nan[0], with_inf[0] = NAN, INF
    return [
        *([("too short", valid[:3])] if paired else []),
        ("with NaN", with_nan),
        ("with inf", with_inf),
        ("0-100 scale", valid * 100),
        ("strings", valid.astype(str)),
        ("empty", []),
    ]


class Case:
    """One call: ``function(**kwargs)`` where ``kwargs[name]`` is the bad value ``label``."""

    def __init__(self, target: str, name: str, label: str, call: Callable[[], Any]):
        self.target, self.name, self.label, self.call = target, name, label, call

    def __str__(self) -> str:
        return f"{self.target}({self.name}={self.label})"


#: Every (target, function, valid keyword arguments) the hand-written cases use; auto_cases reads it.
VALID_CALLS: list[tuple[str, Callable, dict]] = []


def _vary(target: str, function: Callable, valid: dict, name: str, bad: list) -> Iterator[Case]:
    VALID_CALLS.append((target, function, dict(valid)))
    for label, value in bad:
        kwargs = {**valid, name: value}
        yield Case(target, name, label, lambda f=function, k=kwargs: f(**k))


def _scalar_cases(
    target: str, function: Callable, valid: dict, kinds: dict[str, str], allow_none: tuple[str, ...] = ()
) -> Iterator[Case]:
    for name, kind in kinds.items():
        bad = [(label, v) for label, v in BAD_SCALARS[kind] if not (name in allow_none and v is None)]
        yield from _vary(target, function, valid, name, bad)


def cases() -> Iterator[Case]:  # noqa: C901 - one flat table of the API is easier to read than many
    """Every case of the sweep."""
    from ethicskit import audit, cards, datasets, fairness, privacy, sft
    from ethicskit.attribution import Split, agreement, group_balanced_weights
    from ethicskit.checks import Exercise, Parts, expect_close, expect_columns

    y, p = _labels(), _labels(seed=1)
    s = np.random.default_rng(2).random(40)
    groups = np.array(["a", "b"] * 20)

    for fname in [
        "accuracy",
        "selection_rate",
        "true_positive_rate",
        "false_positive_rate",
        "precision",
        "base_rate",
    ]:
        f = getattr(fairness, fname)
        yield from _vary(
            fname, f, {"y_true": y, "y_pred": p}, "y_true", bad_arrays(y, optional=fname == "selection_rate")
        )  # the argument it ignores
        yield from _vary(
            fname, f, {"y_true": y, "y_pred": p}, "y_pred", bad_arrays(p, optional=fname == "base_rate")
        )
    valid = {"y_true": y, "y_pred": p, "sensitive_features": groups}
    yield from _vary("audit_predictions", fairness.audit_predictions, valid, "y_pred", bad_arrays(p))
    yield from _vary(
        "audit_predictions",
        fairness.audit_predictions,
        valid,
        "sensitive_features",
        [
            ("one group", ["a"] * 40),
            ("with NaN", [None] + ["a", "b"] * 19 + ["a"]),
            ("too short", groups[:5]),
        ],
    )
    yield from _vary("audit_predictions", fairness.audit_predictions, valid, "scores", bad_scores(s))
    yield from _vary(
        "reweighing_weights",
        fairness.reweighing_weights,
        {"y": y, "sensitive_features": groups},
        "y",
        bad_arrays(y),
    )
    yield from _vary(
        "calibration_by_group",
        fairness.calibration_by_group,
        {"y_true": y, "scores": s, "sensitive_features": groups},
        "scores",
        bad_scores(s),
    )
    yield from _scalar_cases(
        "calibration_by_group",
        fairness.calibration_by_group,
        {"y_true": y, "scores": s, "sensitive_features": groups},
        {"n_bins": "count"},
    )

    # cards
    valid = {"y_true": y, "y_pred": p, "sensitive_features": pd.Series(groups, name="g")}
    yield from _vary(
        "cards.group_metrics",
        cards.group_metrics,
        valid,
        "sensitive_features",
        [("with NaN", pd.Series([None] + list(groups[1:]), name="g"))],
    )
    yield from _vary("cards.group_metrics", cards.group_metrics, valid, "y_pred", bad_arrays(p))

    # privacy
    yield from _scalar_cases(
        "laplace_mechanism",
        privacy.laplace_mechanism,
        {"value": 3.0, "sensitivity": 1.0, "epsilon": 1.0},
        {"sensitivity": "positive", "epsilon": "positive"},
    )
    yield from _vary(
        "laplace_mechanism",
        privacy.laplace_mechanism,
        {"value": 3.0, "sensitivity": 1.0, "epsilon": 1.0},
        "value",
        [("inf", INF), ("nan", NAN), ("str", "3")],
    )
    yield from _scalar_cases(
        "gaussian_sigma",
        privacy.gaussian_sigma,
        {"sensitivity": 1.0, "epsilon": 1.0, "delta": 1e-5},
        {"sensitivity": "positive", "epsilon": "positive", "delta": "probability"},
    )
    yield Case(
        "gaussian_sigma",
        "epsilon",
        "1000 (huge)",
        lambda: _finite(privacy.gaussian_sigma(sensitivity=1.0, epsilon=1000.0, delta=1e-5)),
    )
    yield from _vary(
        "dp_advantage_bound",
        privacy.dp_advantage_bound,
        {"epsilon": 1.0},
        "epsilon",
        [("nan", NAN), ("-inf", -INF), ("-1", -1.0), ("str", "1")],
    )
    yield from _vary(
        "noisy_count",
        privacy.noisy_count,
        {"mask": y.astype(bool), "epsilon": 1.0},
        "mask",
        bad_arrays(y, paired=False),
    )
    yield from _vary(
        "noisy_mean",
        privacy.noisy_mean,
        {"values": s, "lower": 0.0, "upper": 1.0, "epsilon": 1.0},
        "values",  # values outside [lower, upper] are clipped by design
        [c for c in bad_scores(s, paired=False) if c[0] != "0-100 scale"],
    )
    yield from _scalar_cases(
        "noisy_mean",
        privacy.noisy_mean,
        {"values": s, "lower": 0.0, "upper": 1.0, "epsilon": 1.0},
        {"epsilon": "positive"},
    )
    hist = [(1.0, 0.01, 100)]
    yield from _vary(
        "epsilon_from_history",
        privacy.epsilon_from_history,
        {"history": hist, "delta": 1e-5},
        "history",
        [
            ("negative steps", [(1.0, 0.01, -100)]),
            ("rate 2", [(1.0, 2.0, 10)]),
            ("sigma 0", [(0.0, 0.01, 10)]),
            ("not triples", [1, 2, 3]),
        ],
    )
    hierarchies = {"age": privacy.IntervalHierarchy([5, 10, 20]), "zip": privacy.MaskHierarchy(5)}
    yield from _vary(
        "information_loss",
        privacy.information_loss,
        {"levels": {"age": 1}, "hierarchies": hierarchies, "n_rows": 10},
        "levels",
        [("level 9", {"age": 9}), ("level -2", {"age": -2}), ("unknown column", {"x": 1})],
    )
    yield from _vary(
        "information_loss",
        privacy.information_loss,
        {"levels": {"age": 1}, "hierarchies": hierarchies, "n_rows": 10},
        "n_rows",
        BAD_SCALARS["count"],
    )
    people = pd.DataFrame({"zip": [2138, 2139, 13053, 13054], "age": [30, 31, 42, 43], "name": list("abcd")})
    yield Case(
        "MaskHierarchy.generalise",
        "MaskHierarchy",
        "zips read as ints",
        lambda: privacy.generalise(people, hierarchies={"zip": privacy.MaskHierarchy(5)}, levels={"zip": 1}),
    )
    key = privacy.generate_key()
    codes = pd.DataFrame({"zip": ["01234", "02139"]})
    yield Case(
        "decrypt_frame",
        "token",
        "leading-zero codes",
        lambda: _same(privacy.decrypt_frame(privacy.encrypt_frame(codes, key=key), keys=key), codes),
    )
    yield from _vary(
        "linkage_attack",
        privacy.linkage_attack,
        {"released": people, "external": people, "quasi_identifiers": ["age"], "identifier": "name"},
        "external",
        [("empty table", people.iloc[:0])],
    )
    yield from _vary(
        "k_anonymity",
        privacy.k_anonymity,
        {"data": people, "quasi_identifiers": ["age"]},
        "quasi_identifiers",
        [("unknown column", ["height"]), ("empty", [])],
    )
    X = pd.DataFrame({"a": np.random.default_rng(0).normal(size=40), "b": groups})
    X_inf = X.assign(a=X["a"].where(X.index != 0, INF))
    X_nan = X.assign(a=NAN)
    yield from _vary(
        "DPSGDClassifier.fit",
        lambda X: privacy.DPSGDClassifier(epsilon=None, epochs=1).fit(X, y),
        {"X": X},
        "X",
        [("one inf", X_inf), ("all-NaN column", X_nan)],
    )
    yield from _scalar_cases(
        "DPSGDClassifier.fit",
        lambda **k: privacy.DPSGDClassifier(**k).fit(X, y),
        {"epsilon": 1.0, "epochs": 1},
        {"epsilon": "positive", "epochs": "count"},
        allow_none=("epsilon",),
    )
    yield from _vary(
        "simulate_consent",
        privacy.simulate_consent,
        {"n_rows": 5, "rates": {"a": 0.5}},
        "n_rows",
        BAD_SCALARS["count"],
    )

    # audit
    queue_args = {"scores": [0.9, 0.95]}
    yield from _vary(
        "ReviewQueue.route",
        lambda **k: audit.ReviewQueue().route(**k),
        queue_args,
        "high_impact",
        [("'no' strings", ["no", "no"]), ("length 1", [True])],
    )
    yield from _vary(
        "ReviewQueue.route",
        lambda **k: audit.ReviewQueue().route(**k),
        queue_args,
        "ids",
        [("duplicates", ["a", "a"])],
    )
    yield from _vary(
        "ReviewQueue.route",
        lambda **k: audit.ReviewQueue().route(**k),
        queue_args,
        "scores",
        bad_scores(np.array([0.9, 0.95, 0.2, 0.1]), paired=False),
    )
    yield from _scalar_cases(
        "ReviewQueue", audit.ReviewQueue, {}, {"margin": "probability", "threshold": "probability"}
    )
    rec = {"kind": "data", "decision": "d", "author": "a", "rationale": "r"}
    yield from _vary(
        "AuditTrail.record",
        lambda **k: audit.AuditTrail().record(**k),
        rec,
        "timestamp",
        [("'yesterday'", "yesterday"), ("int", 5)],
    )
    yield from _scalar_cases(
        "AuditTrail.record",
        lambda **k: audit.AuditTrail().record(**k),
        rec,
        {"decision": "text", "author": "text", "rationale": "text"},
    )

    # sft (no model loading)
    identities = np.array(["x", "y", None, None] * 10, dtype=object)
    yield from _vary(
        "bias_metrics",
        sft.bias_metrics,
        {"scores": s, "labels": y, "sensitive_features": identities, "min_size": 5},
        "scores",
        bad_scores(s),
    )
    yield from _scalar_cases(
        "bias_metrics",
        sft.bias_metrics,
        {"scores": s, "labels": y, "sensitive_features": identities, "min_size": 5},
        {"threshold": "probability", "min_size": "count"},
    )
    yield from _scalar_cases(
        "EnergyMeter", sft.EnergyMeter, {}, {"threads": "count", "use_codecarbon": "flag"}
    )
    yield from _vary(
        "EnergyMeter", sft.EnergyMeter, {}, "country_iso_code", [("'ZZZ'", "ZZZ"), ("'FR'", "FR")]
    )
    yield from _vary(
        "reweight", sft.reweight, {"labels": y, "sensitive_features": identities}, "labels", bad_arrays(y)
    )
    yield from _vary(
        "generalized_mean",
        sft.generalized_mean,
        {"values": s},
        "values",
        [("strings", ["a", "b"]), ("empty", []), ("with inf", [INF, 0.5]), ("None", None)],
    )
    yield from _scalar_cases("generalized_mean", sft.generalized_mean, {"values": s}, {"power": "real"})

    # datasets
    yield from _scalar_cases("load_adult", datasets.load_adult, {}, {"drop_missing": "flag"})
    yield from _scalar_cases("load_compas", datasets.load_compas, {}, {"raw": "flag"})
    yield from _vary(
        "load_moderation", datasets.load_moderation, {"n": 50}, "n", [*BAD_SCALARS["count"], ("10**9", 10**9)]
    )
    yield from _scalar_cases(
        "load_moderation",
        datasets.load_moderation,
        {"n": 50},
        {"skew": "probability", "label_noise": "probability"},
    )
    frame = pd.DataFrame({"a": [1, 2, 3], "g": ["x", "y", "x"]})
    yield from _vary(
        "Dataset",
        datasets.Dataset,
        {"name": "d", "data": frame, "target": pd.Series([0, 1, 0]), "sensitive_features": ["g"]},
        "target",
        [("too short", pd.Series([0, 1])), ("other index", pd.Series([0, 1, 0], index=[5, 6, 7]))],
    )
    yield from _vary(
        "Dataset",
        datasets.Dataset,
        {"name": "d", "data": frame, "target": pd.Series([0, 1, 0]), "sensitive_features": ["g"]},
        "sensitive_features",
        [("unknown", ["race"])],
    )
    yield from _vary(
        "Split",
        Split,
        {"X": np.zeros((4, 2)), "y": np.zeros(4), "group": np.zeros(4)},
        "group",
        [("too short", np.zeros(3))],
    )
    yield from _vary(
        "agreement",
        agreement,
        {"estimate": s, "exact": s},
        "exact",
        [("too short", s[:3]), ("with NaN", np.r_[NAN, s[1:]])],
    )
    yield from _vary(
        "group_balanced_weights",
        group_balanced_weights,
        {"group": groups},
        "group",
        [("with NaN", [None, "a"]), ("empty", [])],
    )

    # the checks library
    yield from _vary(
        "expect_close", expect_close, {"found": 0.5, "expected": 0.5, "what": "x"}, "expected", [("nan", NAN)]
    )
    yield from _vary(
        "expect_close",
        expect_close,
        {"found": 0.5, "expected": 0.7, "what": "x"},
        "tol",
        [("nan", NAN), ("-1", -1.0)],
    )
    yield from _vary(
        "expect_columns",
        expect_columns,
        {"frame": pd.DataFrame({"a": [1], "b": [2]}), "columns": ["a"], "what": "t"},
        "columns",
        [("a string", "ab")],
    )
    yield from _vary(
        "Parts.run",
        lambda points: _parts(Parts, points),
        {"points": 1},
        "points",
        [("-1", -1), ("more than total", 5), ("nan", NAN)],
    )
    yield from _vary(
        "Exercise",
        Exercise,
        {"name": "q", "checker": lambda x: None, "hints": ["h"], "solution": "s"},
        "hints",
        [("a string", "look")],
    )


def more_cases() -> Iterator[Case]:  # noqa: C901
    """Second batch: explanations, anonymisation and consent, membership attacks, datasets, attribution."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from ethicskit import attribution, audit, datasets, explain, fairness, privacy, sft

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 3)), columns=list("abc"))
    y = (X["a"] + rng.normal(size=80) > 0).astype(int)
    lr = LogisticRegression().fit(X, y)
    rf = RandomForestClassifier(10, random_state=0).fit(X, y)
    yield Case(
        "shap_values",
        "X",
        "reordered columns",
        lambda: explain.shap_values(rf, X[["c", "b", "a"]], background=X.head(20)),
    )
    yield from _vary(
        "shap_values",
        explain.shap_values,
        {"model": rf, "X": X.head(5), "background": X.head(20)},
        "background",
        [
            ("other columns", X.head(20).rename(columns={"a": "z"})),
            ("with inf", X.head(20).replace(X.iloc[0, 0], INF)),
        ],
    )
    yield from _scalar_cases(
        "shap_values",
        explain.shap_values,
        {"model": rf, "X": X.head(5), "background": X.head(20)},
        {"random_state": "seed"},
    )
    yield from _vary(
        "permutation_importances",
        explain.permutation_importances,
        {"model": lr, "X": X, "y": y},
        "y",
        bad_arrays(y.to_numpy()),
    )
    yield from _scalar_cases(
        "permutation_importances",
        explain.permutation_importances,
        {"model": lr, "X": X, "y": y},
        {"n_repeats": "count"},
    )
    yield from _scalar_cases(
        "fit_logistic_baseline", explain.fit_logistic_baseline, {"X": X, "y": y}, {"C": "positive"}
    )
    yield from _scalar_cases(
        "fit_tree_baseline", explain.fit_tree_baseline, {"X": X, "y": y}, {"max_depth": "count"}
    )
    yield from _vary(
        "rank_agreement",
        explain.rank_agreement,
        {"a": [1.0, 2, 3], "b": [1.0, 2, 3]},
        "b",
        [("too short", [1.0]), ("with NaN", [NAN, 1, 2]), ("strings", ["a", "b", "c"])],
    )
    yield from _scalar_cases(
        "rank_agreement", explain.rank_agreement, {"a": [1.0, 2, 3], "b": [1.0, 2, 3]}, {"k": "count"}
    )
    yield from _vary(
        "prediction_gap",
        explain.prediction_gap,
        {"predictions": y, "sensitive_features": ["a", "b"] * 40},
        "predictions",
        [c for c in bad_arrays(y.to_numpy()) if c[0] != "3 classes"],
    )  # scores, not labels
    yield from _vary(
        "prediction_gap",
        explain.prediction_gap,
        {"predictions": y, "sensitive_features": ["a", "b"] * 40},
        "sensitive_features",
        [("one group", ["a"] * 80), ("too short", ["a", "b"])],
    )
    expl = explain.shap_values(rf, X.head(5), background=X.head(20))
    yield from _scalar_cases("sparsity", explain.sparsity, {"explanation": expl}, {"k": "count"})
    yield from _vary(
        "deletion_curve",
        explain.deletion_curve,
        {"model": lr, "explanation": expl},
        "model",
        [("None", None)],
    )
    yield from _scalar_cases(
        "comprehensiveness", explain.comprehensiveness, {"model": rf, "explanation": expl}, {"k": "count"}
    )
    people = pd.DataFrame(
        {"name": list("abcd"), "age": [30, 31, 42, 43], "consent": ["research", "", "research;ads", None]}
    )
    yield from _vary(
        "filter_by_consent",
        privacy.filter_by_consent,
        {"data": people, "purpose": "research", "consent_column": "consent"},
        "purpose",
        [("''", ""), ("None", None), ("int", 3)],
    )
    yield from _vary(
        "filter_by_consent",
        privacy.filter_by_consent,
        {"data": people, "purpose": "research", "consent_column": "consent"},
        "consent_column",
        [("unknown", "x")],
    )
    yield from _vary(
        "minimise",
        privacy.minimise,
        {"data": people, "purpose": "research", "needed_columns": ["age"]},
        "needed_columns",
        [("a string", "age"), ("unknown", ["x"]), ("empty", [])],
    )
    yield from _vary(
        "pseudonymise",
        privacy.pseudonymise,
        {"data": people, "columns": ["name"], "key": privacy.generate_hmac_key()},
        "key",
        [("short", b"k"), ("str", "abc"), ("None", None)],
    )
    yield from _scalar_cases(
        "pseudonymise",
        privacy.pseudonymise,
        {"data": people, "columns": ["name"], "key": privacy.generate_hmac_key()},
        {"length": "count"},
    )
    yield from _vary(
        "pseudonymise",
        privacy.pseudonymise,
        {"data": people, "columns": ["name"], "key": privacy.generate_hmac_key()},
        "length",
        [("1000", 1000)],
    )
    yield from _vary(
        "anonymise",
        privacy.anonymise,
        {"data": people, "k": 2, "hierarchies": {"age": privacy.IntervalHierarchy([5, 10, 20])}},
        "k",
        [*BAD_SCALARS["count"], ("10**9", 10**9)],
    )
    yield from _scalar_cases(
        "anonymise",
        privacy.anonymise,
        {"data": people, "k": 2, "hierarchies": {"age": privacy.IntervalHierarchy([5, 10, 20])}},
        {"max_suppression": "probability"},
    )
    yield from _vary(
        "IntervalHierarchy",
        privacy.IntervalHierarchy,
        {"widths": [5, 10]},
        "widths",
        [("negative", [-5]), ("nan", [NAN]), ("decreasing", [10, 5]), ("empty", [])],
    )
    yield from _vary(
        "CategoryHierarchy",
        privacy.CategoryHierarchy,
        {"levels": [{"a": "x"}]},
        "levels",
        [("a string", "ab"), ("None", None)],
    )
    yield from _vary(
        "l_diversity",
        privacy.l_diversity,
        {"data": people, "quasi_identifiers": ["age"], "sensitive": "name"},
        "sensitive",
        [("unknown", "x")],
    )
    yield from _scalar_cases(
        "PrivacyAccountant",
        privacy.PrivacyAccountant,
        {"total_epsilon": 1.0},
        {"total_epsilon": "positive", "total_delta": "probability"},
    )
    acc = privacy.PrivacyAccountant(1.0)
    yield from _scalar_cases(
        "PrivacyAccountant.spend",
        acc.spend,
        {"epsilon": 0.1},
        {"epsilon": "positive", "delta": "probability"},
    )
    yield from _vary(
        "noisy_histogram",
        privacy.noisy_histogram,
        {"values": ["a", "b"], "epsilon": 1.0},
        "categories",
        [("a string", "ab")],
    )
    yield from _scalar_cases(
        "noisy_histogram",
        privacy.noisy_histogram,
        {"values": ["a", "b"], "epsilon": 1.0},
        {"nonnegative": "flag"},
    )
    yield from _scalar_cases(
        "simulate_consent", privacy.simulate_consent, {"n_rows": 5, "rates": {"a": 0.5}}, {}
    )
    yield from _vary(
        "simulate_consent",
        privacy.simulate_consent,
        {"n_rows": 5, "rates": {"a": 0.5}},
        "n_rows",
        [("10**10", 10**10)],
    )
    yield from _vary(
        "loss_threshold_attack",
        privacy.loss_threshold_attack,
        {"model": lr, "X_members": X, "y_members": y, "X_non_members": X, "y_non_members": y},
        "y_members",
        bad_arrays(y.to_numpy()),
    )
    yield from _scalar_cases(
        "loss_threshold_attack",
        privacy.loss_threshold_attack,
        {"model": lr, "X_members": X, "y_members": y, "X_non_members": X, "y_non_members": y},
        {"max_records": "count"},
    )
    yield from _vary(
        "per_example_loss",
        privacy.per_example_loss,
        {"model": lr, "X": X, "y": y},
        "y",
        bad_arrays(y.to_numpy()),
    )
    yield from _vary(
        "ReweighingClassifier.fit",
        lambda y: fairness.ReweighingClassifier(LogisticRegression()).fit(
            X, y, sensitive_features=["p", "q"] * 40
        ),
        {"y": y},
        "y",
        bad_arrays(y.to_numpy()),
    )
    yield from _vary(
        "group_representation",
        fairness.group_representation,
        {"data": X.assign(g=["a", "b"] * 40), "sensitive_features": ["g"]},
        "sensitive_features",
        [("unknown", ["z"])],
    )
    yield from _vary(
        "group_representation",
        fairness.group_representation,
        {"data": X.assign(g=["a", "b"] * 40), "sensitive_features": ["g"]},
        "target",
        bad_arrays(y.to_numpy(), optional=True),
    )
    yield from _scalar_cases(
        "proxy_scores",
        fairness.proxy_scores,
        {"data": X.assign(g=["a", "b"] * 40), "sensitive_feature": "g"},
        {"cv": "count", "max_depth": "count"},
    )
    d = datasets.load_german()
    yield from _scalar_cases(
        "split_dataset",
        datasets.split_dataset,
        {"dataset": d},
        {"test_size": "probability", "random_state": "seed"},
    )
    yield from _vary(
        "split_dataset",
        datasets.split_dataset,
        {"dataset": d},
        "stratify_by",
        [("a string", "sex"), ("unknown", ["zz"])],
    )
    yield from _vary(
        "load_dataset",
        datasets.load_dataset,
        {"name": "adult"},
        "name",
        [("unknown", "mnist"), ("None", None)],
    )
    yield from _vary(
        "datasheet", datasets.datasheet, {"name": "adult"}, "name", [("unknown", "mnist"), ("None", None)]
    )
    yield from _vary(
        "counterfactual_augment",
        sft.counterfactual_augment,
        {
            "texts": ["I am gay", "hello"],
            "labels": [0, 1],
            "sensitive_features": ["gay", None],
            "swap_terms": ["gay", "straight"],
        },
        "labels",
        bad_arrays(np.array([0, 1]), paired=False),
    )
    yield from _scalar_cases(
        "counterfactual_augment",
        sft.counterfactual_augment,
        {
            "texts": ["I am gay", "hello"],
            "labels": [0, 1],
            "sensitive_features": ["gay", None],
            "swap_terms": ["gay", "straight"],
        },
        {"n_swaps": "count"},
    )
    yield from _vary(
        "counterfactual_augment",
        sft.counterfactual_augment,
        {
            "texts": ["I am gay", "hello"],
            "labels": [0, 1],
            "sensitive_features": ["gay", None],
            "swap_terms": ["gay", "straight"],
        },
        "swap_terms",
        [("a string", "gay"), ("one term", ["gay"])],
    )
    yield from _scalar_cases(
        "training_flops",
        sft.training_flops,
        {"total_params": 100, "trainable_params": 10, "tokens": 1000},
        {"total_params": "count"},
    )
    yield from _vary(
        "training_flops",
        sft.training_flops,
        {"total_params": 100, "trainable_params": 10, "tokens": 1000},
        "trainable_params",
        [("more than total", 1000)],
    )
    yield from _scalar_cases(
        "make_spurious_data",
        attribution.make_spurious_data,
        {"n_pretrain": 50, "n_finetune": 50, "n_align": 20, "n_test": 20},
        {"n_pretrain": "count", "finetune_minority": "probability"},
    )
    yield from _vary(
        "make_spurious_data",
        attribution.make_spurious_data,
        {"n_pretrain": 50, "n_finetune": 50, "n_align": 20, "n_test": 20},
        "n_pretrain",
        [("10**10", 10**10)],
    )
    yield from _scalar_cases(
        "make_mlp", attribution.make_mlp, {"n_features": 3}, {"n_features": "count", "hidden": "count"}
    )
    yield from _vary(
        "compare_estimates",
        attribution.compare_estimates,
        {"estimate": pd.DataFrame({"a": [1.0, 2]}), "exact": pd.DataFrame({"a": [1.0, 2]})},
        "exact",
        [("other columns", pd.DataFrame({"b": [1.0, 2]})), ("with NaN", pd.DataFrame({"a": [NAN, 2]}))],
    )
    fb = audit.FeedbackLog()
    r = fb.report("x", reporter="y")
    yield from _vary(
        "FeedbackLog.resolve",
        fb.resolve,
        {"feedback_id": r, "correction": "c", "author": "a"},
        "feedback_id",
        [("True", True), ("'0'", "0"), ("nan", NAN)],
    )
    yield from _vary(
        "FeedbackLog.report",
        fb.report,
        {"description": "d", "reporter": "r"},
        "category",
        [("unknown", "bug")],
    )
    yield from _vary("AuditTrail", audit.AuditTrail, {}, "path", [("int", 3), ("a dir", "/tmp")])
    yield from _vary(
        "ReviewQueue",
        audit.ReviewQueue,
        {},
        "flagged_groups",
        [("list", ["race"]), ("value str", {"race": "Other"})],
    )


def plot_and_attribution_cases() -> Iterator[Case]:
    """Second batch, continued: explanation text and plots, fairness plots, stage-attribution queries."""
    import matplotlib

    matplotlib.use("Agg")
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    from ethicskit import attribution, explain, fairness

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 3)), columns=list("abc"))
    y = (X["a"] + rng.normal(size=80) > 0).astype(int)
    lr = LogisticRegression().fit(X, y)
    tree = DecisionTreeClassifier(max_depth=2).fit(X, y)
    expl = explain.shap_values(lr, X.head(5), background=X.head(20))
    yield from _vary(
        "tree_rules", explain.tree_rules, {"tree": tree}, "decimals", [("-1", -1), ("2.5", 2.5), ("str", "2")]
    )
    yield from _vary(
        "explain_in_words",
        explain.explain_in_words,
        {"explanation": expl},
        "row",
        [("99", 99), ("-99", -99), ("2.5", 2.5), ("True", True)],
    )
    yield from _vary(
        "explain_in_words", explain.explain_in_words, {"explanation": expl}, "k", [("0", 0), ("-1", -1)]
    )
    yield from _vary(
        "plot_local", explain.plot_local, {"explanation": expl}, "row", [("99", 99), ("2.5", 2.5)]
    )
    yield from _vary(
        "plot_local",
        explain.plot_local,
        {"explanation": expl},
        "max_features",
        [("0", 0), ("-1", -1), ("2.5", 2.5)],
    )
    yield from _vary(
        "plot_global", explain.plot_global, {"importance": expl}, "max_features", [("0", 0), ("-1", -1)]
    )
    yield from _vary(
        "reference_row",
        explain.reference_row,
        {"background": X},
        "categorical",
        [("unknown", ["z"]), ("a string", "ab")],
    )
    yield from _vary(
        "quality_table",
        explain.quality_table,
        {"model": lr, "explanations": {"shap": expl}},
        "k",
        [("0", 0), ("99", 99), ("2.5", 2.5)],
    )
    yield from _vary(
        "predict_fair",
        fairness.predict_fair,
        {"model": lr, "X": X},
        "random_state",
        [("-1", -1), ("2.5", 2.5)],
    )
    audit = fairness.audit_predictions(y, lr.predict(X), sensitive_features=["p", "q"] * 40)
    yield from _vary(
        "plot_group_metric",
        fairness.plot_group_metric,
        {"audit": audit},
        "metric",
        [("unknown", "accuracyy")],
    )
    yield from _vary(
        "plot_group_metric",
        fairness.plot_group_metric,
        {"audit": audit},
        "sensitive_feature",
        [("unknown", "race")],
    )
    yield from _vary(
        "plot_roc_by_group",
        fairness.plot_roc_by_group,
        {"y_true": y, "scores": lr.predict_proba(X)[:, 1], "sensitive_features": ["p", "q"] * 40},
        "scores",
        bad_scores(lr.predict_proba(X)[:, 1]),
    )
    model = attribution.make_mlp(3)
    Xt = X.to_numpy()
    stages = [attribution.Stage("a", Xt, y.to_numpy()), attribution.Stage("b", Xt, y.to_numpy())]
    rec = attribution.record_training(model, stages)
    q = attribution.example_losses(Xt[:5], y.to_numpy()[:5])
    yield from _vary(
        "example_losses",
        attribution.example_losses,
        {"X": Xt[:5], "y": y.to_numpy()[:5]},
        "y",
        [("too short", y.to_numpy()[:2]), ("with NaN", np.r_[np.nan, y.to_numpy()[1:5]])],
    )
    yield from _vary(
        "example_losses",
        attribution.example_losses,
        {"X": Xt[:5], "y": y.to_numpy()[:5]},
        "X",
        [("with NaN", np.r_[[[np.nan] * 3], Xt[1:5]])],
    )
    yield from _vary(
        "group_losses",
        attribution.group_losses,
        {"X": Xt[:6], "y": y.to_numpy()[:6], "sensitive_features": [0, 1] * 3},
        "sensitive_features",
        [("too short", [0, 1]), ("with NaN", [np.nan, 1] * 3)],
    )
    yield from _vary(
        "estimate_stage_effects",
        attribution.estimate_stage_effects,
        {"record": rec, "query": q},
        "method",
        [("unknown", "magic")],
    )
    yield from _vary(
        "estimate_stage_effects",
        attribution.estimate_stage_effects,
        {"record": rec, "query": q},
        "stages",
        [("unknown", ["zz"]), ("index 9", [9])],
    )
    yield from _vary(
        "exact_stage_effects",
        attribution.exact_stage_effects,
        {"record": rec, "query": q},
        "stages",
        [("unknown", ["zz"]), ("index -9", [-9])],
    )
    yield from _vary(
        "replay_stage",
        attribution.replay_stage,
        {"record": rec, "stage": 0},
        "stage",
        [("unknown", "zz"), ("9", 9), ("-9", -9), ("2.5", 2.5), ("True", True)],
    )
    yield from _vary(
        "stage_shift", attribution.stage_shift, {"record": rec, "stage": 0}, "method", [("unknown", "zz")]
    )
    yield from _vary(
        "group_accuracy",
        attribution.group_accuracy,
        {"model": model, "split": attribution.Split(Xt, y.to_numpy(), np.array([0, 1] * 40))},
        "model",
        [("None", None)],
    )
    yield from _vary(
        "agreement",
        attribution.agreement,
        {"estimate": [1.0, 2, 3], "exact": [1.0, 2, 3]},
        "estimate",
        [("strings", ["a", "b", "c"]), ("inf", [INF, 1, 2])],
    )


def card_and_encoder_cases() -> Iterator[Case]:
    """Second batch, continued: model cards, datasheets, the encoder helpers (no model is loaded)."""
    from sklearn.linear_model import LogisticRegression

    from ethicskit import cards, sft

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=100), "g": rng.choice(["A", "B"], 100)})
    Xn = pd.get_dummies(X, dtype=float)
    y = pd.Series((rng.random(100) < 0.5).astype(int))
    model = LogisticRegression().fit(Xn, y)
    valid = {
        "model": model,
        "X": Xn,
        "y": y,
        "model_name": "m",
        "dataset_name": "d",
        "sensitive_features": ["g_A"],
    }
    for name, bad in [
        ("min_group_size", [("-1", -1), ("2.5", 2.5), ("nan", NAN)]),
        ("license", [("None", None)]),
        ("model_name", [("''", ""), ("None", None)]),
        ("sensitive_features", [("unknown", ["zz"])]),
        ("y", [("too short", y[:5]), ("3 classes", y.replace(0, 2))]),
        ("X", [("with NaN", Xn.assign(x=np.nan))]),
    ]:
        yield from _vary("ModelCard.from_model", cards.ModelCard.from_model, valid, name, bad)
    card = cards.ModelCard.from_model(**valid)
    yield from _vary("ModelCard.validate", card.validate, {}, "tolerance", [("nan", NAN), ("-1", -1.0)])
    yield from _vary(
        "ModelCard.validate", card.validate, {}, "min_words", [("-1", -1), ("2.5", 2.5), ("nan", NAN)]
    )
    yield from _vary(
        "ModelCard.validate", card.validate, {"model": model, "X": Xn}, "y", [("too short", y[:5])]
    )
    yield from _vary(
        "ModelCard.section", card.section, {"name": "Intended use"}, "name", [("None", None), ("int", 3)]
    )
    yield from _vary(
        "ModelCard.set_section",
        card.set_section,
        {"name": "Intended use", "text": "x"},
        "name",
        [("None", None), ("''", "")],
    )
    res = card.reported_metrics()
    yield from _vary(
        "disparities",
        cards.disparities,
        {"results": res},
        "min_group_size",
        [("-1", -1), ("nan", NAN), ("2.5", 2.5)],
    )
    yield from _vary(
        "largest_disparity",
        cards.largest_disparity,
        {"results": res},
        "metrics",
        [("unknown", ["accuracyy"]), ("a string", "accuracy")],
    )
    yield from _vary(
        "tidy_metrics", cards.tidy_metrics, {"results": res}, "results", [("None", None), ("list", [1, 2])]
    )
    yield from _vary(
        "Datasheet.from_dict",
        cards.Datasheet.from_dict,
        {"data": {}, "name": "x"},
        "data",
        [("None", None), ("list", [1])],
    )
    yield from _vary(
        "count_parameters",
        sft.count_parameters,
        {"model": LogisticRegression()},
        "model",
        [("not torch", LogisticRegression())],
    )
    yield from _vary(
        "load_encoder", sft.load_encoder, {}, "num_layers", [("-1", -1), ("0", 0), ("99", 99), ("2.5", 2.5)]
    )
    yield from _vary("load_encoder", sft.load_encoder, {}, "random_state", [("-1", -1), ("2.5", 2.5)])
    yield from _vary(
        "embed_texts",
        sft.embed_texts,
        {"texts": ["hi"]},
        "texts",
        [("a string", "hi"), ("empty", []), ("None", None), ("with None", ["hi", None])],
    )


#: Values wrong for any parameter annotated with this type, whatever it means.
AUTO_BAD = {
    "bool": [("'yes'", "yes"), ("2", 2)],
    "int": [("2.5", 2.5), ("'3'", "3"), ("nan", NAN)],
    "float": [("nan", NAN), ("'1'", "1")],
}


def auto_cases() -> Iterator[Case]:
    """Third batch, generated: every defaulted parameter annotated bool/int/float of every function the
    hand-written cases call gets the values that are wrong for its type (so no parameter is forgotten)."""
    import inspect

    seen = set()
    for target, function, valid in list(VALID_CALLS):
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):
            continue
        for name, parameter in parameters.items():
            kind = str(parameter.annotation).replace(" ", "")
            if parameter.default is inspect.Parameter.empty or name in valid or kind not in AUTO_BAD:
                continue
            for label, value in AUTO_BAD[kind]:
                if (target, name, label) in seen or (name == "origin" and label == "2.5"):  # a real origin
                    continue
                seen.add((target, name, label))
                yield Case(target, name, label, lambda f=function, k={**valid, name: value}: f(**k))


def all_cases() -> Iterator[Case]:
    """All three batches."""
    VALID_CALLS.clear()
    yield from cases()
    yield from more_cases()
    yield from plot_and_attribution_cases()
    yield from card_and_encoder_cases()
    yield from auto_cases()


def _finite(value: float) -> Any:
    """A finite positive answer is the right one (epsilon=1000 is weak privacy, not an error)."""
    if np.isfinite(value) and value > 0:
        raise _RoundTripOK
    return value


def _same(found: pd.DataFrame, expected: pd.DataFrame) -> Any:
    """A round trip that changes the data is a silent wrong result; raise so it counts as fine otherwise."""
    if found.astype(str).equals(expected.astype(str)):
        raise _RoundTripOK
    return found


class _RoundTripOK(Exception):
    """Marks a case whose correct behaviour is to return the right value."""


def _parts(Parts: type, points: float) -> float:
    parts = Parts(total=2)
    parts.run(points, lambda: None)
    return parts.result()


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def classify(case: Case, time_limit_s: int = TIME_LIMIT_S) -> str:
    """Run one case and say what happened."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(time_limit_s)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            case.call()
    except (_RoundTripOK, AssertionError):  # a check's CheckFailed is its correct answer
        return "correct"
    except _Timeout:
        return "hang"
    except (ValueError, TypeError) as error:
        return "clear" if case.name in str(error) else "vague"
    except Exception:  # noqa: BLE001 - anything else is a raw library error
        return "raw"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return "silent"


def main() -> int:
    counts: collections.Counter[str] = collections.Counter()
    details = []
    for case in all_cases():
        outcome = classify(case)
        counts[outcome] += 1
        if outcome not in ("clear", "correct"):
            details.append(f"{outcome:<7} {case}")
    total = sum(counts.values())
    print(f"{'outcome':<10}{'cases':>7}")
    for outcome in ("clear", "correct", "vague", "raw", "silent", "hang"):
        print(f"{outcome:<10}{counts[outcome]:>7}")
    print(f"{'total':<10}{total:>7}\n")
    print("\n".join(details))
    return 0


if __name__ == "__main__":
    sys.exit(main())
