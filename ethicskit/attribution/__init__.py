"""Stage attribution: which training stage is accountable for a behaviour, and by how much?

A model trained in stages (pretraining, fine-tuning, alignment, ...) misbehaves on a query ``f`` (the
loss of an example, the mean loss of a group, a logit margin). The *effect* of stage ``k`` is the
counterfactual difference ``f(theta_T) - f(theta_T^{-k})`` where ``theta_T^{-k}`` is what training would
have produced had stage ``k`` never happened: stage ``k+1`` starts from the parameters (and, when the
optimiser state carries across stages, the optimiser state) that stage ``k`` started from, and all later
stages are replayed with the same batch order and learning-rate schedule. (After arXiv 2506.00175,
"Accountability Attribution"; this is our own formulation and implementation.)

Derivation of the estimators
----------------------------
PyTorch SGD with learning rate ``eta_t``, momentum ``mu_t`` (dampening 0) and weight decay ``lam_t``::

    g_t     = grad L_t(theta_t) + lam_t theta_t
    b_t     = mu_t b_{t-1} + g_t                       (b_{-1} = 0: a fresh buffer)
    theta_{t+1} = theta_t - eta_t b_t

Run the later steps twice, from the factual start ``(theta, b)`` and from the counterfactual start
``(theta - e_theta, b - e_b)``, where ``e_theta`` is stage ``k``'s parameter change and ``e_b`` its
momentum-buffer change (``e_b = 0`` when the buffer resets between stages). The differences
``d_t = theta_t - theta_t^{-k}`` and ``c_t = b_t - b_t^{-k}`` obey, linearising ``grad L_t`` around the
recorded trajectory (``H_t`` the Hessian of the minibatch loss ``L_t`` at ``theta_t``)::

    c_t     = mu_t c_{t-1} + (H_t + lam_t I) d_t
    d_{t+1} = d_t - eta_t c_t

starting from ``d = e_theta``, ``c = e_b`` and, without carried optimiser state, resetting ``c = 0`` at each
later stage's first step. This is the *linearised unrolling* estimator (one Hessian-vector product per
later step; exact when the training losses are quadratic, e.g. a linear model with squared loss).

Dropping ``H_t`` (*first order, Hessian-free*) leaves a recurrence in which every step multiplies the pair
``(d, c)`` by the same scalar 2x2 matrix in every coordinate::

    c' = mu c + lam d,        d' = (1 - eta lam) d - eta mu c

so ``d_T = a e_theta + b e_b`` for two scalars ``(a, b)`` computed from the schedule alone
(:func:`first_order_coefficients`; with ``mu = 0`` the step is ``d' = (1 - eta lam) d``). It is exact when
the training gradients do not depend on the parameters (losses linear in ``theta``). With no momentum and
no weight decay ``a = 1``: the stage's checkpoint difference passes through unchanged.

Finally the effect on ``f`` is ``f(theta_T) - f(theta_T - d_T)``: to first order ``grad f(theta_T) . d_T``
(``mode="taylor"``, one Jacobian-vector product serves every query: the same cost as one gradient per
query, or less) or evaluated directly (``mode="difference"``, one forward pass). For the last stage
``d_T = e_theta`` and ``mode="difference"`` reproduces the exact effect ``f(theta_T) - f(checkpoint)``.

Optimiser state across stages: by default every stage starts a fresh optimiser (state reset), as separate
fine-tuning runs do; ``record_training(..., carry_optimizer_state=True)`` keeps one optimiser across
boundaries (all stages SGD, or all AdamW), and both the ground truth and the estimators then carry its
state: SGD's momentum buffer, or AdamW's moments and step count.

AdamW stages (``Stage(..., optimizer="adamw")``) are supported too. Hessian-free, both runs see the same
gradients and hence the same moment estimates, so an AdamW step only shrinks the difference by its
decoupled weight decay: ``d' = (1 - eta lam) d``. The linearised estimator carries the differences of
both moments (``dm' = beta1 dm + (1 - beta1) H_t d``, ``dv' = beta2 dv + 2 (1 - beta2) g_t H_t d``)
through the derivative of AdamW's step ``m_hat / (sqrt(v_hat) + eps)``. With carried AdamW state the
counterfactual also starts each later stage with other moments (``dm``, ``dv`` start at the removed
stage's moment changes) and a step count lagging by the removed stage's steps; the estimator includes
the exact change of the bias correction that lag causes. The first-order estimator ignores both.

Main entry points::

    record_training, Stage, replay_stage          record and replay a multi-stage run
    exact_stage_effects, retrain_without          ground truth by retraining
    first_order_effects, linearised_effects       estimators (estimate_stage_effects chooses by name;
                                                  replay_first=r: hybrid, r later steps replayed exactly)
    checked_stage_effects, replay_error           estimates with an error proxy that flags untrusted ones
    query_replay_error                            the same check on the queries themselves
    top_blocks, encoder_inputs, cut_at_best_epoch the pretrained encoder's top block(s) on cached states
    compare_estimates, plot_estimates             validation against the ground truth
    example_losses, group_losses, logit_margins   queries
    make_spurious_data, make_pipeline_stages      the lesson's synthetic three-stage pipeline

See ``docs/attribution.md`` for the same derivation with worked examples.
"""

from ethicskit.attribution.encoder import cut_at_best_epoch, encoder_inputs, top_blocks
from ethicskit.attribution.estimators import (
    CheckedEffects,
    checked_stage_effects,
    estimate_stage_effects,
    first_order_coefficients,
    first_order_effects,
    linearised_effects,
    query_replay_error,
    replay_error,
    stage_change,
    stage_shift,
)
from ethicskit.attribution.exact import evaluate_query, exact_stage_effects, retrain_without
from ethicskit.attribution.images import (
    ImageSplit,
    ShortcutDigits,
    accuracy,
    make_cnn,
    make_shortcut_digits,
    shortcut_stages,
)
from ethicskit.attribution.queries import example_losses, functional_model, group_losses, logit_margins
from ethicskit.attribution.recorder import Stage, StepRecord, TrainingRecord, record_training, replay_stage
from ethicskit.attribution.synthetic import (
    Split,
    SpuriousData,
    group_accuracy,
    group_balanced_weights,
    make_mlp,
    make_pipeline_stages,
    make_spurious_data,
)
from ethicskit.attribution.validation import agreement, compare_estimates, fidelity, plot_estimates

__all__ = [
    "Stage", "StepRecord", "TrainingRecord", "record_training", "replay_stage",
    "exact_stage_effects", "retrain_without", "evaluate_query",
    "estimate_stage_effects", "first_order_effects", "linearised_effects", "first_order_coefficients",
    "stage_change", "stage_shift",
    "checked_stage_effects", "CheckedEffects", "replay_error", "query_replay_error",
    "top_blocks", "encoder_inputs", "cut_at_best_epoch",
    "example_losses", "group_losses", "logit_margins", "functional_model",
    "fidelity", "agreement", "compare_estimates", "plot_estimates",
    "Split", "SpuriousData", "make_spurious_data", "make_pipeline_stages", "make_mlp",
    "group_balanced_weights", "group_accuracy",
    "ImageSplit", "ShortcutDigits", "make_shortcut_digits", "make_cnn", "shortcut_stages", "accuracy",
]
