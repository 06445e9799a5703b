"""Markdown section handling and "is this text specific?" heuristics shared by cards and datasheets."""

from __future__ import annotations

import re

__all__ = [
    "PLACEHOLDER",
    "split_sections",
    "replace_section",
    "strip_comments",
    "placeholder_in",
    "vagueness",
    "normalise_heading",
]

#: The placeholder huggingface_hub's own templates use; ethicskit prompts with it too.
PLACEHOLDER = "[More Information Needed]"

_PLACEHOLDER_PATTERNS = [
    (re.compile(r"\[more information needed\]", re.I), "[More Information Needed]"),
    (re.compile(r"\blorem ipsum\b|\bdolor sit amet\b", re.I), "lorem ipsum filler text"),
    (re.compile(r"\bYOUR ANSWER HERE\b", re.I), "the 'YOUR ANSWER HERE' stub"),
    (re.compile(r"\b(?:TODO|TBD|FIXME|XXX)\b"), "a TODO/TBD marker"),
    (re.compile(r"\{\{.*?\}\}", re.S), "an unfilled template variable {{ ... }}"),
    (re.compile(r"\[(?:insert|add|describe|fill in|your)[^\]]*\]", re.I), "a bracketed fill-in prompt"),
]

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-.%]*")
_STOPWORDS = frozenset(
    "a an the and or of to for in on with by is are be this that it its as at from not no none n/a na see "
    "above below section model data dataset use uses information".split()
)


def normalise_heading(heading: str) -> str:
    """Lower-case a heading and drop punctuation, so "Out-of-scope use" matches "out of scope use"."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", heading.lower()).split())


def split_sections(markdown: str, *, level: int = 2) -> dict[str, str]:
    """Map each heading of ``level`` (``##`` by default) to the Markdown body below it.

    Deeper headings stay inside their parent's body; text before the first heading is dropped.
    """
    sections: dict[str, str] = {}
    matches = [m for m in _HEADING.finditer(markdown) if len(m.group(1)) <= level]
    for i, match in enumerate(matches):
        if len(match.group(1)) != level:
            continue
        end = matches[i + 1].start() if i + 1 < len(matches) else len(markdown)
        sections[match.group(2).strip()] = markdown[match.end() : end].strip("\n")
    return sections


def replace_section(markdown: str, heading: str, body: str, *, level: int = 2) -> str:
    """Return ``markdown`` with the body under ``heading`` replaced (appended when absent)."""
    wanted = normalise_heading(heading)
    matches = [m for m in _HEADING.finditer(markdown) if len(m.group(1)) <= level]
    for i, match in enumerate(matches):
        if len(match.group(1)) == level and normalise_heading(match.group(2)) == wanted:
            end = matches[i + 1].start() if i + 1 < len(matches) else len(markdown)
            return markdown[: match.end()] + "\n\n" + body.strip("\n") + "\n\n" + markdown[end:].lstrip("\n")
    return markdown.rstrip("\n") + f"\n\n{'#' * level} {heading}\n\n{body.strip()}\n"


def strip_comments(text: str) -> str:
    """Drop HTML comments (ethicskit writes its prompts to the author as comments)."""
    return _COMMENT.sub("", text).strip()


def placeholder_in(text: str) -> str | None:
    """Describe the first template placeholder found in ``text``, or return None."""
    for pattern, description in _PLACEHOLDER_PATTERNS:
        if pattern.search(text):
            return description
    return None


def vagueness(text: str, heading: str, *, min_words: int = 12) -> str | None:
    """Say why ``text`` is not specific enough for section ``heading``, or return None when it is.

    Flags an empty body, a body that only repeats its heading, and a body shorter than ``min_words``
    words once stop-words and heading words are removed.
    """
    body = strip_comments(text)
    words = [w.lower().strip(".-'") for w in _WORD.findall(body)]
    if not words:
        return "it is empty"
    heading_words = set(normalise_heading(heading).split())
    content = [w for w in words if w not in _STOPWORDS and w not in heading_words]
    if not content:
        return "it only repeats its heading"
    if len(set(content)) < max(3, min_words // 3) or len(words) < min_words:
        return f"it has only {len(words)} words; say concretely who, what, which data or which groups"
    return None
