"""Texts to padded token batches: checking texts, padding, length-sorted batches, the batched forward pass.

Every part of :mod:`ethicskit.sft` that runs the encoder over texts (training, validation, prediction,
frozen sentence embeddings) goes through this module, so "tokenise once, sort by length, pad each batch
only to its longest text" is written once. Inputs that skip the frozen lower layers of a model live in
:mod:`ethicskit.sft.frozen` and follow the same small interface (:class:`TokenBatches`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ethicskit._validation import as_1d_array, check_no_nan

__all__ = [
    "check_texts",
    "pad_batch",
    "sorted_batches",
    "length_grouped_batches",
    "TokenBatches",
    "batched_logits",
]


def check_texts(texts: Any, name: str = "texts") -> list[str]:
    """Return ``texts`` as a list of non-empty strings, or raise naming ``name``."""
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a list of strings, got a single string; wrap it in a list")
    if texts is None or not hasattr(texts, "__iter__"):
        raise TypeError(f"{name} must be a list of strings, got {type(texts).__name__}")
    check_no_nan(as_1d_array(np.asarray(list(texts), dtype=object), name), name)
    array = list(texts)
    bad = [i for i, t in enumerate(array) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"{name} must contain strings; item {bad[0]} is a {type(array[bad[0]]).__name__}")
    empty = [i for i, t in enumerate(array) if not t.strip()]
    if empty:
        raise ValueError(
            f"{name} contains {len(empty)} empty text(s) (first at position {empty[0]}); drop them"
        )
    return [str(t) for t in array]


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int, pad_to: int | None = None):
    """Pad token-id lists to the longest one (or to ``pad_to``).

    Returns
    -------
    (input_ids, attention_mask) : two ``torch.long`` tensors of shape (len(sequences), width)
    """
    import torch

    width = pad_to or max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        seq = list(seq)[:width]
        input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return input_ids, mask


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices sorted by length (stable) and cut into batches: the least padding for inference."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def length_grouped_batches(
    lengths: Sequence[int], *, batch_size: int, rng: np.random.Generator, group_by_length: bool = True
) -> list[np.ndarray]:
    """Shuffled batches of indices; with ``group_by_length`` texts of similar length share a batch.

    Indices are shuffled, cut into mega-chunks of 50 batches, each chunk sorted by length and cut into
    batches, and the batch order shuffled again: similar lengths together, yet random every epoch.
    """
    order = rng.permutation(len(lengths))
    if group_by_length:
        lengths = np.asarray(lengths)
        chunk = batch_size * 50
        order = np.concatenate(
            [
                part[np.argsort(-lengths[part], kind="stable")]
                for part in (order[i : i + chunk] for i in range(0, len(order), chunk))
            ]
        )
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class TokenBatches:
    """Token ids of texts; a batch of them is padded and run through the whole model.

    Parameters
    ----------
    ids : list of list of int
        Token ids per text (from the tokenizer, truncated, no padding).
    pad_id : int
        The tokenizer's padding id.
    pad_to : int, optional
        Pad every batch to this width instead of its longest text (only to measure what padding costs).
    """

    def __init__(self, ids: list[list[int]], pad_id: int, pad_to: int | None = None):
        self.ids = ids
        self.pad_id = pad_id
        self.pad_to = pad_to
        self.lengths = [len(x) for x in ids]

    def __len__(self) -> int:
        return len(self.ids)

    def tokens(self, batch: np.ndarray) -> int:
        """Tokens the model processes for ``batch`` (padding included when padding to a fixed width)."""
        if self.pad_to is not None:
            return len(batch) * self.pad_to
        return int(sum(self.lengths[i] for i in batch))

    def pad(self, batch: np.ndarray):
        """``(input_ids, attention_mask)`` of the texts at ``batch``, padded."""
        return pad_batch([self.ids[i] for i in batch], self.pad_id, self.pad_to)

    def logits(self, model: Any, batch: np.ndarray, device: Any) -> Any:
        """The model's logits for the texts at ``batch`` (as a float tensor)."""
        input_ids, mask = self.pad(batch)
        return model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits.float()


def batched_logits(inputs: Any, model: Any, device: Any, batch_size: int) -> Iterator[tuple[np.ndarray, Any]]:
    """``(batch indices, logits)`` over length-sorted batches of ``inputs``; no gradients, eval mode."""
    import torch

    model.eval()
    with torch.inference_mode():
        for batch in sorted_batches(inputs.lengths, batch_size):
            yield batch, inputs.logits(model, batch, device)
