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

from ethicskit.checks.core import CheckFailed, expect, expect_type
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
    "harmful_gaps",
    "limitations_problems",
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
        "hit rate",
        "detection rate",
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
    from ethicskit.checks._hidden_cards import held_out as resample  # hidden module: empty in the runner

    return resample(_splits().test, hidden_seed=hidden_seed)


# ---------------------------------------------------------------------- lab checks


def _metric_findings(card: Any, model: Any, X: pd.DataFrame, y: Any, *, reveal: bool) -> list[str]:
    """Problems with the reported numbers (values, completeness), in plain words."""
    # the groups a card must report are the lab's (at least LAB_MIN_GROUP rows), never what the card
    # claims: a card that says min_group_size=300 must not make the largest disparity's groups vanish
    card.data.min_group_size = LAB_MIN_GROUP
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


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _shingles(text: str, n: int = 2) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _similar(a: str, b: str) -> float:
    """How much of ``a`` is ``b``'s wording, whatever the order of its sentences (0 to 1).

    The larger of the word-sequence ratio and the share of ``a``'s word pairs found in ``b``
    (shingles, so reordering sentences or clauses does not lower it).
    """
    ratio = difflib.SequenceMatcher(None, _words(a), _words(b)).ratio()
    mine = _shingles(a)
    shared = len(mine & _shingles(b)) / len(mine) if mine else 0.0
    return max(ratio, shared)


#: A section copies the example card when this share of its wording is the example's.
COPY_GATE = 0.5
#: The shortest authored section the autograder accepts, in words (quality is graded by hand).
MIN_SECTION_WORDS = 15
AUTHORED = (
    "Intended use",
    "Out-of-scope use",
    "Limitations",
    "Ethical considerations",
    "Caveats and recommendations",
)


def _copied_sections(card: Any) -> list[str]:
    from ethicskit.cards.validation import prose

    example = " ".join(EXAMPLE_SECTIONS.values())
    copied = []
    for name in AUTHORED:
        text = prose(card.section(name))
        if text and max(_similar(text, EXAMPLE_SECTIONS[name]), _similar(text, example)) > COPY_GATE:
            copied.append(name)
    return copied


def check_card_sections(card: Any) -> float:
    """Structure of the five authored sections (1 point): present, no placeholder, at least
    ``MIN_SECTION_WORDS`` words each, five different texts, not the example card's wording (in any order).

    Whether the text is specific and true for this model is graded by hand (the lab's rubric).
    """
    from ethicskit.cards._text import placeholder_in
    from ethicskit.cards.validation import prose

    card = _as_card(card)
    copied = _copied_sections(card)
    expect(
        not copied,
        f"the section(s) {copied} copy the example card from lesson 03; write them for this "
        "model (COMPAS risk of re-arrest), in your own words.",
    )
    texts = {name: prose(card.section(name)) or "" for name in AUTHORED}
    missing = [n for n, t in texts.items() if not t.strip() or placeholder_in(t)]
    expect(not missing, f"the section(s) {missing} are missing or still hold the placeholder.")
    short = [n for n, t in texts.items() if len(_words(t)) < MIN_SECTION_WORDS]
    expect(
        not short,
        f"the section(s) {short} have fewer than {MIN_SECTION_WORDS} words: say who, what and why for "
        "this model.",
    )
    names = list(texts)
    same = sorted(
        {b for i, a in enumerate(names) for b in names[i + 1 :] if _similar(texts[b], texts[a]) > COPY_GATE}
    )
    expect(not same, f"the section(s) {same} repeat another section's text; each answers its own question.")
    print("The five authored sections are there, in your own words (their content is graded by hand).")
    return 1.0


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


#: The words people use for each group of the lab's data (COMPAS race and sex), as regular expressions
#: on the original text. "Other" is a group only when it is plainly the category (capitalised inside a
#: sentence, quoted, "Other-race", or "race recorded as other"), never the everyday word "other": at the
#: start of a sentence "Other defendants" may mean "the remaining defendants", so it counts only when the
#: sentence states a rate ("Other defendants have 0.05, against ...").
_NOT_NON = r"(?<!non-)(?<!non )(?<!non)"
_GROUP_PATTERNS = {
    "African-American": _NOT_NON + r"\b(?:african[\s-]*americans?|blacks?)\b",
    "Caucasian": _NOT_NON + r"\b(?:caucasians?|whites?)\b(?![\s-]collar)",
    "Hispanic": _NOT_NON + r"\b(?:hispanics?|latin[oax]s?|latinx)\b",
    "Asian": _NOT_NON + r"\basians?\b",
    "Native American": r"\bnative[\s-]*americans?\b|\bamerican[\s-]+indians?\b|\bindigenous\b",
    "Other": (
        r"(?<![.!?;]\s)(?<!^)\bOther\b"
        r"|\bOther[\s-]+race\b"
        r"|[\"'\u2018\u201c]other[\"'\u2019\u201d]"
        r"|\b(?:race|category|group)\s*(?:=|:|recorded as|coded as|labell?ed as|listed as|given as)\s*"
        r"[\"'\u2018\u201c]?other\b"
    ),
    "Male": r"\bmales?\b|\bmen\b|\bman\b",
    "Female": r"\bfemales?\b|\bwomen\b|\bwoman\b",
}
_CASE_SENSITIVE = {"Other"}
_FEATURE_OF = {g: ("sex" if g in ("Male", "Female") else "race") for g in _GROUP_PATTERNS}
_UP = r"\b(?:higher|more|greater|larger|bigger|exceeds?|exceeding|above|twice|double|triple|times|worse)\b"
_DOWN = r"\b(?:lower|less|fewer|smaller|below|half|better)\b"
_BOTH_WAYS = rf"(?:{_UP})\s*(?:or|and|/)\s*(?:{_DOWN})|(?:{_DOWN})\s*(?:or|and|/)\s*(?:{_UP})"

