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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._validation import check_in_choices
from ethicskit.attribution.exact import evaluate_query, selected_stages
from ethicskit.attribution.queries import functional_model, unflatten
from ethicskit.attribution.recorder import TrainingRecord, batch_loss, replay_stage, take_rows

__all__ = ["stage_change", "first_order_coefficients", "stage_shift", "estimate_stage_effects",
           "first_order_effects", "linearised_effects", "replay_error", "checked_stage_effects",
           "CheckedEffects", "REPLAY_TOLERANCE"]

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
    X, y = take_rows(stage.X, idx), stage.y[idx]

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


def _linear_step(
    record: TrainingRecord, j: int, step: Any, model: Any, state: dict, *, hessian: bool
) -> None:
    """One later step of stage ``j`` applied to the differences in ``state`` (``theta``, ``buf``).

    ``hessian=True`` is the linearised recurrence (a Hessian-vector product at the factual parameters
    of ``model``; AdamW with both moments); ``hessian=False`` drops the Hessian term, which is the
    first-order recurrence of :func:`first_order_coefficients`.
    """
    import torch

    if step.optimizer == "adamw":
        if hessian:
            params = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
            _adamw_step(record, j, step, params, state)
        else:  # decoupled decay; without the Hessian both runs see the same moments
            state["theta"] = (1 - step.lr * step.weight_decay) * state["theta"]
        return
    if hessian:
        params = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
        h = _hvp(record, j, step, params, state["theta"]).detach()
    else:
        h = torch.zeros_like(state["theta"])
    if step.momentum == 0:
        state["theta"] = state["theta"] - step.lr * (h + step.weight_decay * state["theta"])
    else:
        state["buf"] = step.momentum * state["buf"] + h + step.weight_decay * state["theta"]
        state["theta"] = state["theta"] - step.lr * state["buf"]


def _linearised_shift(record: TrainingRecord, k: int) -> Any:
    import torch

    d_theta, d_buf = stage_change(record, k)
    for j in range(k + 1, record.n_stages):
        if not record.carry_optimizer_state:
            d_buf = torch.zeros_like(d_theta)
        state = {"theta": d_theta, "buf": d_buf}

        def step_fn(t, step, model, j=j, state=state):
            _linear_step(record, j, step, model, state, hessian=True)

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


def _first_steps(record: TrainingRecord, j: int, r: int, params: Any, buffer: Any,
                 callback: Callable[[int, Any, Any], None] | None = None) -> Any:
    """Flat parameters after the first ``r`` recorded steps of stage ``j`` from ``(params, buffer)``."""
    import torch

    from ethicskit.attribution.recorder import _run_steps

    model = record.model_at(params)
    wrapped = None if callback is None else (lambda t, step: callback(t, step, model))
    buf = buffer if record.carry_optimizer_state else None
    _run_steps(model, record.stages[j], record.steps[j][:r], record.loss, buf, wrapped)
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()


def replay_error(record: TrainingRecord, stage: int | str, *, method: str = "first_order",
                 check_steps: int = 8) -> float:
    """Error proxy of a stage's estimate: replay the first later steps exactly and compare.

    The estimators push the stage's change ``e_theta`` through every later step by a linearised
    recurrence. Here the first ``check_steps`` steps of the next stage are replayed exactly from the
    factual start and from the counterfactual one (the start of ``stage``), and their difference
    ``d_exact`` is compared with the estimator's ``d_est`` after the same steps. The relative error
    ``|d_exact - d_est| / |e_theta|``, scaled up by the sum of the learning rates of all later steps over
    that of the replayed ones (errors grow with how far the later stages move), estimates the relative
    error of the final shift ``delta``.

    Parameters
    ----------
    record : TrainingRecord
    stage : int or str
    method : {"first_order", "linearised"}
    check_steps : int
        Later steps replayed exactly (twice); costs about ``2 * check_steps`` training steps (plus as many
        Hessian-vector products for ``"linearised"``).

    Returns
    -------
    float
        0.0 for the last stage (its estimate is exact); otherwise the extrapolated relative error (about
        1 or more: the estimate is not to be trusted).
    """
    import torch

    from ethicskit._validation import check_positive_int

    check_in_choices(method, METHODS, "method")
    check_positive_int(check_steps, "check_steps")
    k = record.stage_index(stage)
    if k == record.n_stages - 1:
        return 0.0
    j = k + 1
    r = min(check_steps, len(record.steps[j]))
    e_theta, e_buf = stage_change(record, k)
    scale = float(e_theta.norm())
    if scale == 0.0 or r == 0:
        return 0.0
    state = {"theta": e_theta.clone(), "buf": e_buf.clone() if record.carry_optimizer_state
             else torch.zeros_like(e_theta)}

    def linear(t, step, model):
        _linear_step(record, j, step, model, state, hessian=method == "linearised")

    factual = _first_steps(record, j, r, record.checkpoints[j], record.buffers[j], callback=linear)
    counterfactual = _first_steps(record, j, r, record.checkpoints[k], record.buffers[k])
    error = float((factual - counterfactual - state["theta"]).norm()) / scale
    later = [step.lr for stages in record.steps[j:] for step in stages]
    replayed = sum(step.lr for step in record.steps[j][:r])
    return error * (sum(later) / replayed if replayed > 0 else len(later) / r)


