"""Fine-tuning a pretrained encoder as a text classifier, one composable training stage at a time.

:func:`fine_tune` = :func:`~ethicskit.sft.model.load_encoder` + :func:`train_stage`. A later stage (a
second, balanced fine-tuning pass; distillation into a smaller student) calls :func:`train_stage` again
on the same :class:`TextClassifier` with other data and parameters.

The loop is plain PyTorch: texts are tokenised once, batches are *length-grouped* (texts of similar
length together) and *dynamically padded* (to the longest text of the batch, not to a fixed length),
which is what makes CPU training fast. AdamW with weight decay, a linear learning-rate schedule with
warm-up, and early stopping on a validation split guard against overfitting small data.

Multi-GPU: run the same script with ``accelerate launch --multi_gpu --num_processes N script.py``
(``pip install ethicskit[multi-gpu]``). When :func:`train_stage` finds itself launched that way
(``WORLD_SIZE`` > 1), or is called with ``use_accelerate=True``, it wraps model, optimiser and scheduler
with ``accelerate.Accelerator``; each process trains on its shard of every epoch's batches and the
gradients are averaged, so every process ends with the same model. Without GPUs,
``ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 script.py`` runs the same code as
two CPU processes (the test suite does exactly that). See ``docs/sft.md``.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ethicskit._progress import progress as progress_bar
from ethicskit._validation import (
    Interval,
    as_1d_array,
    check_binary,
    check_consistent_length,
    check_int,
    check_no_nan,
    check_positive,
    validate_params,
)

_UNIT = [Interval("real", 0, 1)]
_POSITIVE_INT = [Interval("integral", 1, None)]

__all__ = [
    "TextClassifier",
    "fine_tune",
    "train_stage",
    "distill",
    "check_texts",
    "default_threads",
    "text_fingerprints",
]


def default_threads() -> int:
    """Torch CPU threads: the cores this process may use (at most 8), fewer when others keep them busy.

    On a dedicated 2-core laptop this is 2. On a shared machine (a JupyterHub node, a CI runner running
    tests in parallel) asking for more threads than there are idle cores makes OpenMP threads wait on
    each other and training gets several times *slower*, so the count drops to the idle cores (at
    least 1). Busy cores are measured over the next 0.2 s (``/proc/stat``), while this process itself
    is idle: the load average would also count this process's own previous training run, so a
    notebook that fine-tunes twice would wrongly fall back to one thread for the second run.
    """
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        available = os.cpu_count() or 1
    available = max(1, min(available, 8))
    busy = _busy_cores()
    if busy is None:
        return available
    return max(1, min(available, int(available - busy + 0.5)))


def _busy_cores(sample_seconds: float = 0.2) -> float | None:
    """Of the cores this process may use, how many others keep busy (over ``sample_seconds``).

    None where ``/proc/stat`` is missing (not Linux).
    """
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return None

    def snapshot() -> dict[int, tuple[int, int]]:
        """Per allowed core: (all jiffies, idle + iowait jiffies)."""
        out = {}
        with open("/proc/stat") as handle:
            for line in handle:
                name, *fields = line.split()
                if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in allowed:
                    numbers = [int(x) for x in fields]
                    out[int(name[3:])] = (sum(numbers), numbers[3] + numbers[4])
        return out

    try:
        before = snapshot()
        time.sleep(sample_seconds)
        after = snapshot()
    except (OSError, ValueError, IndexError):
        return None
    busy = 0.0
    for core, (total, idle) in after.items():
        total_before, idle_before = before.get(core, (total, idle))
        if total > total_before:
            busy += 1 - (idle - idle_before) / (total - total_before)
    return busy if after else None


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


def text_fingerprints(texts: Sequence[str]) -> np.ndarray:
    """64-bit BLAKE2b fingerprints of texts, folded for case and whitespace (one per text)."""
    import hashlib

    def fingerprint(text: str) -> int:
        folded = " ".join(text.split()).casefold().encode()
        return int.from_bytes(hashlib.blake2b(folded, digest_size=8).digest(), "big")

    return np.array([fingerprint(t) for t in texts], dtype=np.uint64)


def _pick_device(device: str | None) -> str:
    import torch

    if device in (None, "auto"):
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    return str(device)


class TextClassifier:
    """A fine-tuned transformer classifier with its tokenizer; predicts P(toxic) for texts.

    Parameters
    ----------
    model : transformers PreTrainedModel
        A sequence classifier with 2 labels (from :func:`~ethicskit.sft.model.load_encoder`).
    tokenizer : transformers tokenizer
        Its tokenizer.
    max_length : int
        Texts are truncated to this many tokens.

    Attributes
    ----------
    history_ : list of dict
        One row per epoch of every training stage: stage, epoch, train_loss, val_loss, val_accuracy, seconds.
    stages_ : list of dict
        One summary per stage: name, epochs run, best epoch, tokens seen, seconds, energy report, FLOPs.
    seen_texts_ : numpy.ndarray of uint64
        Sorted 64-bit fingerprints of every text any stage trained on (not the texts themselves), so
        :meth:`training_overlap` can tell whether evaluation data leaked into training.
    """

    def __init__(self, model: Any, tokenizer: Any, *, max_length: int = 48):
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = check_int(max_length, "max_length", minimum=1)
        self.history_: list[dict] = []
        self.stages_: list[dict] = []
        self.seen_texts_ = np.empty(0, dtype=np.uint64)

    def remember_training_texts(self, texts: Sequence[str]) -> None:
        """Add the fingerprints of ``texts`` to :attr:`seen_texts_` (each training stage calls this)."""
        self.seen_texts_ = np.union1d(self.seen_texts_, text_fingerprints(texts))

    def training_overlap(self, texts: Sequence[str]) -> float:
        """Share of ``texts`` (after case and whitespace folding) that some training stage saw.

        Evaluate on data with an overlap of 0: a model scored on texts it trained on looks better than
        it is (test-set contamination).

        Examples
        --------
        >>> from ethicskit.sft.train import TextClassifier
        >>> clf = TextClassifier(model=None, tokenizer=None)
        >>> clf.remember_training_texts(["You are kind.", "Go away!"])
        >>> clf.training_overlap(["you are  KIND.", "Hello"])
        0.5
        """
        fingerprints = text_fingerprints(check_texts(texts))
        return float(np.isin(fingerprints, self.seen_texts_).mean())

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (truncated, special tokens added, no padding)."""
        return self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]

    @validate_params({"batch_size": _POSITIVE_INT})
    def predict_proba(self, texts: Sequence[str], *, batch_size: int = 128) -> np.ndarray:
        """Probability that each text is toxic, as a 1-d array (the model is put in eval mode).

        Parameters
        ----------
        texts : sequence of str
            Non-empty texts.
        batch_size : int
            Texts per forward pass (sorted by length, so padding stays small).
        """
        import torch

        texts = check_texts(texts)
        batch_size = int(batch_size)
        ids = self.encode(texts)
        order = np.argsort([len(x) for x in ids], kind="stable")
        device = next(self.model.parameters()).device
        pad_id = self.tokenizer.pad_token_id or 0
        scores = np.empty(len(texts), dtype=float)
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                input_ids, mask = _pad([ids[i] for i in batch], pad_id, None)
                logits = self.model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
                scores[batch] = torch.softmax(logits.float(), dim=-1)[:, 1].cpu().numpy()
        return scores

    @validate_params({"threshold": _UNIT})
    def predict(self, texts: Sequence[str], *, threshold: float = 0.5) -> np.ndarray:
        """0/1 predictions: 1 when P(toxic) >= ``threshold``."""
        return (self.predict_proba(texts) >= threshold).astype(int)

    def __repr__(self) -> str:
        from ethicskit.sft.model import count_parameters

        return (
            f"TextClassifier({type(self.model).__name__}, params={count_parameters(self.model):,}, "
            f"trainable={count_parameters(self.model, trainable_only=True):,}, stages={len(self.stages_)})"
        )