#: The lab's error that harms the people concerned: a defendant labelled high risk who was not re-arrested.
LAB_HARM_METRIC = "false_positive_rate"
#: A rate is compared only when it rests on at least this many people (its denominator, e.g. a group's
#: negatives for a false positive rate), as lesson 03's ``harmful_gap(..., min_support=30)``.
LAB_MIN_SUPPORT = 30

# "wrongly flagged", "labelled high risk although never re-arrested": the false positive rate in words
_MISTAKE = (r"\b(?:wrong(?:ly|ful|fully)?|false(?:ly)?|mistaken(?:ly)?|incorrect(?:ly)?|erroneous(?:ly)?"
            r"|unjust(?:ly)?|undeserved(?:ly)?|needless(?:ly)?|in error|by mistake)\b")
_NOT_REARRESTED = (r"\b(?:not|never|n't|no)\s+(?:\w+\s+){0,2}?(?:re-?arrest\w*|re-?offend\w*|recidivat\w*"
                   r"|arrested again|re-?convicted|commit(?:ted)? (?:a |another )?(?:new )?crime)"
                   r"|\bnon-?recidivists?\b|\bstayed out of trouble\b")
_FLAGGED = (r"\bhigh[\s-]*risk\b|\bflag\w*|\blabel+\w*|\bpredicted (?:to|as|that)\b|\bclassif\w*"
            r"|\bmarked\b|\bscored\b|\brated\b|\btagged\b")
_HEDGE = (r"\btoo (?:few|small|little|uncertain|noisy|wide)\b|\b(?:fewer|less) than \d+|\bunder \d+"
          r"|\bbelow \d+|\bonly \d+\b|\bsmall (?:groups?|samples?|numbers?|counts?)\b|\binsufficient"
          r"|\bnot enough\b|\buncertain|\bunreliabl|\bnois[ey]|\bwide (?:interval|range)|\bcannot\b"
          r"|\bcan't\b|\bcan ?not\b|\bcould ?n[o']t\b|\bnot (?:be )?(?:audited|compared|reported|estimated|"
          r"assessed|judged|established|significant|conclusive|reliable)|\bexcluded\b|\bleft out\b"
          r"|\binconclusive\b|\btentative\b|\bby chance\b|\bnothing can be said\b|\bno conclusion")
_BACK_REFERENCE = (r"(?:but|however|yet|and)?,?\s*(?:this|that|it|these|those|such|both|each|either"
                   r"|neither|the (?:gap|difference|disparity|rates?|figures?|estimates?|values?|numbers?"
                   r"|groups?))\b")
_GAP_WORDS = (rf"{_UP}|{_DOWN}|\b(?:gaps?|differ\w*|disparit\w*|largest|biggest|highest|lowest|worst|best"
              r"|most|least|versus|vs|against|compared)\b")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?;])\s+|\n+", text) if s.strip()]


def _group_spans(sentence: str) -> dict[str, list[int]]:
    """Each group named in ``sentence``, with where it is named (character offsets)."""
    found = {}
    for group, pattern in _GROUP_PATTERNS.items():
        flags = 0 if group in _CASE_SENSITIVE else re.IGNORECASE
        starts = [m.start() for m in re.finditer(pattern, sentence, flags)]
        if group == "Other" and re.match(r"Other[\s-]+defendants?\b", sentence) and _numbers(sentence):
            starts = [0, *starts]  # "Other defendants have 0.05": a rate is stated, so it is the category
        if starts:
            found[group] = starts
    return found


def _metrics_in(sentence: str) -> set[str]:
    """The metrics ``sentence`` names (longest wording first, so 'false positive rate' is not also a
    'positive rate')."""
    body = f" {_normal(sentence)} "
    pairs = sorted(
        ((w, m) for m, words in _METRIC_WORDS.items() for w in words), key=lambda p: -len(_normal(p[0]))
    )
    named = set()
    for word, metric in pairs:
        key = f" {_normal(word)} "
        if key in body:
            named.add(metric)
            body = body.replace(key, " # ")
    return named


def _says_false_positive(sentence: str) -> bool:
    """True when ``sentence`` speaks of defendants wrongly labelled high risk, in any usual wording."""
    if re.search(r"\bfalse[\s-]+positives?\b|\bfalse[\s-]+alarms?\b|\bfpr\b", sentence, re.IGNORECASE):
        return True
    flagged = re.search(_FLAGGED, sentence, re.IGNORECASE)
    wrong = re.search(_MISTAKE, sentence, re.IGNORECASE) or re.search(
        _NOT_REARRESTED, sentence, re.IGNORECASE
    )
    return bool(flagged and wrong)