#: replay errors above this make :func:`checked_stage_effects` flag the stage's estimate as unreliable
REPLAY_TOLERANCE = 0.5


@dataclass
class CheckedEffects:
    """Estimated stage effects with a per-stage error proxy and a trust flag.

    Attributes
    ----------
    effects : pandas.DataFrame
        As :func:`estimate_stage_effects` returns (rows: stages, columns: queries).
    replay_error : pandas.Series
        :func:`replay_error` per stage (0 for the last stage).
    reliable : pandas.Series
        ``replay_error <= tolerance`` per stage.
    tolerance : float
        The threshold used.
    method : str
    """

    effects: pd.DataFrame
    replay_error: pd.Series
    reliable: pd.Series
    tolerance: float
    method: str

    @property
    def unreliable(self) -> list[str]:
        """Names of the stages whose estimate the replay check does not trust."""
        return [str(name) for name, ok in self.reliable.items() if not ok]


def checked_stage_effects(record: TrainingRecord, query: Callable[[Any], Any], *,
                          method: str = "first_order", mode: str = "difference",
                          stages: Sequence[int | str] | None = None, check_steps: int = 8,
                          tolerance: float = REPLAY_TOLERANCE) -> CheckedEffects:
    """:func:`estimate_stage_effects`, plus an error proxy per stage that flags estimates not to trust.

    For each stage, :func:`replay_error` replays the first ``check_steps`` later steps exactly (from the
    factual and the counterfactual start) and compares the result with the estimator's own recurrence,
    extrapolated to all later steps. A stage whose proxy exceeds ``tolerance`` is marked unreliable and a
    :class:`~ethicskit._quiet.KitWarning` names it: retrain without it (:func:`exact_stage_effects`)
    instead.

    Measured on the lesson's pipeline (fine-tuning stage, seeds 0-2, first order / linearised): proxy
    0.11-0.13 / 0.06-0.08 at alignment lr 0.005 (Pearson vs exact >= 0.99), 0.42-0.48 / 0.26-0.31 at
    the default 0.02 (0.61-0.92 / 0.93-0.96), 0.91-1.05 / 0.59-0.73 at 0.05 (all <= 0.02). The proxy
    measures the error of the parameter shift, not of the query: for the *first* stage it is large
    (3-6) even where the linearised estimate still correlates (0.45-0.97), so it errs on the side of
    distrust there.

    Parameters
    ----------
    record : TrainingRecord
    query : callable
    method : {"first_order", "linearised"}
    mode : {"difference", "taylor"}
    stages : sequence of int or str, optional
    check_steps : int
        Later steps replayed exactly per stage.
    tolerance : float
        Largest proxy still called reliable.

    Returns
    -------
    CheckedEffects
    """
    from ethicskit._quiet import KitWarning
    from ethicskit._validation import check_positive

    check_positive(tolerance, "tolerance")
    effects = estimate_stage_effects(record, query, method=method, mode=mode, stages=stages)
    errors = pd.Series({record.stage_names[k]: replay_error(record, k, method=method, check_steps=check_steps)
                        for k in selected_stages(record, stages)}, name="replay_error")
    reliable = (errors <= tolerance).rename("reliable")
    result = CheckedEffects(effects=effects, replay_error=errors, reliable=reliable,
                            tolerance=float(tolerance), method=method)
    if result.unreliable:
        described = ", ".join(f"{name} ({errors[name]:.2f})" for name in result.unreliable)
        warnings.warn(f"the {method} estimate is unreliable for stage(s) {described}: replaying the first "
                      f"{check_steps} later steps exactly disagrees with the estimator's linearisation by "
                      f"more than {tolerance} (relative, extrapolated to all later steps); compute these "
                      f"stages' effects with exact_stage_effects instead", KitWarning, stacklevel=2)
    return result
