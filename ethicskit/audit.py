"""Accountability records: a tamper-evident audit trail, a human review queue and a feedback log.

All three are append-only, hash-chained JSON-lines logs: every entry stores the SHA-256 of the
previous entry, so :meth:`~HashChainLog.verify` finds an edited, removed or reordered entry and
says which. Kept in memory, or in a ``.jsonl`` file when a ``path`` is given.

What each protection defends against (lesson 03 teaches this):

* **Plain hash chain** - catches accidents and clumsy edits. It proves *nothing* against someone who
  can rewrite the file: they edit an entry and recompute every later hash, and the chain verifies.
  Dropping entries at the end is invisible too.
* **Recorded head** (:attr:`~HashChainLog.head`, or :meth:`~HashChainLog.anchor` with its position)
  kept somewhere the editor cannot reach - catches re-chaining and truncation, but not *where*.
  The model card stores one; whoever can rewrite both trail and card defeats it.
* **Keyed chain** (``key=``, HMAC-SHA256 of every entry) - without the key nobody can write an entry
  that verifies, so :meth:`~HashChainLog.verify` names the first forged entry exactly. Anyone who
  verifies needs the key, and so could also forge: it protects against outsiders only.
* **Signed anchor** (:meth:`~HashChainLog.anchor` with an Ed25519 private key) - anyone can check it
  with the public key, nobody without the private key can forge it, so a copy of the head published in
  the card cannot be rewritten together with the trail.

File-backed logs are safe with several writers (processes or threads): each append takes an
exclusive lock on the file, first reads what others appended, then writes one whole line. A line
cut short by a crash (a *torn tail*) is reported by :meth:`~HashChainLog.verify` and set aside by
:meth:`~HashChainLog.repair`; the entries before it are kept.

>>> trail = AuditTrail()
>>> _ = trail.record("hyperparameter", "C=1.0 for the logistic regression", author="ana",
...                  rationale="best validation accuracy among 0.01, 0.1, 1, 10")
>>> trail.verify().ok
True
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._validation import (
    as_1d_array,
    as_bool_array,
    as_numeric_array,
    check_columns,
    check_consistent_length,
    check_in_choices,
    check_probability,
    check_timestamp,
    check_unique,
)

__all__ = [
    "AuditTrail",
    "ReviewQueue",
    "FeedbackLog",
    "HashChainLog",
    "HeadAnchor",
    "IntegrityReport",
    "TornTailError",
    "DECISION_KINDS",
    "generate_signing_key",
]

GENESIS = "0" * 64

#: Kinds of customisation decision an audit trail records.
DECISION_KINDS = ("data", "labelling", "hyperparameter", "mitigation", "evaluation", "approval", "other")

#: Fields that are not part of what an entry's hash covers.
_UNHASHED = ("hash", "mac")

#: Placeholder key of an entry whose line is not valid JSON (kept so positions stay true).
_UNREADABLE = "_unreadable_line"


class TornTailError(ValueError):
    """The log file ends with an incomplete line; call :meth:`HashChainLog.repair` first."""


def _canonical(entry: dict[str, Any]) -> str:
    return json.dumps(
        {k: v for k, v in entry.items() if k not in _UNHASHED},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )


def _hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(entry).encode("utf-8")).hexdigest()


def _mac(key: bytes, entry_hash: str) -> str:
    return hmac.new(key, entry_hash.encode("ascii"), hashlib.sha256).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


def _check_key(key: Any) -> bytes | None:
    if key is None:
        return None
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError(f"key must be bytes (e.g. secrets.token_bytes(32)), got {type(key).__name__}")
    if len(key) < 16:
        raise ValueError(f"key must be at least 16 bytes long to resist guessing, got {len(key)}")
    return bytes(key)


def generate_signing_key():
    """A new Ed25519 private key for :meth:`HashChainLog.anchor` (keep it secret; publish its public key).

    >>> key = generate_signing_key()
    >>> len(key.public_key().public_bytes_raw())
    32
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate()


