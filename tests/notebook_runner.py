"""Execute a notebook headless, the way CI and the instructor command do."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbclient import NotebookClient

#: What a reader's Jupyter uses: figures end up in the cell outputs as PNG images. (The tests' own
#: process uses Agg; with Agg in the kernel no figure would ever reach the executed notebook.)
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


@contextmanager
def _kernel_env(**values: str):
    """Set environment variables for the kernel about to start (it inherits them), then restore."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def execute_notebook(
    path: Path, *, timeout: int = 600, cwd: Path | None = None, inline_figures: bool = True
) -> nbformat.NotebookNode:
    """Run every cell of ``path`` in a fresh kernel and return the executed notebook.

    With ``inline_figures`` (the default) the kernel plots with the inline backend, as in Jupyter, so
    every figure a cell draws is in its outputs (``image/png``) and tests can see it.

    Raises ``nbclient.exceptions.CellExecutionError`` naming the failing cell.
    """
    notebook = nbformat.read(path, as_version=4)
    env_cwd = str(cwd or path.parent)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": env_cwd}}
    )
    backend = {"MPLBACKEND": INLINE_BACKEND} if inline_figures else {}
    with _kernel_env(**backend):
        client.execute()
    return notebook


def figure_count(cell: nbformat.NotebookNode) -> int:
    """Number of images (``image/png`` or ``image/svg+xml`` outputs) an executed code cell shows."""
    return sum(
        1
        for output in cell.get("outputs", [])
        if output.get("output_type") in ("display_data", "execute_result")
        and ({"image/png", "image/svg+xml"} & set(output.get("data", {})))
    )