def _claim_metrics(sentence: str) -> set[str]:
    """The metrics a claim in ``sentence`` is about: the named ones, plus the false positive rate when
    the sentence describes it in words ("wrongly labelled high risk"); "flagged as high risk" then no
    longer counts as a selection rate."""
    metrics = _metrics_in(sentence)
    if _says_false_positive(sentence):
        metrics.add(LAB_HARM_METRIC)
        if not re.search(r"selection[\s_-]*rate|demographic parity|prediction rate", sentence, re.IGNORECASE):
            metrics.discard("selection_rate")
    return metrics


def _numbers(sentence: str) -> list[tuple[int, float]]:
    """Rates stated in ``sentence``: (offset, value in 0..1); percentages are divided by 100."""
    out = []
    for m in re.finditer(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)\s*(%|percent\b)?", sentence):
        value = float(m.group(1)) / (100 if m.group(2) else 1)
        if 0 <= value <= 1 and (m.group(2) or "." in m.group(1)):
            out.append((m.start(), value))
    return out


def _says_higher(sentence: str, first: int, second: int) -> bool | None:
    """Whether the comparison in ``sentence`` puts the group named at ``first`` above the one at ``second``
    (``first < second``): the last comparative word before the second group decides ("higher for A than
    for B", "A is wrongly flagged more often than B"), else the first one after it. None when none is
    said, or when it is said both ways ("higher or lower")."""
    if re.search(_BOTH_WAYS, sentence, re.IGNORECASE):
        return None
    words = [(m.start(), True) for m in re.finditer(_UP, sentence, re.IGNORECASE)]
    words += [(m.start(), False) for m in re.finditer(_DOWN, sentence, re.IGNORECASE)]
    before = [w for w in sorted(words) if w[0] < second]
    after = [w for w in sorted(words) if w[0] > second]
    if before:
        return before[-1][1]
    if after:
        return after[0][1]
    return None


def _claim_problem(sentence: str, disparity: Any) -> str | None:
    """None when ``sentence`` states ``disparity`` (metric, both groups, which is higher), else why not."""
    metric, high, low = disparity["metric"], str(disparity["max_group"]), str(disparity["min_group"])
    metrics, groups = _claim_metrics(sentence), _group_spans(sentence)
    if metric not in metrics or high not in groups or low not in groups:
        return "names"
    per_feature = [sum(_FEATURE_OF[g] == f for g in groups) for f in ("race", "sex")]
    if len(metrics) > 2 or max(per_feature) > 4:
        return "a list"
    first_high = min(groups[high]) < min(groups[low])
    numbers = _numbers(sentence)
    near = lambda v: [i for i, x in numbers if abs(x - v) <= TOLERANCE]  # noqa: E731
    at_high, at_low = near(float(disparity["max_value"])), near(float(disparity["min_value"]))
    if at_high and at_low and (min(at_high) < max(at_low)) == first_high and not set(at_high) & set(at_low):
        return None
    first, second = sorted((min(groups[high]), min(groups[low])))
    higher = _says_higher(sentence, first, second)
    if higher is not None and higher == first_high:
        return None
    return "direction"


def _windows(text: str) -> list[str]:
    # a claim may take one sentence or two in a row ("The largest gap is in ... . Black defendants ...")
    sentences = _sentences(text)
    return sentences + [" ".join(sentences[i : i + 2]) for i in range(len(sentences) - 1)]


def names_disparity(text: str, disparity: Any) -> list[str]:
    """What ``text`` fails to say of ``disparity`` (a row of :func:`ethicskit.cards.disparities`).

    One sentence (or two in a row) must name the metric and both groups (in the words people use:
    "Black defendants" for "African-American", "women" for "Female") and say which group has the
    higher value (both values, or a comparison such as "higher for ... than for ..."), without
    listing every metric or group. Returns an empty list when a sentence does.
    """
    problems = [_claim_problem(s, disparity) for s in _windows(text)]
    if None in problems:
        return []
    if "direction" in problems:
        return ["which of the two groups has the higher value (give both values, or compare them)"]
    if "a list" in problems:
        return ["the disparity specifically (a sentence listing many metrics or groups is not a finding)"]
    missing = []
    if disparity["metric"] not in _claim_metrics(text):
        missing.append("the metric")
    spans = _group_spans(text)
    for key in ("max_group", "min_group"):
        if str(disparity[key]) not in spans:
            missing.append(f"one of the two groups ({'highest' if key == 'max_group' else 'lowest'} value)")
    return missing or ["the metric and both groups in one sentence (or two in a row)"]


@lru_cache(maxsize=1)
def _lab_rates() -> pd.DataFrame:
    """Every rate the lab's audit reports, per group of race and sex, with its support and Wilson interval."""
    from ethicskit.fairness.intervals import rates_by_group

    materials = lab2_materials()
    X, y = materials.evaluation.data, materials.evaluation.target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = materials.model.predict(X)
    tables = [
        rates_by_group(y, pred, X[list(LAB_FEATURES)], metric=m)
        for m in dict.fromkeys((*LAB_METRICS, LAB_HARM_METRIC))
    ]
    return pd.concat(tables, ignore_index=True)