def _public_key(public_key: Any):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    if isinstance(public_key, Ed25519PrivateKey):
        return public_key.public_key()
    if isinstance(public_key, Ed25519PublicKey):
        return public_key
    if isinstance(public_key, (bytes, bytearray)) and len(public_key) == 32:
        return Ed25519PublicKey.from_public_bytes(bytes(public_key))
    raise TypeError(
        "public_key must be an Ed25519 public key (or its 32 raw bytes), "
        f"got {type(public_key).__name__}"
    )


@dataclass(frozen=True)
class HeadAnchor:
    """The head of a log at one moment, optionally signed: store it outside the log.

    Attributes
    ----------
    seq : int
        Position of the last entry covered (-1 for an empty log).
    head : str
        That entry's hash.
    signature : str or None
        Hex Ed25519 signature of :meth:`message`, when signed.
    """

    seq: int
    head: str
    signature: str | None = None

    def message(self) -> bytes:
        """The bytes that are signed: position and hash together, so neither can be swapped."""
        return f"ethicskit-audit-head\n{self.seq}\n{self.head}".encode("ascii")

    def signature_ok(self, public_key: Any) -> bool:
        """Whether :attr:`signature` was made by the private key of ``public_key``."""
        from cryptography.exceptions import InvalidSignature

        if self.signature is None:
            return False
        try:
            _public_key(public_key).verify(bytes.fromhex(self.signature), self.message())
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, e.g. for a model card's metadata."""
        return {"seq": self.seq, "head": self.head, "signature": self.signature}

    @classmethod
    def from_dict(cls, data: Any) -> HeadAnchor:
        """Inverse of :meth:`to_dict`."""
        if isinstance(data, HeadAnchor):
            return data
        if not isinstance(data, dict) or not {"seq", "head"} <= set(data):
            raise TypeError(f"anchor must be a HeadAnchor or a dict with seq and head, got {data!r:.80}")
        return cls(int(data["seq"]), str(data["head"]), data.get("signature"))


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
    notes : list of str
        What was not checked or is fine but worth knowing (e.g. entries appended after an anchor).
    """

    ok: bool
    problems: list[str] = field(default_factory=list)
    bad_entries: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def first_bad_entry(self) -> int | None:
        """The earliest entry found bad, or None."""
        return self.bad_entries[0] if self.bad_entries else None

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        text = (
            "intact: every entry verifies"
            if self.ok
            else "TAMPERED:\n" + "\n".join(f"- {p}" for p in self.problems)
        )
        return text + "".join(f"\nnote: {n}" for n in self.notes)


@contextlib.contextmanager
def _locked(path: Path, *, exclusive: bool) -> Iterator[int]:
    """Open ``path`` (created if missing) and hold an OS lock on it across processes.

    POSIX: ``flock`` on the file itself. Windows: ``msvcrt.locking`` on a ``.lock`` file beside it.
    """
    binary = getattr(os, "O_BINARY", 0)
    if exclusive:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | binary, 0o644)
    else:  # readers need no write permission (a trail handed in read-only still opens)
        fd = os.open(path, os.O_RDONLY | binary)
    try:
        try:
            import fcntl
        except ImportError:  # Windows
            with _windows_lock(path):
                yield fd
        else:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield fd
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _windows_lock(path: Path) -> Iterator[None]:  # pragma: no cover - exercised on Windows only
    import msvcrt

    lock_fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        msvcrt.locking(lock_fd, msvcrt.LK_LOCK, 1)
        try:
            yield
        finally:
            os.lseek(lock_fd, 0, os.SEEK_SET)
            msvcrt.locking(lock_fd, msvcrt.LK_UNLCK, 1)
    finally:
        os.close(lock_fd)


def _read_from(fd: int, offset: int) -> bytes:
    os.lseek(fd, offset, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _parse_line(line: bytes) -> dict[str, Any]:
    try:
        entry = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        entry = None
    if not isinstance(entry, dict):
        return {_UNREADABLE: line[:200].decode("utf-8", "replace")}
    return entry


class HashChainLog:
    """An append-only, hash-chained list of JSON records (in memory or a ``.jsonl`` file).

    Parameters
    ----------
    path : str or Path, optional
        JSON-lines file; existing entries are loaded, new ones appended. None keeps it in memory.
    key : bytes, optional
        Secret HMAC key (at least 16 bytes, e.g. ``secrets.token_bytes(32)``). Every new entry then
        carries a ``mac``, and :meth:`verify` names the first entry that someone without the key
        wrote or rewrote. Keep the key out of the log's directory.

    Attributes
    ----------
    entries : list of dict
        The entries, in file order.
    torn_tail : bytes or None
        An incomplete last line found in the file (a write cut short), not part of ``entries``.
    """

    def __init__(self, path: str | Path | None = None, *, key: bytes | None = None):
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
        self.path = None if path is None else Path(path)
        if self.path is not None and self.path.is_dir():
            raise ValueError(f"path must be a JSON-lines file, got the directory {str(path)!r}")
        self.key = _check_key(key)
        self.entries: list[dict[str, Any]] = []
        self.torn_tail: bytes | None = None
        self._offset = 0  # bytes of the file already read into entries
        if self.path is not None and self.path.exists():
            self.refresh()

    # -- reading ---------------------------------------------------------------------------------

    def refresh(self) -> HashChainLog:
        """Re-read the file: pick up entries other writers appended (file-backed logs only)."""
        if self.path is not None:
            with _locked(self.path, exclusive=False) as fd:
                self._sync(fd)
        return self

    def _sync(self, fd: int) -> None:
        """Bring ``entries`` up to the file's content; call with the lock held."""
        size = os.fstat(fd).st_size
        if size < self._offset:  # rewritten or truncated by someone else: start over
            self.entries, self._offset = [], 0
        data = _read_from(fd, self._offset)
        cut = data.rfind(b"\n") + 1
        for line in data[:cut].split(b"\n")[:-1]:
            if line.strip():
                self.entries.append(_parse_line(line))
        self._offset += cut
        self.torn_tail = data[cut:] or None

    @property
    def head(self) -> str:
        """The hash of the last entry (store it elsewhere to detect truncation)."""
        return self.entries[-1].get("hash", "") if self.entries else GENESIS

    def __len__(self) -> int:
        return len(self.entries)

    # -- writing ---------------------------------------------------------------------------------

    def _append(self, record: dict[str, Any], *, timestamp: str | None = None) -> dict[str, Any]:
        return self._append_many([record], timestamp=timestamp)[0]

    def _append_many(
        self, records: list[dict[str, Any]], *, timestamp: str | None = None
    ) -> list[dict[str, Any]]:
        """Chain and write ``records`` as one atomic append (one lock, one write)."""
        if self.path is None:
            return [self._chain(r, timestamp) for r in records]
        with _locked(self.path, exclusive=True) as fd:
            self._sync(fd)  # another writer may have appended: chain onto the real head
            if self.torn_tail is not None:
                raise TornTailError(
                    f"{self.path} ends with an incomplete line ({len(self.torn_tail)} bytes) left by an "
                    "interrupted write; call repair() to set it aside before appending"
                )
            before = len(self.entries)
            new = [self._chain(r, timestamp) for r in records]
            data = "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in new)
            try:
                os.lseek(fd, self._offset, os.SEEK_SET)
                _write_all(fd, data.encode("utf-8"))
                os.fsync(fd)
            except BaseException:
                os.ftruncate(fd, self._offset)  # all or nothing: no half line for the next writer
                del self.entries[before:]
                raise
            self._offset += len(data.encode("utf-8"))
        return new

    def _chain(self, record: dict[str, Any], timestamp: str | None) -> dict[str, Any]:
        entry = {"seq": len(self.entries), "timestamp": timestamp or _now(), **record, "prev_hash": self.head}
        entry = json.loads(json.dumps(entry, default=_jsonable))  # plain JSON types only, as stored
        entry["hash"] = _hash(entry)
        if self.key is not None:
            entry["mac"] = _mac(self.key, entry["hash"])
        self.entries.append(entry)
        return entry

    def repair(self) -> Path | None:
        """Set an incomplete last line aside (into ``<file>.torn``) so appending can continue.

        The entries before it are kept untouched. Returns the path the fragment was saved to, or
        None when there was nothing to repair.
        """
        if self.path is None:
            return None
        with _locked(self.path, exclusive=True) as fd:
            self._sync(fd)
            if self.torn_tail is None:
                return None
            aside = self.path.with_name(self.path.name + ".torn")
            with aside.open("ab") as handle:  # appended: a second repair keeps the first fragment
                handle.write(self.torn_tail + b"\n")
            os.ftruncate(fd, self._offset)
            os.fsync(fd)
            self.torn_tail = None
        return aside

    # -- verifying -------------------------------------------------------------------------------

    def verify(
        self,
        *,
        expected_head: str | HeadAnchor | dict | None = None,
        key: bytes | None = None,
        anchor: HeadAnchor | dict | None = None,
        public_key: Any = None,
    ) -> IntegrityReport:
        """Re-check every hash and link; say which entry was edited, removed, moved or forged.

        Parameters
        ----------
        expected_head : str, optional
            The :attr:`head` recorded earlier (e.g. in the model card); a shorter or re-chained log
            is then caught, though not where. An anchor may be passed here too.
        key : bytes, optional
            The HMAC key the log was written with (default: the log's own ``key``). Every entry must
            then carry a valid MAC; the first one without is named.
        anchor : HeadAnchor or dict, optional
            From :meth:`anchor`: the head together with its position, so "removed at the end" and
            "rewritten at or before entry k" can be told apart.
        public_key : Ed25519 public key, optional
            Check the anchor's signature with it (required when the anchor is signed).
        """
        report = IntegrityReport(ok=True)
        self._check_chain(report)
        key = self.key if key is None else _check_key(key)
        if key is not None:
            self._check_macs(report, key)
        if isinstance(expected_head, (HeadAnchor, dict)):
            anchor, expected_head = expected_head, None
        if expected_head is not None:
            self._check_head(report, expected_head)
        if anchor is not None:
            self._check_anchor(report, HeadAnchor.from_dict(anchor), public_key)
        elif public_key is not None:
            raise ValueError("public_key checks an anchor's signature; pass the anchor too")
        if self.torn_tail is not None:
            report.problems.append(
                f"the file ends with an incomplete entry ({len(self.torn_tail)} bytes after entry "
                f"{len(self.entries) - 1}): a write was interrupted. The entries before it are intact "
                "as far as this report says; repair() sets the fragment aside"
            )
        report.ok = not report.problems
        report.bad_entries = sorted(set(report.bad_entries))
        return report

    def _check_chain(self, report: IntegrityReport) -> None:
        previous, expected_seq = GENESIS, 0
        for position, entry in enumerate(self.entries):
            if _UNREADABLE in entry:
                report.problems.append(
                    f"entry {position} is not valid JSON: the file was damaged or edited by hand"
                )
                report.bad_entries.append(position)
                previous, expected_seq = None, expected_seq + 1
                continue
            seq = entry.get("seq")
            if entry.get("hash") != _hash(entry):
                report.problems.append(
                    f"entry {position} (seq {seq}) was edited: its content no longer matches its hash"
                )
                report.bad_entries.append(position)
            if seq != expected_seq:
                if isinstance(seq, int) and seq > expected_seq:
                    what = f"entries with seq {expected_seq}..{seq - 1} were removed (or moved) before it"
                else:
                    what = "it was moved here or duplicated"
                report.problems.append(f"entry {position} carries seq {seq}, expected {expected_seq}: {what}")
                report.bad_entries.append(position)
            elif previous is not None and entry.get("prev_hash") != previous:
                report.problems.append(
                    f"entry {position} does not follow entry {position - 1}: entry {position - 1} was "
                    "edited and its hash recomputed, or entries were removed, inserted or reordered here"
                )
                report.bad_entries.append(position)
            previous = entry.get("hash")
            expected_seq = seq + 1 if isinstance(seq, int) else expected_seq + 1

    def _check_macs(self, report: IntegrityReport, key: bytes) -> None:
        for position, entry in enumerate(self.entries):
            mac = entry.get("mac")
            if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(key, str(entry.get("hash")))):
                report.problems.append(
                    f"entry {position} has no valid MAC for this key: it was written or rewritten by "
                    "someone without the key (every later entry is suspect too)"
                )
                report.bad_entries.append(position)
                return  # the first forged entry is the finding; later ones follow from it

    def _check_head(self, report: IntegrityReport, expected_head: str) -> None:
        if not isinstance(expected_head, str):
            raise TypeError(f"expected_head must be a hash string, got {type(expected_head).__name__}")
        if self.head == expected_head:
            return
        known = [i for i, e in enumerate(self.entries) if e.get("hash") == expected_head]
        if known:
            detail = f"entries after {known[0]} were appended since"
        else:
            detail = (
                "the recorded head is nowhere in the log: either entries were removed at the end, or "
                "an entry was edited and every later hash recomputed (re-chained). A head alone "
                "cannot tell which, nor where; an anchor (seq + head) or a keyed log can"
            )
        report.problems.append(f"the log's last hash differs from the recorded head: {detail}")

    def _check_anchor(self, report: IntegrityReport, anchor: HeadAnchor, public_key: Any) -> None:
        if anchor.signature is not None and public_key is None:
            raise ValueError("the anchor is signed: pass public_key to check the signature")
        if public_key is not None and not anchor.signature_ok(public_key):
            report.problems.append(
                "the anchor's signature does not verify with this public key: the anchor was forged or "
                "altered, so it proves nothing about the log"
            )
            return
        if public_key is None:
            report.notes.append("the anchor is unsigned: whoever can rewrite it can rewrite the log too")
        n = len(self.entries)
        if anchor.seq >= n:
            report.problems.append(
                f"the log has {n} entries but the anchor covers {anchor.seq + 1}: entries from "
                f"{n} on were removed at the end (or the log was rewritten)"
            )
        elif anchor.seq >= 0 and self.entries[anchor.seq].get("hash") != anchor.head:
            report.problems.append(
                f"entry {anchor.seq} is not the one anchored: an entry at or before {anchor.seq} was "
                "rewritten and the chain recomputed after the anchor was taken"
            )
            report.bad_entries.append(anchor.seq)
        elif anchor.seq < n - 1:
            report.notes.append(f"entries {anchor.seq + 1}..{n - 1} were appended after the anchor")

    def anchor(self, signing_key: Any = None) -> HeadAnchor:
        """The current head with its position, signed with an Ed25519 private key when given.

        Publish the anchor (e.g. in the model card) and the public key; :meth:`verify` with
        ``anchor=`` and ``public_key=`` then catches any rewrite of the first ``seq + 1`` entries,
        even by someone who can edit both the log and the card.
        """
        unsigned = HeadAnchor(len(self.entries) - 1, self.head)
        if signing_key is None:
            return unsigned
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if not isinstance(signing_key, Ed25519PrivateKey):
            raise TypeError(
                "signing_key must be an Ed25519 private key (generate_signing_key()), "
                f"got {type(signing_key).__name__}"
            )
        return HeadAnchor(unsigned.seq, unsigned.head, signing_key.sign(unsigned.message()).hex())

    # -- other -----------------------------------------------------------------------------------

    def to_frame(self) -> pd.DataFrame:
        """The entries as a DataFrame (hashes included)."""
        return pd.DataFrame(self.entries)

    def save(self, path: str | Path) -> Path:
        """Write all entries to a new JSON-lines file and keep appending there."""
        path = Path(path)
        data = "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in self.entries)
        with _locked(path, exclusive=True) as fd:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            _write_all(fd, data.encode("utf-8"))
            os.fsync(fd)
        self.path, self._offset, self.torn_tail = path, len(data.encode("utf-8")), None
        return path

    @classmethod
    def load(cls, path: str | Path, *, key: bytes | None = None) -> HashChainLog:
        """Open an existing log file (it is not verified: call :meth:`verify`)."""
        if not isinstance(path, (str, os.PathLike)) or not Path(path).is_file():
            raise ValueError(f"path must be an existing JSON-lines log, got {str(path)!r}")
        return cls(path, key=key)

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


