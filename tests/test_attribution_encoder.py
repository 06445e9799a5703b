"""The encoder's top block(s) as a recorded model: equivalence, dropout off, replay, early stopping, HVPs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ethicskit.attribution import (
    Stage,
    cut_at_best_epoch,
    example_losses,
    record_training,
    replay_stage,
    retrain_without,
    stage_shift,
    top_blocks,
)
from ethicskit.sft.frozen import top_logits


def _tiny_bert(dropout: float = 0.5):
    """A 3-layer BERT classifier with 16-wide states, random weights (no download)."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, num_labels=2,
                        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    torch.manual_seed(0)
    return BertForSequenceClassification(config)


def _states(n: int, seed: int, tokens: int = 6):
    """Stand-in hidden states after the frozen layers, with padded tails, and labels."""
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, tokens, 16, generator=g)
    mask = torch.ones(n, tokens, dtype=torch.long)
    lengths = torch.randint(3, tokens + 1, (n,), generator=g)
    for row, length in enumerate(lengths):
        mask[row, length:] = 0
    y = (hidden[:, 0, 0] > 0).long().numpy()
    return {"hidden": hidden, "mask": mask}, y


def test_top_blocks_match_the_full_model_and_never_drop_out():
    model = _tiny_bert()
    top = top_blocks(model, 2)
    assert top.depth == 1 and not top.training
    X, _ = _states(5, seed=0)
    model.eval()
    with torch.no_grad():
        expected = top_logits(model, X["hidden"], X["mask"], 1)
        top.train()  # stays in eval mode: dropout off
        assert not top.training
        np.testing.assert_allclose(top(X), expected, atol=1e-5)
        np.testing.assert_allclose(top(X), top(X))  # deterministic despite dropout 0.5 in the config
    # a copy: training the top leaves the model alone
    before = model.classifier.weight.clone()
    with torch.no_grad():
        next(top.classifier.parameters()).add_(1.0)
    assert torch.equal(model.classifier.weight, before)
    with pytest.raises(ValueError, match="at most"):
        top_blocks(model, 4)
    with pytest.raises(TypeError, match="BERT-style"):
        top_blocks(torch.nn.Linear(2, 2))


def _record(lrs=(0.2, 0.1), epochs=(3, 2)):
    model = _tiny_bert()
    stages = []
    for j, (name, lr, ep) in enumerate(zip(("fine-tuning", "mitigation"), lrs, epochs, strict=True)):
        X, y = _states(24, seed=j + 1)
        stages.append(Stage(name, X, y, epochs=ep, batch_size=8, lr=lr, momentum=0.9))
    return record_training(top_blocks(model, 1), stages, random_state=0)


def test_recorded_top_block_replays_bit_for_bit():
    record = _record()
    for k in range(record.n_stages):
        params, _ = replay_stage(record, k)
        assert torch.equal(params, record.checkpoints[k + 1])


def test_linearised_shift_through_attention_matches_retraining():
    """Hessian-vector products through the transformer block: a small stage's shift vs retraining."""
    record = _record(lrs=(2e-3, 0.2))
    exact_shift = record.final_params - retrain_without(record, "fine-tuning")
    linearised = stage_shift(record, "fine-tuning", method="linearised")
    first_order = stage_shift(record, "fine-tuning", method="first_order")
    error = float((linearised - exact_shift).norm() / exact_shift.norm())
    assert error < 0.05
    assert float((first_order - exact_shift).norm() / exact_shift.norm()) > 2 * error


def test_cut_at_best_epoch_ends_the_stage_and_replays_the_rest():
    record = _record()
    X, y = _states(20, seed=9)
    cut, best = cut_at_best_epoch(record, "fine-tuning", example_losses(X, y))
    assert 1 <= best <= 3
    assert len(cut.steps[0]) == best * 3 and cut.stages[0].epochs == best
    assert len(record.steps[0]) == 9 and record.stages[0].epochs == 3  # the original is untouched
    for k in range(cut.n_stages):
        params, _ = replay_stage(cut, k)
        assert torch.equal(params, cut.checkpoints[k + 1])
    assert torch.equal(cut.final_params, torch.nn.utils.parameters_to_vector(cut.model.parameters()))
    if best == 3:
        assert torch.equal(cut.final_params, record.final_params)


def test_encoder_inputs_from_the_bundled_encoder_match_the_full_forward_pass():
    from ethicskit.attribution import encoder_inputs
    from ethicskit.sft import load_encoder

    model, tokenizer = load_encoder(random_state=0)
    texts = ["you are wonderful", "what a terrible, stupid idea this is"]
    X = encoder_inputs(model, tokenizer, texts, n_top=1)
    assert X["hidden"].shape[0] == 2 and X["mask"].dtype == torch.long
    model.eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        full = model(**batch).logits
        np.testing.assert_allclose(top_blocks(model, 1)(X), full, atol=1e-4)