def _pad(sequences: list[list[int]], pad_id: int, pad_to: int | None):
    """Pad token-id lists to the longest one (or to ``pad_to``); return (input_ids, attention_mask)."""
    import torch

    width = pad_to or max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        seq = seq[:width]
        input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return input_ids, mask


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


def _check_weights(values: Any, name: str, n: int) -> np.ndarray | None:
    if values is None:
        return None
    array = check_no_nan(as_1d_array(values, name), name).astype(float)
    check_consistent_length(texts=range(n), **{name: array})
    if np.any(array < 0) or not np.any(array > 0):
        raise ValueError(f"{name} must be non-negative with at least one positive value")
    return array


def _use_accelerate(use_accelerate: bool | None) -> bool:
    if use_accelerate is None:
        launched = int(os.environ.get("WORLD_SIZE", "1")) > 1 or "ACCELERATE_MIXED_PRECISION" in os.environ
        if not launched:
            return False
        use_accelerate = True
    if use_accelerate:
        try:
            import accelerate  # noqa: F401
        except ImportError:
            raise ImportError(
                "use_accelerate=True needs the 'accelerate' package: pip install accelerate"
            ) from None
    return bool(use_accelerate)


@validate_params(
    {
        "soft_weight": _UNIT,
        "warmup_ratio": [Interval("real", 0, 1, closed="left")],
        "group_by_length": ["boolean"],
        "pad_to": [None, _POSITIVE_INT[0]],
        "seed": [Interval("integral", 0, None)],
        "num_threads": [None, _POSITIVE_INT[0]],
        "progress": [None, "boolean"],
        "track_energy": ["boolean"],
        "use_codecarbon": ["boolean"],
        "use_accelerate": [None, "boolean"],
    }
)
def train_stage(
    classifier: TextClassifier,
    texts: Sequence[str],
    labels: Any,
    *,
    val_texts: Sequence[str] | None = None,
    val_labels: Any = None,
    sample_weight: Any = None,
    soft_targets: Any = None,
    soft_weight: float = 0.5,
    epochs: int = 2,
    batch_size: int = 32,
    learning_rate: float = 5e-5,
    weight_decay: float = 0.01,
    warmup_ratio: float = 0.1,
    patience: int = 1,
    evals_per_epoch: int = 2,
    group_by_length: bool = True,
    pad_to: int | None = None,
    seed: int = 0,
    device: str | None = "auto",
    num_threads: int | None = None,
    progress: bool | None = None,
    track_energy: bool = False,
    country_iso_code: str = "USA",
    use_codecarbon: bool = True,
    use_accelerate: bool | None = None,
    name: str = "fine-tune",
) -> TextClassifier:
    """Run one training stage on ``classifier`` (in place) and return it.

    Parameters
    ----------
    classifier : TextClassifier
        The model to train further (only its parameters with ``requires_grad`` are updated).
    texts, labels : sequence of str, array-like of 0/1
        Training data.
    val_texts, val_labels : optional
        Validation split for early stopping: the weights with the lowest validation loss are kept.
    sample_weight : array-like, optional
        Per-example loss weights (e.g. from :func:`ethicskit.sft.mitigation.reweight`).
    soft_targets : array-like of P(toxic), optional
        A teacher's probabilities (distillation): the loss mixes cross-entropy on ``labels`` with
        cross-entropy on these soft targets, weighted by ``soft_weight``.
    epochs : int
        Maximum passes over the data.
    batch_size, learning_rate, weight_decay, warmup_ratio : training hyper-parameters (AdamW).
    patience : int
        Stop after this many validation checks without improvement.
    evals_per_epoch : int
        Validation checks per epoch (small data: check more than once an epoch).
    group_by_length : bool
        Put texts of similar length in the same batch (default). False: random batches.
    pad_to : int, optional
        Pad every batch to this length instead of dynamically (only to measure what padding costs).
    seed : int
        Seed for batch order, dropout and everything else random.
    device : str
        ``"auto"`` picks CUDA (or Apple MPS) when present, else CPU.
    num_threads : int, optional
        Torch CPU threads; default :func:`default_threads` (2 on a 2-core laptop).
    progress : bool, optional
        False hides the progress bar; otherwise it shows in an interactive session unless TQDM_DISABLE=1.
    track_energy : bool
        Measure energy and CO2 with :class:`ethicskit.sft.energy.EnergyMeter`.
    country_iso_code : str
        Country whose grid mix converts energy to CO2.
    use_codecarbon : bool
        Measure with codecarbon's offline tracker (default); False uses the documented TDP estimate.
    use_accelerate : bool, optional
        Use ``accelerate.Accelerator``; default: only when launched with ``accelerate launch``.
    name : str
        Stage name in ``classifier.stages_``.
    """
    import torch

    from ethicskit.sft.energy import EnergyMeter, training_flops
    from ethicskit.sft.model import count_parameters

    if not isinstance(classifier, TextClassifier):
        raise TypeError(f"classifier must be a TextClassifier, got {type(classifier).__name__}")
    texts = check_texts(texts)
    labels = check_binary(labels, "labels")
    check_consistent_length(texts=texts, labels=labels)
    weights = _check_weights(sample_weight, "sample_weight", len(texts))
    soft = None
    if soft_targets is not None:
        soft = check_no_nan(as_1d_array(soft_targets, "soft_targets"), "soft_targets").astype(float)
        check_consistent_length(texts=texts, soft_targets=soft)
        if np.any((soft < 0) | (soft > 1)):
            raise ValueError("soft_targets must be probabilities in [0, 1]")
    has_val = val_texts is not None or val_labels is not None
    if has_val:
        if val_texts is None or val_labels is None:
            raise ValueError("val_texts and val_labels must be given together")
        val_texts = check_texts(val_texts, "val_texts")
        val_labels = check_binary(val_labels, "val_labels")
        check_consistent_length(val_texts=val_texts, val_labels=val_labels)
    for arg, value in (
        ("epochs", epochs),
        ("batch_size", batch_size),
        ("patience", patience),
        ("evals_per_epoch", evals_per_epoch),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be a positive int, got {value!r}")
    check_positive(learning_rate, "learning_rate")
    check_positive(weight_decay, "weight_decay", allow_zero=True)

    threads = num_threads or default_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    meter = (
        EnergyMeter(country_iso_code=country_iso_code, threads=threads, use_codecarbon=use_codecarbon)
        if track_energy
        else None
    )
    if meter is not None:
        meter.__enter__()
    start = time.perf_counter()

    model = classifier.model
    dev = _pick_device(device)
    model.to(dev)
    ids = classifier.encode(texts)
    classifier.remember_training_texts(texts)
    lengths = [len(x) for x in ids]
    val_ids = classifier.encode(val_texts) if has_val else None
    pad_id = classifier.tokenizer.pad_token_id or 0
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("classifier has no trainable parameters (all frozen)")
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=learning_rate,
    )
    steps_per_epoch = math.ceil(len(texts) / batch_size)
    total_steps = steps_per_epoch * epochs
    warmup = max(1, int(warmup_ratio * total_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup))),
    )
    accelerator = None
    if _use_accelerate(use_accelerate):
        from accelerate import Accelerator

        accelerator = Accelerator()
        model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
        dev = accelerator.device

    eval_every = max(1, steps_per_epoch // evals_per_epoch)
    best = {"loss": math.inf, "state": None, "epoch": 0.0}
    checks_without_gain = 0
    tokens_seen = 0
    stopped = False
    show = progress is not False and (accelerator is None or accelerator.is_main_process)
    bar = progress_bar(total=total_steps, desc=name, enabled=show)
    step = 0
    for epoch in range(epochs):
        batches = length_grouped_batches(
            lengths, batch_size=batch_size, rng=rng, group_by_length=group_by_length
        )
        if accelerator is not None and accelerator.num_processes > 1:
            per_process = len(batches) // accelerator.num_processes  # equal step counts: no DDP hang
            batches = batches[accelerator.process_index :: accelerator.num_processes][:per_process]
        epoch_start, running, seen = time.perf_counter(), 0.0, 0
        for batch in batches:
            model.train()
            input_ids, mask = _pad([ids[i] for i in batch], pad_id, pad_to)
            tokens_seen += int(mask.sum()) if pad_to is None else int(mask.numel())
            logits = model(input_ids=input_ids.to(dev), attention_mask=mask.to(dev)).logits
            loss = _loss(logits, batch, labels, weights, soft, soft_weight, dev)
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss) if accelerator is not None else loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            running, seen, step = running + float(loss.detach()) * len(batch), seen + len(batch), step + 1
            bar.update(1)
            if has_val and (step % eval_every == 0 or step == total_steps):
                val_loss, val_acc = _validate(classifier, val_ids, val_labels, pad_id, dev)
                bar.set_postfix(val_loss=f"{val_loss:.3f}", val_acc=f"{val_acc:.3f}")
                if val_loss < best["loss"] - 1e-4:
                    best = {
                        "loss": val_loss,
                        "acc": val_acc,
                        "epoch": round(step / steps_per_epoch, 2),
                        "state": copy.deepcopy(_unwrap(model, accelerator).state_dict()),
                    }
                    checks_without_gain = 0
                else:
                    checks_without_gain += 1
                    if checks_without_gain >= patience:
                        stopped = True
                        break
        row = {
            "stage": name,
            "epoch": epoch + 1,
            "train_loss": running / max(seen, 1),
            "seconds": time.perf_counter() - epoch_start,
        }
        if has_val:
            row["val_loss"], row["val_accuracy"] = _validate(classifier, val_ids, val_labels, pad_id, dev)
        classifier.history_.append(row)
        if stopped:
            break
    bar.close()
    if best["state"] is not None:
        _unwrap(model, accelerator).load_state_dict(best["state"])
    classifier.model = _unwrap(model, accelerator)
    classifier.model.eval()
    seconds = time.perf_counter() - start
    if meter is not None:
        meter.__exit__(None, None, None)
    total = count_parameters(classifier.model)
    trainable = count_parameters(classifier.model, trainable_only=True)
    classifier.stages_.append(
        {
            "stage": name,
            "epochs_run": len(classifier.history_) - sum(r["stage"] != name for r in classifier.history_),
            "best_epoch": best["epoch"] if best["state"] is not None else None,
            "early_stopped": stopped,
            "examples": len(texts),
            "tokens": tokens_seen,
            "seconds": seconds,
            "total_params": total,
            "trainable_params": trainable,
            "train_flops": training_flops(total_params=total, trainable_params=trainable, tokens=tokens_seen),
            "energy": meter.report if meter is not None else None,
        }
    )
    return classifier


