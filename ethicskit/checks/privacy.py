"""Checks for lesson 04-privacy (self-check exercises) and lab lab5-privacy (visible and hidden tests).

Lab check functions take the learner's answer and, in hidden tests, a ``hidden_seed`` chosen in the
nbgrader source notebook (never stored here). With ``hidden_seed=None`` they run the visible test:
quick, informative, raising :class:`CheckFailed`. With a seed they return the points earned (partial
credit through :class:`Parts`) and never reveal the hidden reference values.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ethicskit.checks.core import CheckFailed, Parts, expect, expect_close, expect_raises
from ethicskit.checks.exercise import Exercise

__all__ = [
    "LAB_DELTA",
    "LAB_EPSILON",
    "LAB_MAX_SUPPRESSION",
    "check_anonymisation",
    "check_budget",
    "check_laplace",
    "check_private_model",
    "evaluate_levels",
    "release_evidence",
    "lab_data",
    "lab_hierarchies",
    "lab_patients",
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
]

LAB_EPSILON = 1.0  # largest epsilon the lab's private model may spend
LAB_DELTA = 1e-5  # at this delta
LAB_MIN_ACCURACY = 0.80  # a constant predictor reaches about 0.76 on Adult
LAB_MAX_ADVANTAGE = 0.10  # membership-inference advantage bound (noise floor at 2,000 records is ~0.04)
LAB_MAX_SUPPRESSION = 0.05
_SPLIT_SEED = 5  # public: the lab's train/validation split


# ------------------------------------------------------------------------------------------ lab data
def lab_data() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    """The lab's Adult split: 2,000 training and 2,000 validation rows (``fnlwgt`` dropped).

    Returns ``X_train, y_train, X_valid, y_valid``; the original Adult row numbers are kept as index.
    """
    X, y, order = _adult_shuffled()
    train, valid = order[:2000], order[2000:4000]
    return X.loc[train], y.loc[train], X.loc[valid], y.loc[valid]


def _adult_shuffled() -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    from ethicskit.datasets import load_adult

    adult = load_adult()
    X = adult.data.drop(columns=["fnlwgt"])
    order = np.random.default_rng(_SPLIT_SEED).permutation(X.index.to_numpy())
    return X, adult.target, order


def lab_patients(*, n: int = 3000, random_state: int = 0) -> pd.DataFrame:
    """A table to anonymise: quasi-identifiers plus two sensitive columns, sampled from Adult."""
    from ethicskit.datasets import load_adult

    adult = load_adult()
    columns = ["age", "sex", "race", "marital_status", "education", "occupation"]
    frame = adult.data[columns].copy()
    for column in columns[1:]:
        frame[column] = frame[column].astype(object)
    frame["income"] = np.where(adult.target == 1, ">50K", "<=50K")
    rows = np.random.default_rng(random_state).choice(len(frame), size=n, replace=False)
    return frame.iloc[np.sort(rows)].reset_index(drop=True)


def lab_hierarchies() -> dict[str, Any]:
    """Generalisation hierarchies for the quasi-identifiers of :func:`lab_patients`."""
    from ethicskit.privacy import CategoryHierarchy, IntervalHierarchy

    school = ["Preschool", "1st-4th", "5th-6th", "7th-8th", "9th", "10th", "11th", "12th"]
    degree = {
        **{e: "no-diploma" for e in school},
        "HS-grad": "high-school",
        "Some-college": "some-college",
        "Assoc-voc": "some-college",
        "Assoc-acdm": "some-college",
        "Bachelors": "bachelors",
        "Masters": "graduate",
        "Prof-school": "graduate",
        "Doctorate": "graduate",
    }
    broad = {e: ("school" if g in ("no-diploma", "high-school") else "higher") for e, g in degree.items()}
    marital = {
        "Married-civ-spouse": "married",
        "Married-AF-spouse": "married",
        "Married-spouse-absent": "married",
        "Divorced": "was-married",
        "Separated": "was-married",
        "Widowed": "was-married",
        "Never-married": "never-married",
    }
    races = ["White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other"]
    return {
        "age": IntervalHierarchy(widths=(5, 10, 20)),
        "sex": CategoryHierarchy([]),
        "race": CategoryHierarchy([{r: ("White" if r == "White" else "non-White") for r in races}]),
        "marital_status": CategoryHierarchy([marital]),
        "education": CategoryHierarchy([degree, broad]),
    }


def evaluate_levels(
    data: pd.DataFrame, levels: Any, *, k: int, max_suppression: float = LAB_MAX_SUPPRESSION
) -> tuple[int, float, bool]:
    """Apply ``levels`` with :func:`lab_hierarchies`, suppress classes smaller than ``k``.

    Returns ``(n_suppressed, information_loss, feasible)``.
    """
    from ethicskit.privacy import equivalence_class_sizes, generalise, information_loss

    hierarchies = lab_hierarchies()
    expect(
        isinstance(levels, dict),
        f"the levels should be a dict {{column: level}}, not {type(levels).__name__}.",
    )
    expect(
        set(levels) == set(hierarchies),
        f"the levels should name exactly the quasi-identifiers {sorted(hierarchies)}; got {sorted(levels)}.",
    )
    for column, level in levels.items():
        height = hierarchies[column].height
        expect(
            isinstance(level, (int, np.integer)) and not isinstance(level, bool) and 0 <= level <= height,
            f"the level of {column!r} should be an integer from 0 to {height}; got {level!r}.",
        )
    generalised = generalise(data, hierarchies=hierarchies, levels={c: int(v) for c, v in levels.items()})
    sizes = equivalence_class_sizes(generalised, quasi_identifiers=list(hierarchies))
    suppressed = int((sizes < k).sum())
    loss = information_loss(levels, hierarchies, n_rows=len(data), n_suppressed=suppressed)
    return suppressed, loss, suppressed <= max_suppression * len(data)


# ------------------------------------------------------------------------------------------ Laplace
def _draw(
    fn: Callable[..., Any], value: float, sensitivity: float, epsilon: float, seed: int, n: int
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty(n)
    for i in range(n):
        result = fn(value, sensitivity=sensitivity, epsilon=epsilon, rng=rng)
        expect(
            isinstance(result, (float, int, np.floating, np.integer)) and not isinstance(result, bool),
            f"laplace_mechanism should return one number (a float), but it returned {type(result).__name__}.",
        )
        out[i] = float(result)
    return out


def _laplace_distribution(fn, seed: int, *, reveal: bool) -> None:
    from scipy import stats

    rng = np.random.default_rng(seed)
    for _ in range(2):
        value = float(rng.integers(-50, 200))
        sensitivity = float(rng.choice([1.0, 2.0, 5.0]))
        epsilon = float(rng.choice([0.1, 0.5, 1.0, 2.0]))
        draws = _draw(fn, value, sensitivity, epsilon, int(rng.integers(1 << 30)), 3000)
        scale = sensitivity / epsilon
        p_value = stats.kstest(draws, "laplace", args=(value, scale)).pvalue
        setting = f"value={value:g}, sensitivity={sensitivity:g}, epsilon={epsilon:g}"
        if p_value < 1e-3:
            spread = float(np.mean(np.abs(draws - value)))
            raise CheckFailed(
                f"with {setting} the outputs do not follow a Laplace distribution centred on the value with "
                f"scale sensitivity/epsilon (Kolmogorov-Smirnov p = {p_value:.1e}); their mean absolute "
                f"deviation is {spread:.3g}" + (f", expected about {scale:.3g}." if reveal else ".")
            )


def _laplace_uses_rng(fn, seed: int) -> None:
    a = _draw(fn, 10.0, 1.0, 1.0, seed, 20)
    b = _draw(fn, 10.0, 1.0, 1.0, seed, 20)
    c = _draw(fn, 10.0, 1.0, 1.0, seed + 1, 20)
    expect(
        np.array_equal(a, b),
        "two generators with the same seed gave different noise: draw the noise from "
        "the rng argument (rng.laplace(...)), not from np.random or random.",
    )
    expect(not np.array_equal(a, c), "different seeds gave the same outputs: the noise must come from rng.")
    expect(len(np.unique(a)) > 15, "the outputs barely vary: each call should draw fresh noise.")


def _laplace_validates(fn) -> None:
    rng = np.random.default_rng(0)
    for kwargs, what in [
        ({"sensitivity": 1.0, "epsilon": 0.0}, "epsilon = 0"),
        ({"sensitivity": 1.0, "epsilon": -1.0}, "a negative epsilon"),
        ({"sensitivity": -1.0, "epsilon": 1.0}, "a negative sensitivity"),
    ]:
        try:
            fn(1.0, rng=rng, **kwargs)
        except ValueError:
            continue
        except Exception as error:
            raise CheckFailed(
                f"with {what} laplace_mechanism should raise ValueError, it raised {type(error).__name__}."
            ) from None
        raise CheckFailed(f"with {what} laplace_mechanism should raise ValueError, but it returned a value.")


RELEASE_VALUE, RELEASE_SENSITIVITY, RELEASE_EPSILON, RELEASE_COUNT = 1234.0, 2.0, 0.5, 300


def release_evidence(fn: Callable[..., Any]) -> list[float]:
    """What the lab's locked cell records in the learner's own kernel: one release per seeded generator.

    ``fn(1234, sensitivity=2, epsilon=0.5, rng=np.random.default_rng(seed))`` for seeds 0..299.
    """
    return [
        fn(
            RELEASE_VALUE,
            sensitivity=RELEASE_SENSITIVITY,
            epsilon=RELEASE_EPSILON,
            rng=np.random.default_rng(s),
        )
        for s in range(RELEASE_COUNT)
    ]


def _releases_are_noisy(releases: Any) -> np.ndarray:
    """The kernel's releases vary: a function that adds noise only while it is graded fails here."""
    try:
        values = np.asarray([float(v) for v in releases], dtype=float)
    except (TypeError, ValueError):
        raise CheckFailed(
            "laplace_releases (made by the locked cell above the test) is not a list of numbers."
        ) from None
    expect(
        len(values) == RELEASE_COUNT and np.all(np.isfinite(values)),
        f"laplace_releases should hold the {RELEASE_COUNT} numbers the locked cell above the test made.",
    )
    expect(
        len(np.unique(values)) >= 0.9 * RELEASE_COUNT,
        "in your notebook, laplace_mechanism released (nearly) the same number every time: it added no "
        "noise there. A mechanism must add noise on every call, not only when it is graded.",
    )
    return values


