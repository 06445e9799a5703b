"""The :class:`Dataset` container and the deterministic, stratified train/validation/test split."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from ethicskit._validation import check_columns, check_probability, validate_params

__all__ = ["Dataset", "DatasetSplits", "split_dataset"]


@dataclass(frozen=True)
class Dataset:
    """A tabular dataset with its target and recommended sensitive features.

    Attributes
    ----------
    name : str
        Dataset id (``"adult"``, ``"compas"``, ``"german"``).
    data : pandas.DataFrame
        The features, sensitive columns included (drop them yourself if a model must not see them).
    target : pandas.Series
        Integer labels 0/1; 1 is the positive class described in ``target_description``.
    sensitive_features : list of str
        Columns of ``data`` recommended as sensitive features for fairness audits.
    target_description : str
        What ``target == 1`` means, in words.
    """

    name: str
    data: pd.DataFrame
    target: pd.Series
    sensitive_features: list[str] = field(default_factory=list)
    target_description: str = ""

    def __post_init__(self) -> None:
        # subset() selects rows by index label in both data and target: they must line up exactly
        check_columns(self.data, [], "data")
        if not isinstance(self.target, pd.Series):
            raise TypeError(f"target must be a pandas Series, got {type(self.target).__name__}")
        if len(self.target) != len(self.data):
            raise ValueError(
                f"data has {len(self.data)} rows but target has {len(self.target)}; they must match"
            )
        if not self.data.index.equals(self.target.index):
            raise ValueError(
                "data and target must share the same index (row labels); use reset_index on both"
            )
        if not self.data.index.is_unique:
            raise ValueError("data's index has repeated labels; use data.reset_index(drop=True)")
        if isinstance(self.sensitive_features, str):
            raise TypeError(
                f"sensitive_features must be a list of column names, got {self.sensitive_features!r}"
            )
        check_columns(self.data, list(self.sensitive_features), "data (sensitive_features)")

    @property
    def frame(self) -> pd.DataFrame:
        """Features and target in one DataFrame."""
        return self.data.assign(**{self.target.name: self.target})

    @property
    def sensitive(self) -> pd.DataFrame:
        """The recommended sensitive columns."""
        return self.data[self.sensitive_features]

    def __len__(self) -> int:
        return len(self.data)

    def subset(self, index: pd.Index) -> Dataset:
        """Return the rows with the given index labels, as a new Dataset."""
        return replace(self, data=self.data.loc[index], target=self.target.loc[index])

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, rows={len(self.data)}, features={self.data.shape[1]}, "
            f"target={self.target.name!r}, sensitive_features={self.sensitive_features})"
        )


@dataclass(frozen=True)
class DatasetSplits:
    """Train, validation and test parts of one :class:`Dataset`."""

    train: Dataset
    validation: Dataset
    test: Dataset

    def __iter__(self):
        return iter((self.train, self.validation, self.test))


@validate_params({"random_state": [None, "seed"]})
def split_dataset(
    dataset: Dataset,
    *,
    test_size: float = 0.2,
    validation_size: float = 0.2,
    stratify_by: list[str] | None = None,
    random_state: int = 0,
) -> DatasetSplits:
    """Split deterministically into train/validation/test, stratified by target and sensitive group.

    Parameters
    ----------
    dataset : Dataset
        What to split.
    test_size, validation_size : float
        Fractions of all rows for the test and validation parts (their sum must be below 1).
    stratify_by : list of str, optional
        Columns of ``dataset.data`` to stratify on together with the target. Defaults to the first
        recommended sensitive feature. Strata too small to split are merged into one "rare" stratum.
    random_state : int
        Seed; the same seed gives the same rows in each part.

    Returns
    -------
    DatasetSplits
        ``.train``, ``.validation``, ``.test``, each a :class:`Dataset`.

    Examples
    --------
    >>> from ethicskit.datasets import load_german, split_dataset
    >>> parts = split_dataset(load_german(), random_state=0)
    >>> len(parts.train), len(parts.validation), len(parts.test)
    (600, 200, 200)
    """
    from sklearn.model_selection import train_test_split

    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be an ethicskit Dataset, got {type(dataset).__name__}")
    check_probability(test_size, "test_size", open_interval=True)
    check_probability(validation_size, "validation_size", open_interval=True)
    if test_size + validation_size >= 1:
        raise ValueError(
            f"test_size + validation_size must be below 1, got {test_size} + {validation_size}"
        )
    if isinstance(stratify_by, str):  # "sex" would be read as the columns "s", "e", "x"
        raise TypeError(f"stratify_by must be a list of column names, got the string {stratify_by!r}")
    columns = stratify_by if stratify_by is not None else dataset.sensitive_features[:1]
    check_columns(dataset.data, columns, "dataset.data (stratify_by)")
    strata = _strata(dataset, columns)

    rest, test = train_test_split(
        dataset.data.index, test_size=test_size, stratify=strata, random_state=random_state
    )
    relative_validation = validation_size / (1 - test_size)
    train, validation = train_test_split(
        rest, test_size=relative_validation, stratify=strata.loc[rest], random_state=random_state
    )
    return DatasetSplits(dataset.subset(train), dataset.subset(validation), dataset.subset(test))


def _strata(dataset: Dataset, columns: list[str]) -> pd.Series:
    """Label each row by target and sensitive group; merge strata with fewer than 6 rows."""
    parts = [dataset.target.astype(str)] + [dataset.data[c].astype(str) for c in columns]
    strata = parts[0].str.cat(parts[1:], sep="|") if len(parts) > 1 else parts[0]
    counts = strata.value_counts()
    rare = counts[counts < 6].index
    return strata.where(~strata.isin(rare), "rare")