def _unwrap(model: Any, accelerator: Any) -> Any:
    return accelerator.unwrap_model(model) if accelerator is not None else model


def _loss(logits, batch, labels, weights, soft, soft_weight, device):
    import torch
    import torch.nn.functional as F

    target = torch.as_tensor(labels[batch], dtype=torch.long, device=device)
    per_example = F.cross_entropy(logits.float(), target, reduction="none")
    if soft is not None:
        p = torch.as_tensor(soft[batch], dtype=torch.float32, device=device)
        log_probs = F.log_softmax(logits.float(), dim=-1)
        soft_ce = -(p * log_probs[:, 1] + (1 - p) * log_probs[:, 0])
        per_example = (1 - soft_weight) * per_example + soft_weight * soft_ce
    if weights is None:
        return per_example.mean()
    w = torch.as_tensor(weights[batch], dtype=torch.float32, device=device)
    return (per_example * w).sum() / w.sum().clamp_min(1e-12)


def _validate(classifier, val_ids, val_labels, pad_id, device, batch_size: int = 256):
    import torch
    import torch.nn.functional as F

    model = classifier.model
    model.eval()
    losses, correct = 0.0, 0
    order = np.argsort([len(x) for x in val_ids], kind="stable")
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            input_ids, mask = _pad([val_ids[i] for i in batch], pad_id, None)
            logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits.float()
            target = torch.as_tensor(val_labels[batch], dtype=torch.long, device=device)
            losses += float(F.cross_entropy(logits, target, reduction="sum"))
            correct += int((logits.argmax(-1) == target).sum())
    return losses / len(val_ids), correct / len(val_ids)