def harmful_gaps(rates: pd.DataFrame, *, min_support: int = LAB_MIN_SUPPORT) -> list[dict[str, Any]]:
    """Every gap in ``LAB_HARM_METRIC`` a Limitations section may state: two groups of one feature, each
    with at least ``min_support`` people behind its rate, the harmed one (higher false positive rate)
    first, whose Newcombe interval (as :func:`ethicskit.fairness.intervals.harmful_gap`) excludes 0.

    The row :func:`~ethicskit.fairness.intervals.harmful_gap` reports for each feature (worst against
    best off) is one of them; the others (e.g. African-American against Caucasian) are as true.
    """
    part = rates[(rates["metric"] == LAB_HARM_METRIC) & (rates["support"] >= min_support)]
    out = []
    for feature, groups in part.groupby("sensitive_feature", sort=False):
        rows = list(groups.itertuples())
        for harmed in rows:
            for ref in rows:
                gap = harmed.value - ref.value
                if gap <= 0:
                    continue
                low = gap - float(np.hypot(harmed.value - harmed.low, ref.high - ref.value))
                if low > 0:
                    out.append({"metric": LAB_HARM_METRIC, "sensitive_feature": feature,
                                "max_group": harmed.group, "max_value": harmed.value,
                                "min_group": ref.group, "min_value": ref.value, "gap": gap, "gap_low": low})
    return sorted(out, key=lambda d: -d["gap_low"])


def _tiny_claims(text: str, rates: pd.DataFrame, min_support: int) -> list[str]:
    """Sentences that state a rate or gap of a group whose rate rests on fewer than ``min_support``
    people as if it were established: no "too few", "uncertain", ... in that sentence, nor in the next
    one when it refers back to it ("This rests on 25 people only")."""
    sentences = _sentences(text)
    found = []
    for i, sentence in enumerate(sentences):
        metrics, groups = _claim_metrics(sentence), _group_spans(sentence)
        if not metrics or not groups or not re.search(_GAP_WORDS, sentence, re.IGNORECASE) and not _numbers(
            sentence
        ):
            continue
        following = sentences[i + 1] if i + 1 < len(sentences) else ""
        if re.search(_HEDGE, sentence, re.IGNORECASE) or (
            re.match(_BACK_REFERENCE, following, re.IGNORECASE)
            and re.search(_HEDGE, following, re.IGNORECASE)
        ):
            continue
        small = rates[rates["metric"].isin(metrics) & (rates["support"] < min_support)]
        for row in small.sort_values("support").itertuples():
            if row.group in groups and not any(f.startswith(f"{row.group} (") for f in found):
                people = "person" if row.support == 1 else "people"
                metric = row.metric.replace("_", " ")
                found.append(f"{row.group} ({row.support} {people} behind its {metric})")
    return found


def limitations_problems(
    text: str, rates: pd.DataFrame, *, min_support: int = LAB_MIN_SUPPORT
) -> list[str]:
    """Why ``text`` does not state a harmful gap of ``rates`` (``rates_by_group`` rows); [] when it does.

    It must state, in one sentence or two in a row, a gap in the false positive rate (in words:
    defendants wrongly labelled high risk) between a harmed group and its reference group, both with at
    least ``min_support`` people behind their rates and the gap's interval clear of 0 (one of
    :func:`harmful_gaps`), saying which group is harmed; in the words people use ("Black defendants",
    "women", "men"). It must not state a gap of a group under ``min_support`` as established, put a
    harmed group below its reference, or list every metric or group.
    """
    gaps = harmful_gaps(rates, min_support=min_support)
    windows = _windows(text)
    problems = []
    tiny = _tiny_claims(text, rates, min_support)
    if tiny:
        problems.append(
            "it states a rate or gap of group(s) too small to tell as if it were established: "
            + ", ".join(tiny) + f"; with fewer than {min_support} people say they are too few to compare"
        )
    for gap in gaps:
        reverse = {**gap, "max_group": gap["min_group"], "max_value": gap["min_value"],
                   "min_group": gap["max_group"], "min_value": gap["max_value"]}
        if any(_claim_problem(s, reverse) is None and _claim_problem(s, gap) is not None for s in windows):
            problems.append(
                f"it puts {gap['min_group']} above {gap['max_group']} in the false positive rate; the "
                "audit finds the opposite"
            )
    verdicts = [_claim_problem(s, gap) for gap in gaps for s in windows]
    if None in verdicts:
        return problems
    if "direction" in verdicts:
        problems.append("which of the two groups is harmed (wrongly labelled high risk more often)")
    elif "a list" in verdicts:
        problems.append("the gap specifically (a sentence listing many metrics or groups is not a finding)")
    else:
        missing = []
        if LAB_HARM_METRIC not in _claim_metrics(text):
            missing.append("the false positive rate (defendants wrongly labelled high risk)")
        named = set(_group_spans(text))
        if not any(g["max_group"] in named and g["min_group"] in named for g in gaps):
            missing.append("a harmed group and its reference group whose gap is clear of noise")
        problems.append(
            "it does not state " + (" and ".join(missing) or "the metric and both groups in one sentence "
                                    "(or two in a row)")
        )
    return problems


