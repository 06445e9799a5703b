"""Datasheets for datasets (Gebru et al., 2021): seven sections of questions and answers.

A :class:`Datasheet` is stored as JSON (``{section: {question: answer}}``, the layout of the bundled
``ethicskit/datasets/data/<name>.datasheet.json``) and rendered in the Hugging Face dataset-card
format (YAML metadata, then Markdown) with the same machinery as model cards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from ethicskit._validation import Interval, validate_params
from ethicskit.cards._text import PLACEHOLDER, split_sections
from ethicskit.cards.render import html_page
from ethicskit.cards.validation import Finding, Findings, check_license, check_section_text

__all__ = ["Datasheet", "SECTIONS", "QUESTIONS"]

#: The seven sections, in order, with their display titles.
SECTIONS = {
    "motivation": "Motivation",
    "composition": "Composition",
    "collection": "Collection process",
    "preprocessing": "Preprocessing, cleaning and labelling",
    "uses": "Uses",
    "distribution": "Distribution",
    "maintenance": "Maintenance",
}

#: Core questions of each section (abridged from Gebru et al., "Datasheets for Datasets").
QUESTIONS = {
    "motivation": [
        "For what purpose was the dataset created?",
        "Who created the dataset and on behalf of which entity?",
        "Who funded the creation of the dataset?",
    ],
    "composition": [
        "What do the instances represent?",
        "How many instances are there?",
        "Does the dataset identify any subpopulations (e.g. by age, sex or race)?",
        "Is any information missing from individual instances?",
        "Does the dataset contain data that might be considered sensitive?",
    ],
    "collection": [
        "How was the data associated with each instance acquired?",
        "Over what timeframe was the data collected?",
        "Were the individuals concerned notified and did they consent?",
    ],
    "preprocessing": [
        "Was any preprocessing, cleaning or labelling of the data done?",
        "Is the raw data saved in addition to the preprocessed data?",
    ],
    "uses": [
        "Has the dataset been used for any tasks already?",
        "Is there anything about its composition or collection that might impact future uses?",
        "Are there tasks for which the dataset should not be used?",
    ],
    "distribution": [
        "How is the dataset distributed?",
        "Under what licence is it distributed?",
    ],
    "maintenance": [
        "Who maintains the dataset?",
        "Will the dataset be updated, and how will updates be communicated?",
    ],
}

_TITLE_TO_KEY = {title.lower(): key for key, title in SECTIONS.items()}


class Datasheet:
    """A datasheet: ``name``, seven sections of ``{question: answer}``, and metadata.

    Parameters
    ----------
    name : str
        Dataset name.
    sections : dict, optional
        ``{section: {question: answer}}`` with section keys from :data:`SECTIONS`.
    license : str, optional
        SPDX id of the dataset's licence.
    metadata : dict, optional
        Anything else worth keeping (source URL, SHA-256, citation); written to the card's YAML.

    Examples
    --------
    >>> sheet = Datasheet.template("my-data")
    >>> sheet.answer("motivation", "For what purpose was the dataset created?", "To ...")
    >>> [f.where for f in sheet.validate()][:1]
    ['Motivation / Who created the dataset and on behalf of which entity?']
    """

    def __init__(
        self,
        name: str,
        sections: dict[str, dict[str, str]] | None = None,
        *,
        license: str | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        self.name = name
        self.license = license
        self.metadata = dict(metadata or {})
        self.sections: dict[str, dict[str, str]] = {key: {} for key in SECTIONS}
        for key, answers in (sections or {}).items():
            if key not in SECTIONS:
                raise ValueError(f"unknown datasheet section {key!r}; expected one of {list(SECTIONS)}")
            if not isinstance(answers, dict):
                raise TypeError(
                    f"sections[{key!r}] must be a dict of question -> answer, got {type(answers).__name__}"
                )
            self.sections[key] = {str(q): str(a) for q, a in answers.items()}

    @property
    def title(self) -> str:
        """A human-readable title (``metadata["title"]`` when the bundled JSON gives one, else the name)."""
        return str(self.metadata.get("title") or self.name)

    # ------------------------------------------------------------------ building
    @classmethod
    def template(cls, name: str, **kwargs: Any) -> Datasheet:
        """A datasheet with every core question and the placeholder as answer."""
        return cls(name, {key: {q: PLACEHOLDER for q in qs} for key, qs in QUESTIONS.items()}, **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, name: str | None = None) -> Datasheet:
        """Build from ``{section: {question: answer}, "name": ..., "license": ..., other metadata}``."""
        if not isinstance(data, dict):
            raise TypeError(f"data must be a dict, got {type(data).__name__}")
        data = dict(data)
        sections = {key: data.pop(key) for key in SECTIONS if key in data}
        metadata = data.pop("metadata", {}) or {}
        found_name = name or data.pop("name", None) or metadata.get("name")
        data.pop("name", None)
        license = data.pop("license", None)
        return cls(found_name or "dataset", sections, license=license, metadata={**metadata, **data})

    @classmethod
    def bundled(cls, name: str) -> Datasheet:
        """The datasheet of a bundled ethicskit dataset (``adult``, ``compas``, ``german``)."""
        path = Path(__file__).resolve().parent.parent / "datasets" / "data" / f"{name}.datasheet.json"
        if not path.is_file():
            raise ValueError(f"unknown dataset {name!r}: no bundled datasheet at {path.name}")
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")), name=name)

    def answer(self, section: str, question: str, text: str) -> Datasheet:
        """Set the answer to ``question`` in ``section``; returns the datasheet for chaining."""
        if section not in SECTIONS:
            raise ValueError(f"unknown datasheet section {section!r}; expected one of {list(SECTIONS)}")
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        self.sections[section][question] = text
        return self

    # ------------------------------------------------------------------ saving and loading
    def to_dict(self) -> dict[str, Any]:
        """``{"name", "license", "metadata", <seven sections>}`` (JSON-ready)."""
        return {
            "name": self.name,
            "license": self.license,
            "metadata": dict(self.metadata),
            **{key: dict(self.sections[key]) for key in SECTIONS},
        }

    def to_card(self) -> DatasetCard:
        """The datasheet as a Hugging Face dataset card (YAML metadata, then Markdown)."""
        data = DatasetCardData(
            pretty_name=self.name,
            license=self.license,
            datasheet=True,
            **{k: v for k, v in self.metadata.items() if k not in ("pretty_name", "license")},
        )
        body = [f"# Datasheet for {self.title}"]
        for key, title in SECTIONS.items():
            body.append(f"## {title}")
            for question, answer in self.sections[key].items():
                body += [f"### {question}", answer.strip() or PLACEHOLDER]
        return DatasetCard(f"---\n{data.to_yaml()}\n---\n" + "\n\n".join(body) + "\n")

    @classmethod
    def from_card(cls, card: DatasetCard | str) -> Datasheet:
        """Read back a datasheet written by :meth:`to_card` (a card or its Markdown text)."""
        if isinstance(card, str):
            card = DatasetCard(card)
        meta = card.data.to_dict()
        name = meta.pop("pretty_name", None) or "dataset"
        license = meta.pop("license", None)
        meta.pop("datasheet", None)
        sections: dict[str, dict[str, str]] = {}
        for title, body in split_sections(card.text).items():
            key = _TITLE_TO_KEY.get(title.lower())
            if key is None:
                raise ValueError(
                    f"card has a section {title!r} that is not one of the seven datasheet sections"
                )
            sections[key] = split_sections(body, level=3)
        return cls(name, sections, license=license, metadata=meta)

    def to_markdown(self) -> str:
        """The dataset-card text (YAML block, then Markdown)."""
        return self.to_card().content

    def to_html(self) -> str:
        """A standalone HTML page."""
        card = self.to_card()
        return html_page(f"Datasheet for {self.name}", card.text, metadata_yaml=card.data.to_yaml())

    def save(self, path: str | Path) -> Path:
        """Write to ``.json`` (the bundled layout) or Markdown (any other suffix)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".json":
            path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        else:
            path.write_text(self.to_markdown(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Datasheet:
        """Read a datasheet saved by :meth:`save` (JSON or Markdown, by suffix)."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"path must be an existing datasheet file, got {str(path)!r}")
        text = path.read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text)) if path.suffix == ".json" else cls.from_card(text)

    # ------------------------------------------------------------------ summarising and validating
    def summary(self, *, max_chars: int = 300) -> str:
        """A short Markdown paragraph for a model card's "Training data" section."""

        def first(key: str) -> str:
            answers = [a for a in self.sections[key].values() if a.strip() and PLACEHOLDER not in a]
            text = answers[0].strip() if answers else "not documented"
            return text if len(text) <= max_chars else text[: max_chars - 3].rstrip() + "..."

        return (
            f"Datasheet for **{self.name}** (licence: {self.license or 'not stated'}).\n\n"
            f"- Motivation: {first('motivation')}\n- Composition: {first('composition')}\n"
            f"- Collection: {first('collection')}"
        )

    @validate_params({"min_words": [Interval("integral", 0, None)]})
    def validate(self, *, min_words: int = 5) -> Findings:
        """Check every section is answered, specifically, without placeholders; the licence is SPDX."""
        findings = Findings(
            check_license(
                self.license, license_name=self.metadata.get("license_name"), where="datasheet.license"
            ),
            subject="datasheet",
        )
        for key, title in SECTIONS.items():
            answers = self.sections[key]
            if not answers:
                findings.append(
                    Finding(
                        "error",
                        title,
                        "the section has no answered question",
                        f"answer the questions of '{title}' (see QUESTIONS['{key}'])",
                    )
                )
            for question, answer in answers.items():
                findings += check_section_text(f"{title} / {question}", answer, min_words=min_words)
        return findings

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Datasheet) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        answered = sum(
            1 for s in self.sections.values() for a in s.values() if a.strip() and PLACEHOLDER not in a
        )
        return f"Datasheet({self.name!r}, {answered} answered question(s))"

    def _repr_markdown_(self) -> str:  # pragma: no cover - notebook display
        return self.to_card().text
