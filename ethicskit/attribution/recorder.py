"""Record a multi-stage SGD/AdamW training run so that any stage can be replayed exactly.

A :class:`Stage` describes one training stage (its data, epochs, batch size, learning-rate schedule,
momentum and weight decay). :func:`record_training` trains a PyTorch module through the stages with
``torch.optim.SGD`` or ``torch.optim.AdamW`` and returns a :class:`TrainingRecord`: a checkpoint of the
parameters and of the optimiser state at every stage boundary, and for every step its learning rate,
momentum, weight decay and the indices of the minibatch. :func:`replay_stage` re-runs one stage from any
starting point with the recorded batch order and schedule; from the recorded checkpoint it reproduces the
run bit for bit.

Parameters are handled as one flat vector (``torch.nn.utils.parameters_to_vector`` order), which is what
the estimators in :mod:`ethicskit.attribution.estimators` propagate.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ethicskit._validation import (
    check_consistent_length,
    check_finite,
    check_in_choices,
    check_positive,
    check_positive_int,
    check_probability,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Stage", "StepRecord", "TrainingRecord", "record_training", "replay_stage", "batch_loss",
           "take_rows", "n_rows"]

LOSSES = ("cross_entropy", "mse")


def _writable_array(values: Any) -> np.ndarray:
    """A writable numpy copy of array-like ``values`` (tensors included)."""
    if hasattr(values, "detach"):  # a torch tensor
        return values.detach().cpu().numpy().copy()
    return np.array(values)


def _input_tensor(values: Any, name: str, *, integer: bool | None = None) -> Any:
    """One input array as a tensor: int64 for integer data (token ids, masks), float32 otherwise.

    ``integer=None`` decides by the array's dtype; True/False forces it.
    """
    import torch

    array = _writable_array(values)
    if integer is None:
        integer = array.dtype.kind in "iub"
    tensor = torch.as_tensor(array, dtype=torch.long if integer else torch.float32)
    if tensor.ndim < 1 or len(tensor) == 0:
        raise ValueError(f"{name} must have one row per example, got shape {tuple(tensor.shape)}")
    if not integer:
        check_finite(tensor.numpy(), name)
    return tensor


def take_rows(X: Any, idx: Any) -> Any:
    """Rows ``idx`` of stage inputs: a tensor, or a dict of tensors indexed alike (token ids and masks)."""
    if isinstance(X, Mapping):
        return {key: value[idx] for key, value in X.items()}
    return X[idx]


def n_rows(X: Any) -> int:
    """Number of examples in stage inputs (a tensor, or a dict of tensors with one row per example)."""
    if isinstance(X, Mapping):
        return len(next(iter(X.values())))
    return len(X)


@dataclass
class Stage:
    """One training stage.

    Parameters
    ----------
    name : str
        Shown in tables and plots ("pretraining", "fine-tuning", ...).
    X : array-like of shape (n_samples, n_features), or dict of array-like
        Inputs of the stage's training data, converted to float32 (any rank with one row per example:
        tables, images). A dict (e.g. ``{"input_ids": ..., "attention_mask": ...}`` or cached hidden
        states with their mask) is kept as a dict of tensors, each with one row per example: integer
        arrays stay int64, others become float32; the model is called as ``model(X)`` with the dict.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets: class indices for ``loss="cross_entropy"``, real values for ``loss="mse"``.
    sample_weight : array-like of shape (n_samples,), optional
        Per-example weights; a minibatch loss is the weighted mean of its examples' losses divided by the
        mean weight of the whole stage data (so uniform weights give the plain mean).
    epochs : int
        Passes over the data; each epoch draws a fresh random order.
    batch_size : int
        Minibatch size (the last batch of an epoch may be smaller).
    lr : float, sequence of float or callable
        Learning rate: a constant, one value per step of the stage, or ``lr(step) -> float``.
    momentum : float
        SGD (heavy-ball) momentum in [0, 1) (ignored by AdamW).
    weight_decay : float
        SGD: L2 weight decay added to the gradient, as ``torch.optim.SGD`` does. AdamW: decoupled
        weight decay (the parameters shrink by ``lr * weight_decay`` each step).
    optimizer : {"sgd", "adamw"}
        ``torch.optim.SGD`` (default) or ``torch.optim.AdamW``. Its state resets at the stage start unless
        :func:`record_training` is told to carry it across stages.
    betas : tuple of float
        AdamW's ``(beta1, beta2)``.
    eps : float
        AdamW's ``eps``.
    token_ids : bool
        ``X`` (an array) holds integer token ids: kept as int64 instead of converted to float32.
    """

    name: str
    X: Any
    y: Any
    sample_weight: Any = None
    epochs: int = 1
    batch_size: int = 32
    lr: float | Sequence[float] | Callable[[int], float] = 0.1
    momentum: float = 0.0
    weight_decay: float = 0.0
    optimizer: str = "sgd"
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    token_ids: bool = False

    def __post_init__(self) -> None:
        import torch

        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty string, got {self.name!r}")
        if isinstance(self.X, Mapping):
            self._dict_inputs()
        elif self.token_ids:
            self.X = _input_tensor(self.X, f"X of stage {self.name!r}", integer=True)
            if self.X.ndim < 2:
                raise ValueError(f"token ids of stage {self.name!r} must be 2-d (n_samples, n_tokens), "
                                 f"got shape {tuple(self.X.shape)}")
        else:
            # copies: pandas 3 hands out read-only views, which torch warns about
            self.X = torch.as_tensor(_writable_array(self.X), dtype=torch.float32)
            if self.X.ndim < 2:  # (n, features) tables, (n, channels, height, width) images
                raise ValueError(f"X of stage {self.name!r} must have one row per example (2-d or more, "
                                 f"e.g. (n_samples, n_features)), got shape {tuple(self.X.shape)}")
            if len(self.X) == 0:
                raise ValueError(f"X of stage {self.name!r} is empty; a stage needs at least one example")
            # one NaN or inf in the data makes every parameter NaN after the first step, silently
            check_finite(self.X.numpy(), f"X of stage {self.name!r}")
        y = _writable_array(self.y)
        self.y = torch.as_tensor(y, dtype=torch.long if y.dtype.kind in "iub" else torch.float32)
        check_finite(self.y.numpy(), f"y of stage {self.name!r}")
        n = n_rows(self.X)
        if self.sample_weight is not None:
            w = np.asarray(self.sample_weight, dtype=float)
            check_consistent_length(X=range(n), sample_weight=w)
            if np.any(~np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
                raise ValueError(f"sample_weight of stage {self.name!r} must be finite, >= 0 and not all 0")
            self.sample_weight = torch.as_tensor(w / w.mean(), dtype=torch.float32)
        check_consistent_length(X=range(n), y=self.y)
        check_positive_int(self.epochs, f"epochs of stage {self.name!r}")
        check_positive_int(self.batch_size, f"batch_size of stage {self.name!r}")
        check_probability(self.momentum, f"momentum of stage {self.name!r}")
        if self.momentum >= 1:
            raise ValueError(f"momentum of stage {self.name!r} must be < 1, got {self.momentum}")
        check_positive(self.weight_decay, f"weight_decay of stage {self.name!r}", allow_zero=True)
        check_in_choices(self.optimizer, ("sgd", "adamw"), f"optimizer of stage {self.name!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas of stage {self.name!r} must be two numbers in [0, 1), "
                             f"got {self.betas!r}")
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        check_positive(self.eps, f"eps of stage {self.name!r}")
        if isinstance(self.lr, (int, float, np.number)):
            check_positive(self.lr, f"lr of stage {self.name!r}", allow_zero=True)

    def _dict_inputs(self) -> None:
        """Dict inputs: one tensor per key, integer arrays kept as int64, all with the same rows."""
        if not self.X:
            raise ValueError(f"X of stage {self.name!r} is an empty dict; it needs at least one input array")
        if not all(isinstance(key, str) for key in self.X):
            raise TypeError(f"the keys of X of stage {self.name!r} must be strings, got {list(self.X)}")
        self.X = {key: _input_tensor(value, f"X[{key!r}] of stage {self.name!r}")
                  for key, value in self.X.items()}
        check_consistent_length(**{f"X[{key!r}]": value for key, value in self.X.items()})

    @property
    def n_steps(self) -> int:
        """Number of optimiser steps the stage takes."""
        per_epoch = -(-n_rows(self.X) // self.batch_size)
        return self.epochs * per_epoch

    def lr_at(self, step: int) -> float:
        """Learning rate of step ``step`` (0-based, within the stage)."""
        if callable(self.lr):
            value = self.lr(step)
        elif isinstance(self.lr, (int, float)):
            value = self.lr
        else:
            if len(self.lr) != self.n_steps:
                raise ValueError(f"lr of stage {self.name!r} has {len(self.lr)} values; the stage takes "
                                 f"{self.n_steps} steps")
            value = self.lr[step]
        return check_positive(float(value), f"lr of stage {self.name!r} at step {step}", allow_zero=True)


@dataclass
class StepRecord:
    """What one optimiser step used: its learning rate, momentum, weight decay and minibatch indices.

    AdamW steps also record ``optimizer="adamw"``, ``betas``, ``eps`` and ``count`` (the step number
    within the stage, from 1, used for AdamW's bias correction).
    """

    lr: float
    momentum: float
    weight_decay: float
    batch: np.ndarray
    optimizer: str = "sgd"
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    count: int = 0


@dataclass
class TrainingRecord:
    """Everything needed to replay a multi-stage run.

    Attributes
    ----------
    model : torch.nn.Module
        The trained model (final parameters loaded).
    stages : list of Stage
    loss : str or callable
        ``"cross_entropy"``, ``"mse"`` or ``loss(outputs, targets) -> per-example losses``.
    carry_optimizer_state : bool
        Whether the optimiser state carries from one stage into the next (True) or is reset (False).
    checkpoints : list of torch.Tensor
        ``len(stages) + 1`` flat parameter vectors: ``checkpoints[k]`` is where stage ``k`` starts,
        ``checkpoints[-1]`` the final parameters.
    buffers : list of torch.Tensor, dict or None
        The optimiser state at the same boundaries (``None`` where none exists yet or it resets): SGD's
        flat momentum buffer, or for AdamW a dict with the flat moments ``exp_avg`` and ``exp_avg_sq``
        and the step count ``step``.
    steps : list of list of StepRecord
        ``steps[k][t]`` is step ``t`` of stage ``k``.
    """

    model: Any
    stages: list[Stage]
    loss: Any
    carry_optimizer_state: bool
    checkpoints: list[Any] = field(default_factory=list)
    buffers: list[Any] = field(default_factory=list)
    steps: list[list[StepRecord]] = field(default_factory=list)

    @property
    def n_stages(self) -> int:
        """Number of stages."""
        return len(self.stages)

    @property
    def stage_names(self) -> list[str]:
        """Names of the stages, in order."""
        return [s.name for s in self.stages]

    @property
    def final_params(self) -> torch.Tensor:
        """Flat parameter vector at the end of training."""
        return self.checkpoints[-1]

    def stage_index(self, stage: int | str) -> int:
        """Index of ``stage`` given by position or by name."""
        if isinstance(stage, str):
            if stage not in self.stage_names:
                raise ValueError(f"unknown stage {stage!r}; expected one of {self.stage_names}")
            return self.stage_names.index(stage)
        is_int = isinstance(stage, (int, np.integer)) and not isinstance(stage, bool)
        if not is_int or not 0 <= stage < self.n_stages:
            raise ValueError(f"stage must be a stage name or an index in [0, {self.n_stages}), got {stage!r}")
        return int(stage)

    def model_at(self, params: torch.Tensor) -> Any:
        """A copy of the model holding the flat parameter vector ``params``."""
        import torch

        model = copy.deepcopy(self.model)
        torch.nn.utils.vector_to_parameters(params.detach().clone(), model.parameters())
        return model


def batch_loss(model: Any, X: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None, loss: Any,
               params: dict | None = None) -> torch.Tensor:
    """Weighted mean loss of a minibatch (optionally with functional ``params``)."""
    import torch
    import torch.nn.functional as F

    out = model(X) if params is None else torch.func.functional_call(model, params, (X,))
    if callable(loss):
        per = loss(out, y)
    elif loss == "cross_entropy":
        per = F.cross_entropy(out, y, reduction="none")
    else:
        per = ((out.reshape(y.shape[0], -1) - y.reshape(y.shape[0], -1)) ** 2).sum(dim=1)
    return per.mean() if weight is None else (per * weight).mean()


def _flat(model: Any) -> torch.Tensor:
    import torch

    return torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()


def _buffer_of(optimizer: Any, model: Any) -> torch.Tensor | None:
    import torch

    bufs = [optimizer.state.get(p, {}).get("momentum_buffer") for p in model.parameters()]
    if any(b is None for b in bufs):
        return None
    return torch.cat([b.reshape(-1) for b in bufs]).detach().clone()


def _per_parameter(model: Any, flat: torch.Tensor):
    """Split a flat vector into one tensor per parameter of ``model`` (its shape, a copy): (p, piece)."""
    offset = 0
    for p in model.parameters():
        n = p.numel()
        yield p, flat[offset:offset + n].reshape(p.shape).clone()
        offset += n


def _set_buffer(optimizer: Any, model: Any, buffer: torch.Tensor | None) -> None:
    optimizer.state.clear()
    if buffer is None:
        return
    for p, piece in _per_parameter(model, buffer):
        optimizer.state[p]["momentum_buffer"] = piece


ADAM_KEYS = ("exp_avg", "exp_avg_sq")


def _adam_state_of(optimizer: Any, model: Any) -> dict | None:
    """AdamW's state as flat moments and its step count, or None before the first step."""
    import torch

    states = [optimizer.state.get(p, {}) for p in model.parameters()]
    if any("step" not in state for state in states):
        return None
    moments = {key: torch.cat([state[key].reshape(-1) for state in states]).detach().clone()
               for key in ADAM_KEYS}
    # one optimiser steps every parameter together, so all counts agree
    return {**moments, "step": int(states[0]["step"])}


def _set_adam_state(optimizer: Any, model: Any, state: dict | None) -> None:
    """Load a state from :func:`_adam_state_of` (None: fresh); the next step continues it bit for bit."""
    import torch

    optimizer.state.clear()
    if state is None:
        return
    for key in ADAM_KEYS:
        for p, piece in _per_parameter(model, state[key]):
            optimizer.state[p][key] = piece
    for p in model.parameters():
        # torch keeps the count as a float32 tensor; the same value reproduces its bias correction exactly
        optimizer.state[p]["step"] = torch.tensor(float(state["step"]), dtype=torch.float32)


def _run_steps(model: Any, stage: Stage, steps: list[StepRecord], loss: Any, buffer: Any,
               callback: Callable[[int, StepRecord], None] | None = None) -> Any:
    """Take the recorded ``steps`` of ``stage`` on ``model`` in place; return the final optimiser state.

    ``buffer`` is the starting state: SGD's flat momentum buffer, or AdamW's state dict (moments and step
    count, :func:`_adam_state_of`); None starts a fresh optimiser. The returned state has the same form.
    """
    import torch

    first = steps[0] if steps else None
    if stage.optimizer == "adamw":
        optimizer = torch.optim.AdamW(model.parameters(), lr=first.lr if first else 0.0, betas=stage.betas,
                                      eps=stage.eps, weight_decay=first.weight_decay if first else 0.0,
                                      foreach=False)
        _set_adam_state(optimizer, model, buffer)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=first.lr if first else 0.0,
                                    momentum=first.momentum if first else 0.0,
                                    weight_decay=first.weight_decay if first else 0.0, foreach=False)
        _set_buffer(optimizer, model, buffer)
    for t, step in enumerate(steps):
        if callback is not None:
            callback(t, step)
        group = optimizer.param_groups[0]
        group["lr"], group["weight_decay"] = step.lr, step.weight_decay
        if stage.optimizer == "sgd":
            group["momentum"] = step.momentum
        idx = torch.as_tensor(step.batch)
        weight = None if stage.sample_weight is None else stage.sample_weight[idx]
        optimizer.zero_grad(set_to_none=True)
        batch_loss(model, take_rows(stage.X, idx), stage.y[idx], weight, loss).backward()
        optimizer.step()
    if stage.optimizer == "adamw":
        end = _adam_state_of(optimizer, model)
        return buffer if end is None else end  # a stage without steps leaves the state as it was
    return _buffer_of(optimizer, model)


