"""Shared test settings: offline, quiet, deterministic."""

import os
from pathlib import Path

import pytest

# No test may reach a model hub; the encoder weights come from an installed package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The course root (where nbgrader_config.py lives)."""
    return REPO_ROOT