def check_limitations(card: Any, *, strict: bool = True) -> None:
    """The Limitations section states a harmful gap of the audit (lesson 03's ``harmful_gap``): the false
    positive rate, a harmed group and its reference group with enough support and a gap clear of noise,
    and which one is harmed, in one sentence (synonyms accepted, lists of everything refused); it states
    no gap of a group too small to tell as established.

    With ``strict=False`` (visible test) it only has to be written and name some metric.
    """
    from ethicskit.cards._text import placeholder_in
    from ethicskit.cards.validation import prose

    card = _as_card(card)
    text = prose(card.section("Limitations"))
    expect(bool(text), "the card has no Limitations section.")
    expect(not placeholder_in(text), "the Limitations section still holds a placeholder.")
    expect(
        bool(_claim_metrics(text)),
        "Limitations should name an error rate (e.g. the false positive rate: defendants wrongly "
        "labelled high risk) and the groups it differs between.",
    )
    if not strict:
        return
    problems = limitations_problems(text, _lab_rates())
    expect(
        not problems,
        "Limitations should state a harmful gap of the audit: the false positive rate (defendants wrongly "
        f"labelled high risk) of a harmed group against its reference group, both with at least "
        f"{LAB_MIN_SUPPORT} people behind their rates and a gap whose interval excludes 0 "
        "(harmful_gap(..., metric='fpr', min_support=30)): " + "; ".join(problems) + ".",
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
    kinds = [e.get("kind") for e in trail.entries]
    expect("evaluation" in kinds, "the trail should record Part A's evaluation decision (kind 'evaluation').")
    evaluation = " ".join(
        f"{e.get('decision', '')} {e.get('rationale', '')}"
        for e in trail.entries
        if e.get("kind") == "evaluation"
    )
    data = lab2_materials().evaluation.data
    counts = [data[f].astype(str).value_counts() for f in LAB_FEATURES]
    small = sorted(str(g) for c in counts for g, n in c.items() if n < LAB_MIN_GROUP)
    expect(
        re.search(rf"\b{LAB_MIN_GROUP}\b", evaluation) is not None
        or (bool(small) and all(g in _group_spans(evaluation) for g in small)),
        f"the evaluation entry (Part A) should say which groups are too small to report: the threshold of "
        f"{LAB_MIN_GROUP} rows, or the groups under it.",
    )
    expect(
        kinds[-1] == "approval",
        "the trail should end with an approval (trail.approve(...)) of the card, attached last.",
    )
    short = [e["seq"] for e in trail.entries if len(str(e.get("rationale", "")).split()) < 5]
    expect(not short, f"entries {short} have a rationale of fewer than 5 words; say why, with evidence.")
    rationales = [_normal(str(e.get("rationale", ""))) for e in trail.entries]
    entries = list(zip(trail.entries, rationales, strict=True))
    repeated = sorted({e["seq"] for e, r in entries if rationales.count(r) > 1})
    expect(not repeated, f"entries {repeated} share the same rationale; each decision has its own reasons.")
    echo = [e["seq"] for e, r in entries if r == _normal(str(e.get("decision", "")))]
    expect(not echo, f"entries {echo} repeat the decision as its rationale; say why it was taken.")
    print("The trail verifies against the card and has the required structure (its rationales are "
          "graded by hand).")


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


#: Lesson 03's reading of the false negative rates by race (groups with at least 30 positives).
_HARMED_BY_FNR = {"black": "Black"}


def _check_harmed_group(group: Any, clear: Any) -> None:
    expect(isinstance(group, str), "Answer with the name of a race group (a string), e.g. 'White'.")
    expect(isinstance(clear, (bool, np.bool_)), "Answer clear with True or False.")
    name = group.strip().lower().replace("african-american", "black")
    if name in ("amer-indian-eskimo", "other"):
        raise CheckFailed(
            f"{group!r} has fewer than 30 positives in the test rows: its false negative rate is too "
            "uncertain to compare (look at its interval)."
        )
    expect(name in _HARMED_BY_FNR, f"{group!r} is not the group with the highest false negative rate among "
           "the groups with at least 30 positives.")
    expect(bool(clear), "Look at gap_low: is the lower end of the gap's interval above zero?")


def _check_wilson(wilson: Any) -> None:
    from ethicskit.fairness.intervals import wilson_interval

    expect(callable(wilson), "Pass your function itself: q6.check(wilson).")
    rng = np.random.default_rng()
    cases = [(0, 10), (10, 10), (5, 12), (1, 3)] + [
        (int(k), int(n)) for n in rng.integers(20, 500, size=4) for k in [rng.integers(0, n + 1)]
    ]
    for k, n in cases:
        found = wilson(k, n)
        expect(
            isinstance(found, (tuple, list, np.ndarray)) and len(found) == 2,
            f"wilson({k}, {n}) should return (low, high); it returned {found!r:.80}.",
        )
        expected = wilson_interval(k, n)
        expect(
            all(abs(float(f) - e) < 1e-3 for f, e in zip(found, expected, strict=True)),
            f"wilson({k}, {n}) gave ({float(found[0]):.4f}, {float(found[1]):.4f}); the Wilson interval is "
            f"({expected[0]:.4f}, {expected[1]:.4f}).",
        )


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
        "print(card.validate(model, X_test, y_test)) lists each problem and what to fix.",
        "Limitations needs concrete sentences, not the placeholder: which group, which error, how large, "
        "how sure (the interval), and which groups are too small to tell.",
    ],
    solution='my_limitations = ("For people who do earn above 50K, the model misses Black people more often '
    "than Asian-Pacific-Islander people (false negative rate 0.54 vs 0.36, from 97 and 77 positives; the "
    "gap's 95 % interval is 0.02 to 0.31) and women more often than men (0.49 vs 0.40). Amer-Indian-Eskimo "
    'and Other have too few positives (12 and 7) to estimate their error rates.")\n'
    "card.set_section('Limitations', my_limitations)",
)
q3 = Exercise(
    "Exercise 3.3",
    _check_disparity,
    hints=["ethicskit.cards.disparities(card.reported_metrics()) sorts the gaps, largest first."],
    solution="worst = largest_disparity(card.reported_metrics())\n"
    "q3.check(card, worst['metric'], worst['sensitive_feature'])",
)
q5 = Exercise(
    "Exercise 3.5",
    _check_harmed_group,
    hints=[
        "harm is a false negative here: read the race row of harmful_gap(...).",
        "clear means the lower end of the gap's interval (gap_low) is above zero.",
    ],
    solution="row = gaps.set_index('sensitive_feature').loc['race']\n"
    "q5.check(row['harmed_group'], bool(row['clear']))   # 'Black', True",
)
q6 = Exercise(
    "Exercise 3.6",
    _check_wilson,
    hints=[
        "p = k / n, then centre = (p + z**2 / (2 * n)) / (1 + z**2 / n), z = 1.96.",
        "half = z * sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n); return centre - half, "
        "centre + half.",
    ],
    solution="def wilson(k, n, z=1.96):\n    p = k / n\n    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)\n"
    "    half = z * (p * (1 - p) / n + z**2 / (4 * n**2)) ** 0.5 / (1 + z**2 / n)\n"
    "    return centre - half, centre + half",
)
def _check_needs_review(needs_review: Any) -> None:
    from ethicskit.audit import ReviewQueue

    expect(callable(needs_review), "Pass your function itself: q7.check(needs_review).")
    rng = np.random.default_rng()
    scores = np.concatenate([[0.5, 0.45, 0.4, 0.6, 0.61, 0.05, 0.95], rng.uniform(0, 1, 200)])
    groups = pd.Series(np.concatenate([["a", "b", "a", "b", "a", "flagged", "b"],
                                       rng.choice(["a", "b", "flagged"], 200, p=[0.6, 0.35, 0.05])]))
    for margin in (0.1, 0.25):
        queue = ReviewQueue(margin=margin, flagged_groups={"group": ["flagged"]})
        routed = queue.route(scores, data=pd.DataFrame({"group": groups}), ids=np.arange(len(scores)))
        expected = np.isin(np.arange(len(scores)), routed["case_id"].to_numpy())
        found = needs_review(scores, groups, margin=margin, flagged=["flagged"])
        expect(found is not None, "needs_review returned None: return one True/False per case.")
        found = np.asarray(found)
        expect(found.shape == expected.shape,
               f"needs_review should return one value per case ({len(scores)}); it returned shape "
               f"{found.shape}.")
        wrong = np.flatnonzero(found.astype(bool) != expected)
        if len(wrong):
            i = wrong[0]
            raise CheckFailed(
                f"with margin={margin}: a case with score {scores[i]:.2f} in group {groups[i]!r} should "
                f"{'' if expected[i] else 'not '}go to a person (low confidence means |score - 0.5| < "
                "margin; a flagged group always goes).")