def fine_tune(
    texts: Sequence[str],
    labels: Any,
    *,
    val_texts: Sequence[str] | None = None,
    val_labels: Any = None,
    model_dir: str | None = None,
    num_layers: int | None = None,
    train_top: int | None = None,
    train_word_embeddings: bool = False,
    max_length: int = 48,
    seed: int = 0,
    **stage_kwargs: Any,
) -> TextClassifier:
    """Fine-tune the pretrained encoder (all-MiniLM-L6-v2) as a toxicity classifier.

    Parameters
    ----------
    texts, labels : training comments and 0/1 labels.
    val_texts, val_labels : validation split for early stopping (recommended).
    model_dir : str, optional
        Model folder; default the installed all-MiniLM-L6-v2.
    num_layers : int, optional
        Keep only the first layers (a smaller model).
    train_top : int, optional
        Train only the top ``train_top`` transformer layers and the head (others frozen).
    train_word_embeddings : bool, default False
        Also train the 11.7 M-parameter vocabulary table. Off by default: on a few thousand comments it
        barely moves (most rows never occur), and updating it costs about a fifth of each CPU step.
        Every transformer layer, the position embeddings, the pooler and the head still train.
    max_length : int
        Truncate texts to this many tokens.
    seed : int
        Seed for the new head and for training.
    **stage_kwargs
        Passed to :func:`train_stage` (epochs, batch_size, learning_rate, weight_decay, sample_weight,
        track_energy, country_iso_code, progress, device...).

    Returns
    -------
    TextClassifier

    Examples
    --------
    >>> from ethicskit.datasets import load_moderation
    >>> from ethicskit.sft import fine_tune
    >>> train = load_moderation(split="train", n=200)
    >>> clf = fine_tune(train.data["text"], train.target, epochs=1)   # doctest: +SKIP
    >>> clf.predict_proba(["Have a nice day"])                         # doctest: +SKIP
    """
    from ethicskit.sft.model import freeze_lower_layers, load_encoder

    model, tokenizer = load_encoder(model_dir=model_dir, num_layers=num_layers, seed=seed)
    if train_top is not None:
        freeze_lower_layers(model, train_top=train_top)
    if not train_word_embeddings:
        model.base_model.embeddings.word_embeddings.weight.requires_grad = False
    classifier = TextClassifier(model, tokenizer, max_length=max_length)
    stage_kwargs.setdefault("name", "fine-tune" if train_top is None else f"fine-tune top {train_top}")
    return train_stage(
        classifier, texts, labels, val_texts=val_texts, val_labels=val_labels, seed=seed, **stage_kwargs
    )


@validate_params({"soft_weight": _UNIT, "num_layers": _POSITIVE_INT})
def distill(
    teacher: TextClassifier,
    texts: Sequence[str],
    labels: Any,
    *,
    num_layers: int = 2,
    soft_weight: float = 0.7,
    seed: int = 0,
    **stage_kwargs: Any,
) -> TextClassifier:
    """Train a smaller student (the first ``num_layers`` layers) on the teacher's soft predictions.

    The student learns from a mix of the true labels and the teacher's probabilities
    (``soft_weight``); it costs less energy at training *and* every prediction afterwards.
    """
    if not isinstance(teacher, TextClassifier):
        raise TypeError(f"teacher must be a TextClassifier, got {type(teacher).__name__}")
    soft = teacher.predict_proba(texts)
    stage_kwargs.setdefault("name", f"distil {num_layers} layers")
    stage_kwargs.setdefault("max_length", teacher.max_length)
    return fine_tune(
        texts,
        labels,
        num_layers=num_layers,
        seed=seed,
        soft_targets=soft,
        soft_weight=soft_weight,
        **stage_kwargs,
    )
