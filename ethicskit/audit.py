"""Accountability records: a tamper-evident audit trail, a human review queue and a feedback log.

All three are append-only, hash-chained JSON-lines logs: every entry stores the SHA-256 of the
previous entry, so :meth:`~HashChainLog.verify` finds an edited, removed or reordered entry and
says which. Kept in memory, or in a ``.jsonl`` file when a ``path`` is given (appended line by
line, reloaded on open). Truncating the *end* of a log cannot be seen from the log alone; keep
its :attr:`~HashChainLog.head` somewhere else (the model card stores it) and pass it to ``verify``.

>>> trail = AuditTrail()
>>> _ = trail.record("hyperparameter", "C=1.0 for the logistic regression", author="ana",
...                  rationale="best validation accuracy among 0.01, 0.1, 1, 10")
>>> trail.verify().ok
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._validation import as_1d_array, check_consistent_length, check_in_choices, check_probability

__all__ = ["AuditTrail", "ReviewQueue", "FeedbackLog", "HashChainLog", "IntegrityReport", "DECISION_KINDS"]

GENESIS = "0" * 64

#: Kinds of customisation decision an audit trail records.
DECISION_KINDS = ("data", "labelling", "hyperparameter", "mitigation", "evaluation", "approval", "other")


def _canonical(entry: dict[str, Any]) -> str:
    return json.dumps(
        {k: v for k, v in entry.items() if k != "hash"},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )


def _hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(entry).encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


@dataclass
class IntegrityReport:
    """What :meth:`HashChainLog.verify` found; true when the log is intact.

    Attributes
    ----------
    ok : bool
        No problem found.
    problems : list of str
        One plain sentence per problem, naming the entry.
    bad_entries : list of int
        Positions (0-based, in file order) of the entries concerned.
    """

    ok: bool
    problems: list[str] = field(default_factory=list)
    bad_entries: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return (
            "intact: every entry verifies"
            if self.ok
            else "TAMPERED:\n" + "\n".join(f"- {p}" for p in self.problems)
        )


class HashChainLog:
    """An append-only, hash-chained list of JSON records (in memory or a ``.jsonl`` file).

    Parameters
    ----------
    path : str or Path, optional
        JSON-lines file; existing entries are loaded, new ones appended. None keeps it in memory.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = None if path is None else Path(path)
        self.entries: list[dict[str, Any]] = []
        if self.path is not None and self.path.exists():
            self.entries = [
                json.loads(line)
                for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip()
            ]

    @property
    def head(self) -> str:
        """The hash of the last entry (store it elsewhere to detect truncation)."""
        return self.entries[-1]["hash"] if self.entries else GENESIS

    def __len__(self) -> int:
        return len(self.entries)

    def _append(self, record: dict[str, Any], *, timestamp: str | None = None) -> dict[str, Any]:
        entry = {"seq": len(self.entries), "timestamp": timestamp or _now(), **record, "prev_hash": self.head}
        entry = json.loads(json.dumps(entry, default=_jsonable))  # plain JSON types only, as stored
        entry["hash"] = _hash(entry)
        self.entries.append(entry)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        return entry

    def verify(self, *, expected_head: str | None = None) -> IntegrityReport:
        """Re-check every hash and link; say which entry was edited, removed or moved.

        Parameters
        ----------
        expected_head : str, optional
            The :attr:`head` recorded earlier (e.g. in the model card); a shorter log is then caught.
        """
        problems, bad = [], []
        previous = GENESIS
        for position, entry in enumerate(self.entries):
            seq = entry.get("seq")
            if entry.get("hash") != _hash(entry):
                problems.append(
                    f"entry {position} (seq {seq}) was edited: its content no longer matches its hash"
                )
                bad.append(position)
            if seq != position:
                what = "removed" if isinstance(seq, int) and seq > position else "reordered or duplicated"
                problems.append(f"entry {position} carries seq {seq}: entries before it were {what}")
                bad.append(position)
            elif entry.get("prev_hash") != previous:
                problems.append(
                    f"entry {position} does not follow entry {position - 1}: an entry was removed, "
                    "inserted or reordered here"
                )
                bad.append(position)
            previous = entry.get("hash")
        if expected_head is not None and self.head != expected_head:
            known = [i for i, e in enumerate(self.entries) if e.get("hash") == expected_head]
            detail = (
                f"entries after {known[0]} were appended since"
                if known
                else "entries were removed at the end"
            )
            problems.append(f"the log's last hash differs from the recorded head: {detail}")
        return IntegrityReport(ok=not problems, problems=problems, bad_entries=sorted(set(bad)))

    def to_frame(self) -> pd.DataFrame:
        """The entries as a DataFrame (hashes included)."""
        return pd.DataFrame(self.entries)

    def save(self, path: str | Path) -> Path:
        """Write all entries to a new JSON-lines file and keep appending there."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in self.entries),
            encoding="utf-8",
        )
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | Path) -> HashChainLog:
        """Open an existing log file (it is not verified: call :meth:`verify`)."""
        if not Path(path).is_file():
            raise ValueError(f"path must be an existing JSON-lines log, got {str(path)!r}")
        return cls(path)

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path else " (in memory)"
        return f"{type(self).__name__}({len(self)} entries{where})"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, pd.Series, pd.Index)):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


class AuditTrail(HashChainLog):
    """Who decided what, when and why, for every customisation of a model.

    Examples
    --------
    >>> trail = AuditTrail()
    >>> _ = trail.record("data", "dropped fnlwgt", author="ana", rationale="a census weight, not a trait")
    >>> trail.entries[0]["kind"], trail.verify().ok
    ('data', True)
    """

    def record(
        self,
        kind: str,
        decision: str,
        *,
        author: str,
        rationale: str,
        details: dict[str, Any] | None = None,
        timestamp: str | None = None,
    ) -> dict[str, Any]:
        """Append one decision.

        Parameters
        ----------
        kind : str
            One of :data:`DECISION_KINDS`.
        decision : str
            What was decided ("threshold 0.5 -> 0.4 for group ...").
        author : str
            Who decided (name or id).
        rationale : str
            Why; evidence and alternatives considered.
        details : dict, optional
            Values worth keeping (hyperparameters, metrics before/after); JSON-serialisable.
        timestamp : str, optional
            ISO-8601 time; now (UTC) by default.
        """
        check_in_choices(kind, DECISION_KINDS, "kind")
        if details is not None and not isinstance(details, dict):
            raise TypeError(f"details must be a dict, got {type(details).__name__}")
        return self._append(
            {
                "kind": kind,
                "decision": _text(decision, "decision"),
                "author": _text(author, "author"),
                "rationale": _text(rationale, "rationale"),
                "details": details or {},
            },
            timestamp=timestamp,
        )

    def approve(self, what: str, *, author: str, rationale: str) -> dict[str, Any]:
        """Record an approval (a person signing off on ``what``)."""
        return self.record("approval", what, author=author, rationale=rationale)

    def summary_markdown(self) -> str:
        """A Markdown table of the decisions, with the integrity status and head hash, for a model card."""
        if not self.entries:
            return "No customisation decision was recorded."
        report = self.verify()
        lines = ["| # | kind | decision | rationale | author | when |", "|---|---|---|---|---|---|"]
        for e in self.entries:
            cells = [
                str(e.get("seq")),
                e.get("kind", ""),
                e.get("decision", ""),
                e.get("rationale", ""),
                e.get("author", ""),
                str(e.get("timestamp", ""))[:10],
            ]
            lines.append("| " + " | ".join(str(c).replace("|", "/").replace("\n", " ") for c in cells) + " |")
        status = "verified intact" if report.ok else "FAILED verification: " + "; ".join(report.problems)
        return (
            "\n".join(lines)
            + f"\n\nAudit trail: {len(self)} entries, {status}; head hash `{self.head[:16]}`."
        )


class ReviewQueue(HashChainLog):
    """Route predictions that need a person, and record each reviewer's decision and reason.

    Parameters
    ----------
    path : str or Path, optional
        JSON-lines file (None: in memory).
    margin : float
        Scores within ``margin`` of ``threshold`` are low-confidence and routed.
    threshold : float
        Decision threshold on the score.
    flagged_groups : dict, optional
        ``{column: [values]}``: rows of these groups are always routed (e.g. a group the audit
        found under-served).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        margin: float = 0.1,
        threshold: float = 0.5,
        flagged_groups: dict[str, Iterable[Any]] | None = None,
    ):
        super().__init__(path)
        self.margin = check_probability(margin, "margin")
        self.threshold = check_probability(threshold, "threshold")
        if flagged_groups is not None and not isinstance(flagged_groups, dict):
            raise TypeError(
                f"flagged_groups must be a dict of column -> values, got {type(flagged_groups).__name__}"
            )
        self.flagged_groups = {k: [str(v) for v in vs] for k, vs in (flagged_groups or {}).items()}

    def route(
        self, scores: Any, *, ids: Any = None, data: pd.DataFrame | None = None, high_impact: Any = None
    ) -> pd.DataFrame:
        """Queue every prediction that needs a person; return them with the reasons.

        Parameters
        ----------
        scores : array-like of float in [0, 1]
            Model scores for the positive class.
        ids : array-like, optional
            Identifiers of the cases (default 0..n-1).
        data : DataFrame, optional
            Needed when ``flagged_groups`` is set (holds those columns).
        high_impact : array-like of bool, optional
            Cases whose consequences are severe enough to always need a person.
        """
        s = as_1d_array(scores, "scores").astype(float)
        if np.any(~np.isfinite(s)) or s.min() < 0 or s.max() > 1:
            raise ValueError("scores must be probabilities in [0, 1]")
        ids = np.arange(len(s)) if ids is None else as_1d_array(ids, "ids")
        impact = (
            np.zeros(len(s), bool)
            if high_impact is None
            else as_1d_array(high_impact, "high_impact").astype(bool)
        )
        check_consistent_length(scores=s, ids=ids, high_impact=impact, data=data)
        reasons = [[] for _ in s]
        for i in np.flatnonzero(np.abs(s - self.threshold) < self.margin):
            reasons[i].append("low confidence")
        for i in np.flatnonzero(impact):
            reasons[i].append("high impact")
        if self.flagged_groups:
            if data is None:
                raise TypeError(
                    "data must be given (a DataFrame with the flagged columns) when flagged_groups is set"
                )
            for column, values in self.flagged_groups.items():
                hit = data[column].astype(str).isin(values).to_numpy()
                for i in np.flatnonzero(hit):
                    reasons[i].append(f"flagged group {column}")
        rows = []
        for i in (i for i, r in enumerate(reasons) if r):
            item = {
                "case_id": _jsonable(ids[i]) if isinstance(ids[i], np.generic) else ids[i],
                "score": round(float(s[i]), 6),
                "reasons": reasons[i],
            }
            self._append({"event": "routed", **item})
            rows.append(item)
        return pd.DataFrame(rows, columns=["case_id", "score", "reasons"])

    def decide(self, case_id: Any, decision: str, *, reviewer: str, reason: str) -> dict[str, Any]:
        """Record a person's decision on a routed case (``decision`` e.g. "approve", "reject", "escalate")."""
        if case_id not in self._routed():
            raise ValueError(f"case_id {case_id!r} was never routed to review; route it first")
        return self._append(
            {
                "event": "decision",
                "case_id": case_id,
                "decision": _text(decision, "decision"),
                "reviewer": _text(reviewer, "reviewer"),
                "reason": _text(reason, "reason"),
            }
        )

    def _routed(self) -> list[Any]:
        return [e["case_id"] for e in self.entries if e.get("event") == "routed"]

    def pending(self) -> list[Any]:
        """Case ids routed but not yet decided."""
        decided = {json.dumps(e["case_id"]) for e in self.entries if e.get("event") == "decision"}
        return [c for c in self._routed() if json.dumps(c) not in decided]

    def decisions(self) -> pd.DataFrame:
        """Recorded decisions (case_id, decision, reviewer, reason, timestamp)."""
        rows = [e for e in self.entries if e.get("event") == "decision"]
        return pd.DataFrame(rows, columns=["case_id", "decision", "reviewer", "reason", "timestamp"])