q7 = Exercise(
    "Exercise 3.7",
    _check_needs_review,
    hints=["Two reasons, either is enough: np.abs(scores - 0.5) < margin, or the group is in flagged.",
           "np.isin(groups, flagged) tests membership for every case at once; combine with |."],
    solution="def needs_review(scores, groups, *, margin, flagged):\n"
    "    return (np.abs(np.asarray(scores) - 0.5) < margin) | np.isin(np.asarray(groups), flagged)",
)
q4 = Exercise(
    "Exercise 3.4",
    _check_tampered,
    hints=["trail.verify() returns a report; its bad_entries lists positions."],
    solution="position = trail.verify().bad_entries[0]",
)


def _said(value: Any) -> str:
    return " ".join(str(value).strip().lower().replace("_", " ").replace("-", " ").split())


#: Exercise 3.8: which document answers each question (Mitchell et al. 2019; Gebru et al. 2021).
_DOCUMENT_OF = {"a": "datasheet", "b": "model card", "c": "model card", "d": "datasheet", "e": "model card"}
_DOCUMENT_WORDS = {
    "datasheet": {"datasheet", "data sheet", "datasheets", "datasheet for datasets", "the datasheet",
                  "datasheet for the dataset", "dataset datasheet"},
    "model card": {"model card", "modelcard", "card", "the model card", "the card", "model cards"},
}
_DOCUMENT_WHY = {
    "a": "how the records were gathered is a fact about the data, whatever model is trained on it",
    "b": "metrics disaggregated by group are what a model card reports",
    "c": "intended and out-of-scope uses of the model are sections of its card",
    "d": "cleaning and preprocessing of the raw records is one of the datasheet's seven sections",
    "e": "a model's limitations belong to the model, not to the data it was trained on",
}


