"""Check that a machine can run the course: library versions, bundled data, the offline encoder.

>>> from ethicskit.envcheck import check_environment
>>> report = check_environment(load_encoder=False)   # doctest: +SKIP
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time
from dataclasses import dataclass

import pandas as pd

__all__ = ["COURSE_PACKAGES", "EnvironmentCheck", "check_environment"]

COURSE_PACKAGES = (
    "ethicskit", "numpy", "pandas", "scikit-learn", "fairlearn", "shap", "lime", "torch", "transformers",
    "huggingface_hub", "opacus", "cryptography", "codecarbon", "nbgrader", "jupyterlab",
)


@dataclass(frozen=True)
class EnvironmentCheck:
    """One line of the environment report."""

    item: str
    ok: bool
    detail: str


def _versions() -> list[EnvironmentCheck]:
    rows = [EnvironmentCheck("python", True, platform.python_version())]
    for package in COURSE_PACKAGES:
        try:
            rows.append(EnvironmentCheck(package, True, importlib.metadata.version(package)))
        except importlib.metadata.PackageNotFoundError:
            rows.append(EnvironmentCheck(package, False, "not installed - run `make env`"))
    return rows


def _datasets() -> list[EnvironmentCheck]:
    from ethicskit.datasets import load_adult, load_compas, load_german

    rows = []
    for loader in (load_adult, load_compas, load_german):
        try:
            dataset = loader()
            detail = f"{len(dataset):,} rows, checksum verified"
            rows.append(EnvironmentCheck(f"dataset {dataset.name}", True, detail))
        except Exception as error:  # report every failure, do not stop at the first
            rows.append(EnvironmentCheck(f"dataset {loader.__name__[5:]}", False, str(error)))
    return rows


def _encoder() -> EnvironmentCheck:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        start = time.perf_counter()
        from ethicskit.sft.model import model_path  # the one place that knows where the weights are

        folder = model_path()
        tokenizer = AutoTokenizer.from_pretrained(folder)
        hf_logging.disable_progress_bar()  # a weight-loading bar is noise in a report
        try:
            model = AutoModel.from_pretrained(folder).eval()
        finally:
            hf_logging.enable_progress_bar()
        with torch.no_grad():
            hidden = model(**tokenizer(["An offline test sentence."], return_tensors="pt")).last_hidden_state
        seconds = time.perf_counter() - start
        parameters = sum(p.numel() for p in model.parameters())
        detail = (
            f"all-MiniLM-L6-v2 loaded offline: {parameters / 1e6:.1f} M parameters, "
            f"hidden size {hidden.shape[-1]}, {seconds:.1f} s"
        )
        return EnvironmentCheck("pretrained encoder", True, detail)
    except Exception as error:
        return EnvironmentCheck("pretrained encoder", False, f"{type(error).__name__}: {error}")


def check_environment(*, load_encoder: bool = True) -> pd.DataFrame:
    """Report library versions, whether the bundled datasets load, and whether the encoder loads offline.

    Parameters
    ----------
    load_encoder : bool, default True
        Also load the pretrained encoder with transformers (a few seconds; imports torch).

    Returns
    -------
    pandas.DataFrame
        Columns ``item``, ``ok``, ``detail``; one row per check.
    """
    rows = _versions() + _datasets()
    if load_encoder:
        rows.append(_encoder())
    return pd.DataFrame([vars(r) for r in rows])
