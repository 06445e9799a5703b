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

Either recurrence can be combined with an exact replay of some later steps (``replay_first`` /
``replay_last``, the hybrids of :func:`estimate_stage_effects`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._validation import check_in_choices, check_int
from ethicskit.attribution.exact import evaluate_query, retrain_without, selected_stages
from ethicskit.attribution.queries import functional_model, unflatten
from ethicskit.attribution.recorder import TrainingRecord, batch_loss, replay_stage, take_rows

__all__ = ["stage_change", "first_order_coefficients", "stage_shift", "estimate_stage_effects",
           "first_order_effects", "linearised_effects", "replay_error", "query_replay_error",
           "checked_stage_effects", "CheckedEffects", "REPLAY_TOLERANCE", "QUERY_TOLERANCE"]

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

    ``e_buffer`` is zero unless SGD's momentum buffer carries across stages (a missing buffer counts as
    0). Carried AdamW state is not a single buffer: its moment changes enter only the linearised
    estimator (:func:`_initial_state`), so ``e_buffer`` is zero for AdamW.
    """
    import torch

    k = record.stage_index(stage)
    e_theta = record.checkpoints[k + 1] - record.checkpoints[k]
    zeros = torch.zeros_like(e_theta)
    if not record.carry_optimizer_state or record.stages[k].optimizer == "adamw":
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
    same gradients, hence the same moment estimates. (When AdamW state carries across stages, the two runs
    also start the later stages with different moments and step counts; this scalar recurrence ignores
    that, the linearised estimator carries it.)
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


def _adam_moments(state: Any, like: Any) -> tuple[Any, Any, int]:
    """Flat moments and step count of a recorded AdamW state (None: a fresh optimiser)."""
    import torch

    if state is None:
        return torch.zeros_like(like), torch.zeros_like(like), 0
    return state["exp_avg"], state["exp_avg_sq"], int(state["step"])


def _initial_state(record: TrainingRecord, k: int) -> dict:
    """Differences between the factual and the counterfactual run at the start of stage ``k + 1``.

    ``theta``: the stage's parameter change; ``buf``: its SGD momentum-buffer change (0 unless it
    carries). With carried AdamW state also ``m`` and ``v`` (the moments' change over stage ``k``) and
    ``shift``, the steps stage ``k`` took: the counterfactual run's step count, which AdamW's bias
    correction uses, lags the factual one by that much.
    """
    e_theta, e_buf = stage_change(record, k)
    state = {"theta": e_theta, "buf": e_buf, "shift": 0}
    if record.carry_optimizer_state and record.stages[k].optimizer == "adamw":
        m_end, v_end, n_end = _adam_moments(record.buffers[k + 1], e_theta)
        m_start, v_start, n_start = _adam_moments(record.buffers[k], e_theta)
        state.update(m=m_end - m_start, v=v_end - v_start, shift=n_end - n_start)
    return state


def _enter_stage(record: TrainingRecord, j: int, state: dict) -> None:
    """Prepare ``state`` for the first step of later stage ``j``.

    Without carried optimiser state both runs start stage ``j`` with a fresh optimiser: every
    optimiser-state difference is 0 and AdamW counts from 0 in both. With carried AdamW state the
    factual moments and count come from the record (they are where the factual run stands), and the
    differences carry on.
    """
    import torch

    zeros = torch.zeros_like(state["theta"])
    if not record.carry_optimizer_state:
        state.update(buf=zeros, m=zeros, v=zeros, m_f=zeros, v_f=zeros, count=0, shift=0)
    elif record.stages[j].optimizer == "adamw":
        m_f, v_f, count = _adam_moments(record.buffers[j], zeros)
        state.update(m_f=m_f, v_f=v_f, count=count)
        state.setdefault("m", zeros)
        state.setdefault("v", zeros)


def _adam_direction(m: Any, v: Any, count: int, step: Any) -> tuple[Any, Any, Any]:
    """AdamW's update direction ``m_hat / (sqrt(v_hat) + eps)`` at ``count`` and its derivatives.

    Returns the direction and the factors by which a moment difference ``dm`` / ``dv`` moves it:
    ``1 / (bc1 (r + eps))`` and ``-m_hat / (2 bc2 r (r + eps)^2)`` with ``r = sqrt(v_hat)`` (0 where
    ``v`` is 0: no gradient yet).
    """
    import torch

    beta1, beta2 = step.betas
    bc1, bc2 = 1 - beta1**count, 1 - beta2**count
    m_hat, root = m / bc1, (v / bc2).sqrt()
    denom = root + step.eps
    safe_root = torch.where(root > 0, root, torch.ones_like(root))
    d_v = torch.where(root > 0, -m_hat / (2 * bc2 * safe_root * denom**2), torch.zeros_like(root))
    return m_hat / denom, 1 / (bc1 * denom), d_v


def _adamw_step(record: TrainingRecord, stage_index: int, step: Any, params: Any, state: dict) -> None:
    """One AdamW step of the linearised recurrence, both moments included.

    ``state`` holds the differences ``theta`` (parameters), ``m`` and ``v`` (first and second moments),
    the factual moments ``m_f`` and ``v_f`` and step count ``count`` (rebuilt step by step from the
    factual gradients, starting where :func:`_enter_stage` put them), and ``shift``, by how many steps
    the counterfactual run's count lags. With ``g`` the factual gradient and ``dg = H theta``:
    ``dm = b1 dm + (1 - b1) dg``, ``dv = b2 dv + 2 (1 - b2) g * dg``; the step's difference is
    ``(1 - lr wd) theta - lr [u(c) - u(c - shift) + du/dm dm + du/dv dv]`` with ``u`` AdamW's direction
    at the factual moments (:func:`_adam_direction`), the derivatives taken at the counterfactual count.
    The bias-correction term ``u(c) - u(c - shift)`` is exact, not linearised; it is 0 unless AdamW
    state carries across stages. Freezing the second moment (dropping the ``dv`` term) loses much of the
    estimate at larger learning rates (docs/attribution.md).
    """
    import torch

    loss_of = _step_loss(record, stage_index, step)
    with _quiet():
        grad, hvp = torch.func.jvp(torch.func.grad(loss_of), (params,), (state["theta"],))
    grad, hvp = grad.detach(), hvp.detach()
    beta1, beta2 = step.betas
    zeros = torch.zeros_like(params)
    for name in ("m", "v", "m_f", "v_f"):
        state.setdefault(name, zeros)
    state["count"] = state.get("count", 0) + 1
    state["m_f"] = beta1 * state["m_f"] + (1 - beta1) * grad
    state["v_f"] = beta2 * state["v_f"] + (1 - beta2) * grad**2
    state["m"] = beta1 * state["m"] + (1 - beta1) * hvp
    state["v"] = beta2 * state["v"] + 2 * (1 - beta2) * grad * hvp
    shifted = state["count"] - state.get("shift", 0)
    u_cf, du_m, du_v = _adam_direction(state["m_f"], state["v_f"], shifted, step)
    update = du_m * state["m"] + du_v * state["v"]
    if shifted != state["count"]:
        update = update + _adam_direction(state["m_f"], state["v_f"], state["count"], step)[0] - u_cf
    state["theta"] = (1 - step.lr * step.weight_decay) * state["theta"] - step.lr * update


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
        else:  # decoupled decay; without the Hessian both runs see the same gradients
            state["theta"] = (1 - step.lr * step.weight_decay) * state["theta"]
            # so carried moment differences only decay (the hybrid splices them into a replay)
            beta1, beta2 = step.betas
            for name, beta in (("m", beta1), ("v", beta2)):
                if name in state:
                    state[name] = beta * state[name]
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
    state = _initial_state(record, k)
    for j in range(k + 1, record.n_stages):
        _enter_stage(record, j, state)

        def step_fn(t, step, model, j=j):
            _linear_step(record, j, step, model, state, hessian=True)

        replay_stage(record, j, callback=step_fn)
    return state["theta"]


def _split_point(record: TrainingRecord, k: int, replay_last: int) -> tuple[int, int] | None:
    """Where the last ``replay_last`` steps of training start: ``(stage j, step s within it)``.

    None when they cover every step after stage ``k`` (the hybrid is then exact retraining).
    """
    remaining = replay_last
    for j in range(record.n_stages - 1, k, -1):
        n = len(record.steps[j])
        if remaining < n:
            return j, n - remaining
        remaining -= n
    return None


def _factual_prefix(record: TrainingRecord, j: int, s: int,
                    callback: Callable[[int, Any, Any], None] | None = None) -> tuple[Any, Any]:
    """Factual parameters and optimiser state after the first ``s`` steps of stage ``j``.

    Replays them from the stage's recorded checkpoint (``callback(t, step, model)`` before each step).
    The optimiser state is the one the factual run holds there, whether or not it carries across
    stages: within a stage it always persists.
    """
    import torch

    from ethicskit.attribution.recorder import _run_steps

    model = record.model_at(record.checkpoints[j])
    start = record.buffers[j] if record.carry_optimizer_state else None
    wrapped = None if callback is None else (lambda t, step: callback(t, step, model))
    state = _run_steps(model, record.stages[j], record.steps[j][:s], record.loss, start, wrapped)
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone(), state


def _counterfactual_optimizer(record: TrainingRecord, j: int, factual: Any, state: dict) -> Any:
    """The counterfactual optimiser state at the split: the factual one minus the estimated differences.

    SGD: momentum buffer ``b - c`` (a missing factual buffer counts as 0: torch's first momentum step
    ``b = g`` equals ``b = mu * 0 + g``). AdamW: moments ``m - dm`` and ``v - dv`` (``v`` clipped at 0,
    a second moment cannot be negative) and the step count lagging by ``shift``.
    """
    import torch

    if record.stages[j].optimizer == "adamw":
        if factual is None:  # a fresh optimiser in both runs
            return None
        count = int(factual["step"]) - state.get("shift", 0)
        if count <= 0:
            return None
        zeros = torch.zeros_like(state["theta"])
        return {"exp_avg": factual["exp_avg"] - state.get("m", zeros),
                "exp_avg_sq": (factual["exp_avg_sq"] - state.get("v", zeros)).clamp(min=0.0),
                "step": count}
    buf = state.get("buf")
    if factual is None and (buf is None or not bool(buf.any())):
        return None
    return (torch.zeros_like(state["theta"]) if factual is None else factual) - buf


def _replay_from(record: TrainingRecord, j: int, s: int, params: Any, optimizer_state: Any) -> Any:
    """Exact replay from step ``s`` of stage ``j`` to the end of training: the final flat parameters."""
    import torch

    from ethicskit.attribution.recorder import _run_steps

    model = record.model_at(params)
    buffer = _run_steps(model, record.stages[j], record.steps[j][s:], record.loss, optimizer_state)
    params = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    for later in range(j + 1, record.n_stages):
        params, buffer = replay_stage(record, later, params=params, buffer=buffer)
    return params


def _replay_last_shift(record: TrainingRecord, k: int, method: str, replay_last: int,
                  shared: dict | None = None) -> Any:
    """Linearise the later steps up to the last ``replay_last``, then replay those exactly.

    The recurrence of ``method`` carries the differences (parameters, optimiser state) from the end of
    stage ``k`` to the split point, where they are subtracted from the factual run's state there; the
    last ``replay_last`` steps are then replayed exactly from that counterfactual state, and the shift is
    the factual final parameters minus the replay's. ``shared`` caches the factual state at a split point
    for the Hessian-free recurrence, which needs no factual trajectory before it: the split is the same
    for every stage (the last steps of training), so its replay is paid once per estimate.
    """
    split = _split_point(record, k, replay_last)
    if split is None:  # the replay covers every later step: it is the exact retraining itself
        return record.final_params - retrain_without(record, k)
    j_split, s = split
    hessian = method == "linearised"
    state = _initial_state(record, k)
    for j in range(k + 1, j_split + 1):
        _enter_stage(record, j, state)
        steps = record.steps[j] if j < j_split else record.steps[j][:s]
        if hessian and j < j_split:

            def step_fn(t, step, model, j=j):
                _linear_step(record, j, step, model, state, hessian=True)

            replay_stage(record, j, callback=step_fn)
        elif not hessian:
            for step in steps:
                _linear_step(record, j, step, None, state, hessian=False)
    if hessian:
        factual = _factual_prefix(record, j_split, s, lambda t, step, model: _linear_step(
            record, j_split, step, model, state, hessian=True))
    else:
        shared = {} if shared is None else shared
        if (j_split, s) not in shared:
            shared[(j_split, s)] = _factual_prefix(record, j_split, s)
        factual = shared[(j_split, s)]
    params, optimizer_state = factual
    start = _counterfactual_optimizer(record, j_split, optimizer_state, state)
    return record.final_params - _replay_from(record, j_split, s, params - state["theta"], start)


def _first_split(record: TrainingRecord, k: int, replay_first: int) -> tuple[int, int] | None:
    """Where the first ``replay_first`` steps after stage ``k`` end: ``(stage j, s steps into it)``.

    None when they cover every later step (the hybrid is then exact retraining).
    """
    remaining = replay_first
    for j in range(k + 1, record.n_stages):
        n = len(record.steps[j])
        if remaining < n or (remaining == n and j < record.n_stages - 1):
            return j, remaining
        remaining -= n
    return None


def _counterfactual_prefix(record: TrainingRecord, k: int, j: int, s: int) -> tuple[Any, Any]:
    """Counterfactual parameters and optimiser state after stages ``k+1..j-1`` and ``s`` steps of ``j``.

    The run without stage ``k`` starts from stage ``k``'s own start (parameters and, when it carries,
    optimiser state), exactly as :func:`~ethicskit.attribution.retrain_without` does.
    """
    import torch

    from ethicskit.attribution.recorder import _run_steps

    params, buffer = record.checkpoints[k], record.buffers[k]
    for later in range(k + 1, j):
        params, buffer = replay_stage(record, later, params=params, buffer=buffer)
    model = record.model_at(params)
    start = buffer if record.carry_optimizer_state else None
    end = _run_steps(model, record.stages[j], record.steps[j][:s], record.loss, start)
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone(), end


def _state_difference(record: TrainingRecord, j: int, factual: tuple[Any, Any],
                      counterfactual: tuple[Any, Any]) -> dict:
    """The recurrence's state from two exact runs at the same step of stage ``j``.

    ``theta`` and SGD's ``buf`` are the differences; for AdamW also ``m``, ``v``, the factual moments
    ``m_f``, ``v_f`` and ``count``, and ``shift`` (how far the counterfactual count lags).
    """
    import torch

    (p_f, opt_f), (p_c, opt_c) = factual, counterfactual
    zeros = torch.zeros_like(p_f)
    state = {"theta": p_f - p_c, "buf": zeros, "shift": 0}
    if record.stages[j].optimizer == "adamw":
        m_f, v_f, count = _adam_moments(opt_f, zeros)
        m_c, v_c, count_c = _adam_moments(opt_c, zeros)
        state.update(m=m_f - m_c, v=v_f - v_c, m_f=m_f, v_f=v_f, count=count, shift=count - count_c)
    else:
        state["buf"] = (zeros if opt_f is None else opt_f) - (zeros if opt_c is None else opt_c)
    return state


def _replay_first_shift(record: TrainingRecord, k: int, method: str, replay_first: int) -> Any:
    """Replay the first ``replay_first`` steps after stage ``k`` exactly, then linearise the rest.

    Both runs (factual and without stage ``k``) take those steps exactly; their difference there
    (parameters and optimiser state) starts the recurrence of ``method`` over the remaining steps.
    """
    split = _first_split(record, k, replay_first)
    if split is None:  # the replay covers every later step: it is the exact retraining itself
        return record.final_params - retrain_without(record, k)
    from ethicskit.attribution.recorder import _run_steps

    j, s = split
    hessian = method == "linearised"
    factual = _factual_prefix(record, j, s)
    state = _state_difference(record, j, factual, _counterfactual_prefix(record, k, j, s))
    if hessian:  # continue the factual run from the split, taking the Hessian-vector products on it
        model = record.model_at(factual[0])
        _run_steps(model, record.stages[j], record.steps[j][s:], record.loss, factual[1],
                   lambda t, step: _linear_step(record, j, step, model, state, hessian=True))
    else:
        for step in record.steps[j][s:]:
            _linear_step(record, j, step, None, state, hessian=False)
    for later in range(j + 1, record.n_stages):
        _enter_stage(record, later, state)
        if hessian:

            def step_fn(t, step, model, later=later):
                _linear_step(record, later, step, model, state, hessian=True)

            replay_stage(record, later, callback=step_fn)
        else:
            for step in record.steps[later]:
                _linear_step(record, later, step, None, state, hessian=False)
    return state["theta"]


def _shift(record: TrainingRecord, k: int, method: str, replay_last: int = 0, shared: dict | None = None,
           replay_first: int = 0) -> Any:
    if replay_first > 0:
        return _replay_first_shift(record, k, method, replay_first)
    if replay_last > 0:
        return _replay_last_shift(record, k, method, replay_last, shared)
    if method == "linearised":
        return _linearised_shift(record, k)
    a, b = first_order_coefficients(record, k)
    e_theta, e_buf = stage_change(record, k)
    return a * e_theta + b * e_buf


def _check_replay(replay_first: int, replay_last: int) -> tuple[int, int]:
    replay_first = check_int(replay_first, "replay_first", minimum=0)
    replay_last = check_int(replay_last, "replay_last", minimum=0)
    if replay_first and replay_last:
        raise ValueError(f"pass replay_first or replay_last, not both (got {replay_first} and {replay_last})")
    return replay_first, replay_last


def stage_shift(record: TrainingRecord, stage: int | str, *, method: str = "first_order",
                replay_first: int = 0, replay_last: int = 0) -> Any:
    """Estimated shift ``delta`` of the final parameters caused by ``stage`` (final minus counterfactual).

    ``replay_first > 0`` or ``replay_last > 0`` is the hybrid: that many steps after the stage (the
    first ones) or of training (the last ones) replayed exactly, the recurrence of ``method`` over the
    rest (:func:`estimate_stage_effects`).
    """
    check_in_choices(method, METHODS, "method")
    replay_first, replay_last = _check_replay(replay_first, replay_last)
    return _shift(record, record.stage_index(stage), method, replay_last, replay_first=replay_first)


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
                           stages: Sequence[int | str] | None = None, replay_first: int = 0,
                           replay_last: int = 0) -> pd.DataFrame:
    """Estimate every stage's effect on ``query`` without retraining (or retraining only the last steps).

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
    replay_first : int
        0 (default): the recurrence of ``method`` over every later step. ``r > 0``: the *hybrid* that
        replays the first ``r`` steps after the stage exactly, from the factual start and from the
        counterfactual one (as :func:`query_replay_error` does), and starts the recurrence of ``method``
        from the two runs' exact difference there (parameters, momentum buffer or AdamW moments and
        step count). Why the first steps: the linearisation is most wrong where the two runs differ
        most, right after the removed stage; later training pulls them together (on the lesson's
        pipeline the difference shrinks over the next stage), so what is left to linearise is smaller.
        Cost per stage: ``2 r`` training steps on top of ``method``'s recurrence (the linearised one
        then takes ``r`` fewer Hessian-vector products).
    replay_last : int
        The hybrid the other way round (issue 20's "replay the last steps and linearise the rest"):
        the recurrence runs up to the last ``r`` steps of training, where its differences are
        subtracted from the factual run's state, and those steps are replayed exactly from there. Cost
        per stage: ``r`` training steps, plus (first order) one replay of the factual run up to the
        split inside its stage, shared by all stages. Measured less accurate than ``replay_first`` at the
        same ``r`` on the lesson's pipeline (docs/attribution.md): errors made early are not undone by an
        exact end. Pass one of the two. When ``r`` covers every step after a stage, either hybrid *is*
        exact retraining for that stage.

    Returns
    -------
    pandas.DataFrame
        Same layout as :func:`~ethicskit.attribution.exact_stage_effects`.
    """
    check_in_choices(method, METHODS, "method")
    check_in_choices(mode, MODES, "mode")
    replay_first, replay_last = _check_replay(replay_first, replay_last)
    rows, at_final, shared = {}, None, {}
    for k in selected_stages(record, stages):
        delta = _shift(record, k, method, replay_last, shared, replay_first=replay_first)
        if at_final is None and mode == "difference":
            at_final = evaluate_query(record, query, record.final_params)
        rows[record.stage_names[k]] = _apply(record, query, delta, mode, at_final)
    return pd.DataFrame(np.vstack(list(rows.values())), index=list(rows))  # one row per stage


def first_order_effects(record: TrainingRecord, query: Callable[[Any], Any], *, mode: str = "difference",
                        stages: Sequence[int | str] | None = None, replay_first: int = 0,
                        replay_last: int = 0) -> pd.DataFrame:
    """:func:`estimate_stage_effects` with ``method="first_order"`` (one JVP or forward per stage)."""
    return estimate_stage_effects(record, query, method="first_order", mode=mode, stages=stages,
                                  replay_first=replay_first, replay_last=replay_last)


def linearised_effects(record: TrainingRecord, query: Callable[[Any], Any], *, mode: str = "difference",
                       stages: Sequence[int | str] | None = None, replay_first: int = 0,
                       replay_last: int = 0) -> pd.DataFrame:
    """:func:`estimate_stage_effects` with ``method="linearised"`` (one HVP per later step)."""
    return estimate_stage_effects(record, query, method="linearised", mode=mode, stages=stages,
                                  replay_first=replay_first, replay_last=replay_last)


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
    from ethicskit._validation import check_positive_int

    check_in_choices(method, METHODS, "method")
    check_positive_int(check_steps, "check_steps")
    k = record.stage_index(stage)
    if k == record.n_stages - 1:
        return 0.0
    j = k + 1
    r = min(check_steps, len(record.steps[j]))
    scale = float(stage_change(record, k)[0].norm())
    if scale == 0.0 or r == 0:
        return 0.0
    state = _initial_state(record, k)
    _enter_stage(record, j, state)

    def linear(t, step, model):
        _linear_step(record, j, step, model, state, hessian=method == "linearised")

    factual = _first_steps(record, j, r, record.checkpoints[j], record.buffers[j], callback=linear)
    counterfactual = _first_steps(record, j, r, record.checkpoints[k], record.buffers[k])
    error = float((factual - counterfactual - state["theta"]).norm()) / scale
    later = [step.lr for stages in record.steps[j:] for step in stages]
    replayed = sum(step.lr for step in record.steps[j][:r])
    return error * (sum(later) / replayed if replayed > 0 else len(later) / r)


def query_replay_error(record: TrainingRecord, stage: int | str, query: Callable[[Any], Any], *,
                       method: str = "first_order", check_steps: int = 8) -> dict[str, float]:
    """Error proxy in query space: replay the first later steps exactly and compare per-query effects.

    :func:`replay_error` measures the error of the parameter shift, which need not predict how well the
    per-query effects come out (docs/attribution.md: on the encoder it missed a failed estimate). Here
    the first ``check_steps`` steps of the next stage are replayed exactly from the factual start and
    from the counterfactual one, giving the *exact partial effect* ``f(theta_r) - f(theta_r^{-k})`` of
    every query after those steps; the estimator's prediction of it is ``f(theta_r) - f(theta_r - d_r)``
    with ``d_r`` its own recurrence over the same steps (``mode="difference"``). Both start from the same
    effect at ``r = 0`` (``d_0`` is the stage's change, exactly), so their gap is what the estimator
    gets wrong about how later training moves each query. The gap's norm relative to the exact partial
    effect's, both taken around their mean over the queries (a shift common to all queries changes no
    ranking and no correlation), scaled up (as :func:`replay_error` does) by the learning-rate mass of
    all later steps over that of the replayed ones, estimates the relative error of the final per-query
    effects around their mean.

    Parameters
    ----------
    record : TrainingRecord
    stage : int or str
    query : callable
        ``query(model) -> tensor (n_queries,)``.
    method : {"first_order", "linearised"}
    check_steps : int
        Later steps replayed exactly (twice); costs about ``2 * check_steps`` training steps and five
        query evaluations (plus ``check_steps`` Hessian-vector products for ``"linearised"``).

    Returns
    -------
    dict
        ``error``: the extrapolated relative error (0 for the last stage, whose estimate is exact);
        ``partial_error``: the unscaled relative gap after the replayed steps (both around the mean);
        ``pearson``: correlation of predicted and exact per-query changes of the effect over the
        replayed steps (NaN when either is constant).
    """
    from ethicskit._validation import check_positive_int
    from ethicskit.attribution.validation import fidelity

    check_in_choices(method, METHODS, "method")
    check_positive_int(check_steps, "check_steps")
    k = record.stage_index(stage)
    quiet = {"error": 0.0, "partial_error": 0.0, "pearson": float("nan")}
    if k == record.n_stages - 1:
        return quiet
    j = k + 1
    r = min(check_steps, len(record.steps[j]))
    state = _initial_state(record, k)
    if float(state["theta"].norm()) == 0.0 or r == 0:
        return quiet
    _enter_stage(record, j, state)

    def linear(t, step, model):
        _linear_step(record, j, step, model, state, hessian=method == "linearised")

    factual = _first_steps(record, j, r, record.checkpoints[j], record.buffers[j], callback=linear)
    counterfactual = _first_steps(record, j, r, record.checkpoints[k], record.buffers[k])
    at_factual = evaluate_query(record, query, factual)
    exact = (at_factual - evaluate_query(record, query, counterfactual)).numpy()
    predicted = (at_factual - evaluate_query(record, query, factual - state["theta"])).numpy()
    start = (evaluate_query(record, query, record.checkpoints[j])
             - evaluate_query(record, query, record.checkpoints[k])).numpy()
    # around the mean over queries: a shift common to every query changes no ranking and no correlation,
    # and on the encoder such a shift dominates the effects and hid a failed ranking (docs/attribution.md)
    gap, spread = predicted - exact - np.mean(predicted - exact), exact - np.mean(exact)
    partial = float(np.linalg.norm(gap) / max(np.linalg.norm(spread), 1e-12))
    later = [step.lr for stages in record.steps[j:] for step in stages]
    replayed = sum(step.lr for step in record.steps[j][:r])
    scale = sum(later) / replayed if replayed > 0 else len(later) / r
    return {"error": partial * scale, "partial_error": partial,
            "pearson": fidelity(predicted - start, exact - start)["pearson"]}


#: replay errors above this make :func:`checked_stage_effects` flag the stage's estimate as unreliable
REPLAY_TOLERANCE = 0.5
#: the same for the query-space check (:func:`query_replay_error`): an estimated relative error of the
#: per-query effects of 1 or more means the error is as large as the effects themselves
QUERY_TOLERANCE = 1.0
CHECKS = ("parameters", "queries")


@dataclass
class CheckedEffects:
    """Estimated stage effects with a per-stage error proxy and a trust flag.

    Attributes
    ----------
    effects : pandas.DataFrame
        As :func:`estimate_stage_effects` returns (rows: stages, columns: queries).
    replay_error : pandas.Series
        The error proxy per stage (0 for the last stage): :func:`replay_error` for
        ``check="parameters"``, the ``error`` of :func:`query_replay_error` for ``check="queries"``.
    reliable : pandas.Series
        ``replay_error <= tolerance`` per stage.
    tolerance : float
        The threshold used.
    method : str
    check : str
        ``"parameters"`` or ``"queries"``.
    """

    effects: pd.DataFrame
    replay_error: pd.Series
    reliable: pd.Series
    tolerance: float
    method: str
    check: str = "parameters"

    @property
    def unreliable(self) -> list[str]:
        """Names of the stages whose estimate the replay check does not trust."""
        return [str(name) for name, ok in self.reliable.items() if not ok]


def checked_stage_effects(record: TrainingRecord, query: Callable[[Any], Any], *,
                          method: str = "first_order", mode: str = "difference",
                          stages: Sequence[int | str] | None = None, check_steps: int = 8,
                          tolerance: float | None = None, check: str = "parameters") -> CheckedEffects:
    """:func:`estimate_stage_effects`, plus an error proxy per stage that flags estimates not to trust.

    For each stage, the first ``check_steps`` later steps are replayed exactly (from the factual and the
    counterfactual start) and compared with the estimator's own recurrence, extrapolated to all later
    steps: in parameter space (``check="parameters"``, :func:`replay_error`) or on the queries themselves
    (``check="queries"``, :func:`query_replay_error`). A stage whose proxy exceeds ``tolerance`` is
    marked unreliable and a :class:`~ethicskit._quiet.KitWarning` names it: retrain without it
    (:func:`exact_stage_effects`) instead.

    Measured on the lesson's pipeline (fine-tuning stage, seeds 0-2, first order / linearised), the
    parameter proxy is 0.11-0.13 / 0.06-0.08 at alignment lr 0.005 (Pearson vs exact >= 0.99),
    0.42-0.48 / 0.26-0.31 at the default 0.02 (0.61-0.92 / 0.93-0.96), 0.91-1.05 / 0.59-0.73 at 0.05
    (all <= 0.02); the query proxy 0.09-0.11 / 0.04-0.07, 0.45-0.52 / 0.22-0.39 and 1.91-2.16 /
    1.35-2.24. On the encoder neither check flags a failed first-order estimate whose error builds up
    after the replayed steps (docs/attribution.md): both are necessary checks, not sufficient ones.
    The parameter proxy measures the error of the parameter shift, not of the query: for the *first*
    stage it is large (3-6) even where the linearised estimate still correlates (0.45-0.97), so it errs
    on the side of distrust there.

    Parameters
    ----------
    record : TrainingRecord
    query : callable
    method : {"first_order", "linearised"}
    mode : {"difference", "taylor"}
    stages : sequence of int or str, optional
    check_steps : int
        Later steps replayed exactly per stage.
    tolerance : float, optional
        Largest proxy still called reliable; default :data:`REPLAY_TOLERANCE` (0.5) for the parameter
        check, :data:`QUERY_TOLERANCE` (1.0) for the query check.
    check : {"parameters", "queries"}
        Which error proxy to compute.

    Returns
    -------
    CheckedEffects
    """
    from ethicskit._quiet import KitWarning
    from ethicskit._validation import check_positive

    check_in_choices(check, CHECKS, "check")
    if tolerance is None:
        tolerance = REPLAY_TOLERANCE if check == "parameters" else QUERY_TOLERANCE
    check_positive(tolerance, "tolerance")
    effects = estimate_stage_effects(record, query, method=method, mode=mode, stages=stages)

    def proxy(k: int) -> float:
        if check == "parameters":
            return replay_error(record, k, method=method, check_steps=check_steps)
        return query_replay_error(record, k, query, method=method, check_steps=check_steps)["error"]

    errors = pd.Series({record.stage_names[k]: proxy(k) for k in selected_stages(record, stages)},
                       name="replay_error")
    reliable = (errors <= tolerance).rename("reliable")
    result = CheckedEffects(effects=effects, replay_error=errors, reliable=reliable,
                            tolerance=float(tolerance), method=method, check=check)
    if result.unreliable:
        described = ", ".join(f"{name} ({errors[name]:.2f})" for name in result.unreliable)
        space = "parameters" if check == "parameters" else "per-query effects"
        warnings.warn(f"the {method} estimate is unreliable for stage(s) {described}: replaying the first "
                      f"{check_steps} later steps exactly disagrees with the estimator's linearisation by "
                      f"more than {tolerance} (relative error of the {space}, extrapolated to all later "
                      f"steps); compute these stages' effects with exact_stage_effects instead", KitWarning,
                      stacklevel=2)
    return result
