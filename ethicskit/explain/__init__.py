"""Explanations and how far to trust them: SHAP, LIME, permutation importance, interpretable
baselines, explanation-quality measures ("explainability indices"), proxy analysis and plots.

Everything explains the probability (or log-odds) of the positive class, label 1, of a fitted binary
classifier on a numeric ``pandas.DataFrame`` (encode categories with :func:`ordinal_encode`). shap and
lime are imported only when a function needs them, so ``import ethicskit.explain`` stays cheap.

Typical use::

    from ethicskit import explain
    shap_expl = explain.shap_values(model, X_test.head(30), background=X_train.sample(100, random_state=0))
    lime_expl = explain.lime_values(model, X_test.head(30), training_data=X_train)
    explain.quality_table(model, {"SHAP": shap_expl, "LIME": lime_expl})
    explain.proxy_analysis(model, X_test, sensitive=sex_test, attributions=...)
"""

from ethicskit.explain._common import ordinal_encode
from ethicskit.explain.attributions import (
    LocalExplanation,
    coefficient_table,
    explain_in_words,
    fit_logistic_baseline,
    fit_tree_baseline,
    lime_text,
    lime_values,
    permutation_importances,
    shap_values,
    tree_rules,
)
from ethicskit.explain.plots import plot_beeswarm, plot_curves, plot_global, plot_local, plot_proxies
from ethicskit.explain.proxies import prediction_gap, proxy_analysis
from ethicskit.explain.quality import (
    agreement,
    comprehensiveness,
    deletion_curve,
    faithfulness_correlation,
    insertion_curve,
    lime_stability,
    quality_table,
    rank_agreement,
    reference_row,
    shap_stability,
    sparsity,
    stability,
    sufficiency,
)

__all__ = [
    "LocalExplanation",
    "ordinal_encode",
    "shap_values",
    "lime_values",
    "lime_text",
    "permutation_importances",
    "fit_logistic_baseline",
    "fit_tree_baseline",
    "coefficient_table",
    "tree_rules",
    "explain_in_words",
    "reference_row",
    "comprehensiveness",
    "sufficiency",
    "deletion_curve",
    "insertion_curve",
    "faithfulness_correlation",
    "rank_agreement",
    "agreement",
    "sparsity",
    "stability",
    "lime_stability",
    "shap_stability",
    "quality_table",
    "prediction_gap",
    "proxy_analysis",
    "plot_local",
    "plot_global",
    "plot_beeswarm",
    "plot_curves",
    "plot_proxies",
]
