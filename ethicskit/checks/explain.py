"""Checks for lesson 02-transparency (self-check exercises) and lab 4 (lab4-explanations).

Lab checks rebuild the lab's model themselves (:func:`lab4_setup`, deterministic) and recompute every
reference value on instances, backgrounds and ``k`` chosen from ``hidden_seed``; the hidden seeds live
only in the lab's source notebook. They never print to stderr (nbgrader would score the cell zero).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from ethicskit.checks.core import CheckFailed, expect, expect_close, expect_type
from ethicskit.checks.exercise import Exercise

__all__ = [
    "LAB4_FEATURES",
    "lab4_setup",
    "check_attribution_function",
    "check_comprehensiveness_function",
    "check_rank_agreement_function",
    "check_proxy_table",
    "check_proxy_features",
    "q1",
    "q2",
    "q3",
    "q4",
    "q5",
    "q6",
    "q7",
    "q8",
    "q9",
    "q10",
    "q11",
    "q12",
]

#: Model inputs of lab 4 (Adult census; sex and race are *not* among them).
LAB4_FEATURES = [
    "age",
    "workclass",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
]


@functools.lru_cache(maxsize=1)
def _lab4_cached() -> SimpleNamespace:
    from sklearn.ensemble import RandomForestClassifier

    from ethicskit.datasets import load_adult, split_dataset
    from ethicskit.explain import ordinal_encode, reference_row

    splits = split_dataset(load_adult(), random_state=0)
    train, test = splits.train, splits.test
    X_train, categories = ordinal_encode(train.data[LAB4_FEATURES])
    X_test, _ = ordinal_encode(test.data[LAB4_FEATURES])
    rows = X_train.sample(8000, random_state=0).index
    model = RandomForestClassifier(
        n_estimators=100, max_depth=8, min_samples_leaf=20, random_state=0, n_jobs=1
    ).fit(X_train.loc[rows], train.target.loc[rows])
    background = X_train.sample(100, random_state=1)
    return SimpleNamespace(
        model=model,
        X_train=X_train.loc[rows],
        y_train=train.target.loc[rows],
        X_test=X_test,
        y_test=test.target,
        sex_test=test.data["sex"].astype(str),
        categories=categories,
        background=background,
        reference=reference_row(background),
        instances=X_test.sample(20, random_state=2),
    )


def lab4_setup() -> SimpleNamespace:
    """The provided model and data of lab 4 (same every time; built in about 2 s).

    Returns
    -------
    types.SimpleNamespace
        ``model`` (random forest predicting income > 50K without sex or race), ``X_train``,
        ``y_train`` (its 8,000 training rows), ``X_test``, ``y_test``, ``sex_test``, ``categories``
        (code -> category of each encoded column), ``background`` (100 training rows), ``reference``
        (their median: the "feature removed" row) and ``instances`` (20 test rows to explain).
    """
    cached = _lab4_cached()
    return SimpleNamespace(**{k: (v.copy() if hasattr(v, "copy") else v) for k, v in vars(cached).items()})


def _rng_rows(frame: pd.DataFrame, n: int, seed: int | None, offset: int) -> pd.DataFrame:
    return frame.sample(n, random_state=(offset if seed is None else int(seed) + offset))


def _call(fn: Callable[..., Any], what: str, *args: Any) -> Any:
    expect(callable(fn), f"{what} should be a function, but it is a {type(fn).__name__}.")
    try:
        return fn(*args)
    except NotImplementedError:
        raise CheckFailed(f"{what} still raises NotImplementedError: write its body first.") from None
    except CheckFailed:
        raise
    except Exception as error:  # the learner's code crashed
        raise CheckFailed(f"calling {what} raised {type(error).__name__}: {error}") from None


def _as_attribution_frame(result: Any, X: pd.DataFrame, what: str) -> pd.DataFrame:
    if isinstance(result, np.ndarray):
        expect(
            result.shape == X.shape,
            f"{what} should have shape {X.shape} (rows x features), got {result.shape}.",
        )
        return pd.DataFrame(result, index=X.index, columns=X.columns)
    expect_type(result, pd.DataFrame, what)
    expect(
        result.shape == X.shape, f"{what} should have shape {X.shape} (rows x features), got {result.shape}."
    )
    expect(
        list(result.columns) == list(X.columns),
        f"{what} should have the feature columns {list(X.columns)}, got {list(result.columns)}.",
    )
    return result


def check_attribution_function(
    explain_rows: Callable[..., Any], *, hidden_seed: int | None = None, n: int = 6
) -> None:
    """Lab 4, part 1: ``explain_rows(model, X, background)`` returns SHAP values of P(income > 50K).

    Compared, value by value, with ``shap.TreeExplainer`` (interventional, probability output) on
    instances and a background drawn with ``hidden_seed`` (visible: the lab's own instances).
    """
    from ethicskit import explain

    lab = lab4_setup()
    if hidden_seed is None:
        X, background = lab.instances.iloc[:n], lab.background
    else:
        X = _rng_rows(lab.X_test, n, hidden_seed, 11)
        background = _rng_rows(lab.X_train, 100, hidden_seed, 12)
    what = "explain_rows(model, X, background)"
    found = _as_attribution_frame(_call(explain_rows, what, lab.model, X.copy(), background.copy()), X, what)
    expected = explain.shap_values(lab.model, X, background=background)
    if np.allclose(found.to_numpy(), expected.values.to_numpy(), atol=1e-4):
        return
    if np.allclose(found.to_numpy(), -expected.values.to_numpy(), atol=1e-4):
        raise CheckFailed(
            "Your attributions have the opposite sign: explain class 1 (income > 50K), not class 0."
        )
    proba = lab.model.predict_proba(X)[:, 1]
    base = lab.model.predict_proba(background)[:, 1].mean()
    sums = found.to_numpy(dtype=float).sum(axis=1)
    if not np.allclose(sums, proba - base, atol=1e-3):
        raise CheckFailed(
            "For each row, the attributions should add up to the predicted probability of income > 50K "
            "minus the mean prediction over the background you were given; they do not (largest gap "
            f"{np.max(np.abs(sums - (proba - base))):.3g}). Use the background passed in as the argument "
            "and explain the probability (model_output='probability')."
        )
    expect_close(found.to_numpy(), expected.values.to_numpy(), "your SHAP values", tol=1e-4, reveal=False)


def check_comprehensiveness_function(
    comprehensiveness_at_k: Callable[..., Any], *, hidden_seed: int | None = None, n: int = 8
) -> None:
    """Lab 4, part 2: ``comprehensiveness_at_k(model, X, attributions, reference, k)`` by hand.

    Checked against :func:`ethicskit.explain.comprehensiveness` with real SHAP attributions and with
    random signed attributions (where ranking by signed value instead of absolute value shows).
    """
    from ethicskit import explain

    lab = lab4_setup()
    rng = np.random.default_rng(7 if hidden_seed is None else int(hidden_seed) + 13)
    X = lab.instances.iloc[:n] if hidden_seed is None else _rng_rows(lab.X_test, n, hidden_seed, 14)
    ks = (1, 3) if hidden_seed is None else (int(rng.integers(1, 3)), int(rng.integers(3, 6)))
    shap_expl = explain.shap_values(lab.model, X, background=lab.background)
    random_values = pd.DataFrame(rng.normal(size=X.shape), index=X.index, columns=X.columns)
    cases = [("SHAP attributions", shap_expl.values), ("random signed attributions", random_values)]
    for label, values in cases:
        for k in ks:
            expl = explain.LocalExplanation(values, np.zeros(len(X)), X, "given")
            expected = explain.comprehensiveness(lab.model, expl, k=k, reference=lab.reference)
            what = f"comprehensiveness_at_k(model, X, attributions, reference, k={k}) with {label}"
            found = _call(
                comprehensiveness_at_k, what, lab.model, X.copy(), values.copy(), lab.reference.copy(), k
            )
            try:
                value = float(found)
            except (TypeError, ValueError):
                raise CheckFailed(f"{what} should return one number, got {type(found).__name__}.") from None
            if value < 0:
                raise CheckFailed(f"{what} is negative; average the absolute change in the prediction.")
            shifted = values.sub(values.min(axis=1), axis=0) + 1.0  # |shifted| ranks like the signed values
            signed = explain.LocalExplanation(shifted, np.zeros(len(X)), X, "signed")
            if (
                abs(value - expected) > 1e-6
                and abs(value - explain.comprehensiveness(lab.model, signed, k=k, reference=lab.reference))
                <= 1e-6
            ):
                raise CheckFailed(
                    f"{what} ranks the features by their signed attribution; rank them by absolute value "
                    "(a large negative attribution is an important feature too)."
                )
            expect_close(value, expected, what, tol=1e-6, reveal=hidden_seed is None)


def check_rank_agreement_function(
    agreement_at_k: Callable[..., Any], *, hidden_seed: int | None = None
) -> None:
    """Lab 4, part 3: ``agreement_at_k(a, b, k)`` returns ``(spearman, top_k_overlap)`` of |a|, |b|."""
    from ethicskit import explain

    rng = np.random.default_rng(3 if hidden_seed is None else int(hidden_seed) + 21)
    features = LAB4_FEATURES
    for trial in range(3):
        a = pd.Series(rng.normal(size=len(features)), index=features)
        b = pd.Series(
            a.to_numpy() * rng.choice([-1, 1], len(features)) + rng.normal(scale=0.8, size=len(features)),
            index=features,
        )
        if trial == 2:
            b = b.sample(frac=1.0, random_state=int(rng.integers(1000)))  # same features, other order
        k = int(rng.integers(2, 5))
        expected = explain.rank_agreement(a, b, k=k)
        what = f"agreement_at_k(a, b, k={k})"
        found = _call(agreement_at_k, what, a.copy(), b.copy(), k)
        if isinstance(found, dict):
            found = (found.get("spearman"), found.get("top_k_overlap"))
        expect(
            isinstance(found, (tuple, list)) and len(found) == 2,
            f"{what} should return a pair (spearman, top_k_overlap), got {found!r:.80}.",
        )
        expect_close(
            found[0],
            expected["spearman"],
            f"the Spearman correlation from {what}",
            tol=1e-6,
            reveal=hidden_seed is None,
        )
        expect_close(
            found[1],
            expected["top_k_overlap"],
            f"the top-k overlap from {what}",
            tol=1e-9,
            reveal=hidden_seed is None,
        )


#: Part D asks for the proxy analysis of the first PROXY_ROWS test rows.
PROXY_ROWS = 2000
#: A gap_drop may differ from the mean over many shuffles by this many standard deviations of a single
#: shuffle (any n_repeats and random_state the student chose stays well inside; made-up values do not).
PROXY_SD_BOUND = 5.0


@functools.lru_cache(maxsize=1)
def _proxy_reference() -> tuple[float, dict, pd.DataFrame]:
    from ethicskit.checks._hidden_explain import proxy_repeats  # grader's reference (empty in the runner)

    lab = lab4_setup()
    return proxy_repeats(
        lab.model, lab.X_test.iloc[:PROXY_ROWS], lab.sex_test.iloc[:PROXY_ROWS], n_repeats=20, seed=0
    )


def check_proxy_table(table: Any) -> None:
    """Lab 4, part 4: ``proxy_table`` is ``explain.proxy_analysis`` of the model on the first 2,000 test rows.

    Recomputed here: the prediction gap and the group means (deterministic) must match exactly, so a
    table on other rows (say 300) or with typed numbers fails; every ``gap_drop`` must lie within
    ``PROXY_SD_BOUND`` standard deviations of a single shuffle of the mean over 20 fresh shuffles (so any
    ``n_repeats`` and ``random_state`` are accepted), and ``gap_drop_share`` must be ``gap_drop`` / gap.
    """
    expect_type(table, pd.DataFrame, "proxy_table")
    expect(
        "gap_drop" in table.columns,
        f"proxy_table should have a gap_drop column; it has {list(table.columns)}.",
    )
    expect(
        sorted(map(str, table.index)) == sorted(LAB4_FEATURES),
        f"proxy_table should have one row per model feature {LAB4_FEATURES}; it has {list(table.index)}.",
    )
    gap, means, drops = _proxy_reference()
    stated = table.attrs.get("prediction_gap")
    try:
        stated = float(stated)
    except (TypeError, ValueError):
        stated = None
    expect(
        stated is not None and abs(stated - gap) <= 1e-9,
        "proxy_table should be explain.proxy_analysis(model, X_test.iloc[:2000], sex_test.iloc[:2000], ...): "
        "its attrs['prediction_gap'] "
        + ("is missing" if stated is None else f"is {stated:.6f}, on the first 2,000 test rows: {gap:.6f}")
        + ". Compute the table on those rows; never type its numbers.",
    )
    groups = table.attrs.get("groups")
    expect(
        isinstance(groups, dict)
        and sorted(map(str, groups)) == sorted(means)
        and all(abs(float(groups[g]) - means[str(g)]) <= 1e-9 for g in groups),
        "proxy_table's attrs['groups'] (mean prediction per group) do not match the model on the first "
        "2,000 test rows; compute the table with explain.proxy_analysis, never type its numbers.",
    )
    found = pd.to_numeric(pd.Series(table["gap_drop"].to_numpy(), index=[str(i) for i in table.index]),
                          errors="coerce")
    centre, spread = drops.mean(), drops.std(ddof=1)
    off = [f for f in LAB4_FEATURES if not abs(found[f] - centre[f]) <= PROXY_SD_BOUND * spread[f] + 1e-6]
    expect(
        not off,
        f"the gap_drop of {off} does not match a recomputation of the proxy analysis on the first 2,000 "
        "test rows (with any number of shuffles); compute the table, never type its numbers.",
    )
    if "gap_drop_share" in table.columns:
        share = pd.to_numeric(table["gap_drop_share"], errors="coerce").to_numpy(float)
        expect(
            np.allclose(share, table["gap_drop"].to_numpy(float) / gap, atol=1e-9),
            "proxy_table's gap_drop_share should be gap_drop divided by the prediction gap.",
        )


def check_proxy_features(names: Any, *, hidden_seed: int | None = None, n_rows: int = 1500) -> None:
    """Lab 4, part 4: the named features are the ones through which sex reaches the prediction.

    Recomputes :func:`ethicskit.explain.proxy_analysis` on test rows drawn with ``hidden_seed``. The
    list must contain a strongest carrier (``gap_drop`` at least 80 % of the largest), and every named
    feature must be a main carrier (at least half of the largest), so that the verdict does not hang on
    the order of near ties.
    """
    from ethicskit import explain

    expect(
        isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names),
        f"proxy_features should be a list of feature names (strings), got {names!r:.80}.",
    )
    expect(1 <= len(names) <= 3, f"name between 1 and 3 features, you named {len(names)}.")
    expect("sex" not in names, "sex is not an input of the model; name the inputs that carry it in.")
    unknown = [n for n in names if n not in LAB4_FEATURES]
    expect(not unknown, f"{unknown} are not inputs of the model; the inputs are {LAB4_FEATURES}.")
    lab = lab4_setup()
    rows = _rng_rows(lab.X_test, n_rows, hidden_seed, 31).index
    table = explain.proxy_analysis(
        lab.model,
        lab.X_test.loc[rows],
        lab.sex_test.loc[rows],
        n_repeats=3,
        random_state=0 if hidden_seed is None else int(hidden_seed),
        show_progress=False,
    )
    drops = table["gap_drop"]
    strongest = set(drops.index[drops >= 0.8 * drops.max()])
    main = set(drops.index[drops >= 0.5 * drops.max()])
    expect(
        any(n in strongest for n in names),
        "The feature that carries most of the gap between men and women into the prediction is not in "
        "your list. Sort proxy_table by gap_drop and read its top rows.",
    )
    minor = [n for n in names if n not in main]
    expect(
        not minor,
        f"{minor} carry less than half as much of the sex gap as the strongest carrier; keep only the "
        "features whose shuffling shrinks the gap the most.",
    )


# ---------------------------------------------------------------- lesson 02 self-check exercises


def _check_additivity(answer: Any, explanation: Any, model: Any) -> None:
    from ethicskit.explain import LocalExplanation

    expect_type(explanation, LocalExplanation, "the second argument (your SHAP explanation)")
    first = explanation.data.iloc[[0]]
    proba = float(model.predict_proba(first)[0, 1])
    expect_close(answer, proba, "your reconstruction of the first instance's P(class 1)", tol=1e-4)
    rebuilt = explanation.base_values[0] + explanation.values.iloc[0].sum()
    expect_close(rebuilt, proba, "base value + sum of SHAP values of that instance", tol=1e-4)


def _check_more_faithful(answer: Any) -> None:
    expect(isinstance(answer, str), "Answer with a string: 'shap', 'lime' or 'random'.")
    choice = answer.strip().lower()
    expect(choice in {"shap", "lime", "random"}, f"{answer!r} is not one of 'shap', 'lime' or 'random'.")
    expect(
        choice != "random",
        "Removing features in random order is the uninformative baseline; it "
        "should score the *lowest* comprehensiveness.",
    )
    expect(
        choice == "shap",
        "Look at the comprehensiveness column of the quality table: which explanation's top "
        "features move the prediction most when removed?",
    )


def _check_overlap_function(fn: Any) -> None:
    from ethicskit.explain import rank_agreement

    expect(callable(fn), f"Pass your function itself (top_k_overlap), not {type(fn).__name__}.")
    rng = np.random.default_rng(42)
    for _ in range(5):
        a, b = rng.normal(size=8), rng.normal(size=8)
        k = int(rng.integers(1, 6))
        expected = rank_agreement(a, b, k=k)["top_k_overlap"]
        expect_close(fn(a, b, k), expected, f"top_k_overlap on two random vectors with k={k}", tol=1e-9)


def _check_proxy(answer: Any, table: Any) -> None:
    expect(isinstance(answer, str), "Answer with the name of one feature, as a string.")
    expect_type(table, pd.DataFrame, "the second argument (the proxy table)")
    expect(answer.strip().lower() != "sex", "sex is not an input of the model; which input carries it in?")
    spelled = {str(name).lower(): name for name in table.index}
    expect(
        answer.strip().lower() in spelled, f"{answer!r} is not a feature of the table: {list(table.index)}."
    )
    answer = spelled[answer.strip().lower()]
    expect(
        answer == table["gap_drop"].idxmax(),
        f"Shuffling {answer!r} shrinks the gap less than another feature does; read the gap_drop column.",
    )


q1 = Exercise(
    "Exercise 2.1",
    _check_additivity,
    hints=[
        "SHAP values are additive: base value + sum of the instance's SHAP values = model output.",
        "shap_expl.base_values[0] + shap_expl.values.iloc[0].sum()",
    ],
    solution="answer = shap_expl.base_values[0] + shap_expl.values.iloc[0].sum()\n"
    "q1.check(answer, shap_expl, model)",
)
q2 = Exercise(
    "Exercise 2.2",
    _check_more_faithful,
    hints=[
        "Comprehensiveness: how much the prediction moves when the top-k features are removed. Higher = "
        "the explanation really named what the model uses."
    ],
    solution="q2.check('shap')  # on this model, compare the rows of the quality table",
)
q3 = Exercise(
    "Exercise 2.3",
    _check_overlap_function,
    hints=[
        "Rank by absolute value: np.argsort(-np.abs(a))[:k] gives the indices of the k largest.",
        "Turn both top-k index lists into sets; the overlap is len(intersection) / k.",
    ],
    solution="def top_k_overlap(a, b, k):\n"
    "    top_a = set(np.argsort(-np.abs(np.asarray(a)), kind='stable')[:k])\n"
    "    top_b = set(np.argsort(-np.abs(np.asarray(b)), kind='stable')[:k])\n"
    "    return len(top_a & top_b) / k",
)
q4 = Exercise(
    "Exercise 2.4",
    _check_proxy,
    hints=["proxy_table is sorted by gap_drop: the first row carries most of the gap between the groups."],
    solution="answer = proxy_table.index[0]\nq4.check(answer, proxy_table)",
)


def _closest_accepted_durations(model: Any, person: Any) -> tuple[int, list[int]]:
    current = int(person["duration"].iloc[0])
    candidates = pd.concat([person.assign(duration=d) for d in range(1, 73)], ignore_index=True)
    accepted = np.flatnonzero(model.predict_proba(candidates)[:, 1] >= 0.5) + 1
    if len(accepted) == 0:
        return current, []
    distance = np.abs(accepted - current)
    return current, sorted(int(d) for d in accepted[distance == distance.min()])


def _check_duration_counterfactual(answer: Any, model: Any, person: Any) -> None:
    expect_type(person, pd.DataFrame, "person (the one-row table of the applicant)")
    expect(len(person) == 1, f"person should be one applicant (one row); it has {len(person)} rows.")
    expect(isinstance(answer, (int, np.integer)) and not isinstance(answer, bool),
           f"Answer with a whole number of months (an int), not {type(answer).__name__}.")
    current, best = _closest_accepted_durations(model, person)
    expect(bool(best), "no duration from 1 to 72 months gets this applicant good credit.")
    expect(int(answer) != current, f"{answer} months is the applicant's own loan: it is refused.")
    p_good = float(model.predict_proba(person.assign(duration=int(answer)))[0, 1])
    expect(p_good >= 0.5, f"with {answer} months the model still refuses (P(good credit) = {p_good:.2f}).")
    expect(int(answer) in best, f"{answer} months is accepted, but a duration closer to the applicant's "
           f"{current} months is accepted too: search every whole month, not only the lesson's grid.")


q5 = Exercise(
    "Exercise 2.5",
    _check_duration_counterfactual,
    hints=["Loop over range(1, 73); for each d compute model.predict_proba(person.assign(duration=d))[0, 1].",
           "Keep the durations with P(good credit) >= 0.5 and take the one closest to "
           "person['duration'].iloc[0]."],
    solution="current = person['duration'].iloc[0]\n"
    "accepted = [d for d in range(1, 73) if model.predict_proba(person.assign(duration=d))[0, 1] >= 0.5]\n"
    "answer = min(accepted, key=lambda d: abs(d - current))",
)


def _check_auc_gain(answer: Any, model: Any, baseline: Any, X: Any, y: Any) -> None:
    from sklearn.metrics import roc_auc_score

    expect(isinstance(answer, (int, float, np.floating)) and not isinstance(answer, bool),
           f"Answer with a number (the difference of two ROC AUCs), not {type(answer).__name__}.")
    gain = roc_auc_score(y, model.predict_proba(X)[:, 1]) - roc_auc_score(y, baseline.predict_proba(X)[:, 1])
    expect(abs(float(answer) + gain) > 1.5e-3 or abs(gain) < 1.5e-3,
           "That is the right size with the wrong sign: boosted trees' AUC minus the logistic regression's.")
    # both AUCs are shown rounded to 3 decimals: accept the difference of the shown figures
    expect_close(answer, gain, "the boosted trees' ROC AUC minus the logistic regression's", tol=1.5e-3)


def _check_less_stable(answer: Any, stability: Any) -> None:
    expect(isinstance(answer, str), "Answer 'lime' or 'shap'.")
    expect_type(stability, pd.DataFrame, "the second argument (the stability table)")
    rows = {str(name).lower(): name for name in stability.index}
    choice = answer.strip().lower()
    expect(choice in rows, f"{answer!r} is not a row of the table: {list(stability.index)}.")
    worst = str(stability["spearman"].idxmin()).lower()
    expect(choice == worst, f"{answer!r} keeps its feature ranking better across runs (higher spearman, "
           "lower relative_std): which row changes more when you re-run it?")


q6 = Exercise(
    "Exercise 2.6",
    _check_auc_gain,
    hints=["Section 2 printed the boosted trees' test ROC AUC; section 6 the logistic regression's.",
           "roc_auc_score(y_test, m.predict_proba(X_test)[:, 1]) for each model, then subtract."],
    solution="from sklearn.metrics import roc_auc_score\n"
    "auc = lambda m: roc_auc_score(y_test, m.predict_proba(X_test)[:, 1])\n"
    "answer_6 = auc(model) - auc(logistic)",
)
q7 = Exercise(
    "Exercise 2.7",
    _check_less_stable,
    hints=["A stable explanation has spearman and top_k_overlap near 1 and relative_std near 0."],
    solution="answer_7 = stability_table['spearman'].idxmin().lower()   # 'lime' on this model",
)


def _word(value: Any) -> str:
    return " ".join(str(value).strip().lower().replace("_", " ").replace("-", " ").replace("'s", "").split())


#: Exercise 2.8: who asks each question of section 1's table (the audience, in its own words).
_AUDIENCES = {
    "applicant": ("applicant", "the applicant", "person", "the person", "customer", "client", "borrower",
                  "data subject", "affected person", "user"),
    "staff": ("staff", "bank staff", "the bank staff", "bank", "the bank", "developer", "developers",
              "data scientist", "data scientists", "team", "model team", "engineer", "engineers"),
    "regulator": ("regulator", "the regulator", "supervisor", "supervisory authority", "authority", "auditor",
                  "data protection authority", "court", "the law", "law"),
}
_AUDIENCE_CASES = {"a": "staff", "b": "applicant", "c": "regulator", "d": "applicant"}
_AUDIENCE_WHY = {
    "a": "checking that the model relies on sensible things is debugging, done by the people who run it",
    "b": "the person refused asks why, and wants wrong data corrected",
    "c": "a supervisory body asks the bank to justify its automated decisions under the law",
    "d": "the one who could act on the answer is the person the decision is about",
}


def _audience(value: Any) -> str | None:
    said = _word(value).removeprefix("the ")
    for audience, words in _AUDIENCES.items():
        if said in {w.removeprefix("the ") for w in words}:
            return audience
    return None


def _check_audiences(answer: Any) -> None:
    expect_type(answer, dict, "your answer")
    expect(set(map(str, answer)) == set(_AUDIENCE_CASES),
           f"answer should have one entry for each case {sorted(_AUDIENCE_CASES)}; it has {sorted(answer)}.")
    unknown = sorted(k for k, v in answer.items() if _audience(v) is None)
    expect(not unknown, f"case(s) {unknown}: answer with one of 'applicant', 'staff' or 'regulator'.")
    wrong = sorted(k for k, v in answer.items() if _audience(v) != _AUDIENCE_CASES[str(k)])
    if wrong:
        raise CheckFailed(f"case(s) {wrong} are not right yet. Think about case {wrong[0]!r}: "
                          f"{_AUDIENCE_WHY[str(wrong[0])]}.")


def _check_decoded_purpose(answer: Any) -> None:
    from ethicskit.datasets import load_german, split_dataset

    expect(not isinstance(answer, (bool, np.bool_)), "Answer with the purpose in words, a string.")
    if isinstance(answer, (int, np.integer)):
        raise CheckFailed(f"{answer} is the code that ordinal_encode gave the purpose; the codes are "
                          "arbitrary. Look up what it stands for in categories['purpose'].")
    expect(isinstance(answer, str),
           f"Answer with the purpose in words (a string), not {type(answer).__name__}.")
    truth = str(split_dataset(load_german(), random_state=0).test.data["purpose"].iloc[0])
    said = _word(answer.split("=")[-1])
    expect(said == _word(truth), f"{answer!r} is not the purpose of the first test applicant (X_test's first "
           "row): take its code in the purpose column and look it up in categories['purpose'].")


def _check_mean_abs_shap(answer: Any, explanation: Any) -> None:
    from ethicskit.explain import LocalExplanation

    expect_type(explanation, LocalExplanation, "the second argument (shap_expl)")
    values = explanation.values
    expected = values.abs().mean()
    expect(answer is not None and answer is not Ellipsis, "Compute the Series first: answer is still empty.")
    if isinstance(answer, dict):
        answer = pd.Series(answer)
    if isinstance(answer, pd.DataFrame) and answer.shape[1] == 1:
        answer = answer.iloc[:, 0]
    if isinstance(answer, pd.Series):
        expect(set(map(str, answer.index)) == set(map(str, expected.index)),
               f"your Series should have one entry per feature {list(expected.index)}; it has "
               f"{list(answer.index)}.")
        found = pd.to_numeric(answer.rename(index=str), errors="coerce").reindex(expected.index.astype(str))
    else:
        try:
            found = np.asarray(answer, dtype=float)
        except (TypeError, ValueError):
            raise CheckFailed("Answer with a pandas Series: one mean |SHAP value| per feature.") from None
        expect(found.shape == (len(expected),),
               f"answer should hold one number per feature ({len(expected)}); it has shape {found.shape}.")
        found = pd.Series(found, index=expected.index.astype(str))
    found = found.to_numpy(dtype=float)
    signed = values.mean().to_numpy()
    if np.allclose(found, signed, atol=1e-9) and not np.allclose(found, expected, atol=1e-9):
        raise CheckFailed("That is the mean of the signed SHAP values: positive and negative pushes cancel. "
                          "Take the absolute values first, then the mean over the applicants.")
    if np.allclose(found, values.abs().sum().to_numpy(), atol=1e-9):
        raise CheckFailed("That is the sum over the applicants; take the mean (divide by their number).")
    expect_close(found, expected.to_numpy(), "your mean |SHAP value| per feature", tol=1e-6)


def _check_twin_share(share: Any, ignores: Any, importance: Any) -> None:
    expect_type(importance, pd.DataFrame, "the third argument (the importance table)")
    expect(isinstance(share, (int, float, np.integer, np.floating)) and not isinstance(share, bool),
           f"Answer share with a number between 0 and 1, not {type(share).__name__}.")
    twin = pd.to_numeric(importance["with a twin"], errors="coerce")
    own, copy_ = float(twin.loc["duration"]), float(twin.loc["duration_weeks"])
    expected = own / (own + copy_)
    # the table is shown rounded to 4 decimals: a share computed from the shown figures is accepted
    if abs(float(share) - (1 - expected)) < 5e-3 < abs(float(share) - expected):
        raise CheckFailed("That is the share of the copy, duration_weeks; the question asks for duration's.")
    original = float(pd.to_numeric(importance["original model"], errors="coerce").loc["duration"])
    if abs(float(share) - own / original) < 5e-3 < abs(float(share) - expected):
        raise CheckFailed("That compares with the original model; divide by the sum of both twins in the "
                          "twin model's column.")
    expect(0 <= float(share) <= 1, f"A share lies between 0 and 1; {share} does not.")
    expect_close(share, expected, "duration's share of the two twins' importance in the twin model", tol=5e-3)
    expect(isinstance(ignores, (bool, np.bool_)), "Answer the second part with True or False.")
    expect(not bool(ignores), "The twin model still reads the loan length, through duration_weeks: a small "
           "importance for one copy says how the credit was split, not that the information is unused.")


def _reason_name(value: Any) -> str:
    return _word(str(value).split("=")[0])


def _check_top_reasons(answer: Any, explanation: Any) -> None:
    from ethicskit.explain import LocalExplanation

    expect_type(explanation, LocalExplanation, "the second argument (shap_expl)")
    expect(answer is not None and answer is not Ellipsis and not isinstance(answer, (str, bytes, dict)),
           "Answer with a list of three feature names, e.g. ['age', 'savings', 'housing'].")
    names = [_reason_name(a) for a in (answer.index if isinstance(answer, pd.Series) else answer)]
    expect(len(names) == 3, f"Name three features; you named {len(names)}.")
    features = {_word(c): str(c) for c in explanation.values.columns}
    unknown = [n for n in names if n not in features]
    expect(not unknown, f"{unknown} are not features of the model: {list(explanation.values.columns)}.")
    expect(len(explanation.values) > 1, "shap_expl should explain several applicants (pass shap_expl).")
    row = explanation.values.iloc[1]
    top = {_word(c) for c in row.abs().sort_values(ascending=False, kind="stable").index[:3]}
    if set(names) != top and set(names) == {_word(c) for c in row.sort_values(ascending=False).index[:3]}:
        raise CheckFailed("Those are the three largest *positive* SHAP values; a reason that pushed the "
                          "score down matters as much. Rank by absolute value.")
    expect(set(names) == top, "Those are not the three features with the largest |SHAP value| for the "
           "second applicant (shap_expl.values.iloc[1]).")


q8 = Exercise(
    "Exercise 2.8",
    _check_audiences,
    hints=["Section 1's table: the applicant asks 'why me?', the bank's staff 'is it sensible?', the "
           "regulator 'can you justify it?'."],
    solution="answer_8 = {'a': 'staff', 'b': 'applicant', 'c': 'regulator', 'd': 'applicant'}",
)
q9 = Exercise(
    "Exercise 2.9",
    _check_decoded_purpose,
    hints=["X_test['purpose'].iloc[0] is an integer code.",
           "categories['purpose'][code] is the category behind the code."],
    solution="answer_9 = categories['purpose'][X_test['purpose'].iloc[0]]",
)
q10 = Exercise(
    "Exercise 2.10",
    _check_mean_abs_shap,
    hints=["shap_expl.values is a DataFrame: one row per applicant, one column per feature.",
           "Absolute value first, then the mean of each column: .abs().mean()."],
    solution="mean_abs_shap = shap_expl.values.abs().mean()\n"
    "mean_abs_shap.sort_values(ascending=False)   # the beeswarm's order",
)
q11 = Exercise(
    "Exercise 2.11",
    _check_twin_share,
    hints=["Read the 'with a twin' column: duration's importance over the sum of both twins.",
           "Does the twin model still depend on the loan length, whichever copy it reads?"],
    solution="twin = importance['with a twin']\n"
    "share_11 = twin['duration'] / (twin['duration'] + twin['duration_weeks'])\n"
    "ignores_11 = False   # the model reads the loan length through duration_weeks",
)
q12 = Exercise(
    "Exercise 2.12",
    _check_top_reasons,
    hints=["shap_expl.values.iloc[1] holds the second applicant's SHAP values.",
           "Rank them by absolute value: .abs().sort_values(ascending=False).index[:3]."],
    solution="reasons_12 = list(shap_expl.values.iloc[1].abs().sort_values(ascending=False).index[:3])",
)
