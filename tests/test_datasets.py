"""Bundled datasets: shapes, dtypes, checksums, split determinism and stratification, error messages."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pandas as pd
import pytest

from ethicskit.datasets import (
    DataFileError,
    _files,
    datasheet,
    list_datasets,
    load_adult,
    load_compas,
    load_dataset,
    load_german,
    split_dataset,
)
from ethicskit.datasets.datasheets import SECTIONS
from ethicskit.datasets.tabular import COMPAS_RAW_ROWS


@pytest.fixture(scope="module")
def adult():
    return load_adult()


@pytest.fixture(scope="module")
def compas():
    return load_compas()


@pytest.fixture(scope="module")
def german():
    return load_german()


def test_adult_has_train_and_test_rows(adult):
    assert adult.data.shape == (48842, 14)
    assert adult.target.name == "income"
    assert set(adult.target.unique()) == {0, 1}
    assert adult.target.mean() == pytest.approx(0.2393, abs=1e-3)


def test_adult_dtypes_and_missing_values(adult):
    assert adult.data["sex"].dtype == "category"
    assert set(adult.data["sex"].cat.categories) == {"Female", "Male"}
    assert pd.api.types.is_integer_dtype(adult.data["age"])
    assert adult.data.isna().any(axis=1).sum() == 3620
    assert len(load_adult(drop_missing=True)) == 48842 - 3620
    # no label text left with the test file's trailing dot or leading space
    assert not adult.data["workclass"].dropna().str.startswith(" ").any()


def test_compas_propublica_filter(compas):
    assert compas.data.shape == (6172, 12)
    assert compas.data["days_b_screening_arrest"].between(-30, 30).all()
    assert "O" not in set(compas.data["c_charge_degree"])
    assert compas.target.name == "two_year_recid"
    assert compas.data["race"].value_counts()["African-American"] == 3175
    assert compas.sensitive_features == ["race", "sex"]


def test_compas_raw_keeps_every_row():
    raw = load_compas(raw=True)
    assert len(raw) == COMPAS_RAW_ROWS == 7214
    assert "name" in raw.data.columns


def test_german_decoded(german):
    assert german.data.shape[0] == 1000
    assert german.target.mean() == pytest.approx(0.7)
    assert german.data["sex"].value_counts().to_dict() == {"male": 690, "female": 310}
    assert (german.data["age_group"] == "25 and under").sum() == (german.data["age"] <= 25).sum()
    assert not german.data["purpose"].astype(str).str.match(r"A\d+").any(), "codes were not decoded"


def test_every_bundled_file_is_verified():
    for name, entry in _files.manifest().items():
        raw = _files.read_verified(name)
        assert len(raw) == entry["bytes"]
        assert entry["licence"] and entry["source"]


def test_corrupted_file_names_file_and_checksum(tmp_path):
    shutil.copy(_files.DATA_DIR / "german.data.gz", tmp_path / "german.data.gz")
    text = gzip.decompress((tmp_path / "german.data.gz").read_bytes())
    (tmp_path / "german.data.gz").write_bytes(gzip.compress(text.replace(b"A11", b"A12", 1)))
    with pytest.raises(DataFileError, match=r"german\.data\.gz.*checksum.*SHA-256"):
        _files.read_verified("german.data.gz", data_dir=tmp_path)


def test_truncated_gzip_is_reported(tmp_path):
    (tmp_path / "adult.test.gz").write_bytes((_files.DATA_DIR / "adult.test.gz").read_bytes()[:1000])
    with pytest.raises(DataFileError, match="adult.test.gz.*corrupted"):
        _files.read_verified("adult.test.gz", data_dir=tmp_path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(DataFileError, match="compas-scores-two-years.csv.gz is missing"):
        _files.read_verified("compas-scores-two-years.csv.gz", data_dir=tmp_path)


def test_unknown_dataset_lists_available():
    with pytest.raises(ValueError, match=r"unknown dataset name 'mnist'.*adult.*compas.*german"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="available datasets"):
        datasheet("mnist")


def test_split_is_deterministic_and_disjoint(german):
    first = split_dataset(german, random_state=3)
    second = split_dataset(german, random_state=3)
    other = split_dataset(german, random_state=4)
    for a, b in zip(first, second, strict=True):
        assert a.data.index.equals(b.data.index)
    assert not first.test.data.index.equals(other.test.data.index)
    indexes = [set(p.data.index) for p in first]
    assert sum(map(len, indexes)) == 1000 and not (indexes[0] & indexes[1] or indexes[0] & indexes[2])
    assert [len(p) for p in first] == [600, 200, 200]


def test_split_stratifies_target_and_group(adult):
    parts = split_dataset(adult, random_state=0)
    overall = adult.target.groupby(adult.data["sex"], observed=True).mean()
    for part in parts:
        rates = part.target.groupby(part.data["sex"], observed=True).mean()
        np.testing.assert_allclose(rates, overall, atol=0.01)
        share = (part.data["sex"] == "Female").mean()
        assert share == pytest.approx((adult.data["sex"] == "Female").mean(), abs=0.005)


def test_split_rejects_bad_sizes(german):
    with pytest.raises(ValueError, match="test_size"):
        split_dataset(german, test_size=1.5)
    with pytest.raises(ValueError, match="below 1"):
        split_dataset(german, test_size=0.6, validation_size=0.5)
    with pytest.raises(ValueError, match="no column"):
        split_dataset(german, stratify_by=["colour"])
    with pytest.raises(TypeError, match="Dataset"):
        split_dataset(german.data)


@pytest.mark.parametrize("name", ["adult", "compas", "german"])
def test_datasheets_are_complete(name):
    sheet = datasheet(name)
    assert tuple(sheet.sections) == SECTIONS
    for section, answers in sheet.sections.items():
        assert len(answers) >= 2, f"{name}: section {section} has fewer than two answers"
        for question, answer in answers.items():
            assert len(answer) > 20, f"{name}/{section}: '{question}' has no real answer"
            assert "More Information Needed" not in answer and "TODO" not in answer
    assert "licen" in sheet.to_markdown().lower()


def test_datasheets_state_known_problems():
    assert "re-ARREST" in datasheet("compas").to_markdown()
    assert "Retiring Adult" in datasheet("adult").to_markdown()
    assert "1,000" in datasheet("german").to_markdown()


def test_list_datasets_contains_bundled():
    assert {"adult", "compas", "german"} <= set(list_datasets())


def test_datasets_do_not_import_torch():
    import subprocess
    import sys

    code = "import sys, ethicskit.datasets as d; d.load_german(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", ["adult", "compas", "german"])
def test_bundled_datasheets_pass_the_card_validator(name):
    findings = datasheet(name).validate()
    assert len(findings) == 0, f"{name}: {findings}"


def test_datasets_refuse_truthy_flags_huge_n_and_misaligned_parts():
    """#21: drop_missing="yes" and raw=2 were read as True; n=10**9 ran for hours."""
    from ethicskit.datasets import Dataset, load_compas, load_moderation

    with pytest.raises(TypeError, match="raw"):
        load_compas(raw=2)
    with pytest.raises(ValueError, match="n must be"):
        load_moderation(n=10**9)
    frame = pd.DataFrame({"a": [1, 2, 3], "g": ["x", "y", "x"]})
    with pytest.raises(ValueError, match="index"):
        Dataset("d", frame, pd.Series([0, 1, 0], index=[5, 6, 7]))
    with pytest.raises(ValueError, match="sensitive_features"):
        Dataset("d", frame, pd.Series([0, 1, 0]), sensitive_features=["race"])