def _plan_steps(stage: Stage, rng: np.random.Generator) -> list[StepRecord]:
    steps = []
    n = n_rows(stage.X)
    for _ in range(stage.epochs):
        order = rng.permutation(n)
        for start in range(0, n, stage.batch_size):
            steps.append(StepRecord(lr=0.0, momentum=stage.momentum if stage.optimizer == "sgd" else 0.0,
                                    weight_decay=stage.weight_decay,
                                    batch=order[start:start + stage.batch_size],
                                    optimizer=stage.optimizer, betas=stage.betas, eps=stage.eps))
    for t, step in enumerate(steps):
        step.lr = stage.lr_at(t)
        step.count = t + 1
    return steps


def _check_class_targets(model: Any, stage: Stage) -> None:
    """Cross-entropy needs integer class indices below the model's number of outputs."""
    import torch

    if stage.y.dtype != torch.long or stage.y.ndim != 1:
        raise ValueError(
            f"y of stage {stage.name!r} must be a 1-d array of integer class indices for "
            f"loss='cross_entropy', got dtype {stage.y.dtype} and shape {tuple(stage.y.shape)} "
            "(use loss='mse' for real-valued targets)"
        )
    with torch.no_grad():
        n_outputs = model(take_rows(stage.X, slice(0, 1))).shape[-1]
    found = sorted(set(stage.y.tolist()))
    if found[0] < 0 or found[-1] >= n_outputs:
        raise ValueError(
            f"y of stage {stage.name!r} holds classes {found[:5]}, but the model has {n_outputs} outputs "
            f"(classes 0..{n_outputs - 1})"
        )


