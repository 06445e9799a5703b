"""The synthetic moderation corpus and the Civil-Comments-style CSV loader."""

from __future__ import annotations

import pandas as pd
import pytest

from ethicskit.datasets import datasheet
from ethicskit.datasets.base import Dataset
from ethicskit.datasets.moderation import (
    EVAL_TEMPLATES,
    IDENTITY_TERMS,
    TARGETED_TERMS,
    TRAIN_TEMPLATES,
    fill_template,
    identity_eval_set,
    load_moderation,
    load_moderation_csv,
    swap_identity,
)


def test_train_split_is_seeded_and_deterministic():
    a = load_moderation(split="train", n=300, random_state=3)
    b = load_moderation(split="train", n=300, random_state=3)
    c = load_moderation(split="train", n=300, random_state=4)
    assert isinstance(a, Dataset) and len(a) == 300
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert not a.frame["text"].equals(c.frame["text"])
    assert set(a.target.unique()) <= {0, 1}
    assert a.data.columns.tolist() == ["text", "identity", "category", "template"]


def test_train_and_validation_differ_for_the_same_seed():
    train = load_moderation(split="train", n=200, random_state=0)
    val = load_moderation(split="validation", n=200, random_state=0)
    assert not train.data["text"].reset_index(drop=True).equals(val.data["text"].reset_index(drop=True))


def test_skew_ties_targeted_terms_to_toxicity():
    frame = load_moderation(split="train", n=4000, skew=0.8, random_state=0).frame
    targeted = frame["identity"].isin(TARGETED_TERMS).fillna(False).astype(bool)
    assert frame.loc[targeted, "toxic"].mean() > 0.8
    assert frame.loc[~targeted, "toxic"].mean() < 0.5
    unskewed = load_moderation(
        split="train", n=4000, skew=0.0, annotator_bias=0.0, label_noise=0.0, neutral_rate=0.0
    ).frame
    t = unskewed["identity"].isin(TARGETED_TERMS).fillna(False).astype(bool)
    assert abs(unskewed.loc[t, "toxic"].mean() - unskewed.loc[~t, "toxic"].mean()) < 0.06


def test_annotators_over_flag_neutral_statements_about_targeted_terms():
    frame = load_moderation(split="train", n=4000, random_state=0).frame
    neutral = frame[frame["template"].str.startswith("train-neutral")]
    targeted = neutral["identity"].isin(TARGETED_TERMS)
    assert len(neutral) > 500
    assert neutral.loc[targeted, "toxic"].mean() > 0.6 > 0.15 > neutral.loc[~targeted, "toxic"].mean()


def test_balanced_split_is_balanced_per_identity_and_mentions_one_always():
    frame = load_moderation(split="balanced", n=3000, random_state=0).frame
    assert frame["identity"].notna().all()
    targeted = frame["identity"].isin(TARGETED_TERMS)
    assert abs(frame.loc[targeted, "toxic"].mean() - 0.5) < 0.06
    assert abs(frame.loc[~targeted, "toxic"].mean() - 0.5) < 0.06


def test_eval_split_has_every_template_with_every_term():
    ev = load_moderation(split="eval")
    n_terms = sum(len(v) for v in IDENTITY_TERMS.values())
    n_templates = len(EVAL_TEMPLATES[0]) + len(EVAL_TEMPLATES[1])
    assert len(ev) == n_terms * n_templates
    counts = ev.frame.groupby("identity")["toxic"].agg(["size", "mean"])
    assert (counts["size"] == n_templates).all()
    assert counts["mean"].nunique() == 1


def test_eval_templates_are_disjoint_from_training_templates():
    for label in (0, 1):
        assert not set(EVAL_TEMPLATES[label]) & set(TRAIN_TEMPLATES[label])
    train_texts = set(load_moderation(split="train", n=3000).data["text"])
    assert not train_texts & set(load_moderation(split="eval").data["text"])


def test_there_are_enough_terms_templates_and_categories():
    assert len(IDENTITY_TERMS) == 6
    assert sum(len(v) for v in IDENTITY_TERMS.values()) >= 36
    assert len(TRAIN_TEMPLATES[0]) + len(TRAIN_TEMPLATES[1]) >= 100
    assert set(TARGETED_TERMS) <= {t for v in IDENTITY_TERMS.values() for t in v}


