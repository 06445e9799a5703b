"""Model cards and datasheets in the Hugging Face card format, with an offline validator.

::

    from ethicskit.cards import ModelCard, Datasheet
    card = ModelCard.from_model(model, X_test, y_test, model_name="adult-logreg", dataset_name="adult",
                                sensitive_features=["sex", "race"])
    card.set_section("Intended use", "...")
    findings = card.validate(model, X_test, y_test)  # offline; a list of Findings
    card.save("README.md"); ModelCard.load("README.md")

Sections a person must write (intended and out-of-scope use, limitations, ethical considerations,
caveats and recommendations) are left as prompts, never invented.
"""

from ethicskit.cards._text import PLACEHOLDER
from ethicskit.cards.datasheet import QUESTIONS, SECTIONS, Datasheet
from ethicskit.cards.metrics import KNOWN_METRICS, disparities, group_metrics, largest_disparity, tidy_metrics
from ethicskit.cards.model_card import AUTHORED_SECTIONS, REQUIRED_SECTIONS, ModelCard
from ethicskit.cards.validation import SPDX_LICENSES, Finding, Findings

__all__ = [
    "AUTHORED_SECTIONS",
    "Datasheet",
    "Finding",
    "Findings",
    "KNOWN_METRICS",
    "ModelCard",
    "PLACEHOLDER",
    "QUESTIONS",
    "REQUIRED_SECTIONS",
    "SECTIONS",
    "SPDX_LICENSES",
    "disparities",
    "group_metrics",
    "largest_disparity",
    "tidy_metrics",
]