def record_training(model: Any, stages: Sequence[Stage], *, loss: Any = "cross_entropy",
                    carry_optimizer_state: bool = False, random_state: int = 0) -> TrainingRecord:
    """Train ``model`` through ``stages`` (SGD or AdamW per stage) and record everything needed to replay it.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place (deterministic layers only: no dropout or batch-norm statistics).
    stages : sequence of Stage
        The stages, in training order.
    loss : {"cross_entropy", "mse"} or callable
        Per-example loss; the minibatch loss is its (weighted) mean. A callable takes
        ``(outputs, targets)`` and returns one loss per example.
    carry_optimizer_state : bool
        False (default): every stage starts a fresh optimiser, so its state (SGD's momentum buffer,
        AdamW's moments and step count) resets at each boundary, as when separate fine-tuning runs are
        chained. True: one optimiser runs through all stages (which must then all use the same
        optimizer) and its state carries across boundaries; it is recorded at every boundary
        (``record.buffers``) so that replay stays bit for bit.
    random_state : int
        Seeds the batch order of every stage.

    Returns
    -------
    TrainingRecord

    Examples
    --------
    >>> import torch
    >>> from ethicskit.attribution import Stage, record_training
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> X = torch.randn(40, 3); y = (X[:, 0] > 0).long()
    >>> rec = record_training(torch.nn.Linear(3, 2), [Stage("a", X, y, lr=0.5), Stage("b", X, y, lr=0.1)])
    >>> len(rec.checkpoints), [len(s) for s in rec.steps]
    (3, [2, 2])
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    stages = list(stages)
    if not stages or not all(isinstance(s, Stage) for s in stages):
        raise TypeError("stages must be a non-empty sequence of Stage objects")
    if len({s.name for s in stages}) != len(stages):
        raise ValueError(f"stage names must be unique, got {[s.name for s in stages]}")
    if not callable(loss) and loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {list(LOSSES)} or a callable")
    if carry_optimizer_state and len({s.optimizer for s in stages}) > 1:
        raise ValueError("carry_optimizer_state=True needs every stage to use the same optimizer (all SGD "
                         f"or all AdamW), got {[s.optimizer for s in stages]}: state cannot carry from "
                         "one optimizer into another")
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise TypeError(f"random_state must be an int, got {type(random_state).__name__}")
    if loss == "cross_entropy":
        for stage in stages:
            _check_class_targets(model, stage)
    rng = np.random.default_rng(random_state)
    record = TrainingRecord(model=model, stages=stages, loss=loss,
                            carry_optimizer_state=bool(carry_optimizer_state))
    buffer = None
    for stage in stages:
        steps = _plan_steps(stage, rng)
        record.checkpoints.append(_flat(model))
        record.buffers.append(buffer if carry_optimizer_state else None)
        record.steps.append(steps)
        buffer = _run_steps(model, stage, steps, loss, buffer if carry_optimizer_state else None)
    record.checkpoints.append(_flat(model))
    record.buffers.append(buffer if carry_optimizer_state else None)
    return record


def replay_stage(record: TrainingRecord, stage: int | str, *, params: torch.Tensor | None = None,
                 buffer: torch.Tensor | None | str = "recorded",
                 callback: Callable[[int, StepRecord, Any], None] | None = None) -> tuple[Any, Any]:
    """Re-run one stage with its recorded batch order and schedule.

    Parameters
    ----------
    record : TrainingRecord
    stage : int or str
        The stage to replay.
    params : torch.Tensor, optional
        Flat starting parameters; defaults to the recorded checkpoint where the stage started.
    buffer : torch.Tensor, dict, None or "recorded"
        Starting optimiser state (SGD's momentum buffer, AdamW's state dict); "recorded" uses the one
        recorded at the stage's start. Ignored (fresh state) unless the record carries optimiser state.
    callback : callable, optional
        ``callback(t, step, model)`` is called before step ``t`` (the model holds the current parameters).

    Returns
    -------
    (params, buffer) : tuple
        Flat parameters and optimiser state after the stage (SGD's momentum buffer, even when it does
        not carry; AdamW's state dict only when it carries, else None).
    """
    import torch

    k = record.stage_index(stage)
    start = record.checkpoints[k] if params is None else params
    buf = record.buffers[k] if isinstance(buffer, str) and buffer == "recorded" else buffer
    if not record.carry_optimizer_state:
        buf = None
    model = record.model_at(start)
    wrapped = None if callback is None else (lambda t, step: callback(t, step, model))
    new_buf = _run_steps(model, record.stages[k], record.steps[k], record.loss, buf, wrapped)
    if record.stages[k].optimizer == "adamw" and not record.carry_optimizer_state:
        new_buf = None  # AdamW state that does not carry is never looked at
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone(), new_buf
