"""ethicskit: helpers, checks and an instructor CLI for an offline, autograded AI-ethics course.

Importing the package is cheap on purpose: heavy libraries (torch, transformers, shap, lime, opacus)
are imported inside the functions that need them, so a notebook pays only for what it uses.

Submodules (import them explicitly)::

    ethicskit.datasets      bundled offline datasets, loaders and datasheets
    ethicskit.fairness      group-fairness audits and mitigation comparison (fairlearn)
    ethicskit.explain       SHAP / LIME helpers and explanation-quality measures
    ethicskit.cards         model cards and datasheets (Hugging Face card format)
    ethicskit.audit         tamper-evident audit trail, review queue, feedback log
    ethicskit.privacy       anonymisation, differential privacy, DP-SGD, membership inference
    ethicskit.sft           fine-tuning a pretrained encoder and unintended-bias metrics
    ethicskit.attribution   training-stage attribution
    ethicskit.checks        feedback-first checks for lessons and labs
    ethicskit.course        the instructor command line (``ethicskit course --help``)
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
