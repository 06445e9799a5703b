"""Supervised fine-tuning of a pretrained encoder for an ethics task, with ethical evaluation.

Importing this package is cheap: torch and transformers load only when a function needs them.

Submodules::

    ethicskit.sft.model       find/load all-MiniLM-L6-v2, frozen sentence embeddings, freeze layers,
                              count parameters
    ethicskit.sft.train       TextClassifier, fine_tune, train_stage (one composable stage), distill
    ethicskit.sft.tokens      checking texts, padding, length-sorted batches, the batched forward pass
    ethicskit.sft.frozen      frozen lower layers computed once per text (cached), the top run alone
    ethicskit.sft.metrics     overall AUC, Borkan et al. unintended-bias metrics, counterfactual consistency
    ethicskit.sft.mitigation  counterfactual data augmentation, reweighting
    ethicskit.sft.energy      energy/CO2 with codecarbon (offline) and a TDP fallback, training FLOPs
"""

from ethicskit.sft.energy import EnergyMeter, EnergyReport, cost_table, training_flops
from ethicskit.sft.metrics import (
    Consistency,
    Evaluation,
    bias_metrics,
    compare,
    counterfactual_consistency,
    evaluate,
    final_bias_score,
    generalized_mean,
    plot_bias,
)
from ethicskit.sft.mitigation import counterfactual_augment, reweight
from ethicskit.sft.model import (
    ModelNotFoundError,
    count_parameters,
    embed_texts,
    freeze_lower_layers,
    load_encoder,
    model_path,
)

__all__ = [
    "EnergyMeter",
    "EnergyReport",
    "ModelNotFoundError",
    "TextClassifier",
    "bias_metrics",
    "compare",
    "count_parameters",
    "counterfactual_augment",
    "counterfactual_consistency",
    "distill",
    "embed_texts",
    "Consistency",
    "Evaluation",
    "evaluate",
    "final_bias_score",
    "fine_tune",
    "freeze_lower_layers",
    "generalized_mean",
    "load_encoder",
    "model_path",
    "plot_bias",
    "reweight",
    "train_stage",
    "training_flops",
    "cost_table",
]

# ``ethicskit.sft.train`` needs scikit-learn (TextClassifier is an estimator): loaded on first use, so
# importing the package stays cheap.
_LAZY = {"TextClassifier", "distill", "fine_tune", "train_stage"}


def __getattr__(name: str):
    if name in _LAZY:
        from ethicskit.sft import train

        return getattr(train, name)
    raise AttributeError(f"module 'ethicskit.sft' has no attribute {name!r}")