def _document(value: Any) -> str | None:
    said = _said(value)
    return next((doc for doc, words in _DOCUMENT_WORDS.items() if said in words), None)


def _check_which_document(answer: Any) -> None:
    expect_type(answer, dict, "your answer")
    expect(set(map(str, answer)) == set(_DOCUMENT_OF),
           f"answer should have one entry for each question {sorted(_DOCUMENT_OF)}; it has {sorted(answer)}.")
    unknown = sorted(str(k) for k, v in answer.items() if _document(v) is None)
    expect(not unknown, f"question(s) {unknown}: answer 'datasheet' or 'model card'.")
    wrong = sorted(str(k) for k, v in answer.items() if _document(v) != _DOCUMENT_OF[str(k)])
    if wrong:
        raise CheckFailed(f"question(s) {wrong} are not right yet. Think about {wrong[0]!r}: "
                          f"{_DOCUMENT_WHY[wrong[0]]}.")


#: Exercise 3.9: who fills each section of section 2's card: the tool, or only a person.
_FILLED_BY = {"Metrics": "tool", "Intended use": "person", "Training data": "tool",
              "Limitations": "person", "Ethical considerations": "person"}
_FILLER_WORDS = {
    "tool": {"tool", "the tool", "ethicskit", "automatic", "automatically", "machine", "computed", "code",
             "software", "from model", "generated", "auto"},
    "person": {"person", "a person", "the person", "human", "a human", "people", "author", "authors",
               "the authors", "team", "the team", "judgement", "judgment", "manual", "manually"},
}


def _filler(value: Any) -> str | None:
    said = _said(value)
    return next((who for who, words in _FILLER_WORDS.items() if said in words), None)


def _check_who_fills(answer: Any) -> None:
    expect_type(answer, dict, "your answer")
    by_name = {_said(k): v for k, v in answer.items()}
    expected = {_said(k): v for k, v in _FILLED_BY.items()}
    expect(set(by_name) == set(expected),
           f"answer should have one entry for each section {list(_FILLED_BY)}; it has {list(answer)}.")
    unknown = [k for k, v in answer.items() if _filler(v) is None]
    expect(not unknown, f"{unknown}: answer 'tool' or 'person'.")
    wrong = [name for name in _FILLED_BY if _filler(by_name[_said(name)]) != _FILLED_BY[name]]
    if wrong:
        first = wrong[0]
        why = ("ModelCard.from_model computes it from the model, the test data and the datasheet"
               if _FILLED_BY[first] == "tool" else
               "it needs judgement about the model's use and its harms: card.todo() lists it as left to you")
        raise CheckFailed(f"{wrong} not right yet. {first}: {why}.")


def _reported(card: Any, feature: str | None, group: str | None) -> float:
    table = card.reported_metrics()
    rows = table[(table["metric"] == "accuracy")]
    if feature is None:
        rows = rows[rows["sensitive_feature"].isna()]
    else:
        rows = rows[(rows["sensitive_feature"] == feature) & (rows["group"].astype(str) == group)]
    which = "overall" if feature is None else f"for {group}"
    expect(len(rows) == 1, f"the card does not report the accuracy {which}; pass the card of section 2.")
    return float(rows["value"].iloc[0])


def _check_external_accuracy(answer: Any, card: Any) -> None:
    card = _as_card(card)
    expect(isinstance(answer, (int, float, np.integer, np.floating)) and not isinstance(answer, bool),
           f"Answer with the accuracy, a number between 0 and 1, not {type(answer).__name__}.")
    value = float(answer)
    expected = _reported(card, "sex", "Female")
    if abs(value - expected) <= 1e-3:
        return
    if abs(value - _reported(card, None, None)) <= 1e-3:
        raise CheckFailed("That is the accuracy over everyone; keep only the women of the documented split.")
    if abs(value - _reported(card, "sex", "Male")) <= 1e-3:
        raise CheckFailed("That is the accuracy for men; the question asks for women (sex == 'Female').")
    expect(0 <= value <= 1, f"An accuracy lies between 0 and 1; {answer} does not.")
    raise CheckFailed(f"{value:.4f} is not the accuracy the card reports for women, so either the rows or "
                      "the computation differ: use the documented split (split_dataset(load_adult(), "
                      "random_state=0).test) and the model's predictions for its rows with sex == 'Female'.")


q8 = Exercise(
    "Exercise 3.8",
    _check_which_document,
    hints=["A datasheet is about the data (why, what, how collected, preprocessed, for which uses); a model "
           "card is about a trained model (uses, metrics per group, limitations)."],
    solution="answer_8 = {'a': 'datasheet', 'b': 'model card', 'c': 'model card', 'd': 'datasheet', "
    "'e': 'model card'}",
)
q9 = Exercise(
    "Exercise 3.9",
    _check_who_fills,
    hints=["print(card.todo()) lists what the tool left to a person.",
           "The tool fills what it can compute or copy: metrics from the model and the test data, the "
           "training data's name, size and datasheet summary."],
    solution="answer_9 = {'Metrics': 'tool', 'Intended use': 'person', 'Training data': 'tool',\n"
    "            'Limitations': 'person', 'Ethical considerations': 'person'}",
)
q10 = Exercise(
    "Exercise 3.10",
    _check_external_accuracy,
    hints=["women = documented.data['sex'] == 'Female' selects the rows.",
           "model.score(documented.data[women], documented.target[women]) is their accuracy."],
    solution="women = documented.data['sex'] == 'Female'\n"
    "accuracy_10 = model.score(documented.data[women], documented.target[women])",
)