def _releases_match(fn, releases: np.ndarray) -> None:
    """Called again with the same seeded generators, the function releases what it released in the kernel."""
    again = np.asarray([float(v) for v in release_evidence(fn)])
    expect(
        np.allclose(again, releases, rtol=0, atol=1e-9),
        "with the same seeded generators, laplace_mechanism released other values here than in your "
        "notebook: the noise must come from rng alone (and the same on every run).",
    )


def _releases_distribution(releases: np.ndarray) -> None:
    from scipy import stats

    scale = RELEASE_SENSITIVITY / RELEASE_EPSILON
    p_value = stats.kstest(releases, "laplace", args=(RELEASE_VALUE, scale)).pvalue
    expect(
        p_value >= 1e-3,
        "the releases your notebook made (value 1234, sensitivity 2, epsilon 0.5) do not follow a Laplace "
        "distribution centred on the value with scale sensitivity/epsilon "
        f"(Kolmogorov-Smirnov p = {p_value:.1e}).",
    )


def check_laplace(
    fn: Callable[..., Any],
    *,
    hidden_seed: int | None = None,
    points: float = 3,
    releases: Any = None,
) -> float | None:
    """Lab question 1: ``fn(value, *, sensitivity, epsilon, rng)`` is a correct Laplace mechanism.

    Visible: one setting, seeded. Hidden (``hidden_seed``): Kolmogorov-Smirnov tests on settings and
    seeds the learner never sees (1/3), noise drawn from ``rng`` (1/3), input validation (1/3).

    ``releases`` (hidden) is what the lab's locked cell recorded in the learner's kernel
    (:func:`release_evidence`), where no grader is around: if those do not vary, nothing is earned (a
    function that adds noise only when it detects the grader); they must equal what the function
    releases here for the same seeds (randomness) and follow the Laplace distribution (distribution).
    """
    expect(callable(fn), f"laplace_mechanism should be a function, but it is a {type(fn).__name__}.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if hidden_seed is None:
            draws = _draw(fn, 5.0, 2.0, 0.5, 0, 2000)
            expect(
                abs(np.median(draws) - 5.0) < 0.6,
                f"the outputs should be centred on the true value 5; their median is {np.median(draws):.3g}.",
            )
            spread = float(np.mean(np.abs(draws - 5.0)))
            expect(
                abs(spread - 4.0) < 0.4,
                "with sensitivity 2 and epsilon 0.5 the noise scale should be 4, so "
                f"the mean absolute deviation should be about 4; it is {spread:.3g}.",
            )
            _laplace_validates(fn)
            print("laplace_mechanism: visible checks passed.")
            return None
        kernel = None if releases is None else _releases_are_noisy(releases)

        def distribution() -> None:
            _laplace_distribution(fn, hidden_seed, reveal=False)
            if kernel is not None:
                _releases_distribution(kernel)

        def randomness() -> None:
            _laplace_uses_rng(fn, hidden_seed)
            if kernel is not None:
                _releases_match(fn, kernel)

        parts = Parts(total=points)
        parts.run(points / 3, distribution, "distribution")
        parts.run(points / 3, randomness, "randomness")
        parts.run(points / 3, lambda: _laplace_validates(fn), "validation")
        return parts.result()


# ------------------------------------------------------------------------------------------ budget
def _budget_sequence(cls, seed: int) -> None:
    from ethicskit.privacy import BudgetExceeded, PrivacyAccountant

    rng = np.random.default_rng(seed)
    # in floating point 0.1 + 0.2 = 0.30000000000000004 and 0.05 + 0.1 + 0.45 = 0.6000000000000001
    cases = [(0.3, [0.1, 0.2, 0.05]), (0.6, [0.05, 0.1, 0.45, 0.1])]
    for _ in range(4):
        total = float(np.round(rng.uniform(0.5, 3.0), 2))
        cases.append((total, [float(np.round(e, 2)) for e in rng.uniform(0.05, 0.8, size=10)]))
    for total, spends in cases:
        reference, learner = PrivacyAccountant(total_epsilon=total), cls(total)
        for step, epsilon in enumerate(spends, 1):
            try:
                reference.spend(epsilon)
                allowed = True
            except BudgetExceeded:
                allowed = False
            try:
                learner.spend(epsilon)
                accepted = True
            except ValueError:
                accepted = False
            story = f"with a budget of {total:g} and spends {spends[:step]}"
            if allowed != accepted:
                verb = "refused" if allowed else "accepted"
                raise CheckFailed(
                    f"{story}, the last spend was {verb} but it should not have been "
                    "(a refused query must not be recorded; allow for float rounding)."
                )
            expect_close(
                learner.remaining,
                reference.remaining_epsilon,
                f"{story}, the remaining budget",
                tol=1e-6,
                reveal=False,
            )


def _budget_validates(cls) -> None:
    for bad in (0.0, -1.0):
        try:
            cls(bad)
        except ValueError:
            pass
        else:
            raise CheckFailed(
                f"BudgetAccountant({bad:g}) should raise ValueError: a budget must be positive."
            )
    accountant = cls(1.0)
    for bad in (0.0, -0.5):
        try:
            accountant.spend(bad)
        except ValueError:
            continue
        raise CheckFailed(f"spend({bad:g}) should raise ValueError: each query costs a positive epsilon.")
    expect_close(accountant.remaining, 1.0, "the remaining budget after refused spends", tol=1e-9)


def check_budget(cls: type, *, hidden_seed: int | None = None, points: float = 2) -> float | None:
    """Lab question 2: ``cls(total_epsilon)`` with ``.spend(epsilon)`` and ``.remaining``.

    Sequential composition: epsilons add up; a query past the budget raises ``ValueError`` and costs nothing.
    """
    expect(isinstance(cls, type), f"BudgetAccountant should be a class, but it is a {type(cls).__name__}.")
    if hidden_seed is None:
        accountant = cls(1.0)
        accountant.spend(0.3)
        expect_close(accountant.remaining, 0.7, "remaining after spending 0.3 of 1.0", tol=1e-9)
        expect_raises(
            lambda: accountant.spend(0.8),
            ValueError,
            "spending 0.8 when 0.7 is left should raise ValueError.",
        )
        expect_close(
            accountant.remaining,
            0.7,
            "remaining after a refused spend of 0.8 (refused queries cost nothing)",
            tol=1e-9,
        )
        accountant.spend(0.7)
        expect_close(accountant.remaining, 0.0, "remaining after spending 0.3 then 0.7 of 1.0", tol=1e-9)
        expect_raises(
            lambda: accountant.spend(0.1),
            ValueError,
            "spending 0.1 from an exhausted budget should raise ValueError.",
        )
        expect_close(accountant.remaining, 0.0, "remaining after a refused spend", tol=1e-9)
        print("BudgetAccountant: visible checks passed.")
        return None
    parts = Parts(total=points)
    parts.run(points / 2, lambda: _budget_sequence(cls, hidden_seed), "composition")
    parts.run(points / 2, lambda: _budget_validates(cls), "validation")
    return parts.result()


# ------------------------------------------------------------------------------------------ anonymisation
def _optimal_loss(data: pd.DataFrame, k: int) -> float:
    from ethicskit.privacy import anonymise

    return anonymise(
        data, k=k, hierarchies=lab_hierarchies(), max_suppression=LAB_MAX_SUPPRESSION
    ).information_loss


def _anonymisation_cases(hidden_seed: int) -> list[tuple[pd.DataFrame, int]]:
    """Four hidden tables, chosen so that no single dict of levels is right for all of them.

    A large table with k = 2 (little generalisation needed), a small one with a large k (much more), a
    mid-sized one with a small k and, for one mid-sized table with a large k, synthetic rows (each
    quasi-identifier shuffled on its own, so the classes are not those of any real sample).
    """
    rng = np.random.default_rng(hidden_seed)
    specs = [
        (int(rng.integers(3000, 4000)), 2, False),
        (int(rng.integers(300, 500)), int(rng.integers(8, 12)), False),
        (int(rng.integers(1500, 3000)), int(rng.choice([3, 4])), False),
        (int(rng.integers(1000, 3000)), int(rng.choice([6, 8, 10])), True),
    ]
    cases = []
    for n, k, synthetic in specs:
        data = lab_patients(n=n, random_state=int(rng.integers(1 << 30)))
        if synthetic:
            for column in lab_hierarchies():
                data[column] = rng.permutation(data[column].to_numpy())
        cases.append((data, k))
    return cases


def check_anonymisation(
    fn: Callable[..., Any], *, hidden_seed: int | None = None, points: float = 3
) -> float | None:
    """Lab question 3: ``fn(data, k)`` returns generalisation levels reaching k with minimal information loss.

    The levels are applied with :func:`lab_hierarchies`; records in classes smaller than ``k`` are
    suppressed, at most ``LAB_MAX_SUPPRESSION`` of them. Hidden (four tables and k's the learner never
    sees, one of them synthetic): half the points when, on every table, the levels are feasible and no
    combination that suppresses no more records loses less (a search under a stricter suppression rule,
    e.g. none at all, earns this half; a fixed dict does not fit every table); the other half when they
    lose the least information possible on every table.
    """
    expect(callable(fn), f"choose_levels should be a function, but it is a {type(fn).__name__}.")

    def answer(data: pd.DataFrame, k: int) -> tuple[int, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            levels = fn(data.copy(), k)
        if not isinstance(levels, dict):  # a handle to a dict-like object: take its items as data
            with contextlib.suppress(Exception):
                levels = dict(levels.items())
        suppressed, loss, ok = evaluate_levels(data, levels, k=k)
        expect(
            ok,
            f"with k={k} your levels leave {suppressed} of {len(data)} records in classes smaller than "
            f"k; at most {LAB_MAX_SUPPRESSION:.0%} may be suppressed. Generalise more.",
        )
        return suppressed, loss

    if hidden_seed is None:
        data, k = lab_patients(n=3000, random_state=0), 5
        _, loss = answer(data, k)
        expect(
            loss <= _optimal_loss(data, k) + 1e-9,
            f"with k={k} your levels reach k but lose {loss:.3f} of the information; "
            "another combination of levels loses less. Search every combination.",
        )
        print(f"choose_levels: visible checks passed (k={k}).")
        return None

    from ethicskit.checks._hidden_privacy import least_loss, level_table

    cases = _anonymisation_cases(hidden_seed)
    evaluated: dict[int, tuple[int, float, list]] = {}

    def evaluate(number: int) -> tuple[int, float, list]:
        if number not in evaluated:
            data, k = cases[number - 1]
            try:
                suppressed, loss = answer(data, k)
            except CheckFailed as failure:
                raise CheckFailed(f"on hidden table {number} (k={k}): {failure}") from None
            evaluated[number] = (suppressed, loss, level_table(data, k, lab_hierarchies()))
        return evaluated[number]

    def feasible_and_not_overgeneralised() -> None:
        for number, (_, k) in enumerate(cases, 1):
            suppressed, loss, table = evaluate(number)
            expect(
                loss <= least_loss(table, suppressed) + 1e-9,
                f"on hidden table {number} (k={k}) your levels are k-anonymous but generalise more than "
                "needed: another combination suppresses no more records and keeps more information.",
            )

    def minimal() -> None:
        for number, (data, k) in enumerate(cases, 1):
            _, loss, table = evaluate(number)
            expect(
                loss <= least_loss(table, LAB_MAX_SUPPRESSION * len(data)) + 1e-9,
                f"on hidden table {number} (k={k}) your levels reach k but another combination loses less "
                "information (suppressing up to 5 % of the records is allowed). Search every combination.",
            )

    parts = Parts(total=points)
    parts.run(points / 2, feasible_and_not_overgeneralised, "k-anonymity")
    parts.run(points / 2, minimal, "information loss")
    return parts.result()


# ------------------------------------------------------------------------------------------ DP model
RECIPE = (
    "epsilon",
    "delta",
    "noise_multiplier",
    "epochs",
    "batch_size",
    "max_grad_norm",
    "learning_rate",
    "hidden_units",
    "random_state",
    "encoder",
)
_SAME_MEAN, _SAME_MAX = (
    2e-3,
    5e-2,
)  # retraining a recipe is exact on one machine; two seeds differ by 0.03 / 0.5


def _plain(value: Any) -> Any:
    """A recipe parameter as plain data (numbers, strings, None, lists and dicts of them)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    raise CheckFailed(f"a parameter of private_model is a {type(value).__name__}, not a plain value.")


def _retrain(model: Any, X_train: pd.DataFrame, y_train: pd.Series) -> Any:
    """Retrain the model's recipe (its DPSGDClassifier parameters) with the kit's own code and accountant.

    Nothing the model says about itself (``epsilon_``, ``privacy_history_``, its weights) is believed:
    the retrained model's epsilon comes from opacus' accountant run by the grader, and the learner's
    model must behave like it (:func:`_same_behaviour`).
    """
    from ethicskit.privacy import DPSGDClassifier, TabularEncoder

    params = {}
    for name in RECIPE:
        expect(
            hasattr(model, name),
            f"private_model has no {name!r} parameter: train it with privacy.DPSGDClassifier(...).fit("
            "X_train, y_train). The grader retrains that recipe itself to measure its epsilon.",
        )
        if name != "encoder":
            params[name] = _plain(getattr(model, name))
    encoder = model.encoder
    if encoder is not None:
        expect(
            isinstance(encoder, TabularEncoder),
            "private_model's encoder should be a privacy.TabularEncoder or None, "
            f"not {type(encoder).__name__}.",
        )
        encoder = TabularEncoder(
            numeric_ranges=_plain(encoder.numeric_ranges), categories=_plain(encoder.categories)
        )
    columns = list(X_train.columns)
    fitted = getattr(getattr(model, "encoder_", None), "columns_", None)
    if isinstance(fitted, (list, tuple)) and fitted and all(c in columns for c in fitted):
        columns = [str(c) for c in fitted]  # a model trained on some of the columns
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return DPSGDClassifier(**params, encoder=encoder).fit(X_train[columns], y_train)
    except Exception as error:
        raise CheckFailed(
            f"retraining DPSGDClassifier with private_model's parameters on X_train, y_train failed "
            f"({type(error).__name__}: {error})."
        ) from None


def _same_behaviour(model: Any, retrained: Any, X: pd.DataFrame) -> None:
    """The learner's model predicts what its own recipe, retrained on X_train, y_train, predicts."""
    mine = np.asarray(model.predict_proba(X), dtype=float)
    expect(
        mine.shape == (len(X), 2) and np.all(np.isfinite(mine)),
        f"private_model.predict_proba should return one row of two probabilities per record; got shape "
        f"{mine.shape}.",
    )
    gap = np.abs(mine[:, 1] - retrained.predict_proba(X)[:, 1])
    expect(
        float(gap.mean()) <= _SAME_MEAN and float(gap.max()) <= _SAME_MAX,
        "private_model does not predict what DPSGDClassifier with its own parameters predicts when the "
        f"grader retrains it on X_train, y_train (probabilities differ by {gap.mean():.3f} on average). "
        "The grader judges that recipe: train private_model with privacy.DPSGDClassifier(...).fit(X_train, "
        "y_train) and do not change it afterwards.",
    )
    expect(
        retrained.private,
        "private_model was trained without privacy (epsilon=None and no noise_multiplier): this part is "
        "about a differentially private model, so nothing else in it is graded.",
    )


def _model_epsilon(retrained: Any) -> None:
    """The retrained recipe's epsilon (the grader's accountant) and delta are within the lab's bounds."""
    from ethicskit.privacy import epsilon_from_history

    epsilon = epsilon_from_history(retrained.privacy_history_, delta=float(retrained.delta))
    expect(
        0 < epsilon <= LAB_EPSILON + 1e-6,
        f"retrained with its own parameters, your model spends epsilon = {epsilon:.3g}; the lab allows "
        f"at most {LAB_EPSILON:g}.",
    )
    expect(
        0 < float(retrained.delta) <= LAB_DELTA,
        f"epsilon must be reported at delta <= {LAB_DELTA:g}; the model uses delta = {retrained.delta!r}.",
    )


def _model_accuracy(model: Any, X: pd.DataFrame, y: pd.Series, what: str) -> None:
    predicted = np.asarray(model.predict_proba(X))[:, 1] >= 0.5
    accuracy = float(np.mean(predicted == y.to_numpy().astype(bool)))
    share = float(predicted.mean())
    expect(
        0.02 <= share <= 0.98,
        f"the model predicts the same class for {max(share, 1 - share):.0%} of "
        f"{what}; a useful model predicts both.",
    )
    expect(
        accuracy >= LAB_MIN_ACCURACY,
        f"accuracy on {what} is {accuracy:.3f}; at least "
        f"{LAB_MIN_ACCURACY:.2f} is needed (a constant guess reaches about 0.76).",
    )


def _model_leakage(
    model: Any, X_in: pd.DataFrame, y_in: pd.Series, X_out: pd.DataFrame, y_out: pd.Series, seed: int
) -> None:
    from ethicskit.privacy import loss_threshold_attack

    result = loss_threshold_attack(model, X_in, y_in, X_out, y_out, random_state=seed)
    expect(
        result.advantage <= LAB_MAX_ADVANTAGE,
        f"a loss-threshold membership attack reaches advantage {result.advantage:.3f} "
        f"(AUC {result.auc:.3f}); it should stay at or below {LAB_MAX_ADVANTAGE:.2f}.",
    )


def check_private_model(model: Any, *, hidden_seed: int | None = None, points: float = 4) -> float | None:
    """Lab question 4: a ``privacy.DPSGDClassifier`` trained on :func:`lab_data`'s training rows.

    The grader does not believe ``epsilon_`` or ``privacy_history_``: it retrains the model's recipe
    (its parameters) on the training rows with the kit's own DP-SGD and accountant, and the learner's
    model must predict what that retrained model predicts (on the hidden rows too). A model that does
    not, or a recipe without privacy, earns nothing in this part. Then: epsilon (recomputed) <=
    ``LAB_EPSILON`` at ``delta`` <= ``LAB_DELTA`` (1/4), accuracy >= ``LAB_MIN_ACCURACY`` on rows the
    learner never used (3/8) and a membership-inference advantage <= ``LAB_MAX_ADVANTAGE`` (3/8), both
    measured on the retrained model.
    """
    expect(
        hasattr(model, "predict_proba"),
        "private_model should have a predict_proba method (a fitted DPSGDClassifier has one).",
    )
    X_train, y_train, X_valid, y_valid = lab_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        retrained = _retrain(model, X_train, y_train)
        if hidden_seed is None:
            _same_behaviour(model, retrained, pd.concat([X_valid, X_train.iloc[:500]]))
            _model_epsilon(retrained)
            _model_accuracy(retrained, X_valid, y_valid, "the validation rows")
            _model_leakage(retrained, X_train, y_train, X_valid, y_valid, 0)
            print("private_model: visible checks passed.")
            return None
        X, y, order = _adult_shuffled()
        pool = np.random.default_rng(hidden_seed).permutation(order[4000:])
        accuracy_rows, outside_rows = pool[:5000], pool[5000:7000]
        _same_behaviour(model, retrained, pd.concat([X.loc[pool[:2000]], X_train]))
        parts = Parts(total=points)
        parts.run(points / 4, lambda: _model_epsilon(retrained), "privacy guarantee")
        parts.run(
            points * 3 / 8,
            lambda: _model_accuracy(retrained, X.loc[accuracy_rows], y.loc[accuracy_rows], "unseen rows"),
            "utility",
        )
        parts.run(
            points * 3 / 8,
            lambda: _model_leakage(
                retrained, X_train, y_train, X.loc[outside_rows], y.loc[outside_rows], hidden_seed
            ),
            "leakage",
        )
        return parts.result()


# ------------------------------------------------------------------------------------------ lesson exercises
def _check_uniqueness(answer: float) -> None:
    from ethicskit.datasets import load_adult
    from ethicskit.privacy import uniqueness

    adult = load_adult().data
    expect(
        isinstance(answer, (float, int, np.floating)) and not isinstance(answer, bool),
        f"Give the share as a number between 0 and 1, not {type(answer).__name__}.",
    )
    expect(
        0 <= float(answer) <= 1, f"A share lies between 0 and 1; {answer} does not (did you give a count?)."
    )
    qis = ["age", "sex", "race", "native_country", "education"]
    expect_close(
        answer,
        uniqueness(adult, quasi_identifiers=qis),
        "the share of unique records on age, sex, race, native_country, education",
        tol=5e-4 + 1e-9,  # a share printed as a percentage with one decimal is accepted
    )


def _check_scale(answer: float) -> None:
    expect(
        isinstance(answer, (float, int, np.floating)) and not isinstance(answer, bool),
        f"Give the scale as a number, not {type(answer).__name__}.",
    )
    if abs(float(answer) - 0.25) < 1e-9:
        raise CheckFailed("That is epsilon / sensitivity; the scale is the other way round.")
    expect_close(answer, 4.0, "the Laplace scale for a sum with sensitivity 2 at epsilon 0.5", tol=1e-9)


def _check_queries(answer: int) -> None:
    expect(
        isinstance(answer, (int, np.integer)) and not isinstance(answer, bool),
        f"Give a whole number of queries, not {type(answer).__name__}.",
    )
    from ethicskit.privacy import BudgetExceeded, PrivacyAccountant

    accountant, answered = PrivacyAccountant(total_epsilon=1.0), 0
    try:
        while True:
            accountant.spend(0.15)
            answered += 1
    except BudgetExceeded:
        pass
    if answer == 7:
        raise CheckFailed("1.0 / 0.15 is 6.67: the seventh query would go past the budget.")
    expect(answer == answered, f"{answer} is not the number of 0.15-queries a budget of 1.0 allows.")


def _check_bound(answer: float) -> None:
    from ethicskit.privacy import dp_advantage_bound

    expect(
        isinstance(answer, (float, int, np.floating)) and not isinstance(answer, bool),
        f"Give the bound as a number, not {type(answer).__name__}.",
    )
    expect_close(answer, dp_advantage_bound(0.5), "the largest advantage against a 0.5-DP model", tol=1e-3)


q1 = Exercise(
    "Exercise 4.1",
    _check_uniqueness,
    hints=[
        "uniqueness(data, quasi_identifiers=[...]) returns the share of records alone in their class.",
        "Use load_adult().data and the five columns age, sex, race, native_country, education.",
    ],
    solution="answer = uniqueness(load_adult().data,\n"
    "                    quasi_identifiers=['age', 'sex', 'race', 'native_country', 'education'])",
)
q2 = Exercise(
    "Exercise 4.2",
    _check_scale,
    hints=["The Laplace mechanism's scale is sensitivity / epsilon."],
    solution="answer = 2 / 0.5  # = 4.0",
)
q3 = Exercise(
    "Exercise 4.3",
    _check_queries,
    hints=["Sequential composition: epsilons add up. How many 0.15s fit in 1.0 without going over?"],
    solution="answer = 6  # 6 x 0.15 = 0.9; a seventh query would spend 1.05 > 1.0",
)
q4 = Exercise(
    "Exercise 4.4",
    _check_bound,
    hints=["dp_advantage_bound(epsilon) gives (e^eps - 1) / (e^eps + 1) for delta = 0."],
    solution="answer = dp_advantage_bound(0.5)  # about 0.245",
)


def _check_noisy_share(noisy_share: Any) -> None:
    expect(
        callable(noisy_share), f"Pass your function itself (noisy_share), not {type(noisy_share).__name__}."
    )
    mask = np.zeros(100, dtype=bool)
    mask[:30] = True
    rng = np.random.default_rng(5)
    first = noisy_share(mask.copy(), epsilon=0.5, rng=rng)
    expect(
        isinstance(first, (int, float, np.integer, np.floating)) and not isinstance(first, bool),
        f"noisy_share should return one number, but it returned {type(first).__name__}: {first!r:.60}.",
    )
    draws = np.array([float(noisy_share(mask.copy(), epsilon=0.5, rng=rng)) for _ in range(4000)])
    expect(np.all(np.isfinite(draws)), "noisy_share returned NaN or inf for a plain mask.")
    spread = float(draws.std())
    want = np.sqrt(2) / (0.5 * 100)  # Laplace scale 1/epsilon on the count, divided by the public n
    expect(spread > 1e-9, "Every call returned the same value: there is no noise, so there is no privacy.")
    expect(
        0.85 * want < spread < 1.15 * want,
        f"The spread of your shares (standard deviation {spread:.4f}) does not match Laplace noise of scale "
        f"1/epsilon on the count, divided by n (standard deviation {want:.4f}). Count first, add the noise "
        "to the count, then divide.",
    )
    expect(
        abs(float(draws.mean()) - 0.3) < 4 * want / np.sqrt(len(draws)) + 1e-9,
        f"Over 4,000 calls the mean of your shares is {draws.mean():.4f}, but the true share is 0.3: the "
        "noise must be centred on 0 (and the count divided by the number of records).",
    )


q5 = Exercise(
    "Exercise 4.5",
    _check_noisy_share,
    hints=[
        "The count of True entries has sensitivity 1: add Laplace noise of scale 1 / epsilon to it "
        "(rng.laplace(0, 1 / epsilon)).",
        "The number of records n is public here, so dividing the noisy count by n is post-processing: "
        "it costs no extra epsilon.",
    ],
    solution="def noisy_share(mask, *, epsilon, rng):\n"
    "    noisy_count = mask.sum() + rng.laplace(0.0, 1.0 / epsilon)\n"
    "    return noisy_count / len(mask)",
)


def _truth(value: Any, what: str) -> bool:
    expect(isinstance(value, (bool, np.bool_)), f"Answer {what} with True or False, not {value!r}.")
    return bool(value)


def _check_rights(owns: Any, undo: Any) -> None:
    expect(not _truth(owns, "(a)"), "(a) Reread section 1: the GDPR grants rights over personal data (to be "
           "informed, access, correct, erase, object, withdraw consent), not ownership.")
    expect(not _truth(undo, "(b)"), "(b) Withdrawing consent stops further processing (Art. 7(3)); it does "
           "not make the processing done before the withdrawal unlawful.")


def _check_pseudonyms(anonymous: Any, reversible: Any) -> None:
    expect(not _truth(anonymous, "(a)"), "(a) Pseudonymised data is still personal data: the other columns "
           "can single a person out (section 3), and whoever holds the key can re-link the pseudonyms.")
    expect(not _truth(reversible, "(b)"), "(b) Look at the second printed share: without the key, hashing "
           "candidate names does not produce the keyed pseudonyms.")


def _check_k_function(smallest_class: Any) -> None:
    from ethicskit.privacy import k_anonymity

    expect(callable(smallest_class), "Pass your function itself: q8.check(smallest_class).")
    rng = np.random.default_rng()
    tables = [
        pd.DataFrame({"age": [30, 30, 40, 40, 40], "sex": ["F", "F", "M", "M", "M"], "x": [1, 2, 3, 4, 5]}),
        pd.DataFrame({"age": [30, 30, 30, 31], "sex": ["F", "F", "F", "F"], "x": [1, 2, 3, 4]}),
        pd.DataFrame({"age": rng.integers(20, 25, 300), "sex": rng.choice(["F", "M"], 300),
                      "zip": rng.choice(["101", "102", "103"], 300), "x": rng.normal(size=300)}),
    ]
    for table in tables:
        qis = [c for c in table.columns if c != "x"]
        found, expected = smallest_class(table, qis), k_anonymity(table, quasi_identifiers=qis)
        expect(found is not None, "smallest_class returned None: return the size of the smallest class.")
        expect(
            isinstance(found, (int, np.integer)) and not isinstance(found, bool) and int(found) == expected,
            f"on a table of {len(table)} rows with quasi-identifiers {qis} your function gave {found!r:.40}; "
            f"its smallest class has {expected} rows. Group by all the quasi-identifiers together and take "
            "the smallest group size (the non-identifying column x does not count).",
        )


q6 = Exercise(
    "Exercise 4.6",
    _check_rights,
    hints=["Section 1 lists what the GDPR grants people over their data, and what withdrawal does."],
    solution="q6.check(False, False)  # rights, not ownership; withdrawal is not retroactive",
)
q7 = Exercise(
    "Exercise 4.7",
    _check_pseudonyms,
    hints=["Section 2's last sentence, and its two printed shares."],
    solution="q7.check(False, False)  # still personal data; keyed hashes resist the dictionary attack",
)
q8 = Exercise(
    "Exercise 4.8",
    _check_k_function,
    hints=["table.groupby(quasi_identifiers).size() counts the records of each class.",
           "Return int(...min()) of those sizes."],
    solution="def smallest_class(table, quasi_identifiers):\n"
    "    return int(table.groupby(list(quasi_identifiers), observed=True).size().min())",
)


def _check_privacy_cost(cost: Any, equal: Any, tradeoff: Any) -> None:
    expect(isinstance(tradeoff, pd.DataFrame),
           f"the third argument should be the tradeoff table (a DataFrame), not {type(tradeoff).__name__}.")
    expect(isinstance(cost, (int, float, np.integer, np.floating)) and not isinstance(cost, bool),
           f"Answer the cost with a number (a difference of accuracies), not {type(cost).__name__}.")
    eps = pd.to_numeric(tradeoff["epsilon"], errors="coerce")
    accuracy = pd.to_numeric(tradeoff["accuracy"], errors="coerce")
    expect(bool(np.isinf(eps).any()), "the tradeoff table has no run without privacy (epsilon = inf).")
    finite = eps[np.isfinite(eps)]
    near_one = (finite - 1.0).abs().idxmin()
    free = float(accuracy[np.isinf(eps)].iloc[0])
    expected = free - float(accuracy.loc[near_one])
    value = float(cost)
    # the table is shown rounded to 3 decimals: a difference of the shown figures is accepted
    if abs(value + expected) <= 1.5e-3 < abs(value - expected):
        raise CheckFailed("Right size, wrong sign: the accuracy without privacy minus the accuracy at "
                          "epsilon about 1 (a cost is positive when privacy loses accuracy).")
    if abs(value - float(accuracy.loc[near_one])) <= 1.5e-3:
        raise CheckFailed("That is the accuracy at epsilon about 1; the question asks how much lower it is "
                          "than without privacy.")
    others = [e for e in finite.index
              if e != near_one and abs(value - (free - float(accuracy.loc[e]))) <= 1.5e-3]
    if others and abs(value - expected) > 1.5e-3:
        raise CheckFailed(f"That is the cost at epsilon {float(eps.loc[others[0]]):.2g}; take the row whose "
                          "epsilon is about 1.")
    expect_close(value, expected, "the accuracy lost at epsilon about 1", tol=1.5e-3)
    expect(isinstance(equal, (bool, np.bool_)), "Answer the second part with True or False.")
    expect(not bool(equal), "The noise drowns the patterns of small groups first (Bagdasaryan et al. 2019): "
           "the average cost can hide a much larger one for a minority. Reread the text under the plot.")


#: Exercise 4.10: three statements about encryption and keys, and whether each is true.
_KEY_STATEMENTS = {
    "a": (False, "(a) Encrypted personal data is still personal data: whoever holds the key reads all of it "
          "(it is protected, not anonymous)."),
    "b": (True, "(b) Fernet authenticates as well as encrypts: section 8's flipped bit was refused."),
    "c": (False, "(c) Encryption moves the question to the keys: whoever holds the key reads everything, so "
          "who may hold it, and who may use the data, is what access control decides."),
}


def _check_keys(answer_a: Any, answer_b: Any, answer_c: Any) -> None:
    for name, given in zip("abc", (answer_a, answer_b, answer_c), strict=True):
        truth, why = _KEY_STATEMENTS[name]
        expect(_truth(given, f"({name})") == truth, why)


q9 = Exercise(
    "Exercise 4.9",
    _check_privacy_cost,
    hints=["tradeoff has one row per run; the run without privacy has epsilon = inf.",
           "cost = accuracy without privacy - accuracy of the row whose epsilon is closest to 1."],
    solution="free = tradeoff.loc[np.isinf(tradeoff['epsilon']), 'accuracy'].iloc[0]\n"
    "at_one = tradeoff.loc[(tradeoff['epsilon'] - 1).abs().idxmin(), 'accuracy']\n"
    "cost_9, equal_9 = free - at_one, False",
)
q10 = Exercise(
    "Exercise 4.10",
    _check_keys,
    hints=["Section 8: what does a wrong key or a changed byte do to decrypt_frame?",
           "Read the paragraph 'Encryption moves the question to the keys'."],
    solution="q10.check(False, True, False)",
)
