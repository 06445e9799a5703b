"""Checks for lesson 03-accountability (self-check exercises) and lab2-model-card (autograded tests).

Lab materials come from :func:`lab2_materials` (a logistic regression on COMPAS, trained the same way
every time). Hidden tests pass a ``hidden_seed`` that lives only in ``solutions/``: the learner's card
builder is re-run on a resample of held-out rows drawn with that seed, so typed-in numbers, a
constant model or a copied card cannot pass.
"""

from __future__ import annotations

import difflib
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from ethicskit.checks.core import CheckFailed, Parts, expect, expect_type
from ethicskit.checks.exercise import Exercise

__all__ = [
    "Lab2Materials",
    "lab2_materials",
    "held_out",
    "EXAMPLE_SECTIONS",
    "check_build_card",
    "check_card_metrics",
    "check_card_sections",
    "check_limitations",
    "check_datasheet",
    "check_trail",
    "names_disparity",
    "q1",
    "q2",
    "q3",
    "q4",
]

LAB_FEATURES = ("race", "sex")
LAB_METRICS = ("accuracy", "selection_rate", "true_positive_rate", "false_positive_rate")
LAB_MIN_GROUP = 30
TOLERANCE = 0.01

#: The authored sections of the example card shown in lesson 03 (Adult income model). A lab card
#: that copies them loses the section points.
EXAMPLE_SECTIONS = {
    "Intended use": (
        "Teaching only: students of the ethics course use this model to practise auditing and documenting "
        "a classifier of the 1994 US census extract. It estimates whether a person's income exceeds 50K "
        "dollars, to compare error rates between women and men and between racial groups."
    ),
    "Out-of-scope use": (
        "Any decision about a real person: hiring, pay, credit, benefits or targeting. Use on today's "
        "population or outside the United States, where incomes and occupations differ from 1994."
    ),
    "Limitations": (
        "The model selects women for the high-income class far less often than men (selection rate by "
        "sex differs by about 0.17), and its true positive rate varies between racial groups; groups with "
        "fewer than 30 records were not audited. The labels reflect 1994 pay gaps, which the model "
        "reproduces."
    ),
    "Ethical considerations": (
        "Sex and race are model inputs, so predictions depend on protected attributes directly; census "
        "respondents did not consent to this use. A deployed version would entrench historical wage "
        "discrimination against women and minorities."
    ),
    "Caveats and recommendations": (
        "Re-audit on current data before any reuse, report per-group error rates with their uncertainty, "
        "and require a person to review every decision that affects an individual."
    ),
}

_METRIC_WORDS = {
    "selection_rate": (
        "selection rate",
        "selection-rate",
        "positive rate",
        "predicted positive",
        "flagged as high risk",
        "prediction rate",
        "demographic parity",
        "selection_rate",
    ),
    "true_positive_rate": (
        "true positive rate",
        "true-positive rate",
        "tpr",
        "recall",
        "sensitivity",
        "equal opportunity",
        "true_positive_rate",
    ),
    "false_positive_rate": (
        "false positive rate",
        "false-positive rate",
        "fpr",
        "false alarm",
        "false_positive_rate",
    ),
    "accuracy": ("accuracy", "error rate", "correct"),
}


@dataclass(frozen=True)
class Lab2Materials:
    """What lab2-model-card hands out: the trained model and its data."""

    model: Any
    train: Any
    evaluation: Any
    dataset_name: str = "compas"
    sensitive_features: tuple[str, ...] = LAB_FEATURES
    metrics: tuple[str, ...] = LAB_METRICS
    min_group_size: int = LAB_MIN_GROUP


@lru_cache(maxsize=1)
def _splits() -> Any:
    from ethicskit.datasets import load_compas, split_dataset

    return split_dataset(load_compas(), random_state=0)


