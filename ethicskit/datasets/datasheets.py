"""Datasheets (Gebru et al., 2021) of the bundled datasets, readable from Python and rendered in the docs.

Each datasheet is stored as JSON beside the data (``data/<name>.datasheet.json``) with the seven
sections of Gebru et al.: motivation, composition, collection, preprocessing, uses, distribution,
maintenance; each section maps a question to its answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ethicskit.datasets._files import DATA_DIR

if TYPE_CHECKING:  # pragma: no cover
    from ethicskit.cards.datasheet import Datasheet

__all__ = ["SECTIONS", "BundledDatasheet", "datasheet"]

SECTIONS = ("motivation", "composition", "collection", "preprocessing", "uses", "distribution", "maintenance")


@dataclass(frozen=True)
class BundledDatasheet:
    """The datasheet of one bundled dataset: a title and seven sections of questions and answers."""

    name: str
    title: str
    sections: dict[str, dict[str, str]]

    def to_markdown(self) -> str:
        """Render as Markdown: one heading per section, each question in bold with its answer."""
        lines = [f"# Datasheet: {self.title}", ""]
        for section in SECTIONS:
            lines += [f"## {section.capitalize()}", ""]
            for question, answer in self.sections[section].items():
                lines += [f"**{question}** {answer}", ""]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_markdown()


def datasheet(name: str) -> Datasheet:
    """Return the datasheet of a bundled dataset, as an :class:`ethicskit.cards.Datasheet`.

    Parameters
    ----------
    name : str
        One of :func:`ethicskit.datasets.list_datasets`.

    Examples
    --------
    >>> from ethicskit.datasets import datasheet
    >>> sheet = datasheet("compas")
    >>> "re-ARREST" in sheet.sections["composition"]["Is there a label or target associated with each instance?"]
    True
    """
    path = DATA_DIR / f"{name}.datasheet.json"
    if not path.exists():
        from ethicskit.datasets.tabular import list_datasets

        raise ValueError(f"no datasheet for dataset {name!r}; available datasets: {list_datasets()}")
    content = json.loads(path.read_text(encoding="utf-8"))
    missing = [s for s in SECTIONS if not content.get(s)]
    if missing:
        raise ValueError(f"the datasheet of {name!r} lacks the section(s) {missing}")
    from ethicskit.cards.datasheet import Datasheet  # the card machinery: validate, render, save

    return Datasheet.from_dict(content, name=name)
