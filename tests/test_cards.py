"""ethicskit.cards: building, editing, round-tripping, rendering and validating model cards and datasheets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from huggingface_hub import ModelCard as HFModelCard
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from ethicskit.audit import AuditTrail
from ethicskit.cards import (
    PLACEHOLDER,
    Datasheet,
    ModelCard,
    disparities,
    group_metrics,
    largest_disparity,
    tidy_metrics,
)
from ethicskit.cards.metrics import KNOWN_METRICS, metric_value

GOOD = {
    "Intended use": "Ranking synthetic applicants for a classroom exercise on model documentation, by "
    "students who compare groups A and B; no real person is scored.",
    "Out-of-scope use": "Any decision about real people, credit, hiring or policing; use on data drawn "
    "from another population than the synthetic generator.",
    "Limitations": "Selection rate differs strongly between group A and group B of the feature g; the model "
    "was trained on 600 synthetic rows only and is poorly calibrated at the extremes.",
    "Ethical considerations": "The feature g stands in for a protected attribute; using it directly as a "
    "model input would be unlawful in many jurisdictions for real decisions.",
    "Caveats and recommendations": "Re-audit per group before any reuse, keep a person in the loop for "
    "borderline scores, and report problems through the feedback log.",
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "g": rng.choice(["A", "B"], size=n, p=[0.6, 0.4]),
            "h": rng.choice(["u", "v", "w"], size=n),
        }
    )
    logits = 1.5 * frame["x"] + np.where(frame["g"] == "A", 0.8, -0.8)
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logits))).astype(int))
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["g", "h"]), remainder="passthrough"), LogisticRegression()
    ).fit(frame, y)
    return model, frame, y


@pytest.fixture()
def card(data):
    model, X, y = data
    return ModelCard.from_model(
        model, X, y, model_name="toy", dataset_name="toy-data", sensitive_features=["g", "h"], sections=GOOD
    )


def test_metric_value_matches_hand_computation():
    assert metric_value("selection_rate", [0, 1, 1, 0], [1, 1, 0, 0]) == 0.5
    assert metric_value("true_positive_rate", [1, 1, 0, 0], [1, 0, 1, 0]) == 0.5
    with pytest.raises(ValueError, match="metric name"):
        metric_value("accuracyy", [0, 1], [0, 1])
    with pytest.raises(ValueError, match="y_pred"):
        metric_value("accuracy", [0, 1], [0, 2])


def test_group_metrics_agree_with_fairlearn(data):
    from fairlearn.metrics import MetricFrame, selection_rate

    model, X, y = data
    pred = model.predict(X)
    tidy = group_metrics(y, pred, sensitive_features="g", data=X, metrics=["selection_rate"])
    frame = MetricFrame(metrics=selection_rate, y_true=y, y_pred=pred, sensitive_features=X["g"])
    for name, value in frame.by_group.items():
        ours = tidy.loc[tidy["group"] == name, "value"].item()
        assert ours == pytest.approx(value)
    assert tidy_metrics(frame).query("group == 'A'")["value"].item() == pytest.approx(frame.by_group["A"])


def test_tidy_metrics_reads_dicts_and_rejects_junk():
    tidy = tidy_metrics({"accuracy": {"overall": 0.8, "sex": {"F": 0.9, "M": 0.7}}})
    assert len(tidy) == 3 and tidy["sensitive_feature"].isna().sum() == 1
    with pytest.raises(TypeError, match="results"):
        tidy_metrics([1, 2, 3])


def test_largest_disparity_names_groups():
    tidy = tidy_metrics(
        {"selection_rate": {"overall": 0.3, "g": {"A": 0.5, "B": 0.1}, "h": {"u": 0.3, "v": 0.35}}}
    )
    worst = largest_disparity(tidy)
    assert (worst["sensitive_feature"], worst["max_group"], worst["min_group"]) == ("g", "A", "B")
    assert worst["gap"] == pytest.approx(0.4)
    assert list(disparities(tidy)["sensitive_feature"]) == ["g", "h"]


def test_fresh_card_prompts_instead_of_inventing(data):
    model, X, y = data
    card = ModelCard.from_model(
        model, X, y, model_name="toy", dataset_name="toy-data", sensitive_features=["g"]
    )
    assert sorted(card.todo()) == sorted(GOOD)
    assert PLACEHOLDER in card.section("Limitations")
    findings = card.validate(model, X, y)
    assert {f.where for f in findings.errors} == set(GOOD)  # only the authored sections fail


def test_complete_card_validates_clean(card, data):
    model, X, y = data
    findings = card.validate(model, X, y)
    assert findings.ok, str(findings)
    assert isinstance(card, HFModelCard) and card.data.model_name == "toy"
    reported = card.reported_metrics()
    assert set(reported["group"].dropna()) == {"A", "B", "u", "v", "w"}


def test_invented_number_is_caught_per_group(card, data):
    model, X, y = data
    for result in card.data.eval_results:
        if (result.metric_args or {}).get("group") == "B" and result.metric_type == "accuracy":
            result.metric_value = round(result.metric_value + 0.05, 4)
    errors = card.validate(model, X, y).errors
    assert len(errors) == 1 and "accuracy for g=B" in errors[0].where and "recomputation" in errors[0].message


def test_missing_group_and_bad_metadata_are_errors(card, data):
    model, X, y = data
    card.data.eval_results = [r for r in card.data.eval_results if (r.metric_args or {}).get("group") != "w"]
    card.data.license = "my-own-licence"
    card.data.eval_results[0].metric_value = "high"
    wheres = {f.where for f in card.validate(model, X, y).errors}
    assert "sensitive feature h" in wheres
    assert "metadata.license" in wheres
    assert any(w.startswith("metric accuracy") for w in wheres)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("[More Information Needed]", "contains"),
        ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.", "lorem"),
        ("Limitations", "repeats"),
        ("", "empty"),
        ("TODO write this later properly with details about the groups in data", "TODO"),
    ],
)
def test_placeholders_filler_and_heading_repeats_fail(card, text, reason):
    card.set_section("Limitations", text)
    found = card.validate().about("Limitations")
    assert found and found[0].severity == "error" and reason.lower() in found[0].message.lower()


def test_short_section_is_a_warning(card):
    card.set_section("Ethical considerations", "Be careful.")
    found = card.validate().about("Ethical considerations")
    assert [f.severity for f in found] == ["warning"]


def test_save_load_round_trip_is_lossless(card, tmp_path):
    trail = AuditTrail()
    trail.record("hyperparameter", "C=1.0", author="t", rationale="default, validated")
    card.set_section("Customisation decisions", trail.summary_markdown())
    path = tmp_path / "README.md"
    card.save(path)
    again = ModelCard.load(path)
    assert again.content == card.content
    pd.testing.assert_frame_equal(again.reported_metrics(), card.reported_metrics())
    again.set_section("Intended use", GOOD["Intended use"] + " Edited.")
    again.save(path)
    assert ModelCard.load(path).section("Intended use").endswith("Edited.")
    with pytest.raises(ValueError, match="offline"):
        ModelCard.load(tmp_path / "nope.md")


def test_renders_markdown_and_html(card):
    html = card.to_html()
    assert "<table>" in html and "<h2>Limitations</h2>" in html and "model-index" in html
    assert card.to_markdown().startswith("---\n")


def test_trail_head_is_checked(data):
    model, X, y = data
    trail = AuditTrail()
    trail.record("data", "kept all rows", author="t", rationale="no duplicates found")
    trail.record("approval", "release", author="lead", rationale="audit reviewed")
    card = ModelCard.from_model(
        model,
        X,
        y,
        model_name="toy",
        dataset_name="toy-data",
        sections=GOOD,
        sensitive_features=["g"],
        trail=trail,
    )
    assert "Customisation decisions" in card.sections and card.validate(trail=trail).ok
    trail.entries.pop()
    assert any(f.where == "audit trail" for f in card.validate(trail=trail).errors)


def test_validation_errors_name_the_argument(data):
    model, X, y = data
    with pytest.raises(ValueError, match="y"):
        ModelCard.from_model(model, X, y * 3, model_name="m", dataset_name="d")
    with pytest.raises(ValueError, match="sections"):
        ModelCard.from_model(model, X, y, model_name="m", dataset_name="d", sections={"Fun facts": "x"})
    with pytest.raises(TypeError, match="model, X and y"):
        ModelCard.from_model(model, X, y, model_name="m", dataset_name="d").validate(model)
    with pytest.raises(RuntimeError, match="offline"):
        ModelCard.from_model(model, X, y, model_name="m", dataset_name="d").push_to_hub("x/y")


def test_datasheet_template_validate_and_round_trip(tmp_path):
    sheet = Datasheet.template("toy", license="cc-by-4.0")
    assert len(sheet.validate().errors) == sum(len(v) for v in sheet.sections.values())
    for section, answers in sheet.sections.items():
        for question in answers:
            sheet.answer(
                section, question, f"A specific answer about the toy data for {section}, naming sources."
            )
    assert sheet.validate().ok
    for suffix in (".json", ".md"):
        path = sheet.save(tmp_path / f"sheet{suffix}")
        assert Datasheet.load(path) == sheet
    assert "<h2>Motivation</h2>" in sheet.to_html()
    with pytest.raises(ValueError, match="section"):
        sheet.answer("motives", "q", "a")


@pytest.mark.parametrize("name", ["adult", "compas", "german"])
def test_bundled_datasheets_load_and_are_specific(name):
    sheet = Datasheet.bundled(name)
    assert sheet.name == name and all(sheet.sections.values())
    assert not [f for f in sheet.validate() if f.where != "datasheet.license" and f.severity == "error"]
    assert Datasheet.from_card(sheet.to_card()) == sheet


def test_card_takes_the_fairness_audit_emissions_and_datasheet(data):
    from ethicskit.fairness.metrics import audit_predictions

    model, X, y = data
    audit = audit_predictions(y, model.predict(X), sensitive_features=X[["g", "h"]], min_group_size=10)
    sheet = Datasheet.template("toy-data", license="cc0-1.0")
    sheet.answer(
        "motivation", "For what purpose was the dataset created?", "To test model cards in ethicskit."
    )
    card = ModelCard.from_model(
        model,
        X,
        y,
        model_name="toy",
        dataset_name="toy-data",
        sections=GOOD,
        sensitive_features=["g", "h"],
        audit=audit,
        emissions=12.5,
        datasheet=sheet,
    )
    assert card.validate(model, X, y).ok, str(card.validate(model, X, y))
    reported = card.reported_metrics()
    assert "g & h" in set(reported["sensitive_feature"].dropna())  # intersections are kept and rechecked
    assert card.data.co2_eq_emissions == {"emissions": 12.5}
    assert "12.5 g CO2-eq" in card.section("Environmental impact")
    assert "To test model cards" in card.section("Training data")
    unmeasured = ModelCard.from_model(model, X, y, model_name="toy", dataset_name="toy-data")
    assert "not measured" in unmeasured.section("Environmental impact")
    assert "co2_eq_emissions" not in unmeasured.data


def test_signed_trail_anchor_in_the_card_survives_a_rewritten_head(card):
    """#21: an editor who rewrites the trail and the card's head is caught by the signed anchor."""
    from ethicskit.audit import AuditTrail, _hash, generate_signing_key

    trail = AuditTrail()
    for i in range(3):
        trail.record("data", f"decision {i}", author="ana", rationale="reason enough")
    key = generate_signing_key()
    card.attach_trail(trail, signing_key=key)
    assert not card.validate(trail=trail, public_key=key.public_key()).about("audit trail")
    trail.entries[1]["author"] = "mallory"
    for i in (1, 2):
        trail.entries[i]["prev_hash"] = trail.entries[i - 1]["hash"]
        trail.entries[i]["hash"] = _hash(trail.entries[i])
    card.data.audit_trail_head = trail.head  # the editor rewrites the card's head too
    assert not card.validate(trail=trail).about("audit trail")  # the unsigned head proves nothing
    assert card.validate(trail=trail, public_key=key.public_key()).about("audit trail")


