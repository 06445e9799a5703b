"""Real fine-tuning runs of all-MiniLM-L6-v2 on tiny data (slow: each run takes seconds on a CPU)."""

from __future__ import annotations

import cloudpickle
import numpy as np
import pytest

from ethicskit.datasets.moderation import load_moderation
from ethicskit.sft import TextClassifier, count_parameters, distill, fine_tune, train_stage

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data():
    train = load_moderation(split="train", n=160, random_state=1)
    val = load_moderation(split="validation", n=60, random_state=1)
    return train, val


@pytest.fixture(scope="module")
def trained(data):
    train, val = data
    return fine_tune(
        train.data["text"],
        train.target,
        val_texts=val.data["text"],
        val_labels=val.target,
        epochs=1,
        batch_size=16,
        learning_rate=1e-4,
        num_threads=1,
        seed=0,
        max_length=32,
        track_energy=True,
        country_iso_code="FRA",
        use_codecarbon=False,
    )


def test_fine_tune_learns_and_records_its_run(trained):
    clf = trained
    scores = clf.predict_proba(
        ["You are all idiots and liars, shut up.", "Thank you for organising the food drive."]
    )
    assert scores.shape == (2,) and scores[0] > scores[1]
    stage = clf.stages_[-1]
    assert stage["examples"] == 160 and stage["tokens"] > 160 * 5
    assert stage["trainable_params"] < stage["total_params"]  # vocabulary table frozen by default
    assert stage["train_flops"] > 0 and stage["energy"].energy_kwh > 0
    assert clf.history_[0]["val_loss"] > 0 and "val_accuracy" in clf.history_[0]
    assert "TextClassifier" in repr(clf)


def test_same_seed_same_model(data, trained):
    train, val = data
    again = fine_tune(
        train.data["text"],
        train.target,
        val_texts=val.data["text"],
        val_labels=val.target,
        epochs=1,
        batch_size=16,
        learning_rate=1e-4,
        num_threads=1,
        seed=0,
        max_length=32,
    )
    texts = val.data["text"].tolist()[:20]
    np.testing.assert_allclose(again.predict_proba(texts), trained.predict_proba(texts), atol=1e-5)


def test_classifier_survives_cloudpickle(trained):
    clone = cloudpickle.loads(cloudpickle.dumps(trained))
    texts = ["Deaf people are kind."]
    np.testing.assert_allclose(clone.predict_proba(texts), trained.predict_proba(texts), atol=1e-6)


def test_second_stage_and_top_layers_and_student(data, trained):
    train, _ = data
    import copy

    clf = copy.deepcopy(trained)
    balanced = load_moderation(split="balanced", n=64, random_state=0)
    train_stage(
        clf, balanced.data["text"], balanced.target, epochs=1, batch_size=16, num_threads=1, name="balanced"
    )
    assert [s["stage"] for s in clf.stages_] == ["fine-tune", "balanced"]

    top = fine_tune(
        train.data["text"][:64], train.target[:64], train_top=1, epochs=1, num_threads=1, batch_size=16
    )
    assert count_parameters(top.model, trainable_only=True) < 0.2 * count_parameters(top.model)
    assert top.stages_[-1]["train_flops"] < trained.stages_[-1]["train_flops"]

    student = distill(
        trained,
        train.data["text"][:64],
        train.target[:64],
        num_layers=2,
        epochs=1,
        num_threads=1,
        batch_size=16,
    )
    assert len(student.model.base_model.encoder.layer) == 2
    assert count_parameters(student.model) < count_parameters(trained.model)


def test_bad_training_input(trained):
    with pytest.raises(ValueError, match="labels"):
        train_stage(trained, ["a", "b"], [0, 2])
    with pytest.raises(ValueError, match="same number of rows"):
        train_stage(trained, ["a", "b"], [0, 1, 1])
    with pytest.raises(ValueError, match="empty text"):
        train_stage(trained, ["a", ""], [0, 1])
    with pytest.raises(ValueError, match="val_texts and val_labels"):
        train_stage(trained, ["a", "b"], [0, 1], val_texts=["c"])
    with pytest.raises(TypeError, match="TextClassifier"):
        train_stage("model", ["a"], [0])
    assert isinstance(trained, TextClassifier)