# --------------------------------------------------------------------------- Exercise 3.11: the notice

#: The elements a notice to the people a model decides about must hold (GDPR Art. 13(2)(f), 22(3);
#: AI Act Art. 26(11), 86), each with the words people use for it. Matched on whole words, lower case.
_NOTICE_ELEMENTS = {
    "automated": (
        r"\b(ai|a\.i\.|artificial intelligence|automated|automatic|automatically|algorithm\w*|model|"
        r"machine learning|computer\w*|software|statistical|predictive|program)\b",
        "that an AI system / automated model is involved (say 'automated', 'AI', 'a computer model'...)",
    ),
    "what": (
        r"\b(income\w*|earn\w*|salary|salaries|wage\w*|pay|eligib\w*|benefit\w*|entitle\w*|means test\w*)\b",
        "what the model decides or estimates about the person (their income band, and so their eligibility "
        "for the benefit)",
    ),
    "contest": (
        r"\b(contest\w*|challeng\w*|appeal\w*|disput\w*|object\w*|disagree\w*|complain\w*|review\w*|"
        r"reconsider\w*|re-?examin\w*|correct\w*|overturn\w*|human intervention)\b",
        "that the person can contest the decision or ask for it to be reviewed",
    ),
    "person": (
        r"(\b(person|people|human|humans|staff|caseworkers?|case workers?|officers?|officials?|someone|"
        r"somebody|team|advisers?|advisors?|employees?|agents?|phone|telephone|call|e-?mail|email|write|"
        r"letter|form|contact|visit|office|helpline|hotline|counter)\b|@|www\.|https?://)",
        "how to reach a person: that a human will look at the case, and where to ask (a phone number, an "
        "address, a form)",
    ),
}
_NOTICE_DENIALS = (
    (r"\b(not|no|never|without)\s+((made|taken|decided|done|produced|generated|assessed|involving|used|"
     r"using|uses?)\s+(by|with|of)?\s*)?(an?\s+|any\s+|the\s+)?(ai|automated|algorithm\w*|model|computer|"
     r"software)\b(?!\s+(alone|only|solely|by itself|on its own))",
     "the notice says no model or automated system is involved, but one is."),
    (r"\b(cannot|can ?not|can't|may not|unable to|no right to|not possible to)\s+(be\s+)?"
     r"(contest|challeng|appeal|disput|object|review)\w*|\bno (appeal|review|right)",
     "the notice tells people they cannot contest or have the decision reviewed; for a decision based solely "
     "on automated processing the GDPR requires safeguards that include human intervention and a way to "
     "contest it (Art. 22(3); Recital 71 for decisions authorised by law)."),
)
_NOTICE_WORDS = (15, 150)


def _check_notice(notice: Any) -> None:
    expect(isinstance(notice, str),
           f"write the notice as a string (text between quotes), not {type(notice).__name__}.")
    words = notice.split()
    low, high = _NOTICE_WORDS
    expect(len(words) >= low, f"your notice has {len(words)} words; a notice people can act on needs at "
           f"least {low}: whole sentences, not a list of keywords.")
    expect(len(words) <= high, f"your notice has {len(words)} words; keep it under {high}: people read a "
           "notice in seconds (the AI Act asks for 'clear and distinguishable' information, Art. 50(5)).")
    text = " ".join(notice.lower().split())
    for pattern, message in _NOTICE_DENIALS:
        expect(re.search(pattern, text) is None, message)
    missing = [why for pattern, why in _NOTICE_ELEMENTS.values() if re.search(pattern, text) is None]
    if missing:
        raise CheckFailed("the notice should also say " + "; and ".join(missing) + ".")
    if not re.search(r"\b(based on|uses?|using|from your|factors?|looks at|considers?|because)\b", text):
        print("Tip: GDPR Art. 13(2)(f) also asks for meaningful information about the logic involved: which "
              "information the estimate uses (e.g. occupation, hours worked, education).")


q11 = Exercise(
    "Exercise 3.11",
    _check_notice,
    hints=["Four things, in plain words: a model (AI) is involved; what it estimates or decides about the "
           "reader; that they can contest it; and how to reach a person who will look at the case.",
           "Start from the notice above: it already says that a model is involved and where to report a "
           "problem. Add what the model estimates (the income band) and what that means for the application, "
           "and that a caseworker will review any decision on request."],
    solution="notice_11 = ('Your application was pre-screened by an automated computer model. It estimated "
    "from your form (occupation, hours worked, education) whether your yearly income is above 50,000 "
    "dollars, which decides whether you are eligible for the benefit. If you disagree, you can contest the "
    "decision and ask a caseworker to review it: call 0800 123 456 or reply to this letter within 30 days.')",
)
