"""ethicskit.checks.cards: the lab checks pass a real answer and fail invented, copied or incomplete ones."""

from __future__ import annotations

import numpy as np
import pytest

from ethicskit.audit import AuditTrail
from ethicskit.cards import Datasheet, ModelCard, largest_disparity
from ethicskit.checks import CheckFailed
from ethicskit.checks import cards as checks


@pytest.fixture(scope="module")
def lab():
    return checks.lab2_materials()


def _build(model, X, y):
    return ModelCard.from_model(
        model,
        X,
        y,
        model_name="compas-logreg",
        dataset_name="compas",
        dataset_split="validation",
        sensitive_features=["race", "sex"],
        min_group_size=30,
    )


@pytest.fixture()
def answer(lab):
    X, y = lab.evaluation.data, lab.evaluation.target
    card = _build(lab.model, X, y)
    texts = {
        "Intended use": "Coursework: students audit how a recidivism classifier trained on Broward County "
        "records from 2013-2014 treats defendants of each race and sex.",
        "Out-of-scope use": "Bail, sentencing, parole or policing decisions about real people, anywhere; use "
        "outside Broward County or without a human reviewer.",
        "Limitations": "Black defendants who were not re-arrested are wrongly labelled high risk far more "
        "often than Other defendants (false positive rate 0.33 against 0.05); Asian and Native American "
        "defendants are too few to compare.",
        "Ethical considerations": "Race and sex are inputs; re-arrest labels encode policing intensity, so "
        "errors fall unequally on Black defendants.",
        "Caveats and recommendations": "Keep a person in the loop, re-audit on local current data, publish "
        "false positive rates by race with intervals.",
    }
    for name, text in texts.items():
        card.set_section(name, text)
    trail = AuditTrail()
    trail.record(
        "evaluation",
        "audit groups with at least 30 rows",
        author="s",
        rationale="smaller groups give rates too noisy to compare",
    )
    trail.record(
        "mitigation",
        "no mitigation before documenting",
        author="s",
        rationale="the card documents the delivered model as it is",
    )
    trail.approve(
        "publish card v1", author="s", rationale="validator clean and metrics recomputed from the model"
    )
    card.attach_trail(trail)
    return card, trail


def test_lab_materials_are_deterministic(lab):
    again = checks.lab2_materials.__wrapped__()
    X = lab.evaluation.data
    assert np.array_equal(again.model.predict(X), lab.model.predict(X))
    a, _ = checks.held_out(hidden_seed=1)
    b, _ = checks.held_out(hidden_seed=1)
    c, _ = checks.held_out(hidden_seed=2)
    assert a.equals(b) and not a.equals(c)


def test_reference_answer_passes_every_check(answer):
    card, trail = answer
    checks.check_build_card(_build)
    checks.check_build_card(_build, hidden_seed=12345)
    checks.check_card_metrics(card)
    assert checks.check_card_sections(card) == 1
    checks.check_limitations(card)
    checks.check_trail(trail, card)


def test_typed_in_numbers_fail_on_held_out_rows(lab, answer):
    card, _ = answer
    frozen = card.content

    def typed(model, X, y):  # returns the evaluation card whatever the data
        return ModelCard(frozen)

    checks.check_build_card(typed)  # on the evaluation data it happens to be right...
    with pytest.raises(CheckFailed, match="held-out") as failure:
        checks.check_build_card(typed, hidden_seed=12345)
    assert "gives" not in str(failure.value)  # hidden recomputed values are not revealed


def test_constant_model_numbers_fail(lab):
    class Constant:
        def predict(self, X):
            return np.ones(len(X), dtype=int)

    def constant_card(model, X, y):
        return _build(Constant(), X, y)

    with pytest.raises(CheckFailed, match="do not match"):
        checks.check_build_card(constant_card, hidden_seed=7)


def test_invented_value_and_missing_group_fail_card_metrics(answer):
    card, _ = answer
    card.data.eval_results[5].metric_value = 0.99
    with pytest.raises(CheckFailed, match="do not match"):
        checks.check_card_metrics(card)
    card.data.sensitive_features = ["race"]
    with pytest.raises(CheckFailed, match="sensitive features"):
        checks.check_card_metrics(card)


