"""Bundled offline datasets, their loaders, a stratified split helper and their datasheets.

No network is ever used: every file ships inside the package with its SHA-256 recorded in
``data/manifest.json`` and verified on load. This subpackage never imports torch.

>>> from ethicskit.datasets import load_adult, split_dataset, datasheet
"""

from ethicskit.datasets._files import DataFileError
from ethicskit.datasets.base import Dataset, DatasetSplits, split_dataset
from ethicskit.datasets.datasheets import datasheet
from ethicskit.datasets.moderation import load_moderation, load_moderation_csv
from ethicskit.datasets.tabular import (
    adult_splits,
    list_datasets,
    load_adult,
    load_compas,
    load_dataset,
    load_german,
)

__all__ = [
    "DataFileError",
    "Dataset",
    "DatasetSplits",
    "datasheet",
    "list_datasets",
    "load_adult",
    "adult_splits",
    "load_compas",
    "load_dataset",
    "load_german",
    "load_moderation",
    "load_moderation_csv",
    "split_dataset",
]
