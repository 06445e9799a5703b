"""Estimate stage effects without retraining (see the package docstring for the derivation).

Both estimators push the stage's change ``(e_theta, e_buffer)`` through every later SGD step and return the
shift ``delta`` of the final parameters it caused; the effect on a query ``f`` is then
``f(theta_T) - f(theta_T - delta)``, read either to first order (``mode="taylor"``:
``grad f(theta_T) . delta``, one Jacobian-vector product for all queries) or by evaluating ``f`` at the
shifted parameters (``mode="difference"``: one forward pass).

* ``first_order`` (Hessian-free): each later step acts on ``(delta_theta, delta_buffer)`` as a 2x2 scalar
  matrix built from its learning rate, momentum and weight decay, so ``delta = a e_theta + b e_buffer``.
* ``linearised``: the same recurrence plus the Hessian-vector product of each later minibatch loss on
  the recorded trajectory.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._validation import check_in_choices
from ethicskit.attribution.exact import evaluate_query, selected_stages
from ethicskit.attribution.queries import functional_model, unflatten
from ethicskit.attribution.recorder import TrainingRecord, batch_loss, replay_stage

__all__ = ["stage_change", "first_order_coefficients", "stage_shift", "estimate_stage_effects",
           "first_order_effects", "linearised_effects"]

METHODS = ("first_order", "linearised")
MODES = ("taylor", "difference")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence torch's internal deprecation warnings (first use of forward-mode AD scripts decompositions)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def stage_change(record: TrainingRecord, stage: int | str) -> tuple[Any, Any]:
    """The stage's own change: ``(e_theta, e_buffer)`` between its end and start checkpoints.

    ``e_buffer`` is zero unless the momentum buffer carries across stages (a missing buffer counts as 0).
    """
    import torch

    k = record.stage_index(stage)
    e_theta = record.checkpoints[k + 1] - record.checkpoints[k]
    zeros = torch.zeros_like(e_theta)
    if not record.carry_optimizer_state:
        return e_theta, zeros
    end = record.buffers[k + 1] if record.buffers[k + 1] is not None else zeros
    start = record.buffers[k] if record.buffers[k] is not None else zeros
    return e_theta, end - start


def first_order_coefficients(record: TrainingRecord, stage: int | str) -> tuple[float, float]:
    """Scalars ``(a, b)`` with ``delta_T = a * e_theta + b * e_buffer`` under the Hessian-free recurrence.

    Each later step with learning rate ``eta``, momentum ``mu > 0`` and weight decay ``lam`` maps
    ``(d_theta, d_buf)`` to ``d_buf' = mu d_buf + lam d_theta`` and ``d_theta' = d_theta - eta d_buf'``
    (with ``mu = 0``: ``d_theta' = (1 - eta lam) d_theta``, buffer untouched). Without carried optimiser
    state the buffer difference resets to 0 at every later stage's start. An AdamW step with decoupled
    weight decay ``lam`` gives ``d_theta' = (1 - eta lam) d_theta``: without the Hessian both runs see the
    same gradients, hence the same moment estimates.
    """
    k = record.stage_index(stage)
    # state rows: d_theta and d_buf, each as coefficients of (e_theta, e_buffer)
    theta = np.array([1.0, 0.0])
    buf = np.array([0.0, 1.0]) if record.carry_optimizer_state else np.zeros(2)
    for j in range(k + 1, record.n_stages):
        if not record.carry_optimizer_state:
            buf = np.zeros(2)
        for step in record.steps[j]:
            if step.optimizer == "adamw" or step.momentum == 0:  # AdamW: decoupled decay, same moments
                theta = (1.0 - step.lr * step.weight_decay) * theta
            else:
                buf = step.momentum * buf + step.weight_decay * theta
                theta = theta - step.lr * buf
    return float(theta[0]), float(theta[1])


def _step_loss(record: TrainingRecord, stage_index: int, step: Any) -> Callable[[Any], Any]:
    """The minibatch loss of one recorded step, as a function of the flat parameter vector."""
    import torch

    stage = record.stages[stage_index]
    idx = torch.as_tensor(step.batch)
    weight = None if stage.sample_weight is None else stage.sample_weight[idx]
    X, y = stage.X[idx], stage.y[idx]

    def loss_of(flat):
        return batch_loss(record.model, X, y, weight, record.loss, params=unflatten(record.model, flat))

    return loss_of


def _hvp(record: TrainingRecord, stage_index: int, step: Any, params: Any, vector: Any):
    import torch

    loss_of = _step_loss(record, stage_index, step)
    with _quiet():
        return torch.func.jvp(torch.func.grad(loss_of), (params,), (vector,))[1]


def _adamw_step(record: TrainingRecord, stage_index: int, step: Any, params: Any, state: dict) -> None:
    """One AdamW step of the linearised recurrence, both moments included.

    ``state`` holds the differences ``theta`` (parameters), ``m`` and ``v`` (first and second moments)
    and the factual moments ``m_f`` and ``v_f``, rebuilt from the factual gradients because AdamW's
    state resets at each stage start. With ``g`` the factual gradient and ``dg = H theta``:
    ``dm = b1 dm + (1 - b1) dg``, ``dv = b2 dv + 2 (1 - b2) g * dg``, and, with ``r = sqrt(v_hat)``,
    the step's difference: ``(1 - lr wd) theta - lr [dm_hat / (r + eps) - m_hat dv_hat / (2 r (r + eps)^2)]``.
    Freezing the second moment (dropping the last term) loses much of the estimate at larger learning
    rates (docs/attribution.md).
    """
    import torch

    loss_of = _step_loss(record, stage_index, step)
    with _quiet():
        grad, hvp = torch.func.jvp(torch.func.grad(loss_of), (params,), (state["theta"],))
    grad, hvp = grad.detach(), hvp.detach()
    beta1, beta2 = step.betas
    if step.count == 1:
        for name in ("m", "v", "m_f", "v_f"):
            state[name] = torch.zeros_like(params)
    state["m_f"] = beta1 * state["m_f"] + (1 - beta1) * grad
    state["v_f"] = beta2 * state["v_f"] + (1 - beta2) * grad**2
    state["m"] = beta1 * state["m"] + (1 - beta1) * hvp
    state["v"] = beta2 * state["v"] + 2 * (1 - beta2) * grad * hvp
    m_hat = state["m_f"] / (1 - beta1**step.count)
    dm_hat = state["m"] / (1 - beta1**step.count)
    root = (state["v_f"] / (1 - beta2**step.count)).sqrt()
    dv_hat = state["v"] / (1 - beta2**step.count)
    denom = root + step.eps
    # d/dv of 1 / (sqrt(v) + eps) is -1 / (2 sqrt(v) (sqrt(v) + eps)^2); 0 where v is 0 (no gradient yet)
    safe_root = torch.where(root > 0, root, torch.ones_like(root))
    dv_term = torch.where(root > 0, m_hat * dv_hat / (2 * safe_root * denom**2), torch.zeros_like(root))
    state["theta"] = (1 - step.lr * step.weight_decay) * state["theta"] - step.lr * (dm_hat / denom - dv_term)


def _linearised_shift(record: TrainingRecord, k: int) -> Any:
    import torch

    d_theta, d_buf = stage_change(record, k)
    for j in range(k + 1, record.n_stages):
        if not record.carry_optimizer_state:
            d_buf = torch.zeros_like(d_theta)
        state = {"theta": d_theta, "buf": d_buf}

        def step_fn(t, step, model, j=j, state=state):
            params = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
            if step.optimizer == "adamw":
                _adamw_step(record, j, step, params, state)
                return
            h = _hvp(record, j, step, params, state["theta"]).detach()
            if step.momentum == 0:
                state["theta"] = state["theta"] - step.lr * (h + step.weight_decay * state["theta"])
            else:
                state["buf"] = step.momentum * state["buf"] + h + step.weight_decay * state["theta"]
                state["theta"] = state["theta"] - step.lr * state["buf"]

        replay_stage(record, j, callback=step_fn)
        d_theta, d_buf = state["theta"], state["buf"]
    return d_theta


def stage_shift(record: TrainingRecord, stage: int | str, *, method: str = "first_order") -> Any:
    """Estimated shift ``delta`` of the final parameters caused by ``stage`` (final minus counterfactual)."""
    check_in_choices(method, METHODS, "method")
    k = record.stage_index(stage)
    if method == "linearised":
        return _linearised_shift(record, k)
    a, b = first_order_coefficients(record, k)
    e_theta, e_buf = stage_change(record, k)
    return a * e_theta + b * e_buf


def _apply(record: TrainingRecord, query: Callable[[Any], Any], delta: Any, mode: str,
           at_final: Any = None) -> np.ndarray:
    import torch

    final = record.final_params
    if mode == "difference":
        shifted = evaluate_query(record, query, final - delta)
        at_final = evaluate_query(record, query, final) if at_final is None else at_final
        return (at_final - shifted).numpy()

    def f(flat):
        return query(functional_model(record.model, flat)).reshape(-1)

    with _quiet():
        return torch.func.jvp(f, (final,), (delta,))[1].detach().numpy()


def estimate_stage_effects(record: TrainingRecord, query: Callable[[Any], Any], *,
                           method: str = "first_order", mode: str = "difference",
                           stages: Sequence[int | str] | None = None) -> pd.DataFrame:
    """Estimate every stage's effect on ``query`` without retraining.

    Parameters
    ----------
    record : TrainingRecord
    query : callable
        ``query(model) -> tensor (n_queries,)``.
    method : {"first_order", "linearised"}
        Hessian-free scalar recurrence, or unrolling with Hessian-vector products on the trajectory.
    mode : {"difference", "taylor"}
        ``f(theta_T) - f(theta_T - delta)`` (default: one forward pass, exact for the last stage), or
        ``grad f(theta_T) . delta`` (first order in the query too: one Jacobian-vector product).
    stages : sequence of int or str, optional
        Stages to attribute (default: all).

    Returns
    -------
    pandas.DataFrame
        Same layout as :func:`~ethicskit.attribution.exact_stage_effects`.
    """
    check_in_choices(method, METHODS, "method")
    check_in_choices(mode, MODES, "mode")
    rows, at_final = {}, None
    for k in selected_stages(record, stages):
        delta = stage_shift(record, k, method=method)
        if at_final is None and mode == "difference":
            at_final = evaluate_query(record, query, record.final_params)
        rows[record.stage_names[k]] = _apply(record, query, delta, mode, at_final)
    return pd.DataFrame(np.vstack(list(rows.values())), index=list(rows))  # one row per stage


def first_order_effects(record: TrainingRecord, query: Callable[[Any], Any], *, mode: str = "difference",
                        stages: Sequence[int | str] | None = None) -> pd.DataFrame:
    """:func:`estimate_stage_effects` with ``method="first_order"`` (one JVP or forward per stage)."""
    return estimate_stage_effects(record, query, method="first_order", mode=mode, stages=stages)


def linearised_effects(record: TrainingRecord, query: Callable[[Any], Any], *, mode: str = "difference",
                       stages: Sequence[int | str] | None = None) -> pd.DataFrame:
    """:func:`estimate_stage_effects` with ``method="linearised"`` (one HVP per later step)."""
    return estimate_stage_effects(record, query, method="linearised", mode=mode, stages=stages)