class FeedbackLog(HashChainLog):
    """Users report problems; each report is later linked to the correction that resolved it."""

    CATEGORIES = ("error", "unfair outcome", "harm", "privacy", "explanation", "other")

    def report(self, description: str, *, reporter: str, category: str = "other", case_id: Any = None) -> int:
        """Log a problem report; return its feedback id."""
        check_in_choices(category, self.CATEGORIES, "category")
        entry = self._append(
            {
                "event": "report",
                "description": _text(description, "description"),
                "reporter": _text(reporter, "reporter"),
                "category": category,
                "case_id": case_id,
            }
        )
        return entry["seq"]

    def resolve(
        self, feedback_id: int, correction: str, *, author: str, trail: AuditTrail | None = None
    ) -> dict[str, Any]:
        """Link report ``feedback_id`` to the ``correction`` made; also record it in ``trail`` if given."""
        reports = {e["seq"] for e in self.entries if e.get("event") == "report"}
        if feedback_id not in reports:
            raise ValueError(
                f"feedback_id {feedback_id!r} is not a report in this log; known ids: {sorted(reports)}"
            )
        link = None
        if trail is not None:
            link = trail.record(
                "other", correction, author=author, rationale=f"correction for feedback report {feedback_id}"
            )["hash"]
        return self._append(
            {
                "event": "resolution",
                "feedback_id": feedback_id,
                "correction": _text(correction, "correction"),
                "author": _text(author, "author"),
                "trail_hash": link,
            }
        )

    def open_reports(self) -> list[int]:
        """Ids of reports without a resolution."""
        solved = {e["feedback_id"] for e in self.entries if e.get("event") == "resolution"}
        return [e["seq"] for e in self.entries if e.get("event") == "report" and e["seq"] not in solved]