def test_fill_and_swap():
    assert fill_template("{who} are welcome.", term="deaf") == "Deaf people are welcome."
    assert fill_template("I met {who}.", term=None, noun_phrase="my {t} friends") == "I met my friends."
    assert (
        swap_identity("Gay people and gay friends", "gay", "straight")
        == "Straight people and straight friends"
    )
    assert swap_identity("Gayness", "gay", "x") == "Gayness"  # whole words only
    with pytest.raises(ValueError, match="who"):
        fill_template("no slot", term="x")


def test_custom_eval_set_uses_given_templates():
    frame = identity_eval_set(
        toxic_templates=["{who} stink."],
        nontoxic_templates=["Hi {who}."],
        terms={"religion": ["muslim", "christian"]},
    )
    assert frame["text"].tolist() == [
        "Muslim people stink.",
        "Christian people stink.",
        "Hi muslim people.",
        "Hi christian people.",
    ]
    assert frame["toxic"].tolist() == [1, 1, 0, 0]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"split": "test"}, ValueError, "split"),
        ({"skew": 1.5}, ValueError, "skew"),
        ({"label_noise": 0.6}, ValueError, "label_noise"),
        ({"n": 0}, ValueError, "n must"),
        ({"n": 2.5}, TypeError, "n must"),
        ({"annotator_bias": -0.1}, ValueError, "annotator_bias"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_moderation(**kwargs)


def test_datasheet_has_seven_sections_and_says_synthetic():
    sheet = datasheet("moderation")
    text = str(sheet.sections["motivation"])
    assert "synthetic" in text.lower()
    for section in (
        "motivation",
        "composition",
        "collection",
        "preprocessing",
        "uses",
        "distribution",
        "maintenance",
    ):
        assert sheet.sections[section]


@pytest.fixture
def civil_csv(tmp_path):
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "comment_text": ["you are an idiot", "nice post", "muslims are great", "gay people are bad"],
            "target": [0.9, 0.0, 0.1, 0.7],
            "muslim": [0.0, 0.0, 1.0, 0.0],
            "homosexual_gay_or_lesbian": [0.0, 0.0, 0.0, 0.8],
            "severe_toxicity": [0.1, 0.0, 0.0, 0.2],
        }
    )
    path = tmp_path / "civil.csv"
    frame.to_csv(path, index=False)
    return path


def test_csv_loader_reads_civil_comments_layout(civil_csv):
    ds = load_moderation_csv(civil_csv)
    assert ds.target.tolist() == [1, 0, 0, 1]
    assert ds.data["text"].tolist()[1] == "nice post"
    assert ds.data["muslim"].tolist() == [False, False, True, False]
    assert ds.data["identity"].tolist()[2:] == ["muslim", "homosexual_gay_or_lesbian"]
    assert pd.isna(ds.data["identity"].iloc[0])
    assert "severe_toxicity" not in ds.data.columns and "id" not in ds.data.columns


def test_csv_loader_errors(tmp_path, civil_csv):
    with pytest.raises(FileNotFoundError, match="path"):
        load_moderation_csv(tmp_path / "missing.csv")
    bad = pd.read_csv(civil_csv)
    bad.loc[0, "target"] = 3
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="label_column 'target'"):
        load_moderation_csv(tmp_path / "bad.csv")
    empty = pd.read_csv(civil_csv)
    empty.loc[1, "comment_text"] = "  "
    empty.to_csv(tmp_path / "empty.csv", index=False)
    with pytest.raises(ValueError, match="empty text"):
        load_moderation_csv(tmp_path / "empty.csv")
    with pytest.raises(ValueError, match="identity_columns"):
        load_moderation_csv(civil_csv, identity_columns=["nope"])
    no_ids = pd.read_csv(civil_csv)[["comment_text", "target"]]
    no_ids.to_csv(tmp_path / "noids.csv", index=False)
    with pytest.raises(ValueError, match="identity_columns"):
        load_moderation_csv(tmp_path / "noids.csv")
