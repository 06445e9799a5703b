"""Frozen lower layers computed once per text: cached hidden states, and the forward pass of the top only.

When the embeddings and the lower transformer layers of an encoder are frozen
(:func:`~ethicskit.sft.model.freeze_lower_layers`), their output for a text never changes, so training
the top layers epoch after epoch, validating, and predicting all repeat the same work. Here that work is
done once: the hidden states after the last frozen layer are computed (eval mode, no gradients) and kept
in memory, keyed by a fingerprint of the frozen weights and the text's token ids; training and
prediction then run only the unfrozen top (layers, pooler, head) on those states.

The frozen part runs in eval mode, so dropout applies only in the trained top (as with any frozen
feature extractor). In eval mode the result equals the full model's forward pass up to float rounding.
The cache lives in this process only: the grader's check process starts with an empty one and fills it
from the weights it is given, so no state a student's code left behind is ever read.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from collections import OrderedDict
from typing import Any

import numpy as np

from ethicskit.sft.tokens import pad_batch, sorted_batches

__all__ = ["frozen_depth", "CachedBatches", "model_inputs", "clear_cache", "cache_info"]

_MAX_PREFIXES = 4  # distinct frozen prefixes kept (a lesson uses one or two)
_STATES: OrderedDict[str, dict[tuple[int, ...], Any]] = OrderedDict()
_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def frozen_depth(model: Any) -> int:
    """How many bottom transformer layers are frozen together with all of the embeddings (0: none).

    Only a BERT-style model (``base_model.embeddings`` and ``base_model.encoder.layer``) qualifies; any
    trainable embedding parameter (e.g. position embeddings) makes the depth 0, since then no layer's
    input is fixed.
    """
    base = getattr(model, "base_model", None)
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    embeddings = getattr(base, "embeddings", None)
    if layers is None or embeddings is None or not all(hasattr(model, a) for a in ("classifier", "dropout")):
        return 0
    if any(p.requires_grad for p in embeddings.parameters()):
        return 0
    depth = 0
    for layer in layers:
        if any(p.requires_grad for p in layer.parameters()):
            break
        depth += 1
    return depth


def _prefix_modules(model: Any, depth: int) -> list[Any]:
    base = model.base_model
    return [base.embeddings, *base.encoder.layer[:depth]]


def _fingerprint(model: Any, depth: int) -> str:
    """BLAKE2b of the frozen prefix's weights (memoised per model while its tensors are unchanged)."""
    tensors = [t for module in _prefix_modules(model, depth) for t in module.state_dict().values()]
    signature = (depth, tuple((t.data_ptr(), t._version, tuple(t.shape)) for t in tensors))
    memo = _FINGERPRINTS.get(model)
    if memo is not None and memo[0] == signature:
        return memo[1]
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{type(model.base_model).__name__}:{depth}".encode())
    for tensor in tensors:
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    key = digest.hexdigest()
    _FINGERPRINTS[model] = (signature, key)
    return key


def _attention_mask(model: Any, hidden: Any, mask: Any) -> Any:
    """The mask format the model's layers expect (transformers 5 builds it by attention implementation)."""
    try:
        from transformers.masking_utils import create_bidirectional_mask
    except ImportError:  # transformers 4: the additive extended mask
        return model.base_model.get_extended_attention_mask(mask, mask.shape)
    return create_bidirectional_mask(config=model.config, inputs_embeds=hidden, attention_mask=mask)


def _run_layers(model: Any, layers: Any, hidden: Any, mask: Any) -> Any:
    extended = _attention_mask(model, hidden, mask)
    for layer in layers:
        out = layer(hidden, extended)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def _compute_states(model: Any, ids: list[list[int]], depth: int, pad_id: int, batch_size: int = 128):
    """Hidden states after layer ``depth`` for each token-id list (eval mode, no gradients), on the CPU."""
    import torch

    base = model.base_model
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    states: list[Any] = [None] * len(ids)
    try:
        with torch.inference_mode():
            for batch in sorted_batches([len(x) for x in ids], batch_size):
                input_ids, mask = pad_batch([ids[i] for i in batch], pad_id)
                input_ids, mask = input_ids.to(device), mask.to(device)
                hidden = base.embeddings(input_ids=input_ids)
                hidden = _run_layers(model, base.encoder.layer[:depth], hidden, mask).float().cpu()
                for row, index in enumerate(batch):
                    states[index] = hidden[row, : len(ids[index])].clone()
    finally:
        model.train(was_training)
    return states