def test_placeholders_short_text_and_copies_lose_section_points(answer):
    card, _ = answer
    card.set_section("Out-of-scope use", "[More Information Needed]")
    with pytest.raises(CheckFailed, match="placeholder"):
        checks.check_card_sections(card)
    card.set_section("Out-of-scope use", "Ethics matter.")
    with pytest.raises(CheckFailed, match="fewer than"):
        checks.check_card_sections(card)
    for name, text in checks.EXAMPLE_SECTIONS.items():
        card.set_section(name, text)
    with pytest.raises(CheckFailed, match="copy the example"):
        checks.check_card_sections(card)


def test_reordered_copy_of_the_example_card_is_still_a_copy(answer):
    import re

    card, _ = answer
    for name, text in checks.EXAMPLE_SECTIONS.items():
        sentences = re.split(r"(?<=[.;:])\s+", text)
        card.set_section(name, " ".join(reversed(sentences)))
    with pytest.raises(CheckFailed, match="copy the example"):
        checks.check_card_sections(card)


def test_card_min_group_size_is_the_labs_not_the_cards(lab):
    """A card claiming min_group_size=300 would drop the small groups of the largest disparity."""
    X, y = lab.evaluation.data, lab.evaluation.target
    card = ModelCard.from_model(
        lab.model, X, y, model_name="compas-logreg", dataset_name="compas", dataset_split="validation",
        sensitive_features=["race", "sex"], min_group_size=300,
    )
    with pytest.raises(CheckFailed, match="missing"):
        checks.check_card_metrics(card)

    def build(model, X, y):
        return ModelCard.from_model(
            model, X, y, model_name="compas-logreg", dataset_name="compas", dataset_split="validation",
            sensitive_features=["race", "sex"], min_group_size=300,
        )

    with pytest.raises(CheckFailed, match="missing"):
        checks.check_build_card(build, hidden_seed=12345)


@pytest.fixture(scope="module")
def rates():
    return checks._lab_rates()


def test_harmful_gaps_are_lesson_03s_table(lab, rates):
    """The gaps the check accepts include harmful_gap's row for each feature, and only clear ones."""
    from ethicskit.fairness.intervals import harmful_gap

    X, y = lab.evaluation.data, lab.evaluation.target
    table = harmful_gap(y, lab.model.predict(X), X[["race", "sex"]], metric="fpr", min_support=30)
    gaps = checks.harmful_gaps(rates)
    pairs = {(g["max_group"], g["min_group"]): g for g in gaps}
    for row in table.itertuples():
        found = pairs[(row.harmed_group, row.reference_group)]
        assert found["gap_low"] == pytest.approx(row.gap_low)
    assert all(g["gap_low"] > 0 and g["metric"] == "false_positive_rate" for g in gaps)
    groups = {g for pair in pairs for g in pair}
    assert not groups & {"Asian", "Native American"}  # fewer than 30 negatives
    assert ("African-American", "Caucasian") in pairs and ("Caucasian", "Hispanic") not in pairs


@pytest.mark.parametrize("text", [
    "Among defendants who were never re-arrested, Black defendants are wrongly labelled high risk far more "
    "often than defendants whose race is recorded as Other (false positive rate 0.33 against 0.05).",
    "The false positive rate is 0.33 for African-American defendants and 0.05 for Other defendants.",
    "Men are wrongly flagged as high risk far more often than women (29% vs 7%).",
    "Women who were not re-arrested are labelled high risk less often than men.",
    "The model falsely flags Black defendants as high risk more often than white defendants (0.33 vs 0.19).",
    "Other defendants have a false positive rate of 0.05, against 0.33 for Black defendants.",
    "The harm falls on Black defendants. They get false positives at 33%, against 4.5% for the 'Other' "
    "group.",
    "The FPR of male defendants exceeds that of female defendants: 0.285 against 0.066.",
    "Black defendants are wrongly labelled high risk more often than Other-race defendants (0.33 vs 0.05). "
    "The largest raw gap, a true positive rate of 0.69 against 0.16 for Other, rests on only 25 positives, "
    "too few to compare.",
    "Black defendants are wrongly labelled high risk more often than Other (0.33 vs 0.05). The true positive "
    "rate of Other (0.16) rests on 25 people. This is too few to tell.",
])
def test_limitations_accept_a_clear_harmful_gap_in_the_words_people_use(text, rates):
    assert checks.limitations_problems(text, rates) == []


