"""Markdown -> HTML for cards and datasheets, with whatever Markdown library Jupyter already installed."""

from __future__ import annotations

import html

__all__ = ["markdown_to_html", "html_page"]


def markdown_to_html(text: str) -> str:
    """Convert Markdown (tables included) to an HTML fragment.

    Uses ``markdown-it-py`` or ``mistune`` (both come with JupyterLab/nbconvert); falls back to an
    escaped ``<pre>`` block so rendering never fails.
    """
    try:
        from markdown_it import MarkdownIt

        return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    except ImportError:  # pragma: no cover - depends on the environment
        pass
    try:  # pragma: no cover
        import mistune

        return mistune.html(text)
    except ImportError:  # pragma: no cover
        return f"<pre>{html.escape(text)}</pre>"


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}"
    "pre{background:#f6f6f6;padding:.5rem;overflow:auto}"
)


def html_page(title: str, body_markdown: str, *, metadata_yaml: str = "") -> str:
    """A standalone HTML page: the metadata block (folded) and the rendered Markdown body."""
    meta = ""
    if metadata_yaml.strip():
        meta = f"<details><summary>Metadata</summary><pre>{html.escape(metadata_yaml)}</pre></details>\n"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        f"{meta}{markdown_to_html(body_markdown)}</body></html>\n"
    )