def _lookup_states(model: Any, ids: list[list[int]], depth: int, pad_id: int) -> list[Any]:
    """Cached states for every token-id list, computing (once) those not cached yet."""
    key = _fingerprint(model, depth)
    table = _STATES.setdefault(key, {})
    _STATES.move_to_end(key)
    while len(_STATES) > _MAX_PREFIXES:
        _STATES.popitem(last=False)
    keys = [tuple(x) for x in ids]
    missing = list(dict.fromkeys(k for k in keys if k not in table))
    if missing:
        for k, state in zip(
            missing, _compute_states(model, [list(k) for k in missing], depth, pad_id), strict=True
        ):
            table[k] = state
    return [table[k] for k in keys]


def _pad_states(states: list[Any]):
    """Stack per-text hidden states into (batch, longest, hidden), with the attention mask."""
    import torch

    width = max(s.shape[0] for s in states)
    hidden = torch.zeros((len(states), width, states[0].shape[1]), dtype=states[0].dtype)
    mask = torch.zeros((len(states), width), dtype=torch.long)
    for row, state in enumerate(states):
        hidden[row, : state.shape[0]] = state
        mask[row, : state.shape[0]] = 1
    return hidden, mask


def top_logits(model: Any, hidden: Any, mask: Any, depth: int) -> Any:
    """Logits of a BERT-style sequence classifier from the hidden states after layer ``depth``."""
    base = model.base_model
    hidden = _run_layers(model, base.encoder.layer[depth:], hidden, mask)
    pooled = base.pooler(hidden) if getattr(base, "pooler", None) is not None else hidden[:, 0]
    return model.classifier(model.dropout(pooled)).float()


class CachedBatches:
    """Texts as cached hidden states after the frozen lower layers; a batch runs only the model's top.

    Same interface as :class:`ethicskit.sft.tokens.TokenBatches` (``lengths``, ``tokens``, ``logits``).

    Parameters
    ----------
    model : BertForSequenceClassification
        Its embeddings and bottom ``depth`` layers are frozen.
    ids : list of list of int
        Token ids per text.
    depth : int
        Frozen layers (from :func:`frozen_depth`).
    pad_id : int
        The tokenizer's padding id.
    """

    def __init__(self, model: Any, ids: list[list[int]], depth: int, pad_id: int):
        self.depth = depth
        self.lengths = [len(x) for x in ids]
        self.states = _lookup_states(model, ids, depth, pad_id)
        # tokens the frozen prefix processes once (each distinct text), for the FLOPs estimate
        self.prefix_tokens = sum(len(k) for k in {tuple(x) for x in ids})

    def __len__(self) -> int:
        return len(self.states)

    def tokens(self, batch: np.ndarray) -> int:
        """Real tokens in ``batch``."""
        return int(sum(self.lengths[i] for i in batch))

    def logits(self, model: Any, batch: np.ndarray, device: Any) -> Any:
        """The model's logits for the texts at ``batch`` (the top layers only)."""
        hidden, mask = _pad_states([self.states[i] for i in batch])
        return top_logits(model, hidden.to(device), mask.to(device), self.depth)


def model_inputs(classifier: Any, texts: list[str], *, pad_to: int | None = None, cache: bool = True) -> Any:
    """The inputs to run ``classifier`` over ``texts``: cached frozen states where possible, else token ids.

    Parameters
    ----------
    classifier : TextClassifier
        Supplies the model, tokenizer and ``max_length``.
    texts : list of str
        Checked texts.
    pad_to : int, optional
        Fixed padding width; disables the cache (it exists only to measure what padding costs).
    cache : bool
        False always runs the whole model (so does the environment variable ``ETHICSKIT_FROZEN_CACHE=0``,
        which exists to measure what the cache saves).
    """
    from ethicskit.sft.tokens import TokenBatches

    ids = classifier.encode(texts)  # sets the classifier's network up if it was not yet
    pad_id = classifier.tokenizer_.pad_token_id or 0
    enabled = cache and pad_to is None and os.environ.get("ETHICSKIT_FROZEN_CACHE", "1") != "0"
    depth = frozen_depth(classifier.model_) if enabled else 0
    if depth > 0:
        return CachedBatches(classifier.model_, ids, depth, pad_id)
    return TokenBatches(ids, pad_id, pad_to)


def clear_cache() -> None:
    """Forget every cached hidden state (memory is returned to the process)."""
    _STATES.clear()


def cache_info() -> dict[str, int]:
    """Cached frozen prefixes and texts (for tests and benchmarks)."""
    return {"prefixes": len(_STATES), "texts": sum(len(t) for t in _STATES.values())}
