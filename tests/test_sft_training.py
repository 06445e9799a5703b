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


# one small, fully seeded run: every test that trains uses these settings
SMALL_RUN = dict(epochs=1, batch_size=16, learning_rate=1e-4, num_threads=1, random_state=0, max_length=32)


def _fine_tune_small(data, **extra):
    train, val = data
    return fine_tune(
        train.data["text"],
        train.target,
        val_texts=val.data["text"],
        val_labels=val.target,
        **SMALL_RUN,
        **extra,
    )


@pytest.fixture(scope="module")
def trained(data):
    return _fine_tune_small(data, track_energy=True, country_iso_code="FRA", use_codecarbon=False)


def test_fine_tune_learns_and_records_its_run(data, trained):
    train, val = data
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
    # it remembers fingerprints of what it trained on, not the validation data
    assert clf.training_overlap(train.data["text"]) == 1.0
    assert clf.training_overlap(val.data["text"]) < 0.1


def test_same_seed_same_model(data, trained):
    _, val = data
    again = _fine_tune_small(data)
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
    assert clf.training_overlap(balanced.data["text"]) == 1.0
    assert trained.training_overlap(balanced.data["text"]) < 1

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


DISTRIBUTED_SCRIPT = """
import json, os
import torch
from ethicskit.datasets import load_moderation
from ethicskit.sft import fine_tune

train = load_moderation(split="train", n=64, random_state=0)
clf = fine_tune(train.data["text"], train.target, epochs=1, batch_size=8, num_layers=1, num_threads=1,
                random_state=0)
flat = torch.cat([p.detach().flatten() for p in clf.model.parameters()]).double()
result = {"rank": int(os.environ.get("RANK", 0)), "world": int(os.environ.get("WORLD_SIZE", 1)),
          "checksum": float(flat.sum()), "tokens": clf.stages_[-1]["tokens"]}
print("RESULT", json.dumps(result))
"""


def test_fine_tune_runs_data_parallel_under_a_distributed_launcher(tmp_path):
    """`accelerate launch --multi_gpu` on CPU (ACCELERATE_USE_CPU=1, gloo): two shards, one model."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    pytest.importorskip("accelerate")
    script = tmp_path / "train_ddp.py"
    script.write_text(DISTRIBUTED_SCRIPT)
    env = dict(os.environ, ACCELERATE_USE_CPU="1", OMP_NUM_THREADS="1", TQDM_DISABLE="1", HF_HUB_OFFLINE="1")
    launcher = shutil.which("accelerate", path=os.path.dirname(sys.executable)) or "accelerate"

    def results(command):
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
        return [json.loads(line.split("RESULT", 1)[1]) for line in lines]

    launch = [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
    ranks = results([*launch, "--mixed_precision", "no", "--dynamo_backend", "no", str(script)])
    (single,) = results([sys.executable, str(script)])
    assert sorted(r["rank"] for r in ranks) == [0, 1] and {r["world"] for r in ranks} == {2}
    # every process ends with the same parameters (gradients were averaged), each trained on its shard
    assert ranks[0]["checksum"] == ranks[1]["checksum"] != single["checksum"]
    assert 0 < ranks[0]["tokens"] < single["tokens"] and sum(r["tokens"] for r in ranks) == single["tokens"]


def test_out_of_range_hyperparameters_are_refused_before_training(trained):
    """#21: soft_weight=5, warmup_ratio=-1 and threshold=5 trained or predicted silently."""
    texts, labels = ["a", "b"], [0, 1]
    with pytest.raises(ValueError, match="soft_weight"):
        train_stage(trained, texts, labels, soft_targets=[0.2, 0.8], soft_weight=5)
    with pytest.raises(ValueError, match="warmup_ratio"):
        train_stage(trained, texts, labels, warmup_ratio=-1)
    with pytest.raises(ValueError, match="threshold"):
        trained.predict(["a"], threshold=5)
    with pytest.raises(ValueError, match="batch_size"):
        trained.predict_proba(["a"], batch_size=0)


def _whole_model_proba(clf, texts):
    """P(toxic) from the whole model's forward pass (no cache)."""
    import torch

    from ethicskit.sft.tokens import TokenBatches, batched_logits

    inputs = TokenBatches(clf.encode(texts), clf.tokenizer.pad_token_id)
    out = np.empty(len(texts))
    for batch, logits in batched_logits(inputs, clf.model, "cpu", 16):
        out[batch] = torch.softmax(logits, dim=-1)[:, 1].numpy()
    return out


def test_frozen_layers_are_computed_once_and_match_the_whole_model(data):
    import torch

    from ethicskit.sft import frozen

    train, val = data
    frozen.clear_cache()
    top = fine_tune(
        train.data["text"][:64], train.target[:64], train_top=2, epochs=1, num_threads=1, batch_size=16
    )
    assert frozen.frozen_depth(top.model) == 4
    unique = len({tuple(ids) for ids in top.encode(train.data["text"][:64])})
    assert frozen.cache_info() == {"prefixes": 1, "texts": unique}  # each training text computed once
    texts = val.data["text"].tolist()[:30]
    np.testing.assert_allclose(top.predict_proba(texts), _whole_model_proba(top, texts), atol=1e-5)
    # the cache is keyed by the frozen weights: changed weights never reuse stale states
    with torch.no_grad():
        top.model.base_model.encoder.layer[0].output.dense.bias.add_(0.5)
    np.testing.assert_allclose(top.predict_proba(texts), _whole_model_proba(top, texts), atol=1e-5)
    assert frozen.cache_info()["prefixes"] == 2
    frozen.clear_cache()
    assert frozen.cache_info() == {"prefixes": 0, "texts": 0}


def test_text_classifier_is_a_scikit_learn_estimator(data, trained):
    """TextClassifier follows scikit-learn's estimator contract (texts in, 1-d P(toxic) out)."""
    from sklearn.base import clone, is_classifier

    train, _ = data
    texts, labels = list(train.data["text"][:48]), train.target[:48]
    unfitted = TextClassifier(num_layers=2, train_top=1, epochs=1, max_length=32, random_state=3)
    assert is_classifier(unfitted) and "not fitted" in repr(unfitted)
    assert not hasattr(unfitted, "model_")  # __init__ only stores its parameters
    copy = clone(unfitted.set_params(show_progress=False))
    assert copy.get_params()["random_state"] == 3 and copy.get_params()["train_top"] == 1
    with pytest.raises(Exception, match="not fitted"):
        copy.predict_proba(["hello"])
    assert copy.fit(texts, labels, num_threads=1) is copy  # fit returns self and loads the encoder
    assert list(copy.classes_) == [0, 1] and copy.model is None and copy.model_ is not None
    again = clone(unfitted).fit(texts, labels, num_threads=1)
    np.testing.assert_allclose(copy.predict_proba(texts[:5]), again.predict_proba(texts[:5]), atol=1e-6)
    assert 0.0 <= copy.score(texts, labels) <= 1.0  # ClassifierMixin.score through predict
    with pytest.raises(TypeError, match="set_params"):
        copy.fit(texts, labels, epochs=3)
    # fine_tune passes the loaded network as the `model` parameter: the same object it trains
    assert trained.model is trained.model_
    assert trained.get_params()["max_length"] == SMALL_RUN["max_length"]
    assert {"text/plain"} == set(trained._repr_mimebundle_())  # no HTML diagram of the whole network
