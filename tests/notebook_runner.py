"""Execute a notebook headless, the way CI and the instructor command do."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute_notebook(path: Path, *, timeout: int = 600, cwd: Path | None = None) -> nbformat.NotebookNode:
    """Run every cell of ``path`` in a fresh kernel and return the executed notebook.

    Raises ``nbclient.exceptions.CellExecutionError`` naming the failing cell.
    """
    notebook = nbformat.read(path, as_version=4)
    env_cwd = str(cwd or path.parent)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": env_cwd}}
    )
    client.execute()
    return notebook
