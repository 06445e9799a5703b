"""Consent and data minimisation: keep only what a stated purpose needs, and record what was removed.

The removal record is a plain list of dicts (one per action), so it can be appended to any audit trail
(``ethicskit.audit`` or a CSV) without this module importing it.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"age": [30, 40], "name": ["Ann", "Bo"], "consent": ["research", "marketing"]})
>>> result = minimise(frame, purpose="research", needed_columns=["age"], consent_column="consent")
>>> result.data
   age
0   30
>>> [r["action"] for r in result.removed]
['drop_rows', 'drop_column', 'drop_column']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._validation import check_columns, check_positive_int, check_probability, check_random_state

__all__ = ["MinimisationResult", "consented_purposes", "filter_by_consent", "minimise", "simulate_consent"]


@dataclass
class MinimisationResult:
    """What :func:`minimise` kept and what it removed.

    Attributes
    ----------
    data : pandas.DataFrame
        The minimised table: consenting rows, needed columns only.
    removed : list of dict
        One record per action (``action``, ``target``, ``count``, ``purpose``, ``reason``, ``timestamp``),
        ready to append to an audit trail.
    """

    data: pd.DataFrame
    removed: list[dict[str, Any]] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """Return the removal record as a DataFrame (one row per action)."""
        return pd.DataFrame(
            self.removed, columns=["action", "target", "count", "purpose", "reason", "timestamp"]
        )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def consented_purposes(value: Any) -> frozenset[str]:
    """Parse one consent cell into the set of purposes it covers.

    A cell may be a string of purposes separated by ``,`` or ``;`` (``"research;marketing"``), an
    iterable of strings, or missing (no consent at all).
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return frozenset()
    if isinstance(value, str):
        parts = value.replace(";", ",").split(",")
        return frozenset(p.strip().lower() for p in parts if p.strip())
    if isinstance(value, Iterable):
        return frozenset(str(p).strip().lower() for p in value)
    raise TypeError(f"a consent value must be a string, a collection of purposes or missing, got {value!r}")


def _check_purpose(purpose: Any) -> str:
    if not isinstance(purpose, str) or not purpose.strip():
        raise ValueError(f"purpose must be a non-empty string naming the use of the data, got {purpose!r}")
    return purpose.strip().lower()


def filter_by_consent(
    data: pd.DataFrame, *, purpose: str, consent_column: str, log: list[dict[str, Any]] | None = None
) -> pd.DataFrame:
    """Keep the rows whose consent covers ``purpose``; append a record of the dropped rows to ``log``.

    Parameters
    ----------
    data : pandas.DataFrame
        The table, with one consent cell per row.
    purpose : str
        The use the data is collected for (case-insensitive), e.g. ``"research"``.
    consent_column : str
        Column holding the purposes each person agreed to (see :func:`consented_purposes`).
    log : list of dict, optional
        Where to append the removal record.

    Returns
    -------
    pandas.DataFrame
        The consenting rows (index kept).
    """
    purpose = _check_purpose(purpose)
    check_columns(data, [consent_column], "data (consent_column)")
    covered = data[consent_column].map(lambda v: purpose in consented_purposes(v)).astype(bool)
    dropped = int((~covered).sum())
    if log is not None:
        log.append(
            {
                "action": "drop_rows",
                "target": consent_column,
                "count": dropped,
                "purpose": purpose,
                "reason": f"{dropped} record(s) without consent for '{purpose}'",
                "timestamp": _now(),
            }
        )
    return data.loc[covered]


def minimise(
    data: pd.DataFrame,
    *,
    purpose: str,
    needed_columns: Sequence[str],
    consent_column: str | None = None,
    reasons: Mapping[str, str] | None = None,
) -> MinimisationResult:
    """Apply consent and minimisation for one purpose and record every removal.

    Parameters
    ----------
    data : pandas.DataFrame
        The raw table.
    purpose : str
        The stated purpose of processing.
    needed_columns : sequence of str
        The columns the purpose really needs; every other column is dropped.
    consent_column : str, optional
        When given, rows whose consent does not cover ``purpose`` are dropped first; the consent column
        itself is then dropped unless it is needed.
    reasons : mapping, optional
        Per-column explanation of why a column is dropped (default: "not needed for <purpose>").

    Returns
    -------
    MinimisationResult
    """
    purpose = _check_purpose(purpose)
    if isinstance(needed_columns, str) or not isinstance(needed_columns, Iterable):
        raise TypeError(f"needed_columns must be a list of column names, got {needed_columns!r}")
    needed = list(needed_columns)
    if not needed:
        raise ValueError("needed_columns is empty; name at least one column the purpose needs")
    check_columns(data, needed, "data (needed_columns)")
    reasons = dict(reasons or {})
    log: list[dict[str, Any]] = []
    kept = data
    if consent_column is not None:
        kept = filter_by_consent(kept, purpose=purpose, consent_column=consent_column, log=log)
    for column in kept.columns:
        if column in needed:
            continue
        log.append(
            {
                "action": "drop_column",
                "target": column,
                "count": int(len(kept)),
                "purpose": purpose,
                "reason": reasons.get(column, f"not needed for '{purpose}'"),
                "timestamp": _now(),
            }
        )
    return MinimisationResult(data=kept[needed].copy(), removed=log)


#: Most rows :func:`simulate_consent` generates.
MAX_ROWS = 10_000_000


def simulate_consent(
    n_rows: int, *, rates: Mapping[str, float], random_state: int | np.random.Generator | None = 0
) -> pd.Series:
    """Simulate consent answers: each purpose is granted independently with its rate (for teaching).

    Returns a Series of strings like ``"research;service"`` (empty string: no consent).
    """
    check_positive_int(n_rows, "n_rows")
    if n_rows > MAX_ROWS:  # one Python string per row: 10**10 would exhaust memory, not teach anything
        raise ValueError(f"n_rows must be at most {MAX_ROWS:,}, got {n_rows:,}")
    if not rates:
        raise ValueError("rates must map at least one purpose to a probability")
    rng = check_random_state(random_state)
    granted = {p: rng.random(n_rows) < check_probability(r, f"rates[{p!r}]") for p, r in rates.items()}
    return pd.Series([";".join(p for p in rates if granted[p][i]) for i in range(n_rows)], name="consent")
