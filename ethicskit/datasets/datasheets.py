"""Datasheets (Gebru et al., 2021) of the bundled datasets, readable from Python and rendered in the docs.

Each datasheet is stored as JSON beside the data (``data/<name>.datasheet.json``) with the seven
sections of Gebru et al.: motivation, composition, collection, preprocessing, uses, distribution,
maintenance; each section maps a question to its answer.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ethicskit.datasets._files import DATA_DIR

if TYPE_CHECKING:  # pragma: no cover
    from ethicskit.cards.datasheet import Datasheet

__all__ = ["SECTIONS", "datasheet"]

SECTIONS = ("motivation", "composition", "collection", "preprocessing", "uses", "distribution", "maintenance")


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
    >>> label = sheet.sections["composition"]["Is there a label or target associated with each instance?"]
    >>> "re-ARREST" in label
    True
    """
    from ethicskit.datasets.tabular import list_datasets

    if not isinstance(name, str):
        raise TypeError(f"name must be a dataset name (str), got {type(name).__name__}")
    path = DATA_DIR / f"{name}.datasheet.json"
    if "/" in name or "\\" in name or not path.exists():
        raise ValueError(f"name {name!r} has no datasheet; available datasets: {list_datasets()}")
    content = json.loads(path.read_text(encoding="utf-8"))
    missing = [s for s in SECTIONS if not content.get(s)]
    if missing:
        raise ValueError(f"the datasheet of {name!r} lacks the section(s) {missing}")
    from ethicskit.cards.datasheet import Datasheet  # the card machinery: validate, render, save

    return Datasheet.from_dict(content, name=name)
