"""ethicskit.sft: metrics, mitigation and energy helpers (fast), and one small real fine-tuning run (slow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ethicskit.datasets.moderation import IDENTITY_TERMS, load_moderation
from ethicskit.sft import (
    EnergyMeter,
    ModelNotFoundError,
    bias_metrics,
    compare,
    counterfactual_augment,
    counterfactual_consistency,
    embed_texts,
    evaluate,
    final_bias_score,
    generalized_mean,
    load_encoder,
    model_path,
    plot_bias,
    reweight,
    training_flops,
)
from ethicskit.sft.train import _busy_cores, check_texts, default_threads, length_grouped_batches


def _toy(biased: bool, seed: int = 0):
    """Eval-like data: identity 'a' or 'b', labels balanced; a biased scorer adds +0.4 for 'a'."""
    rng = np.random.default_rng(seed)
    n = 400
    identity = np.where(rng.random(n) < 0.5, "a", "b")
    labels = rng.integers(0, 2, n)
    scores = np.clip(0.25 + 0.5 * labels + rng.normal(0, 0.12, n), 0, 1)
    if biased:
        scores = np.clip(scores + 0.4 * (identity == "a"), 0, 1)
    return scores, labels, identity


def test_bias_metrics_find_the_biased_identity():
    scores, labels, identity = _toy(biased=True)
    table = bias_metrics(scores, labels, identity)
    assert list(table.columns) == ["size", "subgroup_auc", "bpsn_auc", "bnsp_auc", "fpr", "fnr"]
    assert table.index[0] == "a"  # worst BPSN first
    assert table.loc["a", "bpsn_auc"] < 0.8 < table.loc["b", "bpsn_auc"]
    assert table.loc["b", "bnsp_auc"] < 0.8  # the mirror image for the other group
    assert table.loc["a", "fpr"] > table.loc["b", "fpr"] + 0.3
    fair = bias_metrics(*_toy(biased=False))
    assert fair["bpsn_auc"].min() > 0.9


def test_the_rank_auc_equals_scikit_learns_with_ties_and_any_two_labels():
    from sklearn.metrics import roc_auc_score

    from ethicskit.sft.metrics import _auc

    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(2, 200))
        labels = rng.integers(0, 2, n)
        scores = np.round(rng.random(n), int(rng.integers(1, 3)))  # rounding makes ties
        if len(np.unique(labels)) < 2:
            assert np.isnan(_auc(labels, scores))
            continue
        assert _auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
        assert _auc(labels * 2 - 1, scores) == pytest.approx(roc_auc_score(labels * 2 - 1, scores), abs=1e-12)


def test_bias_metrics_by_hand_on_a_tiny_case():
    scores = [0.9, 0.2, 0.6, 0.1]
    labels = [1, 0, 1, 0]
    identity = ["g", "g", None, None]
    table = bias_metrics(scores, labels, identity, min_size=1)
    # BPSN for g: g's negative (0.2) against background positive (0.6): ranked right -> 1.0
    assert table.loc["g", "bpsn_auc"] == 1.0
    assert table.loc["g", "subgroup_auc"] == 1.0
    flipped = bias_metrics([0.9, 0.7, 0.6, 0.1], labels, identity, min_size=1)
    assert flipped.loc["g", "bpsn_auc"] == 0.0  # g's non-toxic comment outranks real toxicity
    assert "<none>" not in table.index and None not in table.index


def test_bias_metrics_accept_multi_identity_frames():
    scores, labels, identity = _toy(biased=True)
    frame = pd.DataFrame({"a": identity == "a", "b": identity == "b", "both": np.ones(len(labels), bool)})
    table = bias_metrics(scores, labels, frame)
    assert set(table.index) == {"a", "b", "both"}
    from sklearn.metrics import roc_auc_score

    assert table.loc["both", "subgroup_auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert np.isnan(table.loc["both", "bpsn_auc"])  # no background to compare with


def test_generalized_mean_and_final_score():
    assert generalized_mean([0.5, 0.5]) == pytest.approx(0.5)
    assert generalized_mean([1.0, 0.5], power=-5) < 0.6  # close to the worst value
    assert generalized_mean([1.0, 0.5], power=1) == pytest.approx(0.75)
    table = pd.DataFrame({"subgroup_auc": [1.0], "bpsn_auc": [1.0], "bnsp_auc": [1.0]})
    assert final_bias_score(0.8, table) == pytest.approx(0.25 * 0.8 + 0.75)
    with pytest.raises(ValueError):
        generalized_mean([np.nan])


def test_evaluate_takes_scores_or_a_callable():
    scores, labels, identity = _toy(biased=True)
    texts = [f"text {i}" for i in range(len(labels))]
    result = evaluate(scores, texts, labels, identity)
    assert result["worst_bpsn_identity"] == "a"
    assert 0.5 < result["overall_auc"] <= 1.0
    lookup = dict(zip(texts, scores, strict=False))
    again = evaluate(lambda ts: [lookup[t] for t in ts], texts, labels, identity)
    assert again["final_score"] == pytest.approx(result["final_score"])
    table = compare({"x": result, "y": again})
    assert list(table.index) == ["x", "y"] and "worst_bpsn_auc" in table.columns


def test_constant_scores_have_chance_auc():
    _, labels, identity = _toy(biased=False)
    result = evaluate(np.full(len(labels), 0.3), [f"t{i}" for i in range(len(labels))], labels, identity)
    assert result["overall_auc"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ({"labels": [0, 2, 1, 0]}, ValueError, "labels"),
        ({"scores": [0.1, 0.2, 0.3]}, ValueError, "same number of rows"),
        ({"scores": [0.1, np.nan, 0.3, 0.4]}, ValueError, "scores"),
    ],
)
def test_bias_metrics_bad_input(bad, error, match):
    args = {"scores": [0.1, 0.9, 0.2, 0.8], "labels": [0, 1, 0, 1], "identities": ["a", "a", "b", "b"]}
    args.update(bad)
    with pytest.raises(error, match=match):
        bias_metrics(args["scores"], args["labels"], args["identities"], min_size=1)


def test_counterfactual_consistency_detects_identity_dependence():
    texts = ["Gay people are kind.", "Straight people are kind.", "Gay people stink."]
    idents = ["gay", "straight", "gay"]

    def fair(ts):
        return [0.9 if "stink" in t else 0.1 for t in ts]

    def unfair(ts):
        return [0.9 if ("stink" in t or "gay" in t.lower()) else 0.1 for t in ts]

    assert (
        counterfactual_consistency(fair, texts, idents, swap_terms=["gay", "straight"])["consistency"] == 1.0
    )
    result = counterfactual_consistency(unfair, texts, idents, swap_terms=["gay", "straight"])
    assert result["consistency"] == pytest.approx(1 / 3)
    assert result["max_gap"] > 0.5


def test_plot_bias_returns_axes():
    import matplotlib

    matplotlib.use("Agg")
    table = bias_metrics(*_toy(biased=True))
    ax = plot_bias(table)
    assert len(ax.get_yticklabels()) == 2
    with pytest.raises(ValueError, match="bias_metrics"):
        plot_bias(pd.DataFrame({"x": [1]}))


def test_counterfactual_augment_swaps_within_category_and_keeps_labels():
    texts = ["Muslim people are kind.", "People stink.", "Deaf folks stink."]
    out = counterfactual_augment(
        texts, [0, 1, 1], ["muslim", None, "deaf"], swap_terms=IDENTITY_TERMS, n_swaps=2, random_state=0
    )
    assert len(out) == 3 + 4
    new = out[out["augmented"]]
    assert set(new["label"]) == {0, 1}
    religion, disability = set(IDENTITY_TERMS["religion"]), set(IDENTITY_TERMS["disability"])
    assert set(new["identity"].iloc[:2]) <= religion - {"muslim"}
    assert set(new["identity"].iloc[2:]) <= disability - {"deaf"}
    assert all(term.lower() in text.lower() for term, text in zip(new["identity"], new["text"], strict=False))
    again = counterfactual_augment(
        texts, [0, 1, 1], ["muslim", None, "deaf"], swap_terms=IDENTITY_TERMS, n_swaps=2, random_state=0
    )
    pd.testing.assert_frame_equal(out, again)


def test_reweight_balances_labels_within_each_identity():
    train = load_moderation(split="train", n=1500, random_state=0)
    weights = reweight(train.target, train.data["identity"])
    assert weights.mean() == pytest.approx(1.0)
    frame = train.frame.assign(w=weights, g=train.data["identity"].fillna("<none>"))
    both = frame.groupby("g")["toxic"].transform("nunique") == 2  # a one-label group cannot be balanced
    rates = (
        frame[both].groupby("g").apply(lambda f: np.average(f["toxic"], weights=f["w"]), include_groups=False)
    )
    assert len(rates) > 40 and np.ptp(rates) < 1e-9
    assert rates.iloc[0] == pytest.approx(frame["toxic"].mean(), abs=0.02)
    raw = frame.groupby("g")["toxic"].mean()
    assert raw.max() - raw.min() > 0.3  # it was skewed before


def test_energy_meter_reports_energy_and_co2():
    with EnergyMeter(country_iso_code="FRA", use_codecarbon=False, threads=1) as meter:
        sum(range(100000))
    report = meter.report
    assert report.method == "tdp-estimate" and report.energy_kwh > 0 and report.co2_kg > 0
    with EnergyMeter(country_iso_code="POL", use_codecarbon=False, threads=1) as coal:
        sum(range(100000))
    # Poland's grid is far more carbon-intensive than France's: more CO2 per kWh
    assert coal.report.co2_kg / coal.report.energy_kwh > 3 * report.co2_kg / report.energy_kwh
    with pytest.raises(ValueError, match="country_iso_code"):
        EnergyMeter(country_iso_code="France")


@pytest.mark.slow
def test_energy_meter_with_codecarbon_offline(capfd):
    with EnergyMeter(country_iso_code="FRA") as meter:
        np.linalg.svd(np.random.default_rng(0).random((300, 300)))
    assert meter.report.energy_kwh > 0 and meter.report.method in ("codecarbon", "tdp-estimate")
    assert "codecarbon" not in capfd.readouterr().err  # quiet


def test_training_flops():
    assert training_flops(total_params=10, trainable_params=10, tokens=3) == 6 * 10 * 3
    assert training_flops(total_params=10, trainable_params=0, tokens=3) == 2 * 10 * 3
    with pytest.raises(ValueError, match="trainable_params"):
        training_flops(total_params=1, trainable_params=2, tokens=1)


def test_length_grouped_batches_cover_everything_and_group_lengths():
    lengths = np.random.default_rng(0).integers(5, 60, 1000)
    batches = length_grouped_batches(lengths, batch_size=32, rng=np.random.default_rng(1))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    grouped = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    random = length_grouped_batches(
        lengths, batch_size=32, rng=np.random.default_rng(1), group_by_length=False
    )
    assert grouped < 0.3 * np.mean([lengths[b].max() - lengths[b].min() for b in random])


def test_thread_count_leaves_cores_that_other_processes_use():
    import os
    import subprocess
    import sys

    if _busy_cores() is None:
        pytest.skip("no /proc/stat here")
    available = min(len(os.sched_getaffinity(0)), 8)
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        import time

        time.sleep(0.3)
        assert _busy_cores() >= 0.7  # the spinning process keeps about one core busy
        assert 1 <= default_threads() <= max(1, available - 1)
    finally:
        spinner.kill()
        spinner.wait()


def test_default_threads_never_exceeds_omp_num_threads(monkeypatch):
    # the grader and `make course` share the cores out with OMP_NUM_THREADS: a kernel must keep to it
    # even when it samples the cores in a quiet moment
    import os

    monkeypatch.setattr("ethicskit.sft.train._busy_cores", lambda: 0.0)
    available = min(len(os.sched_getaffinity(0)), 8)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert default_threads() == 1
    for value in ("", "0", "two"):  # unset or not a positive integer: no cap
        monkeypatch.setenv("OMP_NUM_THREADS", value)
        assert default_threads() == available


def test_check_texts_rejects_empty_and_non_strings():
    assert check_texts(pd.Series(["a", "b"])) == ["a", "b"]
    with pytest.raises(ValueError, match="empty text"):
        check_texts(["ok", "   "])
    with pytest.raises(TypeError, match="strings"):
        check_texts(["ok", 3])
    with pytest.raises(TypeError, match="single string"):
        check_texts("hello")


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="config.json"):
        model_path(tmp_path)
    with pytest.raises(ModelNotFoundError):
        load_encoder(model_dir=tmp_path / "nowhere")
    assert (model_path() / "config.json").exists()


@pytest.mark.slow
def test_load_encoder_is_quiet_seeded_and_shrinkable(capfd):
    import torch

    model, tokenizer = load_encoder(random_state=0)
    again, _ = load_encoder(random_state=0)
    assert torch.equal(model.classifier.weight, again.classifier.weight)
    assert model.config.num_hidden_layers == 6
    captured = capfd.readouterr()
    assert "newly initialized" not in captured.err + captured.out
    small, _ = load_encoder(num_layers=2)
    assert len(small.base_model.encoder.layer) == 2
    with pytest.raises(ValueError, match="num_layers"):
        load_encoder(num_layers=9)


@pytest.mark.slow
def test_embed_texts_frozen_sentence_embeddings():
    texts = [
        "Gay people live in my street.",
        "Straight people live in my street.",
        "The weather is cold and rainy today, bring a coat.",
    ]
    embeddings = embed_texts(texts)
    assert embeddings.shape == (3, 384) and embeddings.dtype == np.float32
    assert np.array_equal(embeddings, embed_texts(texts))  # deterministic: frozen, no dropout
    # rows follow the input order whatever the length-sorted batching does
    reordered = embed_texts([texts[2], texts[0]], batch_size=1)
    np.testing.assert_allclose(reordered, embeddings[[2, 0]], rtol=1e-4, atol=1e-5)

    def cosine(a, b):
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

    # two texts that differ only in the identity term are closer than two unrelated texts
    assert cosine(embeddings[0], embeddings[1]) > cosine(embeddings[0], embeddings[2]) + 0.2


def test_embed_texts_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(TypeError, match="single string"):
        embed_texts("Gay people live in my street.")
    with pytest.raises(ValueError, match="empty text"):
        embed_texts(["fine", "  "])
    with pytest.raises(ValueError, match="batch_size"):
        embed_texts(["fine"], batch_size=0)
    with pytest.raises(ModelNotFoundError, match="config.json"):
        embed_texts(["fine"], model_dir=tmp_path)


def test_bias_inputs_that_used_to_pass_silently_are_refused():
    """#21: a 0-100 score scale gave fpr 1.0; country 'ZZZ' and threads=-1 were accepted."""
    from ethicskit.sft import EnergyMeter, bias_metrics

    scores = np.linspace(0, 1, 40)
    labels = np.array([0, 1] * 20)
    identities = np.array(["x", None] * 20, dtype=object)
    with pytest.raises(ValueError, match="scores must be probabilities"):
        bias_metrics(scores * 100, labels, identities, min_size=5)
    with pytest.raises(ValueError, match="country_iso_code"):
        EnergyMeter(country_iso_code="ZZZ")
    with pytest.raises(ValueError, match="threads"):
        EnergyMeter(threads=-1)
    with pytest.raises(TypeError, match="use_codecarbon"):
        EnergyMeter(use_codecarbon="no")


