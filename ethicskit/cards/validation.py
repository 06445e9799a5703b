"""Offline validation of model cards and datasheets: findings with a severity and what to fix.

huggingface_hub's own ``RepoCard.validate()`` posts the card to the Hub; these checks need no network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ethicskit._validation import check_in_choices
from ethicskit.cards._text import normalise_heading, placeholder_in, strip_comments, vagueness
from ethicskit.cards.metrics import KNOWN_METRICS

__all__ = ["Finding", "Findings", "SPDX_LICENSES", "SEVERITIES", "check_license", "check_section_text"]

SEVERITIES = ("error", "warning", "info")

#: SPDX identifiers accepted as a card licence (compared case-insensitively, as the Hub writes them).
SPDX_LICENSES = frozenset(
    s.lower()
    for s in """
    0BSD AFL-3.0 AGPL-3.0-only AGPL-3.0-or-later AGPL-3.0 Apache-2.0 Artistic-2.0 BSD-2-Clause BSD-3-Clause
    BSD-3-Clause-Clear BSL-1.0 CC0-1.0 CC-BY-2.0 CC-BY-2.5 CC-BY-3.0 CC-BY-4.0 CC-BY-SA-3.0 CC-BY-SA-4.0
    CC-BY-NC-2.0 CC-BY-NC-3.0 CC-BY-NC-4.0 CC-BY-ND-4.0 CC-BY-NC-ND-3.0 CC-BY-NC-ND-4.0 CC-BY-NC-SA-2.0
    CC-BY-NC-SA-3.0 CC-BY-NC-SA-4.0 CDLA-Permissive-1.0 CDLA-Permissive-2.0 CDLA-Sharing-1.0 ECL-2.0
    EPL-1.0 EPL-2.0 EUPL-1.1 EUPL-1.2 GPL-2.0-only GPL-2.0-or-later GPL-2.0 GPL-3.0-only GPL-3.0-or-later
    GPL-3.0 ISC LGPL-2.1-only LGPL-2.1-or-later LGPL-2.1 LGPL-3.0-only LGPL-3.0-or-later LGPL-3.0 LPPL-1.3c
    MIT MPL-2.0 MS-PL NCSA ODbL-1.0 ODC-By-1.0 OFL-1.1 OSL-3.0 PDDL-1.0 PostgreSQL Unlicense Zlib WTFPL
    OpenRAIL OpenRAIL++ BigScience-OpenRAIL-M CreativeML-OpenRAIL-M
    """.split()
)


@dataclass(frozen=True)
class Finding:
    """One problem found in a card.

    Attributes
    ----------
    severity : {"error", "warning", "info"}
        ``error``: the card is wrong or incomplete; ``warning``: weak; ``info``: worth knowing.
    where : str
        The section, metadata field or metric concerned.
    message : str
        What is wrong, in plain words.
    fix : str
        What to do about it.
    """

    severity: str
    where: str
    message: str
    fix: str

    def __post_init__(self) -> None:
        check_in_choices(self.severity, SEVERITIES, "severity")

    def __str__(self) -> str:
        return f"[{self.severity}] {self.where}: {self.message}. Fix: {self.fix}"


class Findings(list):
    """A list of :class:`Finding` with shortcuts: ``.errors``, ``.ok``, ``.about(where)``, ``.to_frame()``.

    ``subject`` names what was checked ("card", "datasheet"), so an empty list says so in its own words.
    """

    def __init__(self, findings: Any = (), *, subject: str = "card", scope: str | None = None):
        super().__init__(findings)
        self.subject, self.scope = subject, scope

    @property
    def errors(self) -> list[Finding]:
        """The findings of severity ``error``."""
        return [f for f in self if f.severity == "error"]

    @property
    def ok(self) -> bool:
        """True when there is no ``error``."""
        return not self.errors

    def about(self, where: str) -> Findings:
        """Findings whose ``where`` mentions ``where`` (case-insensitive)."""
        return Findings(
            (f for f in self if normalise_heading(where) in normalise_heading(f.where)),
            subject=self.subject,
            scope=where,
        )

    def to_frame(self) -> pd.DataFrame:
        """The findings as a DataFrame (severity, where, message, fix)."""
        return pd.DataFrame([vars(f) for f in self], columns=["severity", "where", "message", "fix"])

    def __str__(self) -> str:
        if not self:
            if self.scope:
                return f"No findings matching {self.scope!r}: the {self.subject} passed those checks."
            return f"No findings: the {self.subject} passed every offline check."
        return "\n".join(str(f) for f in self)

    def _repr_markdown_(self) -> str:  # pragma: no cover - notebook display
        return "\n".join(f"- **{f.severity}** *{f.where}*: {f.message}. Fix: {f.fix}" for f in self) or str(
            self
        )


def check_section_text(where: str, text: str | None, *, min_words: int = 12) -> list[Finding]:
    """Findings for one section a person must write: missing, placeholder, or not specific."""
    if text is None:
        return [Finding("error", where, "the section is missing", f"add a '## {where}' section and write it")]
    placeholder = placeholder_in(text)
    if placeholder:
        return [
            Finding(
                "error",
                where,
                f"it still contains {placeholder}",
                "replace the placeholder with what is true of this model or dataset",
            )
        ]
    reason = vagueness(text, where, min_words=min_words)
    if reason:
        severity = "error" if reason.startswith(("it is empty", "it only repeats")) else "warning"
        return [
            Finding(
                severity,
                where,
                f"the section is not specific: {reason}",
                "write concrete sentences about this model, its data and the people affected",
            )
        ]
    return []


def check_license(value: Any, *, license_name: Any = None, where: str = "metadata.license") -> list[Finding]:
    """Findings for a licence field: present and an SPDX identifier ("other" needs a name and link)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return [
            Finding("error", where, "no licence is given", "set license to an SPDX id such as 'apache-2.0'")
        ]
    values = value if isinstance(value, list) else [value]
    findings = []
    for item in values:
        if not isinstance(item, str):
            findings.append(
                Finding("error", where, f"the licence {item!r} is not text", "use an SPDX id string")
            )
        elif item.lower() == "other":
            if not license_name:
                findings.append(
                    Finding(
                        "error",
                        where,
                        "licence 'other' without license_name/license_link",
                        "name the licence and link its text, or use an SPDX id",
                    )
                )
        elif item.lower() not in SPDX_LICENSES:
            findings.append(
                Finding(
                    "error",
                    where,
                    f"{item!r} is not an SPDX licence identifier",
                    "use an SPDX id such as 'apache-2.0', 'mit' or 'cc-by-4.0'",
                )
            )
    return findings


def check_metric_entry(where: str, name: Any, value: Any) -> list[Finding]:
    """Findings for one reported metric: known name, finite number, rates within [0, 1]."""
    findings = []
    if name not in KNOWN_METRICS:
        findings.append(
            Finding("error", where, f"unknown metric name {name!r}", f"use one of {sorted(KNOWN_METRICS)}")
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        findings.append(
            Finding(
                "error",
                where,
                f"the value {value!r} is not a finite number",
                "report the computed number, not text",
            )
        )
    elif name in KNOWN_METRICS and name != "count" and not 0 <= float(value) <= 1:
        findings.append(
            Finding(
                "error",
                where,
                f"the value {value} lies outside [0, 1]",
                "report rates and scores as fractions between 0 and 1",
            )
        )
    return findings


def prose(text: str | None) -> str:
    """Section text without author prompts (HTML comments)."""
    return strip_comments(text or "")
