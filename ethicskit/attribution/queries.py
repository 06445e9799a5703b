"""Queries: the behaviours we attribute (per-example losses, group losses, logit margins).

A query is a callable ``query(model) -> torch.Tensor`` of shape ``(n_queries,)``. It must only call
``model(X)`` (no in-place tricks on parameters), so that the estimators can evaluate it on functional
parameters and differentiate it with ``torch.func``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ethicskit._deprecation import renamed
from ethicskit._validation import (
    as_1d_array,
    check_consistent_length,
    check_finite,
    check_in_choices,
    check_no_nan,
)

__all__ = ["example_losses", "group_losses", "logit_margins", "functional_model"]


def _tensors(X: Any, y: Any):
    import torch

    if isinstance(X, Mapping):  # e.g. token ids and attention mask, or cached hidden states and mask
        from ethicskit.attribution.recorder import _input_tensor, n_rows

        if not X:
            raise ValueError("X is an empty dict; it needs at least one input array")
        X_t = {key: _input_tensor(value, f"X[{key!r}]") for key, value in X.items()}
        check_consistent_length(**{f"X[{key!r}]": value for key, value in X_t.items()})
        y_arr = check_no_nan(as_1d_array(y, "y"), "y")
        check_consistent_length(X=range(n_rows(X_t)), y=y_arr)
        kind = torch.long if y_arr.dtype.kind in "iub" else torch.float32
        return X_t, torch.as_tensor(np.array(y_arr), dtype=kind)
    if isinstance(X, torch.Tensor):
        X_t = X.detach().to(torch.float32).clone()
    else:  # a copy: pandas 3 hands out read-only views, which torch warns about
        X_t = torch.as_tensor(np.array(X, dtype=np.float32))
    if X_t.ndim < 2:  # (n, features) tables, (n, channels, height, width) images
        raise ValueError(f"X must have one row per example (2-d or more), got shape {tuple(X_t.shape)}")
    check_finite(X_t.numpy(), "X")  # a NaN query is NaN for every stage: a silent non-answer
    y_arr = check_no_nan(as_1d_array(y, "y"), "y")
    check_consistent_length(X=X_t, y=y_arr)
    y_t = torch.as_tensor(np.array(y_arr), dtype=torch.long if y_arr.dtype.kind in "iub" else torch.float32)
    return X_t, y_t


def _per_example(out, y, loss: str):
    import torch.nn.functional as F

    if loss == "cross_entropy":
        return F.cross_entropy(out, y, reduction="none")
    return ((out.reshape(len(y), -1) - y.reshape(len(y), -1)) ** 2).sum(dim=1)


def example_losses(X: Any, y: Any, *, loss: str = "cross_entropy") -> Callable[[Any], Any]:
    """Query: the loss of each example of ``(X, y)`` (one query per row).

    ``X`` is an array with one row per example (converted to float32), or a dict of such arrays (integer
    arrays such as token ids stay int64) that the model takes as ``model(X)``; the same holds for
    :func:`group_losses` and :func:`logit_margins`.

    Examples
    --------
    >>> import torch
    >>> q = example_losses(torch.zeros(3, 2), [0, 1, 1])
    >>> q(torch.nn.Linear(2, 2)).shape
    torch.Size([3])
    """
    check_in_choices(loss, ("cross_entropy", "mse"), "loss")
    X_t, y_t = _tensors(X, y)

    def query(model):
        return _per_example(model(X_t), y_t, loss)

    return query


@renamed(groups="sensitive_features")
def group_losses(
    X: Any, y: Any, sensitive_features: Any, *, loss: str = "cross_entropy"
) -> Callable[[Any], Any]:
    """Query: the mean loss of each group (one query per distinct value of ``sensitive_features``, sorted)."""
    import torch

    check_in_choices(loss, ("cross_entropy", "mse"), "loss")
    X_t, y_t = _tensors(X, y)
    g = check_no_nan(as_1d_array(sensitive_features, "sensitive_features"), "sensitive_features")
    check_consistent_length(X=X_t, sensitive_features=g)
    masks = [torch.as_tensor(g == value) for value in np.unique(g)]

    def query(model):
        per = _per_example(model(X_t), y_t, loss)
        return torch.stack([per[m].mean() for m in masks])

    return query


def logit_margins(X: Any, y: Any) -> Callable[[Any], Any]:
    """Query: logit of the true class minus the largest other logit, per example (classification)."""
    import torch

    X_t, y_t = _tensors(X, y)
    if y_t.dtype != torch.long:
        raise ValueError("y must hold integer class labels for logit margins")

    def query(model):
        out = model(X_t)
        true = out.gather(1, y_t[:, None]).squeeze(1)
        other = out.masked_fill(torch.nn.functional.one_hot(y_t, out.shape[1]).bool(), float("-inf"))
        return true - other.max(dim=1).values

    return query


class _Functional:
    """Callable stand-in for a module that runs it with a given flat parameter vector."""

    def __init__(self, model: Any, flat: Any):
        self.model = model
        self.params = unflatten(model, flat)

    def __call__(self, X):
        import torch

        return torch.func.functional_call(self.model, self.params, (X,))


def unflatten(model: Any, flat: Any) -> dict:
    """Split a flat vector into a ``{name: tensor}`` dict shaped like ``model``'s parameters."""
    params, offset = {}, 0
    for name, p in model.named_parameters():
        params[name] = flat[offset:offset + p.numel()].reshape(p.shape)
        offset += p.numel()
    if offset != flat.numel():
        raise ValueError(f"flat parameter vector has {flat.numel()} values; the model has {offset}")
    return params


def functional_model(model: Any, flat: Any) -> _Functional:
    """Return a callable that evaluates ``model`` with the flat parameter vector ``flat``."""
    return _Functional(model, flat)
