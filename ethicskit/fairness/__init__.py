"""Group fairness: audits, data diagnostics, mitigation comparison and plots (built on fairlearn).

Modules, one concern each::

    ethicskit.fairness.metrics      group metrics and audit_predictions (tidy by_group + gaps tables)
    ethicskit.fairness.diagnostics  representation, base rates and proxy detection before any model
    ethicskit.fairness.mitigation   reweighing, fairlearn mitigators, compare_mitigations
    ethicskit.fairness.plots        per-group bars, ROC per group, trade-off plot

Everything public is re-exported here: ``from ethicskit.fairness import audit_predictions``.
fairlearn itself is imported only inside the functions that use it.
"""

from ethicskit.fairness.diagnostics import group_representation, proxy_scores
from ethicskit.fairness.metrics import (
    GROUP_METRICS,
    SCORE_METRICS,
    FairnessAudit,
    SmallGroupWarning,
    accuracy,
    audit_predictions,
    base_rate,
    calibration_by_group,
    false_negative_rate,
    false_positive_rate,
    precision,
    selection_rate,
    true_positive_rate,
)
from ethicskit.fairness.mitigation import (
    METHODS,
    MitigatedModel,
    MitigationComparison,
    ReweighingClassifier,
    compare_mitigations,
    make_baseline,
    make_preprocessor,
    predict_fair,
    reweighing_weights,
)
from ethicskit.fairness.plots import plot_group_metric, plot_roc_by_group, plot_tradeoff

__all__ = [
    "audit_predictions",
    "FairnessAudit",
    "SmallGroupWarning",
    "calibration_by_group",
    "GROUP_METRICS",
    "SCORE_METRICS",
    "base_rate",
    "selection_rate",
    "accuracy",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "precision",
    "group_representation",
    "proxy_scores",
    "reweighing_weights",
    "ReweighingClassifier",
    "MitigatedModel",
    "MitigationComparison",
    "METHODS",
    "make_baseline",
    "make_preprocessor",
    "predict_fair",
    "compare_mitigations",
    "plot_group_metric",
    "plot_roc_by_group",
    "plot_tradeoff",
]