def _case_key(case_id: Any) -> str:
    """A case id as stored in JSON (numpy ints and Python ints compare equal)."""
    return json.dumps(case_id, default=_jsonable, sort_keys=True)


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
        if timestamp is not None:
            check_timestamp(timestamp, "timestamp")
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
    key : bytes, optional
        HMAC key, as for :class:`HashChainLog`.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        margin: float = 0.1,
        threshold: float = 0.5,
        flagged_groups: dict[str, Iterable[Any]] | None = None,
        key: bytes | None = None,
    ):
        super().__init__(path, key=key)
        self.margin = check_probability(margin, "margin")
        self.threshold = check_probability(threshold, "threshold")
        if flagged_groups is not None and not isinstance(flagged_groups, dict):
            raise TypeError(
                f"flagged_groups must be a dict of column -> values, got {type(flagged_groups).__name__}"
            )
        for column, values in (flagged_groups or {}).items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                # {"race": "Other"} would flag the groups "O", "t", "h", "e", "r"
                raise TypeError(
                    f"flagged_groups[{column!r}] must be a list of group values, got {values!r}"
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
        s = as_numeric_array(scores, "scores")
        if s.min() < 0 or s.max() > 1:
            raise ValueError(f"scores must be probabilities in [0, 1], found {s.min():g} to {s.max():g}")
        ids = np.arange(len(s)) if ids is None else check_unique(as_1d_array(ids, "ids"), "ids")
        # "no" is truthy: astype(bool) would send every case to a person as high impact
        impact = np.zeros(len(s), bool) if high_impact is None else as_bool_array(high_impact, "high_impact")
        if data is not None and not isinstance(data, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        check_consistent_length(scores=s, ids=ids, high_impact=impact, data=data)
        waiting = {_case_key(c) for c in self.pending()}
        again = [i for i in ids.tolist() if _case_key(i) in waiting]
        if again:  # one decision would otherwise clear two queue items
            raise ValueError(f"ids {again[:5]} are already waiting for review; decide them first")
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
            check_columns(data, list(self.flagged_groups), "data")
            for column, values in self.flagged_groups.items():
                hit = data[column].astype(str).isin(values).to_numpy()
                for i in np.flatnonzero(hit):
                    reasons[i].append(f"flagged group {column}")
        rows = [
            {
                "case_id": _jsonable(ids[i]) if isinstance(ids[i], np.generic) else ids[i],
                "score": round(float(s[i]), 6),
                "reasons": reasons[i],
            }
            for i, r in enumerate(reasons)
            if r
        ]
        self._append_many([{"event": "routed", **item} for item in rows])  # one atomic write
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
        decided = {_case_key(e["case_id"]) for e in self.entries if e.get("event") == "decision"}
        return [c for c in self._routed() if _case_key(c) not in decided]

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
        if isinstance(feedback_id, bool) or feedback_id not in reports:
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