@lru_cache(maxsize=1)
def lab2_materials() -> Lab2Materials:
    """The lab's model (logistic regression on COMPAS, COMPAS's own scores dropped) and its data.

    ``train`` and ``evaluation`` are ethicskit ``Dataset`` objects (the training and validation
    splits of ``split_dataset(load_compas(), random_state=0)``). Same call, same model.
    """
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    splits = _splits()
    features = [c for c in splits.train.data.columns if c not in ("decile_score", "score_text")]
    numeric = [c for c in features if splits.train.data[c].dtype.kind in "if"]
    categorical = [c for c in features if c not in numeric]
    model = make_pipeline(
        make_column_transformer(
            (StandardScaler(), numeric), (OneHotEncoder(handle_unknown="ignore"), categorical)
        ),
        LogisticRegression(max_iter=1000),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(splits.train.data[features], splits.train.target)
    return Lab2Materials(model=model, train=splits.train, evaluation=splits.validation)


def held_out(*, hidden_seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Rows the learner never audits: a resample of the test split, drawn with ``hidden_seed``."""
    test = _splits().test
    rng = np.random.default_rng(hidden_seed)
    rows = rng.choice(len(test.target), size=len(test.target), replace=True)
    return test.data.iloc[rows].reset_index(drop=True), test.target.iloc[rows].reset_index(drop=True)


# ---------------------------------------------------------------------- lab checks


def _metric_findings(card: Any, model: Any, X: pd.DataFrame, y: Any, *, reveal: bool) -> list[str]:
    """Problems with the reported numbers (values, completeness), in plain words."""
    findings = card.validate(model, X, y, sensitive_features=list(LAB_FEATURES), tolerance=TOLERANCE)
    relevant = [
        f
        for f in findings
        if f.severity == "error" and f.where.startswith(("metric", "sensitive", "metadata"))
    ]
    if reveal:
        return [f"{f.where}: {f.message}" for f in relevant]
    hide = re.compile(r"recomputation.*gives [0-9.e-]+")
    return [f"{f.where}: {hide.sub('recomputation on held-out rows differs', f.message)}" for f in relevant]


def _named(obj: Any, name: str) -> bool:
    """True when ``obj``'s class (or a base) is ethicskit's ``name``, from this import or an earlier one.

    The grader re-runs each test cell in a fresh process after re-importing ethicskit, so a learner's
    card may be an instance of an *earlier* copy of the class; it is rebuilt from its data, with the
    current code, before anything is checked.
    """
    return any(k.__name__ == name and k.__module__.startswith("ethicskit.") for k in type(obj).__mro__)


def _as_card(card: Any, what: str = "card") -> Any:
    """The learner's card as a ModelCard of the current ethicskit, rebuilt from its text."""
    from huggingface_hub import RepoCard

    from ethicskit.cards import ModelCard

    if not isinstance(card, RepoCard) and not _named(card, "ModelCard"):
        expect_type(card, ModelCard, what)
    try:
        return ModelCard(str(card.content))
    except Exception as error:
        raise CheckFailed(
            f"{what} could not be read as a model card ({type(error).__name__}: {error})."
        ) from None


def _as_trail(trail: Any) -> Any:
    """The learner's trail as an AuditTrail of the current ethicskit, with a copy of its entries."""
    import json

    from ethicskit.audit import AuditTrail

    if not _named(trail, "AuditTrail"):
        expect_type(trail, AuditTrail, "trail")
    fresh = AuditTrail()
    try:
        fresh.entries = [json.loads(json.dumps(e)) for e in trail.entries]
    except Exception as error:
        raise CheckFailed(f"the trail's entries could not be read ({type(error).__name__}).") from None
    expect(all(isinstance(e, dict) for e in fresh.entries), "every trail entry should be a dict.")
    return fresh


def _as_sheet(sheet: Any) -> Any:
    """The learner's datasheet as a Datasheet of the current ethicskit."""
    from ethicskit.cards import Datasheet

    if not _named(sheet, "Datasheet"):
        expect_type(sheet, Datasheet, "sheet")
    try:
        return Datasheet(sheet.name, sheet.sections, license=sheet.license, metadata=sheet.metadata)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"sheet is not a valid datasheet: {error}") from None


def _expect_reports(card: Any) -> None:
    reported = card.reported_metrics()
    overall = set(reported.loc[reported["sensitive_feature"].isna(), "metric"])
    missing = [m for m in LAB_METRICS if m not in overall]
    expect(
        not missing,
        f"the card should report {missing} overall (and per group); it reports {sorted(overall)}.",
    )
    stated = card.data.get("sensitive_features") or []
    missing_features = [f for f in LAB_FEATURES if f not in stated]
    expect(
        not missing_features,
        f"the card should state the sensitive features {list(LAB_FEATURES)}; it states {list(stated)}.",
    )


def check_build_card(build_card: Any, *, hidden_seed: int | None = None) -> None:
    """``build_card(model, X, y)`` must return a ModelCard whose numbers are recomputed from ``model``.

    Visible: run on the evaluation data. Hidden (``hidden_seed``): run on held-out rows the learner
    never saw; every reported number, overall and per group of race and sex, must match.
    """
    expect(callable(build_card), f"build_card should be a function, but it is a {type(build_card).__name__}.")
    materials = lab2_materials()
    if hidden_seed is None:
        X, y, where = materials.evaluation.data, materials.evaluation.target, "the evaluation data"
    else:
        X, y = held_out(hidden_seed=hidden_seed)
        where = "held-out rows"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            card = build_card(materials.model, X.copy(), y.copy())
        except CheckFailed:
            raise
        except Exception as error:
            raise CheckFailed(
                f"build_card(model, X, y) raised {type(error).__name__} on {where}: {error}"
            ) from None
        card = _as_card(card, "what build_card returns")
        _expect_reports(card)
        problems = _metric_findings(card, materials.model, X, y, reveal=hidden_seed is None)
    expect(
        not problems,
        f"On {where}, {len(problems)} reported number(s) do not match a recomputation from the "
        "model: "
        + "; ".join(problems[:3])
        + (" ..." if len(problems) > 3 else "")
        + ". Compute them from model.predict(X), never type them in.",
    )


def check_card_metrics(card: Any, *, recompute: bool = True) -> None:
    """The card's numbers match a recomputation on the evaluation data (loaded afresh), per group too.

    With ``recompute=False`` (visible test) only the reported metrics and stated features are checked.
    """
    card = _as_card(card)
    _expect_reports(card)
    if not recompute:
        return
    materials = lab2_materials()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        problems = _metric_findings(
            card, materials.model, materials.evaluation.data, materials.evaluation.target, reveal=True
        )
    expect(
        not problems,
        f"{len(problems)} reported number(s) do not match the model on the evaluation data: "
        + "; ".join(problems[:3])
        + (" ..." if len(problems) > 3 else ""),
    )


def _similar(a: str, b: str) -> float:
    words = lambda s: re.findall(r"[a-z0-9]+", s.lower())  # noqa: E731
    return difflib.SequenceMatcher(None, words(a), words(b)).ratio()


def _copied_sections(card: Any) -> list[str]:
    from ethicskit.cards.validation import prose

    copied = []
    for name, example in EXAMPLE_SECTIONS.items():
        text = prose(card.section(name))
        if text and _similar(text, example) > 0.6:
            copied.append(name)
    return copied


def check_card_sections(card: Any) -> float:
    """Parts: required sections present and specific (2); intended and out-of-scope uses (1);
    written for this model, not copied from the example card (gate: a copy scores zero)."""
    from ethicskit.cards import REQUIRED_SECTIONS

    card = _as_card(card)
    copied = _copied_sections(card)
    expect(
        not copied,
        f"the section(s) {copied} copy the example card from lesson 03; write them for this "
        "model (COMPAS risk of re-arrest), in your own words.",
    )
    findings = card.validate()

    def required() -> None:
        bad = [
            str(f)
            for f in findings
            if f.severity == "error"
            and f.where in REQUIRED_SECTIONS
            and f.where not in ("Intended use", "Out-of-scope use")
        ]
        expect(not bad, "some required sections are missing or not specific: " + " | ".join(bad))

    def uses() -> None:
        bad = [str(f) for f in findings if f.where in ("Intended use", "Out-of-scope use")]
        expect(not bad, " | ".join(bad))

    parts = Parts(total=3)
    parts.run(2, required, "required sections")
    parts.run(1, uses, "intended and out-of-scope use")
    return parts.result()


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def names_disparity(text: str, disparity: Any) -> list[str]:
    """What ``text`` fails to name of ``disparity`` (a row of :func:`ethicskit.cards.disparities`)."""
    body = f" {_normal(text)} "
    missing = []
    if not any(
        f" {_normal(w)} " in body for w in _METRIC_WORDS.get(disparity["metric"], (disparity["metric"],))
    ):
        missing.append("the metric")
    for key in ("max_group", "min_group"):
        if f" {_normal(str(disparity[key]))} " not in body:
            missing.append(f"one of the two groups ({'highest' if key == 'max_group' else 'lowest'} value)")
    return missing


def check_limitations(card: Any, *, strict: bool = True) -> None:
    """The Limitations section names the largest disparity the audit finds (metric and both groups).

    With ``strict=False`` (visible test) it only has to be written and name some metric.
    """
    from ethicskit.cards import group_metrics, largest_disparity
    from ethicskit.cards._text import placeholder_in
    from ethicskit.cards.validation import prose

    card = _as_card(card)
    text = prose(card.section("Limitations"))
    expect(bool(text), "the card has no Limitations section.")
    expect(not placeholder_in(text), "the Limitations section still holds a placeholder.")
    named = [
        m
        for m, words in _METRIC_WORDS.items()
        if any(f" {_normal(w)} " in f" {_normal(text)} " for w in words)
    ]
    expect(
        bool(named),
        "Limitations should name a metric (e.g. the selection rate or true positive rate) "
        "and the groups it differs between.",
    )
    if not strict:
        return
    materials = lab2_materials()
    X, y = materials.evaluation.data, materials.evaluation.target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        audit = group_metrics(
            y,
            materials.model.predict(X),
            sensitive_features=list(LAB_FEATURES),
            data=X,
            metrics=LAB_METRICS,
            min_group_size=LAB_MIN_GROUP,
        )
    worst = largest_disparity(audit)
    missing = names_disparity(text, worst)
    expect(
        not missing,
        "Limitations should name the largest between-group disparity of the audit (groups with "
        f"at least {LAB_MIN_GROUP} rows): it does not name " + " and ".join(missing) + ".",
    )


def check_datasheet(sheet: Any, *, strict: bool = True) -> None:
    """A datasheet of the *training* data: all seven sections answered specifically, true row count.

    With ``strict=False`` (visible test) the row count is not checked.
    """
    sheet = _as_sheet(sheet)
    bad = [str(f) for f in sheet.validate() if f.severity == "error" and f.where != "datasheet.license"]
    expect(not bad, f"{len(bad)} datasheet answer(s) are missing or placeholders: " + " | ".join(bad[:3]))
    if not strict:
        return
    n = len(lab2_materials().train.target)
    text = " ".join(sheet.sections["composition"].values())
    counts = {int(c.replace(",", "")) for c in re.findall(r"\d[\d,]*\d|\d", text)}
    expect(
        n in counts,
        "the composition section should state how many instances the *training* data has "
        "(the training split, not the whole source dataset).",
    )


def check_trail(trail: Any, card: Any, *, strict: bool = True) -> None:
    """The audit trail verifies, matches the head the card recorded, and documents real decisions.

    With ``strict=False`` (visible test) the trail only has to verify on its own.
    """
    trail = _as_trail(trail)
    card = _as_card(card)
    own = trail.verify()
    expect(own.ok, "the audit trail does not verify: " + "; ".join(own.problems))
    if not strict:
        return
    expect(len(trail) >= 3, f"the trail should record at least 3 decisions; it has {len(trail)}.")
    report = trail.verify(expected_head=card.data.get("audit_trail_head"))
    expect(
        report.ok,
        "the audit trail does not verify against the head recorded in the card: "
        + "; ".join(report.problems),
    )
    kinds = {e.get("kind") for e in trail.entries}
    expect("approval" in kinds, "the trail should end with an approval (trail.approve(...)) of the card.")
    short = [e["seq"] for e in trail.entries if len(str(e.get("rationale", "")).split()) < 5]
    expect(not short, f"entries {short} have a rationale of fewer than 5 words; say why, with evidence.")


# ---------------------------------------------------------------------- lesson exercises


def _check_section_for_question(answer: str) -> None:
    expect(isinstance(answer, str), "Answer with the name of a datasheet section, e.g. 'uses'.")
    expect(
        answer.strip().lower() == "motivation",
        f"{answer!r} is not it: who funded and who created a dataset are questions about why it exists.",
    )


def _check_clean_card(card: Any, model: Any, X: Any, y: Any) -> None:
    card = _as_card(card)
    errors = card.validate(model, X, y).errors
    expect(not errors, f"{len(errors)} error(s) remain, first: {errors[0]}" if errors else "")


def _check_disparity(card: Any, metric: str, feature: str) -> None:
    from ethicskit.cards import largest_disparity

    card = _as_card(card)
    worst = largest_disparity(card.reported_metrics())
    expect(feature == worst["sensitive_feature"], f"{feature!r} is not the feature with the largest gap.")
    expect(metric == worst["metric"], f"the largest gap by {feature} is not in {metric!r}.")


def _check_tampered(trail: Any, position: int) -> None:
    expect(isinstance(position, (int, np.integer)), "Answer with the position (an int) of the edited entry.")
    bad = _as_trail(trail).verify().bad_entries
    expect(bool(bad), "this trail verifies: nothing was edited.")
    expect(position == bad[0], f"entry {position} is not the first entry verify() flags.")


q1 = Exercise(
    "Exercise 3.1",
    _check_section_for_question,
    hints=[
        "Gebru et al. ask 'who funded the creation of the dataset?' in the first section.",
        "Print ethicskit.cards.QUESTIONS.",
    ],
    solution="answer = 'motivation'",
)
q2 = Exercise(
    "Exercise 3.2",
    _check_clean_card,
    hints=[
        "print(card.validate(model, X, y)) lists each problem and what to fix.",
        "Every authored section needs concrete sentences, not the placeholder.",
    ],
    solution="for name in card.todo():\n    card.set_section(name, '<specific text for this model>')",
)
q3 = Exercise(
    "Exercise 3.3",
    _check_disparity,
    hints=["ethicskit.cards.disparities(card.reported_metrics()) sorts the gaps, largest first."],
    solution="worst = largest_disparity(card.reported_metrics())\n"
    "q3.check(card, worst['metric'], worst['sensitive_feature'])",
)
q4 = Exercise(
    "Exercise 3.4",
    _check_tampered,
    hints=["trail.verify() returns a report; its bad_entries lists positions."],
    solution="position = trail.verify().bad_entries[0]",
)