def test_cards_and_fairness_share_one_metric_registry_and_ratio_convention():
    from ethicskit.fairness import audit_predictions
    from ethicskit.fairness.metrics import METRICS

    assert KNOWN_METRICS is METRICS
    y_true = [1, 0, 1, 0, 1, 0]
    y_pred = [0, 0, 0, 0, 0, 0]  # every group's selection rate is zero
    groups = ["a", "a", "a", "b", "b", "b"]
    audit = audit_predictions(y_true, y_pred, sensitive_features=groups, min_group_size=1)
    card_row = disparities(audit)
    card_ratio = card_row.set_index("metric").loc["selection_rate", "ratio"]
    assert audit.gaps.loc[0, "demographic_parity_ratio"] == 1.0
    assert card_ratio == 1.0


def test_disparities_refuses_a_min_group_size_it_cannot_apply():
    results = {"accuracy": {"overall": 0.8, "sex": {"F": 0.7, "M": 0.9}}}
    assert len(disparities(results)) == 1
    with pytest.raises(ValueError, match="count"):
        disparities(results, min_group_size=30)


def test_card_takes_lesson_05s_energy_report_and_says_when_it_is_an_estimate(data):
    from ethicskit.sft.energy import EnergyReport

    model, X, y = data
    estimated = EnergyReport(12.0, 0.002, 0.001, "FRA", "tdp-estimate")
    card = ModelCard.from_model(model, X, y, model_name="m", dataset_name="d", emissions=estimated)
    assert card.data.co2_eq_emissions["emissions"] == pytest.approx(1.0)
    assert "Estimated emissions: 1 g" in card.text and "not a measurement" in card.text
    guessed = EnergyReport(12.0, 0.002, 0.001, "FRA", "codecarbon")  # codecarbon without counters
    text = ModelCard.from_model(model, X, y, model_name="m", dataset_name="d", emissions=guessed).text
    assert "Estimated emissions: 1 g CO2-eq (codecarbon's estimate" in text and "Measured" not in text
    counted = EnergyReport(12.0, 0.002, 0.001, "FRA", "codecarbon", counters=True)
    card = ModelCard.from_model(model, X, y, model_name="m", dataset_name="d", emissions=counted)
    assert "measured from the CPU's energy counters" in card.text and "an estimate" in card.text
    assert card.data["co2_eq_emissions"]["source"] == "codecarbon (CPU energy counters)"