@pytest.mark.parametrize(("text", "why"), [
    # the old answer: the largest raw gap, a true positive rate resting on 25 positives, as established
    ("Biggest disparity in my audit: true positive rate by race, African-American at 0.69 versus Other at "
     "0.16. Overall accuracy is near 0.67 and tiny groups were not audited.", "too small"),
    # right harm, plus a tiny-group gap stated as established
    ("Black defendants are wrongly labelled high risk more often than Other (0.33 vs 0.05). The true "
     "positive rate is 0.69 for Black and 0.16 for Other defendants.", "too small"),
    ("Among defendants who were not re-arrested, the false positive rate of Native American defendants "
     "(1.00) is far higher than that of Black defendants (0.33).", "too small"),
    # not the harmful error, or not its direction
    ("Black defendants are flagged as high risk more often than white defendants (0.52 vs 0.28).",
     "false positive rate"),
    ("The selection rate differs between men and women: women are predicted to be re-arrested less often "
     "than men, and small groups were not audited.", "false positive rate"),
    ("The false positive rate is higher for Other than for African-American defendants.", "opposite"),
    ("The false positive rate is higher for Black than Other defendants. The false positive rate is higher "
     "for Other than Black defendants.", "opposite"),
    ("The false positive rate differs between Black and Other defendants.", "harmed"),
    ("The false positive rate is higher or lower for Black defendants than for Other defendants.", "harmed"),
    # the everyday word "other" is not the group; "non-white" is not "white"
    ("Black defendants have a higher false positive rate than other defendants.", "clear of noise"),
    ("Non-white defendants are wrongly flagged more often than white defendants.", "clear of noise"),
    # a gap inside the noise (Caucasian 0.19 vs Hispanic 0.14)
    ("White defendants are wrongly labelled high risk more often than Hispanic defendants (0.19 vs 0.14).",
     "clear of noise"),
    # a list of everything
    ("Accuracy, selection rate, true positive rate and false positive rate are higher or lower for "
     "African-American, Caucasian, Hispanic, Other, Asian, Native American, Male and Female defendants.",
     "too small"),
    ("Accuracy, selection rate, true positive rate and false positive rate are higher for Black than "
     "for Other defendants and for men than for women.", "specifically"),
])
def test_limitations_refuse_tiny_groups_wrong_metric_direction_prose_other_and_lists(text, why, rates):
    assert why in " ".join(checks.limitations_problems(text, rates))


def test_check_limitations_on_a_card(answer):
    card, _ = answer
    checks.check_limitations(card)
    card.set_section("Limitations", "The largest gap is the true positive rate by race: African-American "
                     "0.69 against Other 0.16; Asian and Native American defendants were not audited.")
    checks.check_limitations(card, strict=False)  # visible test: written, names a metric
    with pytest.raises(CheckFailed, match="25 people behind its true positive rate"):
        checks.check_limitations(card)


def test_tampered_or_thin_trail_fails(answer):
    card, trail = answer
    trail.entries[0]["author"] = "someone else"
    with pytest.raises(CheckFailed, match="does not verify"):
        checks.check_trail(trail, card)
    short = AuditTrail()
    for kind in ("data", "hyperparameter", "approval"):
        short.record(kind, "x", author="s", rationale="because")
    with pytest.raises(CheckFailed, match="evaluation"):
        checks.check_trail(short, card.attach_trail(short))
    same = AuditTrail()
    for kind in ("evaluation", "data", "approval"):
        same.record(kind, f"{kind} done", author="s", rationale="it seemed like a good idea")
    with pytest.raises(CheckFailed, match="too small"):  # five words, but says nothing of the audit
        checks.check_trail(same, card.attach_trail(same))
    same = AuditTrail()
    same.record("evaluation", "groups under 30 rows are not reported", author="s",
                rationale="Asian and Native American defendants are too few")
    for kind in ("data", "approval"):
        same.record(kind, f"{kind} done", author="s", rationale="it seemed like a good idea")
    with pytest.raises(CheckFailed, match="same rationale"):
        checks.check_trail(same, card.attach_trail(same))


def test_datasheet_must_describe_the_training_split(lab):
    sheet = Datasheet.bundled("compas")
    with pytest.raises(CheckFailed, match="training"):
        checks.check_datasheet(sheet)
    n = len(lab.train.target)
    sheet.answer(
        "composition", "How many instances are there?", f"The training split holds {n:,} defendants."
    )
    checks.check_datasheet(sheet)
    sheet.answer("uses", "Are there tasks for which the dataset should not be used?", "TODO")
    with pytest.raises(CheckFailed, match="placeholder"):
        checks.check_datasheet(sheet)