def test_evaluate_returns_a_dataclass_that_still_reads_like_a_dict():
    from ethicskit.sft import Evaluation, evaluate

    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 30)
    scores = np.clip(labels * 0.6 + rng.random(60) * 0.4, 0, 1)
    identities = np.array(["a", "b", "c"] * 20, dtype=object)
    report = evaluate(scores, ["t"] * 60, labels, identities, min_size=5)
    assert isinstance(report, Evaluation)
    assert report["overall_auc"] == report.overall_auc and "table" in report
    assert list(dict(report))[:4] == ["overall_auc", "accuracy", "worst_bpsn_auc", "worst_bpsn_identity"]
    with pytest.raises(KeyError):
        report["no such field"]


def test_cost_table_reads_each_models_last_stage_and_evaluates_it():
    from ethicskit.sft import EnergyReport, cost_table

    class Fake:
        def __init__(self, scores, joules):
            self.scores = np.asarray(scores)
            energy = EnergyReport(2.0, joules / 3.6e6, joules / 3.6e6 * 0.05, "FRA", "tdp-estimate")
            self.stages_ = [{"total_params": 2e6, "trainable_params": 5e5, "train_flops": 3e12,
                             "seconds": 2.0, "energy": energy}]

        def predict_proba(self, texts):
            return np.c_[1 - self.scores, self.scores]

    labels = np.array([0, 1] * 20)
    identities = np.array(["a", "a", "b", "b"] * 10, dtype=object)
    good = Fake(np.where(labels == 1, 0.9, 0.1), 3600.0)
    table = cost_table({"good": good}, ["t"] * 40, labels, identities)
    row = table.loc["good"]
    assert row["overall_auc"] == 1.0 and row["energy_Wh"] == pytest.approx(1.0)
    assert row["trainable_M"] == 0.5 and row["method"] == "tdp-estimate"
    good.stages_[-1]["energy"] = None
    with pytest.raises(ValueError, match="track_energy=True"):
        cost_table({"good": good}, ["t"] * 40, labels, identities)
