"""Attribute stages of fine-tuning the pretrained encoder itself: its top transformer block(s).

Recording every parameter of all-MiniLM-L6-v2 (22.7 M) through several stages, and retraining it once
per stage for the ground truth, takes far longer than a 2-core CPU allows. The part that fine-tuning
with frozen lower layers trains fits: the top ``n_top`` transformer blocks, the pooler and the
classification head (about 1.9 M parameters for one block). Their input, the hidden states after the
frozen lower layers, never changes, so it is computed once per text
(:mod:`ethicskit.sft.frozen`'s cache) and the recorder trains and replays only the top.

* :func:`top_blocks` is that top as a module of its own: ``top_blocks(model, n_top)(inputs)`` with
  ``inputs = {"hidden": (n, tokens, 384) float32, "mask": (n, tokens) int64}``. Dropout is **off**
  always (the module stays in eval mode even under ``.train()``), so a recorded stage replays exactly,
  and attention runs in the eager implementation, which forward-mode autodiff (the linearised
  estimator's Hessian-vector products) can differentiate.
* :func:`encoder_inputs` turns texts into those inputs from the cached frozen states.
* :func:`cut_at_best_epoch` treats early stopping as what it is for replay: the stage's recorded steps
  end at the best epoch (the weights it restores), and the later stages are replayed from there.

Validated against exact retraining of the top in ``benchmarks/bench_attribution.py --real-model``
(numbers in docs/attribution.md).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ethicskit._validation import check_positive_int
from ethicskit.attribution.recorder import TrainingRecord, replay_stage

__all__ = ["top_blocks", "encoder_inputs", "cut_at_best_epoch"]


def top_blocks(model: Any, n_top: int = 1) -> Any:
    """The top ``n_top`` transformer blocks, pooler and head of a BERT-style classifier, on cached states.

    Parameters
    ----------
    model : BertForSequenceClassification
        E.g. from :func:`ethicskit.sft.load_encoder`. Its blocks are *copied*: training the returned
        module leaves ``model`` untouched.
    n_top : int
        Transformer blocks to train (1 or 2 fit a 2-core CPU in minutes).

    Returns
    -------
    torch.nn.Module
        ``module(inputs)`` takes ``{"hidden": hidden states after the frozen layers, "mask": attention
        mask}`` (from :func:`encoder_inputs`) and returns the logits, as the full model in eval mode
        would (up to float rounding). It never enters training mode, so dropout stays off.
    """
    base = getattr(model, "base_model", None)
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if layers is None or not hasattr(model, "classifier"):
        raise TypeError(f"model must be a BERT-style sequence classifier (base_model.encoder.layer and "
                        f"classifier), got {type(model).__name__}")
    check_positive_int(n_top, "n_top")
    if n_top > len(layers):
        raise ValueError(f"n_top must be at most the model's {len(layers)} layers, got {n_top}")
    return _top_blocks_class()(model, n_top)


@functools.cache
def _top_blocks_class() -> type:
    import torch

    class TopBlocks(torch.nn.Module):
        """The top blocks, pooler and head of a BERT-style classifier (see :func:`top_blocks`)."""

        def __init__(self, model: Any, n_top: int):
            super().__init__()
            base = model.base_model
            layers = base.encoder.layer
            self.depth = len(layers) - n_top
            config = copy.deepcopy(model.config)
            config._attn_implementation = "eager"  # forward-mode AD through the attention (HVPs)
            self.layers = copy.deepcopy(layers[self.depth:])
            for module in self.layers.modules():
                if hasattr(module, "config"):
                    module.config = config
            pooler = getattr(base, "pooler", None)
            self.pooler = copy.deepcopy(pooler) if pooler is not None else None
            self.classifier = copy.deepcopy(model.classifier)
            for parameter in self.parameters():
                parameter.requires_grad_(True)
            super().train(False)

        def train(self, mode: bool = True) -> TopBlocks:
            """Stay in eval mode whatever ``mode`` says: dropout off, so a recorded stage replays exactly."""
            return super().train(False)

        def forward(self, inputs: dict) -> Any:
            """Logits ``(n, n_labels)`` from ``{"hidden": (n, tokens, width), "mask": (n, tokens)}``."""
            hidden, mask = inputs["hidden"], inputs["mask"]
            additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
            for layer in self.layers:
                out = layer(hidden, additive)
                hidden = out[0] if isinstance(out, tuple) else out
            pooled = self.pooler(hidden) if self.pooler is not None else hidden[:, 0]
            return self.classifier(pooled)

    return TopBlocks


def encoder_inputs(model: Any, tokenizer: Any, texts: Sequence[str], *, n_top: int = 1,
                   max_length: int = 48) -> dict:
    """Cached hidden states after the frozen lower layers of ``model``, padded, with their mask.

    Parameters
    ----------
    model : BertForSequenceClassification
        The pretrained encoder; its embeddings and bottom ``layers - n_top`` blocks are run once per
        distinct text (eval mode, no gradients) and cached by :mod:`ethicskit.sft.frozen`.
    tokenizer : tokenizer
        The model's tokenizer (texts truncated to ``max_length`` tokens).
    texts : sequence of str
    n_top : int
        Blocks that :func:`top_blocks` trains (the states are taken below them).
    max_length : int
        Token limit per text.

    Returns
    -------
    dict
        ``{"hidden": float32 (n, longest, width), "mask": int64 (n, longest)}``: a stage's or a query's
        ``X``.
    """
    from ethicskit.sft.frozen import _lookup_states, _pad_states

    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a non-empty sequence of strings")
    check_positive_int(n_top, "n_top")
    depth = len(model.base_model.encoder.layer) - n_top
    if depth < 0:
        raise ValueError(f"n_top must be at most the model's {depth + n_top} layers, got {n_top}")
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    states = _lookup_states(model, ids, depth, tokenizer.pad_token_id or 0)
    hidden, mask = _pad_states(states)
    return {"hidden": hidden, "mask": mask}


def cut_at_best_epoch(record: TrainingRecord, stage: int | str, validation_query: Callable[[Any], Any],
                      ) -> tuple[TrainingRecord, int]:
    """Early stopping for a recorded run: end ``stage`` at the epoch with the lowest validation score.

    Early stopping that restores the best epoch's weights is, for replay, a stage whose recorded steps
    stop at that epoch. The stage is replayed once to score the parameters after each epoch (the mean of
    ``validation_query``, e.g. :func:`~ethicskit.attribution.example_losses` on held-out data); a new
    record keeps the stage's steps up to the best epoch and replays every later stage from there with
    its recorded batch order and schedule.

    Parameters
    ----------
    record : TrainingRecord
    stage : int or str
    validation_query : callable
        ``query(model) -> tensor``; lower mean is better.

    Returns
    -------
    (TrainingRecord, int)
        The cut record (its own model copy; ``record`` is unchanged) and the best epoch (1-based).
    """
    import torch

    from ethicskit.attribution.exact import evaluate_query
    from ethicskit.attribution.recorder import n_rows

    k = record.stage_index(stage)
    spec = record.stages[k]
    per_epoch = -(-n_rows(spec.X) // spec.batch_size)
    scores: list[float] = []

    def score(t, step, model):
        if t > 0 and t % per_epoch == 0:
            scores.append(float(evaluate_query(record, validation_query, _flat(model)).mean()))

    replay_stage(record, k, callback=score)
    scores.append(float(evaluate_query(record, validation_query, record.checkpoints[k + 1]).mean()))
    best = int(np.argmin(scores)) + 1
    cut = copy.copy(record)
    cut.stages = list(record.stages)
    cut.stages[k] = copy.copy(spec)
    cut.stages[k].epochs = best
    cut.steps = [list(s) for s in record.steps]
    cut.steps[k] = record.steps[k][:best * per_epoch]
    cut.checkpoints = list(record.checkpoints[:k + 1])
    cut.buffers = list(record.buffers[:k + 1])
    params, buffer = cut.checkpoints[k], cut.buffers[k]
    for j in range(k, record.n_stages):
        params, buffer = replay_stage(cut, j, params=params, buffer=buffer)
        cut.checkpoints.append(params)
        cut.buffers.append(buffer if record.carry_optimizer_state else None)
    cut.model = record.model_at(cut.checkpoints[-1])
    torch.nn.utils.vector_to_parameters(cut.checkpoints[-1].clone(), cut.model.parameters())
    return cut, best


def _flat(model: Any) -> Any:
    import torch

    return torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
