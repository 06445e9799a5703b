"""Loaders for the bundled tabular datasets: Adult, COMPAS (ProPublica two-year) and German credit.

All three read checksummed copies shipped inside the package; nothing touches the network.
Column names are snake_case; categorical columns have pandas ``category`` dtype; the target is an
integer Series of 0/1.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from ethicskit._validation import check_bool, check_in_choices
from ethicskit.datasets._files import read_verified
from ethicskit.datasets.base import Dataset, DatasetSplits, split_dataset

__all__ = [
    "load_adult",
    "load_compas",
    "load_german",
    "load_dataset",
    "list_datasets",
    "adult_splits",
    "COMPAS_RAW_ROWS",
]

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
    "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country",
    "income",
]
ADULT_CATEGORICAL = [
    "workclass", "education", "marital_status", "occupation", "relationship", "race", "sex", "native_country",
]
COMPAS_COLUMNS = [
    "sex", "age", "age_cat", "race", "juv_fel_count", "juv_misd_count", "juv_other_count", "priors_count",
    "c_charge_degree", "days_b_screening_arrest", "decile_score", "score_text",
]
COMPAS_CATEGORICAL = ["sex", "age_cat", "race", "c_charge_degree", "score_text"]
COMPAS_RAW_ROWS = 7214
GERMAN_COLUMNS = [
    "status", "duration", "credit_history", "purpose", "credit_amount", "savings", "present_employment",
    "installment_rate", "status_sex", "other_debtors", "present_residence_since", "property", "age",
    "installment_plans", "housing", "number_of_existing_credits", "job", "number_of_people_liable_for",
    "telephone", "foreign_worker", "credit",
]


def load_adult(*, drop_missing: bool = False) -> Dataset:
    """Load UCI Adult (census income), train and test files together: 48,842 rows.

    Parameters
    ----------
    drop_missing : bool, default False
        Drop the 3,620 rows with a missing ``workclass``, ``occupation`` or ``native_country``
        (marked "?" in the original files, NaN here).

    Returns
    -------
    Dataset
        ``target`` is ``income`` (1 = income above 50K USD a year); sensitive features ``sex`` and
        ``race``. Features: ``age`` (int), ``workclass`` (category), ``fnlwgt`` (int, census weight),
        ``education`` (category), ``education_num`` (int), ``marital_status``, ``occupation``,
        ``relationship``, ``race``, ``sex`` (category), ``capital_gain``, ``capital_loss``,
        ``hours_per_week`` (int), ``native_country`` (category).

    Examples
    --------
    >>> from ethicskit.datasets import load_adult
    >>> adult = load_adult()
    >>> adult.data.shape, float(adult.target.mean().round(3))
    ((48842, 14), 0.239)
    """
    frames = []
    for file_name, skip in (("adult.data.gz", 0), ("adult.test.gz", 1)):
        text = read_verified(file_name).decode("utf-8")
        frames.append(pd.read_csv(
            io.StringIO(text), header=None, names=ADULT_COLUMNS, skiprows=skip,
            skipinitialspace=True, na_values="?",
        ))
    frame = pd.concat(frames, ignore_index=True).dropna(subset=["income"])
    frame = frame.reset_index(drop=True)
    if check_bool(drop_missing, "drop_missing"):
        frame = frame.dropna().reset_index(drop=True)
    # the test file writes the label with a trailing dot ("<=50K.")
    target = frame.pop("income").str.rstrip(".").eq(">50K").astype(int).rename("income")
    for column in ADULT_CATEGORICAL:
        frame[column] = frame[column].astype("category")
    return Dataset(
        name="adult", data=frame, target=target, sensitive_features=["sex", "race"],
        target_description="income above 50K USD a year (1994 census)",
    )


def load_compas(*, raw: bool = False) -> Dataset:
    """Load ProPublica's COMPAS two-year recidivism data (Broward County, Florida, 2013-2014).

    Parameters
    ----------
    raw : bool, default False
        False applies ProPublica's filter (6,172 rows): the COMPAS screening happened within 30 days of
        the arrest (``-30 <= days_b_screening_arrest <= 30``), a recidivism flag exists
        (``is_recid != -1``), the charge is not an ordinary traffic offence (``c_charge_degree != "O"``),
        and the score is known (``score_text != "N/A"``). True returns all 7,214 rows and every column.

    Returns
    -------
    Dataset
        ``target`` is ``two_year_recid``: 1 = **re-arrested** (not necessarily re-offended) within two
        years. ``decile_score`` and ``score_text`` are the COMPAS tool's own output, kept so that the
        tool can be audited; leave them out of a model's inputs. Sensitive features ``race``, ``sex``.
    """
    text = read_verified("compas-scores-two-years.csv.gz").decode("utf-8")
    frame = pd.read_csv(io.StringIO(text))
    target_column = "two_year_recid"
    if not check_bool(raw, "raw"):
        frame = frame[
            frame["days_b_screening_arrest"].between(-30, 30)
            & (frame["is_recid"] != -1)
            & (frame["c_charge_degree"] != "O")
            & (frame["score_text"] != "N/A")
        ]
        frame = frame[COMPAS_COLUMNS + [target_column]].reset_index(drop=True)
        for column in COMPAS_CATEGORICAL:
            frame[column] = frame[column].astype("category")
    target = frame.pop(target_column).astype(int)
    return Dataset(
        name="compas", data=frame, target=target, sensitive_features=["race", "sex"],
        target_description="re-arrested within two years of the COMPAS screening (re-arrest, not re-offence)",
    )


def load_german() -> Dataset:
    """Load the Statlog German credit data: 1,000 loan applicants, attribute codes decoded.

    Returns
    -------
    Dataset
        ``target`` is ``credit`` (1 = good credit risk, 0 = bad). Sensitive features ``sex`` (derived
        from the original combined "personal status and sex" attribute, which is kept as
        ``status_sex``) and ``age_group`` ("25 and under" / "over 25", the split of Kamiran & Calders).
        The original cost matrix counts a bad applicant classed as good as five times worse than the
        reverse.
    """
    text = read_verified("german.data.gz").decode("utf-8")
    frame = pd.read_csv(io.StringIO(text), sep=" ", header=None, names=GERMAN_COLUMNS, index_col=False)
    codes = json.loads(read_verified("german.values_maps.json"))
    for column, mapping in codes.items():
        frame[column] = frame[column].astype(str).map(mapping)
    target = frame.pop("credit").eq("good").astype(int)
    frame["sex"] = frame["status_sex"].str.split(" : ").str[0]
    frame["age_group"] = np.where(frame["age"] <= 25, "25 and under", "over 25")
    for column in frame.columns:
        if pd.api.types.is_string_dtype(frame[column]) or pd.api.types.is_object_dtype(frame[column]):
            frame[column] = frame[column].astype("category")
    return Dataset(
        name="german", data=frame, target=target, sensitive_features=["sex", "age_group"],
        target_description="good credit risk",
    )


_LOADERS = {"adult": load_adult, "compas": load_compas, "german": load_german}


def list_datasets() -> list[str]:
    """Names of the bundled datasets, for :func:`load_dataset` and :func:`datasheet`."""
    names = list(_LOADERS)
    try:
        from ethicskit.datasets import moderation  # noqa: F401  (added by the ethics-SFT topic)
        names.append("moderation")
    except ImportError:
        pass
    return names


def load_dataset(name: str, **kwargs) -> Dataset:
    """Load a bundled tabular dataset by name; an unknown name lists the available ones."""
    check_in_choices(name, _LOADERS, "dataset name")
    return _LOADERS[name](**kwargs)


def adult_splits(*, random_state: int = 0) -> DatasetSplits:
    """Adult split 60/20/20 into train / validation / test (lab 1's split with the default seed)."""
    return split_dataset(load_adult(), random_state=random_state)
