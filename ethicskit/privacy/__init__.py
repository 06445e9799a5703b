"""Privacy: consent and minimisation, pseudonymisation and encryption, k-anonymity and an anonymiser,
differential-privacy mechanisms and a budget accountant, DP-SGD, and membership inference.

One module per concern; everything public is re-exported here. Importing is cheap: torch, opacus,
cryptography, scipy and scikit-learn load only inside the functions that need them.

=====================================  =====================================================
module                                 what it offers
=====================================  =====================================================
:mod:`ethicskit.privacy.consent`       ``minimise``, ``filter_by_consent``, ``simulate_consent``
:mod:`ethicskit.privacy.crypto`        ``pseudonymise`` (HMAC), ``encrypt_frame`` / ``decrypt_frame``
                                       (Fernet), ``rotate_token`` (MultiFernet)
:mod:`ethicskit.privacy.anonymity`     ``linkage_attack``, ``uniqueness``, ``k_anonymity``,
                                       ``l_diversity``, hierarchies, ``anonymise``
:mod:`ethicskit.privacy.mechanisms`    Laplace / Gaussian mechanisms, noisy count / histogram / mean,
                                       ``PrivacyAccountant``
:mod:`ethicskit.privacy.dpsgd`         ``DPSGDClassifier`` (opacus), ``TabularEncoder``
:mod:`ethicskit.privacy.membership`    ``loss_threshold_attack``, ``shadow_model_attack``,
                                       ``dp_advantage_bound``
=====================================  =====================================================
"""

from ethicskit.privacy.anonymity import (
    AnonymisationResult,
    CategoryHierarchy,
    Hierarchy,
    IntervalHierarchy,
    LinkageResult,
    MaskHierarchy,
    anonymise,
    equivalence_class_sizes,
    generalise,
    information_loss,
    k_anonymity,
    l_diversity,
    linkage_attack,
    uniqueness,
)
from ethicskit.privacy.consent import (
    MinimisationResult,
    consented_purposes,
    filter_by_consent,
    minimise,
    simulate_consent,
)
from ethicskit.privacy.crypto import (
    DecryptionError,
    decrypt_bytes,
    decrypt_frame,
    encrypt_bytes,
    encrypt_frame,
    generate_hmac_key,
    generate_key,
    pseudonymise,
    rotate_token,
)
from ethicskit.privacy.mechanisms import (
    BudgetExceeded,
    PrivacyAccountant,
    gaussian_mechanism,
    gaussian_sigma,
    laplace_mechanism,
    noisy_count,
    noisy_histogram,
    noisy_mean,
)
from ethicskit.privacy.membership import (
    MembershipResult,
    dp_advantage_bound,
    loss_threshold_attack,
    per_example_loss,
    shadow_model_attack,
)
from ethicskit.privacy.plots import plot_privacy_tradeoff

__all__ = [
    "plot_privacy_tradeoff",
    "AnonymisationResult",
    "BudgetExceeded",
    "CategoryHierarchy",
    "DPSGDClassifier",
    "DecryptionError",
    "Hierarchy",
    "IntervalHierarchy",
    "LinkageResult",
    "MaskHierarchy",
    "MembershipResult",
    "MinimisationResult",
    "PrivacyAccountant",
    "TabularEncoder",
    "anonymise",
    "consented_purposes",
    "decrypt_bytes",
    "decrypt_frame",
    "dp_advantage_bound",
    "encrypt_bytes",
    "encrypt_frame",
    "epsilon_from_history",
    "equivalence_class_sizes",
    "filter_by_consent",
    "gaussian_mechanism",
    "gaussian_sigma",
    "generalise",
    "generate_hmac_key",
    "generate_key",
    "information_loss",
    "k_anonymity",
    "l_diversity",
    "laplace_mechanism",
    "linkage_attack",
    "loss_threshold_attack",
    "minimise",
    "noisy_count",
    "noisy_histogram",
    "noisy_mean",
    "per_example_loss",
    "pseudonymise",
    "rotate_token",
    "shadow_model_attack",
    "simulate_consent",
    "uniqueness",
]

#: Loaded on first use: DP-SGD's estimators subclass scikit-learn's BaseEstimator, and importing
#: scikit-learn would make ``import ethicskit.privacy`` slow for lessons that never train a model.
_LAZY = {"DPSGDClassifier", "TabularEncoder", "epsilon_from_history"}


def __getattr__(name: str):
    if name in _LAZY:
        from ethicskit.privacy import dpsgd

        return getattr(dpsgd, name)
    raise AttributeError(f"module 'ethicskit.privacy' has no attribute {name!r}")
