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

import contextlib
import copy
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ethicskit._deprecation import renamed
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
from ethicskit.sft.tokens import batched_logits, check_texts, length_grouped_batches

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

    ``OMP_NUM_THREADS`` caps the count: whoever runs several kernels side by side (the grader's jobs,
    ``make course``'s lessons) shares the cores out that way, and a kernel that sampled the cores in a
    quiet moment would otherwise take them all and make every other job wait.
    """
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        available = os.cpu_count() or 1
    available = max(1, min(available, 8, _thread_cap()))
    busy = _busy_cores()
    if busy is None:
        return available
    return max(1, min(available, int(available - busy + 0.5)))


def _thread_cap() -> int:
    """The ``OMP_NUM_THREADS`` of this process's environment (a positive integer), else no cap."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else 8


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


class TextClassifier(ClassifierMixin, BaseEstimator):
    """A fine-tuned transformer classifier with its tokenizer; predicts P(toxic) for texts.

    A scikit-learn estimator: ``__init__`` only stores its parameters, :meth:`fit` trains, fitted
    attributes end in ``_``, ``random_state`` seeds everything random, and ``sklearn.base.clone``,
    ``get_params``/``set_params``, ``score`` and pickling work. Two documented differences, both because
    the inputs are texts and the task is binary: ``X`` is a sequence of strings (not a 2-d array), and
    :meth:`predict_proba` returns the 1-d P(toxic), the score every ``ethicskit`` metric takes (column 1
    of scikit-learn's two-column form; ``np.column_stack([1 - p, p])`` gives that form).

    The network is the classifier's state, as a warm-started network's weights are: :meth:`fit` trains
    ``model`` in place when one is given (:func:`fine_tune` passes the loaded encoder), and a second
    :meth:`fit` or :func:`train_stage` call trains it further as one more stage. Without a ``model``,
    :meth:`fit` loads the pretrained all-MiniLM-L6-v2 according to ``model_dir``, ``num_layers``,
    ``train_top`` and ``train_word_embeddings``.

    Parameters
    ----------
    model : transformers PreTrainedModel, optional
        A sequence classifier with 2 labels (from :func:`~ethicskit.sft.model.load_encoder`).
    tokenizer : transformers tokenizer, optional
        Its tokenizer (required with ``model``).
    model_dir, num_layers, train_top, train_word_embeddings
        How :meth:`fit` loads the encoder when no ``model`` is given (see :func:`fine_tune`).
    max_length : int
        Texts are truncated to this many tokens.
    epochs, batch_size, learning_rate, weight_decay, warmup_ratio, patience
        The training hyper-parameters of :meth:`fit` (see :func:`train_stage`).
    random_state : int
        Seed for the new head, batch order and dropout.
    show_progress : bool
        Show a progress bar while fitting (interactive sessions only).

    Attributes
    ----------
    model_, tokenizer_ :
        The network and tokenizer in use (``model`` and ``tokenizer`` when given).
    classes_ : numpy.ndarray
        ``[0, 1]`` (1 = toxic).
    history_ : list of dict
        One row per epoch of every training stage: stage, epoch, train_loss, val_loss, val_accuracy, seconds.
    stages_ : list of dict
        One summary per stage: name, epochs run, best epoch, tokens seen, seconds, energy report, FLOPs.
    seen_texts_ : numpy.ndarray of uint64
        Sorted 64-bit fingerprints of every text any stage trained on (not the texts themselves), so
        :meth:`training_overlap` can tell whether evaluation data leaked into training.
    """

    def __init__(
        self,
        model: Any = None,
        tokenizer: Any = None,
        *,
        model_dir: str | None = None,
        num_layers: int | None = None,
        train_top: int | None = None,
        train_word_embeddings: bool = False,
        max_length: int = 48,
        epochs: int = 2,
        batch_size: int = 32,
        learning_rate: float = 5e-5,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        patience: int = 1,
        random_state: int = 0,
        show_progress: bool = True,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.model_dir = model_dir
        self.num_layers = num_layers
        self.train_top = train_top
        self.train_word_embeddings = train_word_embeddings
        self.max_length = max_length
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.patience = patience
        self.random_state = random_state
        self.show_progress = show_progress

    def _initialize(self) -> TextClassifier:
        """Set the network, tokenizer and empty records once (the given ones, else the pretrained encoder)."""
        if hasattr(self, "model_"):
            return self
        check_int(self.max_length, "max_length", minimum=1)
        if self.model is not None:
            if self.tokenizer is None:
                raise ValueError("TextClassifier(model=...) needs its tokenizer too: pass tokenizer=")
            model, tokenizer = self.model, self.tokenizer
        else:
            model, tokenizer = _load_network(
                self.model_dir, self.num_layers, self.train_top, self.train_word_embeddings, self.random_state
            )
        self.model_, self.tokenizer_ = model, tokenizer
        self.classes_ = np.array([0, 1])
        self.history_ = getattr(self, "history_", [])
        self.stages_ = getattr(self, "stages_", [])
        self.seen_texts_ = self._seen_texts()
        return self

    def _seen_texts(self) -> np.ndarray:
        """:attr:`seen_texts_`, empty before any stage (overlap can be asked before the network loads)."""
        return getattr(self, "seen_texts_", np.empty(0, dtype=np.uint64))

    def fit(
        self,
        X: Sequence[str],
        y: Any,
        *,
        val_texts: Sequence[str] | None = None,
        val_labels: Any = None,
        sample_weight: Any = None,
        **stage_kwargs: Any,
    ) -> TextClassifier:
        """Train on texts ``X`` with 0/1 labels ``y`` (one :func:`train_stage`) and return ``self``.

        Parameters
        ----------
        X : sequence of str
            Training texts.
        y : array-like of 0/1
            Their labels (1 = toxic).
        val_texts, val_labels : optional
            Validation split for early stopping (recommended).
        sample_weight : array-like, optional
            Per-example loss weights.
        **stage_kwargs
            Further :func:`train_stage` options (``track_energy``, ``evals_per_epoch``, ``device``,
            ``name``...); the hyper-parameters come from the estimator's own parameters.
        """
        given = sorted((_FIT_HYPER_PARAMETERS | {"random_state"}) & stage_kwargs.keys())
        if given:
            raise TypeError(
                f"fit() got {', '.join(given)}: these are the estimator's parameters; "
                f"set them with TextClassifier({given[0]}=...) or set_params({given[0]}=...)"
            )
        self._initialize()
        stage_kwargs.setdefault(
            "name", "fine-tune" if self.train_top is None else f"fine-tune top {self.train_top}"
        )
        hyper = {name: getattr(self, name) for name in _FIT_HYPER_PARAMETERS}
        return train_stage(
            self,
            X,
            y,
            val_texts=val_texts,
            val_labels=val_labels,
            sample_weight=sample_weight,
            random_state=self.random_state,
            **hyper,
            **stage_kwargs,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.non_deterministic = False
        return tags

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        """Plain text in notebooks too (scikit-learn's HTML diagram would print the whole network)."""
        return {"text/plain": repr(self)}

    def remember_training_texts(self, texts: Sequence[str]) -> None:
        """Add the fingerprints of ``texts`` to :attr:`seen_texts_` (each training stage calls this)."""
        self.seen_texts_ = np.union1d(self._seen_texts(), text_fingerprints(texts))

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
        return float(np.isin(fingerprints, self._seen_texts()).mean())

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (truncated, special tokens added, no padding)."""
        self._initialize()
        return self.tokenizer_(list(texts), truncation=True, max_length=self.max_length)["input_ids"]

    @validate_params({"batch_size": _POSITIVE_INT})
    def predict_proba(self, texts: Sequence[str], *, batch_size: int = 128) -> np.ndarray:
        """Probability that each text is toxic, as a 1-d array (the model is put in eval mode).

        Parameters
        ----------
        texts : sequence of str
            Non-empty texts.
        batch_size : int
            Texts per forward pass (sorted by length, so padding stays small). Where the lower layers
            are frozen, their output for each text is computed once and cached
            (:mod:`ethicskit.sft.frozen`).
        """
        import torch

        from ethicskit.sft.frozen import model_inputs

        check_is_fitted(self, "model_")
        inputs = model_inputs(self, check_texts(texts))
        device = next(self.model_.parameters()).device
        scores = np.empty(len(inputs), dtype=float)
        for batch, logits in batched_logits(inputs, self.model_, device, int(batch_size)):
            scores[batch] = torch.softmax(logits, dim=-1)[:, 1].cpu().numpy()
        return scores

    @validate_params({"threshold": _UNIT})
    def predict(self, texts: Sequence[str], *, threshold: float = 0.5) -> np.ndarray:
        """0/1 predictions: 1 when P(toxic) >= ``threshold``."""
        return (self.predict_proba(texts) >= threshold).astype(int)

    def __repr__(self) -> str:
        from ethicskit.sft.model import count_parameters

        model = getattr(self, "model_", self.model)
        if model is None:
            return (
                f"TextClassifier(not fitted, max_length={self.max_length}, random_state={self.random_state})"
            )
        return (
            f"TextClassifier({type(model).__name__}, params={count_parameters(model):,}, "
            f"trainable={count_parameters(model, trainable_only=True):,}, "
            f"stages={len(getattr(self, 'stages_', []))})"
        )


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


@dataclass(frozen=True)
class _StageData:
    """One stage's checked training data (validation split optional)."""

    texts: list[str]
    labels: np.ndarray
    weights: np.ndarray | None = None
    soft: np.ndarray | None = None
    val_texts: list[str] | None = None
    val_labels: np.ndarray | None = None

    @property
    def has_val(self) -> bool:
        return self.val_texts is not None


@dataclass(frozen=True)
class _StageConfig:
    """One stage's hyper-parameters (see :func:`train_stage`)."""

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    warmup_ratio: float
    patience: int
    evals_per_epoch: int
    group_by_length: bool
    pad_to: int | None
    soft_weight: float
    device: str | None
    progress: bool
    use_accelerate: bool | None
    name: str


def _stage_data(texts, labels, val_texts, val_labels, sample_weight, soft_targets) -> _StageData:
    """Check a stage's data and return it in the types the loop uses."""
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
    if val_texts is None and val_labels is None:
        return _StageData(texts, labels, weights, soft)
    if val_texts is None or val_labels is None:
        raise ValueError("val_texts and val_labels must be given together")
    val_texts = check_texts(val_texts, "val_texts")
    val_labels = check_binary(val_labels, "val_labels")
    check_consistent_length(val_texts=val_texts, val_labels=val_labels)
    return _StageData(texts, labels, weights, soft, val_texts, val_labels)


def _check_config(config: _StageConfig) -> None:
    for arg in ("epochs", "batch_size", "patience", "evals_per_epoch"):
        value = getattr(config, arg)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be a positive int, got {value!r}")
    check_positive(config.learning_rate, "learning_rate")
    check_positive(config.weight_decay, "weight_decay", allow_zero=True)


def _optimizer(model: Any, config: _StageConfig, total_steps: int):
    """AdamW (no decay on biases and norms) and a linear schedule with warm-up."""
    import torch

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("classifier has no trainable parameters (all frozen)")
    groups = [
        {"params": [p for _, p in named if p.ndim > 1], "weight_decay": config.weight_decay},
        {"params": [p for _, p in named if p.ndim <= 1], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate)
    warmup = max(1, int(config.warmup_ratio * total_steps))

    def factor(step: int) -> float:
        return min((step + 1) / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup)))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class _EarlyStopping:
    """Keeps the weights with the lowest validation loss; says when ``patience`` checks brought no gain."""

    def __init__(self, patience: int):
        self.patience = patience
        self.loss, self.state, self.epoch, self.misses = math.inf, None, 0.0, 0

    def update(self, loss: float, epoch: float, model: Any) -> bool:
        """Record one validation check; True when training should stop."""
        if loss < self.loss - 1e-4:
            self.loss, self.epoch, self.misses = loss, epoch, 0
            self.state = copy.deepcopy(model.state_dict())
            return False
        self.misses += 1
        return self.misses >= self.patience


class _Loop:
    """The training loop of one stage: batches, steps, validation checks and early stopping."""

    def __init__(self, classifier: TextClassifier, data: _StageData, config: _StageConfig, seed: int):
        from ethicskit.sft.frozen import model_inputs

        self.classifier, self.data, self.config = classifier, data, config
        self.rng = np.random.default_rng(seed)
        self.model = classifier.model_
        self.device = _pick_device(config.device)
        self.model.to(self.device)
        accelerate = _use_accelerate(config.use_accelerate)
        self.inputs = model_inputs(classifier, data.texts, pad_to=config.pad_to, cache=not accelerate)
        self.val_inputs = (
            model_inputs(classifier, data.val_texts, cache=not accelerate) if data.has_val else None
        )
        self.steps_per_epoch = math.ceil(len(data.texts) / config.batch_size)
        self.total_steps = self.steps_per_epoch * config.epochs
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer, self.scheduler = _optimizer(self.model, config, self.total_steps)
        self.accelerator = self._prepare_accelerator() if accelerate else None
        self.eval_every = max(1, self.steps_per_epoch // config.evals_per_epoch)
        self.best = _EarlyStopping(config.patience)
        self.step = self.tokens = 0
        self.stopped = False

    def _prepare_accelerator(self) -> Any:
        from accelerate import Accelerator

        accelerator = Accelerator()
        self.model, self.optimizer, self.scheduler = accelerator.prepare(
            self.model, self.optimizer, self.scheduler
        )
        self.device = accelerator.device
        return accelerator

    @property
    def unwrapped(self) -> Any:
        return self.accelerator.unwrap_model(self.model) if self.accelerator is not None else self.model

    def run(self) -> None:
        """All epochs (or until early stopping), then the best weights back in the classifier."""
        main = self.accelerator is None or self.accelerator.is_main_process
        bar = progress_bar(
            total=self.total_steps, desc=self.config.name, enabled=bool(self.config.progress) and main
        )
        try:
            for epoch in range(self.config.epochs):
                self._epoch(epoch, bar)
                if self.stopped:
                    break
        finally:
            bar.close()
        if self.best.state is not None:
            self.unwrapped.load_state_dict(self.best.state)
        self.classifier.model_ = self.unwrapped
        self.classifier.model_.eval()

    def _batches(self) -> list[np.ndarray]:
        batches = length_grouped_batches(
            self.inputs.lengths,
            batch_size=self.config.batch_size,
            rng=self.rng,
            group_by_length=self.config.group_by_length,
        )
        acc = self.accelerator
        if acc is not None and acc.num_processes > 1:
            per_process = len(batches) // acc.num_processes  # equal step counts: no DDP hang
            batches = batches[acc.process_index :: acc.num_processes][:per_process]
        return batches

    def _epoch(self, epoch: int, bar: Any) -> None:
        started, running, seen = time.perf_counter(), 0.0, 0
        for batch in self._batches():
            running += self._step(batch) * len(batch)
            seen += len(batch)
            bar.update(1)
            if self.data.has_val and (self.step % self.eval_every == 0 or self.step == self.total_steps):
                val_loss, val_acc = self._validate()
                bar.set_postfix(val_loss=f"{val_loss:.3f}", val_acc=f"{val_acc:.3f}")
                if self.best.update(val_loss, round(self.step / self.steps_per_epoch, 2), self.unwrapped):
                    self.stopped = True
                    break
        row = {
            "stage": self.config.name,
            "epoch": epoch + 1,
            "train_loss": running / max(seen, 1),
            "seconds": time.perf_counter() - started,
        }
        if self.data.has_val:
            row["val_loss"], row["val_accuracy"] = self._validate()
        self.classifier.history_.append(row)

    def _step(self, batch: np.ndarray) -> float:
        """One optimiser step on ``batch``; returns its loss."""
        import torch

        self.model.train()
        self.tokens += self.inputs.tokens(batch)
        logits = self.inputs.logits(self.model, batch, self.device)
        loss = _loss(logits, batch, self.data, self.config.soft_weight, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        if self.accelerator is not None:
            self.accelerator.backward(loss)
        else:
            loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        return float(loss.detach())

    def _validate(self, batch_size: int = 256) -> tuple[float, float]:
        """Mean cross-entropy and accuracy on the validation split (the model is left in eval mode)."""
        import torch
        import torch.nn.functional as F

        labels = self.data.val_labels
        loss, correct = 0.0, 0
        for batch, logits in batched_logits(self.val_inputs, self.classifier.model_, self.device, batch_size):
            target = torch.as_tensor(labels[batch], dtype=torch.long, device=self.device)
            loss += float(F.cross_entropy(logits, target, reduction="sum"))
            correct += int((logits.argmax(-1) == target).sum())
        return loss / len(labels), correct / len(labels)


def _loss(logits: Any, batch: np.ndarray, data: _StageData, soft_weight: float, device: Any) -> Any:
    """Cross-entropy of a batch, mixed with the soft targets' and weighted by sample weights if given."""
    import torch
    import torch.nn.functional as F

    target = torch.as_tensor(data.labels[batch], dtype=torch.long, device=device)
    per_example = F.cross_entropy(logits.float(), target, reduction="none")
    if data.soft is not None:
        p = torch.as_tensor(data.soft[batch], dtype=torch.float32, device=device)
        log_probs = F.log_softmax(logits.float(), dim=-1)
        soft_ce = -(p * log_probs[:, 1] + (1 - p) * log_probs[:, 0])
        per_example = (1 - soft_weight) * per_example + soft_weight * soft_ce
    if data.weights is None:
        return per_example.mean()
    w = torch.as_tensor(data.weights[batch], dtype=torch.float32, device=device)
    return (per_example * w).sum() / w.sum().clamp_min(1e-12)


def _record_stage(classifier: TextClassifier, loop: _Loop, seconds: float, energy: Any) -> None:
    """Append the stage's summary (epochs, best epoch, tokens, FLOPs, energy) to ``classifier.stages_``."""
    from ethicskit.sft.energy import training_flops
    from ethicskit.sft.model import count_parameters

    name = loop.config.name
    total = count_parameters(classifier.model_)
    trainable = count_parameters(classifier.model_, trainable_only=True)
    flops = training_flops(total_params=total, trainable_params=trainable, tokens=loop.tokens)
    prefix_tokens = getattr(loop.inputs, "prefix_tokens", None)
    if prefix_tokens is not None:  # cached: the frozen part ran once per distinct text, not every step
        flops = training_flops(total_params=trainable, trainable_params=trainable, tokens=loop.tokens)
        flops += 2.0 * (total - trainable) * prefix_tokens
    classifier.stages_.append(
        {
            "stage": name,
            "epochs_run": sum(r["stage"] == name for r in classifier.history_),
            "best_epoch": loop.best.epoch if loop.best.state is not None else None,
            "early_stopped": loop.stopped,
            "examples": len(loop.data.texts),
            "tokens": loop.tokens,
            "seconds": seconds,
            "total_params": total,
            "trainable_params": trainable,
            "train_flops": flops,
            "energy": energy,
        }
    )


@renamed(seed="random_state", progress="show_progress")
@validate_params(
    {
        "soft_weight": _UNIT,
        "warmup_ratio": [Interval("real", 0, 1, closed="left")],
        "group_by_length": ["boolean"],
        "pad_to": [None, _POSITIVE_INT[0]],
        "random_state": [Interval("integral", 0, None)],
        "num_threads": [None, _POSITIVE_INT[0]],
        "show_progress": ["boolean"],
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
    random_state: int = 0,
    device: str | None = "auto",
    num_threads: int | None = None,
    show_progress: bool = True,
    track_energy: bool = False,
    country_iso_code: str = "USA",
    use_codecarbon: bool = True,
    use_accelerate: bool | None = None,
    name: str = "fine-tune",
) -> TextClassifier:
    """Run one training stage on ``classifier`` (in place) and return it.

    Where the embeddings and lower layers are frozen (``fine_tune(train_top=...)``), their output for
    each text is computed once, cached and reused by every epoch, validation check and later prediction
    (:mod:`ethicskit.sft.frozen`); only the trainable top runs per step.

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
    soft_weight : float
        Share of the soft targets' cross-entropy in the loss.
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
    random_state : int
        Seed for batch order, dropout and everything else random.
    device : str
        ``"auto"`` picks CUDA (or Apple MPS) when present, else CPU.
    num_threads : int, optional
        Torch CPU threads; default :func:`default_threads` (2 on a 2-core laptop).
    show_progress : bool
        Show a progress bar (only in an interactive session, and never with TQDM_DISABLE=1).
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

    Returns
    -------
    TextClassifier
        ``classifier``, trained, with one more row in ``stages_`` and one per epoch in ``history_``.
    """
    import torch

    from ethicskit.sft.energy import EnergyMeter

    if not isinstance(classifier, TextClassifier):
        raise TypeError(f"classifier must be a TextClassifier, got {type(classifier).__name__}")
    classifier._initialize()
    data = _stage_data(texts, labels, val_texts, val_labels, sample_weight, soft_targets)
    config = _StageConfig(
        epochs, batch_size, learning_rate, weight_decay, warmup_ratio, patience, evals_per_epoch,
        group_by_length, pad_to, soft_weight, device, show_progress, use_accelerate, name,
    )  # fmt: skip
    _check_config(config)
    threads = num_threads or default_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(random_state)
    meter = (
        EnergyMeter(country_iso_code=country_iso_code, threads=threads, use_codecarbon=use_codecarbon)
        if track_energy
        else contextlib.nullcontext()
    )
    with meter:  # a failing stage still stops the energy tracker
        start = time.perf_counter()
        loop = _Loop(classifier, data, config, random_state)
        classifier.remember_training_texts(data.texts)
        loop.run()
        seconds = time.perf_counter() - start
    _record_stage(classifier, loop, seconds, meter.report if track_energy else None)
    return classifier


@renamed(seed="random_state", progress="show_progress")
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
    random_state: int = 0,
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
    random_state : int
        Seed for the new head and for training.
    **stage_kwargs
        Passed to :func:`train_stage` (epochs, batch_size, learning_rate, weight_decay, sample_weight,
        track_energy, country_iso_code, show_progress, device...).

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
    # the loaded network goes in as the `model` parameter, so `clf.model` is the trained network (lessons,
    # labs and learners' notebooks read it), as well as `clf.model_`
    model, tokenizer = _load_network(model_dir, num_layers, train_top, train_word_embeddings, random_state)
    hyper = {k: stage_kwargs.pop(k) for k in _FIT_HYPER_PARAMETERS & stage_kwargs.keys()}
    classifier = TextClassifier(
        model, tokenizer, train_top=train_top, max_length=max_length, random_state=random_state, **hyper
    )
    return classifier.fit(texts, labels, val_texts=val_texts, val_labels=val_labels, **stage_kwargs)


_FIT_HYPER_PARAMETERS = {
    "epochs", "batch_size", "learning_rate", "weight_decay", "warmup_ratio", "patience", "show_progress",
}  # fmt: skip


def _load_network(
    model_dir: str | None,
    num_layers: int | None,
    train_top: int | None,
    train_word_embeddings: bool,
    random_state: int,
) -> tuple[Any, Any]:
    """The pretrained encoder with a new 2-label head, its lower layers frozen as asked."""
    from ethicskit.sft.model import freeze_lower_layers, load_encoder

    model, tokenizer = load_encoder(model_dir=model_dir, num_layers=num_layers, random_state=random_state)
    if train_top is not None:
        freeze_lower_layers(model, train_top=train_top)
    if not train_word_embeddings:
        model.base_model.embeddings.word_embeddings.weight.requires_grad = False
    return model, tokenizer


@renamed(seed="random_state")
@validate_params({"soft_weight": _UNIT, "num_layers": _POSITIVE_INT})
def distill(
    teacher: TextClassifier,
    texts: Sequence[str],
    labels: Any,
    *,
    num_layers: int = 2,
    soft_weight: float = 0.7,
    random_state: int = 0,
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
        random_state=random_state,
        soft_targets=soft,
        soft_weight=soft_weight,
        **stage_kwargs,
    )
