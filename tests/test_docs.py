"""The docs say what the code does: datasheets in docs/datasets.md match the bundled ones."""

import json

import pytest

from ethicskit.datasets._files import DATA_DIR, manifest
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize("name", ["adult", "compas", "german"])
def test_docs_carry_every_datasheet_answer(name):
    docs = (REPO_ROOT / "docs" / "datasets.md").read_text()
    sheet = json.loads((DATA_DIR / f"{name}.datasheet.json").read_text())
    stale = [q for section, answers in sheet.items() if isinstance(answers, dict)
             for q, a in answers.items() if a not in docs]
    assert not stale, f"docs/datasets.md is out of date for {name}: {stale[:3]}"


def test_docs_list_every_bundled_file_and_checksum():
    docs = (REPO_ROOT / "docs" / "datasets.md").read_text()
    for file_name, entry in manifest().items():
        assert file_name in docs and entry["sha256"][:16] in docs