def test_lesson_exercises_check_for_real(answer):
    card, trail = answer
    checks.q1.check("motivation")
    with pytest.raises(CheckFailed):
        checks.q1.check("uses")
    worst = largest_disparity(card.reported_metrics())
    checks.q3.check(card, worst["metric"], worst["sensitive_feature"])
    with pytest.raises(CheckFailed):
        checks.q3.check(card, "accuracy", "sex")
    trail.entries[1]["decision"] = "edited"
    checks.q4.check(trail, 1)
    with pytest.raises(CheckFailed):
        checks.q4.check(trail, 0)


@pytest.mark.slow
def test_checks_pass_in_the_graders_fresh_recheck_process(answer, tmp_path):
    """The grader unpickles the variables, re-imports ethicskit and re-runs each test cell."""
    import json
    import pickle
    import subprocess
    import sys

    import cloudpickle

    from ethicskit.course.recheck import MARKER

    card, trail = answer
    sheet = Datasheet.bundled("compas")
    sheet.answer(
        "composition", "How many instances are there?", f"{len(checks.lab2_materials().train.target):,} rows."
    )
    blobs = {"card": card, "trail": trail, "sheet": sheet, "build_card": _build}
    head = "from ethicskit.checks import cards as checks\n"
    cells = [
        head + "checks.check_build_card(build_card, hidden_seed=3)",
        head + "checks.check_card_metrics(card)\nchecks.check_limitations(card)",
        head + "checks.check_card_sections(card)",
        head + "checks.check_datasheet(sheet)\nchecks.check_trail(trail, card)",
    ]
    jobs = []
    for index, source in enumerate(cells):
        snapshot = tmp_path / f"snap{index}.pkl"
        snapshot.write_bytes(
            pickle.dumps({"blobs": {k: cloudpickle.dumps(v) for k, v in blobs.items()}, "problems": {}})
        )
        jobs.append({"index": index, "source": source, "snapshot": str(snapshot)})
    jobfile = tmp_path / "jobs.json"
    jobfile.write_text(json.dumps(jobs))
    run = subprocess.run(
        [sys.executable, "-m", "ethicskit.course.recheck", str(jobfile)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    verdicts = json.loads(run.stdout.strip().splitlines()[-1][len(MARKER) :])  # the last line: every cell
    assert all(v["passed"] for v in verdicts), verdicts
    assert verdicts[2]["value"] == 1.0


def test_lesson_exercises_on_who_is_harmed():
    checks.q5.check("Black", True)
    checks.q5.check("african-american ", True)
    for wrong in [("Amer-Indian-Eskimo", True), ("White", True), ("Black", False), (None, None)]:
        with pytest.raises(CheckFailed):
            checks.q5.check(*wrong)

    def wilson(k, n, z=1.96):
        p = k / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * (p * (1 - p) / n + z**2 / (4 * n**2)) ** 0.5 / (1 + z**2 / n)
        return centre - half, centre + half

    def textbook(k, n, z=1.96):
        p = k / n
        return p - z * (p * (1 - p) / n) ** 0.5, p + z * (p * (1 - p) / n) ** 0.5

    checks.q6.check(wilson)
    for wrong in [textbook, lambda k, n: None, 42]:
        with pytest.raises(CheckFailed):
            checks.q6.check(wrong)


def test_lesson_exercise_3_7_needs_review_matches_the_review_queue():
    def needs_review(scores, groups, *, margin, flagged):
        return (np.abs(np.asarray(scores) - 0.5) < margin) | np.isin(np.asarray(groups), flagged)

    checks.q7.check(needs_review)
    for wrong in [
        lambda scores, groups, *, margin, flagged: np.abs(np.asarray(scores) - 0.5) < margin,
        lambda scores, groups, *, margin, flagged: np.abs(np.asarray(scores) - 0.5) <= margin + 0.05,
        lambda scores, groups, *, margin, flagged: None,
    ]:
        with pytest.raises(CheckFailed):
            checks.q7.check(wrong)


def test_lesson_exercises_3_8_and_3_9_documents_and_who_fills_them():
    checks.q8.check(
        {"a": "datasheet", "b": "model card", "c": "model card", "d": "datasheet", "e": "model card"}
    )
    checks.q8.check(
        {"a": "Datasheet", "b": "card", "c": "the model card", "d": "data sheet", "e": "Model-card"}
    )
    for wrong in [
        {"a": "model card", "b": "model card", "c": "model card", "d": "datasheet", "e": "model card"},
        {"a": "datasheet", "b": "model card", "c": "model card", "d": "datasheet", "e": "datasheet"},
        {"a": "datasheet", "b": "model card"},
        {"a": None, "b": None, "c": None, "d": None, "e": None},
        "datasheet",
    ]:
        with pytest.raises(CheckFailed):
            checks.q8.check(wrong)

    right = {"Metrics": "tool", "Intended use": "person", "Training data": "tool",
             "Limitations": "person", "Ethical considerations": "person"}
    checks.q9.check(right)
    checks.q9.check({"metrics": "ethicskit", "intended use": "human", "training data": "Tool",
                     "limitations": "a person", "ethical considerations": "the authors"})
    for name in right:
        flipped = dict(right, **{name: "tool" if right[name] == "person" else "person"})
        with pytest.raises(CheckFailed, match=name):
            checks.q9.check(flipped)
    for wrong in [dict.fromkeys(right), {"Limitations": "person"}, None]:
        with pytest.raises(CheckFailed):
            checks.q9.check(wrong)


def test_lesson_exercise_3_10_external_auditor_recomputes_an_accuracy(lab, answer):
    card, _ = answer
    X, y = lab.evaluation.data, lab.evaluation.target
    women, men = (X["sex"] == "Female").to_numpy(), (X["sex"] == "Male").to_numpy()
    accuracy = lab.model.score(X[women], y[women])
    checks.q10.check(accuracy, card)
    checks.q10.check(round(accuracy, 3), card)
    checks.q10.check(np.float64(accuracy), card)
    with pytest.raises(CheckFailed, match="everyone"):
        checks.q10.check(lab.model.score(X, y), card)
    with pytest.raises(CheckFailed, match="men"):
        checks.q10.check(lab.model.score(X[men], y[men]), card)
    for wrong in [accuracy + 0.02, None, "0.9", True]:
        with pytest.raises(CheckFailed):
            checks.q10.check(wrong, card)


def test_lesson_exercise_11_notice_accepts_varied_phrasings_and_rejects_missing_elements(capsys):
    from ethicskit.checks.cards import q11

    good = [
        "Your application was pre-screened by an automated computer model. It estimated from your form "
        "(occupation, hours worked, education) whether your yearly income is above 50,000 dollars, "
        "which decides "
        "whether you are eligible for the benefit. If you disagree, you can contest the decision and ask a "
        "caseworker to review it: call 0800 123 456 or reply to this letter within 30 days.",
        "We use artificial intelligence to estimate your income band for this benefit. You have the right to "
        "appeal: email appeals@agency.example and a member of our staff will re-examine your case.",
        "An algorithm decided whether you qualify for the benefit, based on the earnings you declared. To "
        "challenge the result, a human can look at your file: phone 555-0100.",
        "An automated model estimates your income band for the benefit, but a decision is never taken by the "
        "model alone: a caseworker reviews it. To contest, call 555-0100.",
    ]
    for notice in good:
        q11.check(notice)
        assert "correct" in capsys.readouterr().out
    bad = {
        "AI income contest person": "words",
        "This decision was made by our team based on your declared income. If you disagree you can appeal by "
        "calling 555-0100 to speak with an officer.": "automated",
        "An automated model estimated your income to decide your benefit. Decisions are final; there is no "
        "appeal, sorry for any trouble this may cause.": "cannot contest",
        "This decision about your benefit was not made by an automated system or any AI: our team decided "
        "your income band. To appeal, call 555-0100.": "no model",
        # the lesson's generated notice: it never says what the model estimates
        "This assessment was supported by the model 'adult-logreg', trained on the adult data and customised "
        "by our team (12 documented decisions). A person reviews uncertain cases. To contest or report a "
        "problem, use the feedback form.": "what the model decides",
        "An automated model estimated your income, which decides whether you are eligible for the benefit. "
        "We hope you find this notice clear and helpful today.": "contest",
        "word " * 200: "under 150",
    }
    for notice, why in bad.items():
        with pytest.raises(CheckFailed, match=why):
            q11.check(notice)
    for wrong_type in (None, 42, ["AI", "income"]):
        with pytest.raises(CheckFailed, match="string"):
            q11.check(wrong_type)
