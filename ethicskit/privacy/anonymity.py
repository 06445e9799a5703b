"""Re-identification risk, k-anonymity, l-diversity, and an anonymiser (generalisation + suppression).

Removing names is not anonymisation: a few quasi-identifiers (age, sex, postcode...) single out most
people, and a *linkage attack* joins them with a public table that still carries names. This module
measures that risk and reduces it by generalising quasi-identifiers along hierarchies (exact age ->
5-year band -> 10-year band -> ``*``) and suppressing the few records that still stand out.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"age": [21, 23, 37, 39], "sex": ["F", "F", "M", "M"]})
>>> k_anonymity(frame, quasi_identifiers=["age", "sex"])
1
>>> result = anonymise(frame, k=2, hierarchies={"age": IntervalHierarchy(widths=(5, 10))})
>>> result.k, result.levels
(2, {'age': 1})
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ethicskit._progress import progress
from ethicskit._validation import (
    Interval,
    check_columns,
    check_int,
    check_param,
    check_positive_int,
    check_probability,
    validate_params,
)

__all__ = [
    "AnonymisationResult",
    "CategoryHierarchy",
    "Hierarchy",
    "IntervalHierarchy",
    "LinkageResult",
    "MaskHierarchy",
    "anonymise",
    "equivalence_class_sizes",
    "generalise",
    "information_loss",
    "k_anonymity",
    "l_diversity",
    "linkage_attack",
    "uniqueness",
]

SUPPRESSED = "*"


def _check_qis(data: pd.DataFrame, quasi_identifiers: Sequence[str]) -> list[str]:
    if isinstance(quasi_identifiers, str):
        quasi_identifiers = [quasi_identifiers]
    qis = list(quasi_identifiers)
    if not qis:
        raise ValueError("quasi_identifiers is empty; name at least one column")
    check_columns(data, qis, "data (quasi_identifiers)")
    if len(data) == 0:
        raise ValueError("data has no rows")
    return qis


def _class_keys(data: pd.DataFrame, qis: list[str]) -> np.ndarray:
    """An integer id per record for its equivalence class (same values on every quasi-identifier)."""
    key = np.zeros(len(data), dtype=np.int64)
    for column in qis:
        codes, uniques = pd.factorize(data[column], use_na_sentinel=False)
        key = key * (len(uniques) + 1) + codes
        key = pd.factorize(key)[0].astype(np.int64)  # keep the combined id small
    return key


def equivalence_class_sizes(data: pd.DataFrame, *, quasi_identifiers: Sequence[str]) -> pd.Series:
    """For every record, the number of records sharing its quasi-identifier values (index kept)."""
    qis = _check_qis(data, quasi_identifiers)
    keys = _class_keys(data, qis)
    counts = np.bincount(keys)
    return pd.Series(counts[keys], index=data.index, name="class_size")


def k_anonymity(data: pd.DataFrame, *, quasi_identifiers: Sequence[str]) -> int:
    """The k of ``data``: the size of its smallest equivalence class (1 = someone is unique)."""
    return int(equivalence_class_sizes(data, quasi_identifiers=quasi_identifiers).min())


def uniqueness(data: pd.DataFrame, *, quasi_identifiers: Sequence[str]) -> float:
    """Fraction of records unique on the quasi-identifiers: the share a linkage attack can single out."""
    sizes = equivalence_class_sizes(data, quasi_identifiers=quasi_identifiers)
    return float((sizes == 1).mean())


def l_diversity(data: pd.DataFrame, *, quasi_identifiers: Sequence[str], sensitive: str) -> int:
    """Distinct l-diversity: the fewest distinct ``sensitive`` values found in any equivalence class.

    l = 1 means some class shares one sensitive value: k-anonymity alone then still discloses it
    (the *homogeneity attack*).
    """
    qis = _check_qis(data, quasi_identifiers)
    check_columns(data, [sensitive], "data (sensitive)")
    keys = _class_keys(data, qis)
    distinct = pd.Series(data[sensitive].to_numpy()).groupby(keys).nunique(dropna=False)
    return int(distinct.min())


# --------------------------------------------------------------------------------------------- hierarchies
class Hierarchy:
    """A generalisation hierarchy: level 0 is the raw value, level ``height`` is fully suppressed (``*``)."""

    height: int = 1

    def generalise(self, values: pd.Series, level: int) -> pd.Series:
        """Return ``values`` generalised to ``level`` (as strings; ``*`` at the top)."""
        if (
            isinstance(level, bool)
            or not isinstance(level, (int, np.integer))
            or not 0 <= level <= self.height
        ):
            raise ValueError(f"level must be an integer between 0 and {self.height}, got {level!r}")
        if level == 0:
            return values.copy()
        if level == self.height:
            return pd.Series(SUPPRESSED, index=values.index, name=values.name, dtype=object)
        return self._generalise(values, int(level))

    def _generalise(self, values: pd.Series, level: int) -> pd.Series:  # pragma: no cover - abstract
        raise NotImplementedError


class IntervalHierarchy(Hierarchy):
    """Numbers -> intervals of growing width -> ``*`` (e.g. age 37 -> "35-39" -> "30-39" -> "*").

    Parameters
    ----------
    widths : sequence of int
        Interval widths, one per level, increasing.
    origin : int
        Intervals start at ``origin + i * width``.
    """

    def __init__(self, widths: Sequence[int] = (5, 10, 20), *, origin: int = 0):
        check_param(origin, "origin", [Interval("real", None, None)])
        widths = list(widths)
        if not widths:
            raise ValueError("widths must be a non-empty list of positive integers, got []")
        for width in widths:
            check_positive_int(width, "every entry of widths")
        if widths != sorted(widths):
            raise ValueError(f"widths must increase from level to level, got {widths!r}")
        self.widths = widths
        self.origin = int(origin)
        self.height = len(widths) + 1

    def _generalise(self, values: pd.Series, level: int) -> pd.Series:
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.isna().any() and not values.isna().equals(numeric.isna()):
            raise ValueError(
                f"column {values.name!r} holds non-numeric values; IntervalHierarchy needs numbers"
            )
        width = self.widths[level - 1]
        low = (np.floor((numeric - self.origin) / width) * width + self.origin).astype("Int64")
        labels = low.astype(str) + "-" + (low + width - 1).astype(str)
        return labels.where(numeric.notna(), SUPPRESSED).astype(object)

    def __repr__(self) -> str:
        return f"IntervalHierarchy(widths={self.widths}, origin={self.origin})"


class MaskHierarchy(Hierarchy):
    """Codes (postcodes, zip-like strings) -> mask trailing characters, one more per level.

    "13053" -> "1305*" -> "130**" -> ... ; ``length`` levels mask the whole code.
    """

    def __init__(self, length: int):
        check_positive_int(length, "length (characters in the code)")
        self.length = int(length)
        self.height = self.length

    def _generalise(self, values: pd.Series, level: int) -> pd.Series:
        text = values.astype(str)
        wrong = text[values.notna() & (text.str.len() != self.length)]
        if len(wrong):
            # masking "2138" (a zip code 02138 read as a number) to "2138*" would hide nothing
            raise ValueError(
                f"MaskHierarchy(length={self.length}) needs codes of exactly {self.length} characters; "
                f"found {wrong.unique()[:3].tolist()}. A code read as a number loses its leading zeros: "
                "read the column as text (e.g. dtype=str)"
            )
        return (text.str.slice(0, self.length - level) + SUPPRESSED * level).astype(object)

    def __repr__(self) -> str:
        return f"MaskHierarchy(length={self.length})"


class CategoryHierarchy(Hierarchy):
    """Categories -> broader groups, one mapping per level (e.g. marital status -> married / not married).

    Parameters
    ----------
    levels : sequence of mapping
        ``levels[0]`` maps raw values to level-1 groups, ``levels[1]`` maps raw values to level-2 groups...
        Every value must be mapped at every level. An empty list leaves two levels: raw or ``*``.
    """

    def __init__(self, levels: Sequence[Mapping[object, object]]):
        if isinstance(levels, (str, bytes, Mapping)) or not hasattr(levels, "__iter__"):
            raise TypeError(f"levels must be a list of mappings (one per level), got {type(levels).__name__}")
        levels = list(levels)
        if not all(isinstance(m, Mapping) for m in levels):
            raise ValueError("levels must be a list of mappings from raw value to group (empty: only '*')")
        self.levels = [dict(m) for m in levels]
        self.height = len(self.levels) + 1

    def _generalise(self, values: pd.Series, level: int) -> pd.Series:
        mapping = self.levels[level - 1]
        unmapped = sorted(set(values.dropna().unique()) - set(mapping), key=str)
        if unmapped:
            raise ValueError(f"CategoryHierarchy level {level} does not map the value(s) {unmapped[:5]}")
        return values.map(mapping).astype(object)

    def __repr__(self) -> str:
        return f"CategoryHierarchy(height={self.height})"


def _check_hierarchies(data: pd.DataFrame, hierarchies: Mapping[str, Hierarchy]) -> dict[str, Hierarchy]:
    if not isinstance(hierarchies, Mapping) or not hierarchies:
        raise ValueError("hierarchies must map each quasi-identifier column to a Hierarchy")
    check_columns(data, list(hierarchies), "data (hierarchies)")
    for column, hierarchy in hierarchies.items():
        if not isinstance(hierarchy, Hierarchy):
            raise TypeError(f"hierarchies[{column!r}] must be a Hierarchy, got {type(hierarchy).__name__}")
    return dict(hierarchies)


def generalise(
    data: pd.DataFrame, *, hierarchies: Mapping[str, Hierarchy], levels: Mapping[str, int]
) -> pd.DataFrame:
    """Return a copy of ``data`` with each quasi-identifier generalised to its level."""
    hierarchies = _check_hierarchies(data, hierarchies)
    unknown = set(levels) - set(hierarchies)
    if unknown:
        raise ValueError(f"levels names column(s) {sorted(unknown)} that have no hierarchy")
    out = data.copy()
    for column, level in levels.items():
        out[column] = hierarchies[column].generalise(data[column], level)
    return out


def information_loss(
    levels: Mapping[str, int],
    hierarchies: Mapping[str, Hierarchy],
    *,
    n_rows: int,
    n_suppressed: int = 0,
    weights: Mapping[str, float] | None = None,
) -> float:
    """Information lost, from 0 (nothing) to 1 (everything): the mean generalisation height.

    Each kept record loses ``level / height`` on each quasi-identifier (a weighted mean over the
    quasi-identifiers, equal weights by default); each suppressed record loses 1.
    """
    n_rows = check_int(n_rows, "n_rows", minimum=1)
    n_suppressed = check_int(n_suppressed, "n_suppressed", minimum=0, maximum=n_rows)
    _check_levels(levels, hierarchies)
    w = _weights(hierarchies, weights)
    per_record = sum(w[c] * levels.get(c, 0) / h.height for c, h in hierarchies.items())
    return ((n_rows - n_suppressed) * per_record + n_suppressed) / n_rows


def _check_levels(levels: Mapping[str, int], hierarchies: Mapping[str, Hierarchy]) -> None:
    """Each level names a hierarchy and lies in 0..height (a level 5 of a height-4 hierarchy is a typo)."""
    if not isinstance(levels, Mapping):
        raise TypeError(f"levels must be a dict of column -> level, got {type(levels).__name__}")
    unknown = set(levels) - set(hierarchies)
    if unknown:
        raise ValueError(f"levels names column(s) {sorted(unknown)} that have no hierarchy")
    for column, level in levels.items():
        check_int(level, f"levels[{column!r}]", minimum=0, maximum=hierarchies[column].height)


def _weights(hierarchies: Mapping[str, Hierarchy], weights: Mapping[str, float] | None) -> dict[str, float]:
    """Normalised weights per quasi-identifier (equal when ``weights`` is None)."""
    if weights is None:
        return {c: 1.0 / len(hierarchies) for c in hierarchies}
    unknown = set(weights) - set(hierarchies)
    if unknown:
        raise ValueError(f"weights names column(s) {sorted(unknown)} that have no hierarchy")
    raw = {c: float(weights.get(c, 1.0)) for c in hierarchies}
    if any(not np.isfinite(v) or v < 0 for v in raw.values()) or sum(raw.values()) <= 0:
        raise ValueError(f"weights must be finite numbers >= 0, not all zero; got {dict(weights)}")
    total = sum(raw.values())
    return {c: v / total for c, v in raw.items()}


@dataclass
class AnonymisationResult:
    """The outcome of :func:`anonymise`.

    Attributes
    ----------
    data : DataFrame
        Generalised table without the suppressed records (original index kept).
    levels : dict
        Chosen generalisation level per quasi-identifier.
    k : int
        The k reached (size of the smallest class after suppression).
    n_suppressed : int
        Records removed because their class stayed smaller than the requested k (or less than l-diverse).
    information_loss : float
        See :func:`information_loss`.
    candidates : DataFrame
        Every level combination tried with its suppression and loss (for plots and discussion).
    """

    data: pd.DataFrame
    levels: dict[str, int]
    k: int
    n_suppressed: int
    information_loss: float
    candidates: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)


def _suppression_mask(
    keys: np.ndarray,
    sensitive: np.ndarray | None,
    k: int,
    l: int | None,  # noqa: E741
) -> np.ndarray:
    counts = np.bincount(keys)
    small = counts[keys] < k
    if l is not None and sensitive is not None:
        pairs = np.unique(keys * (int(sensitive.max()) + 1) + sensitive)
        distinct = np.bincount(pairs // (int(sensitive.max()) + 1), minlength=len(counts))
        small |= distinct[keys] < l
    return small


def _combined_keys(codes: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """One small integer per distinct combination of codes (mixed radix, compacted when large)."""
    keys = np.zeros(len(codes[0]), dtype=np.int64)
    span = 1
    for code, size in zip(codes, sizes, strict=True):
        if span * size > 2**40:  # keep the mixed-radix number small
            keys = pd.factorize(keys)[0].astype(np.int64)
            span = int(keys.max()) + 1
        keys = keys * size + code
        span *= size
    if span > 8 * len(keys):  # np.bincount needs a compact range
        keys = pd.factorize(keys)[0].astype(np.int64)
    return keys


@validate_params({"max_candidates": [Interval("integral", 1, None)]})
def anonymise(
    data: pd.DataFrame,
    *,
    k: int,
    hierarchies: Mapping[str, Hierarchy],
    max_suppression: float = 0.05,
    l: int | None = None,  # noqa: E741 - the l of l-diversity
    sensitive: str | None = None,
    max_candidates: int = 20_000,
    weights: Mapping[str, float] | None = None,
) -> AnonymisationResult:
    """Reach k-anonymity (optionally l-diversity) with the least information loss.

    Tries every combination of generalisation levels (the full lattice), suppresses the records whose
    class is still too small, keeps the combinations that suppress at most ``max_suppression`` of the
    rows, and returns the one with the smallest :func:`information_loss`.

    Parameters
    ----------
    data : pandas.DataFrame
        The table; the quasi-identifiers are the keys of ``hierarchies``.
    k : int
        Required minimum class size, 1 <= k <= len(data).
    hierarchies : mapping of str to Hierarchy
        How each quasi-identifier may be generalised.
    max_suppression : float
        Largest fraction of rows that may be suppressed.
    l, sensitive : int and str, optional
        Also require every class to hold at least ``l`` distinct values of ``sensitive``.
    max_candidates : int
        Refuse lattices larger than this (use fewer levels or quasi-identifiers).
    weights : mapping of str to float, optional
        How much each quasi-identifier's generalisation counts in :func:`information_loss` (default equal).

    Returns
    -------
    AnonymisationResult
    """
    hierarchies = _check_hierarchies(data, hierarchies)
    n = len(data)
    check_positive_int(k, "k")
    if k > n:
        raise ValueError(f"k={k} is larger than the number of rows in data ({n}); no table can reach it")
    check_probability(max_suppression, "max_suppression")
    _weights(hierarchies, weights)
    if (l is None) != (sensitive is None):
        raise ValueError("give both l and sensitive (for l-diversity) or neither")
    sensitive_values = None
    if l is not None:
        check_columns(data, [sensitive], "data (sensitive)")
        check_positive_int(l, "l")
        sensitive_values = pd.factorize(data[sensitive], use_na_sentinel=False)[0].astype(np.int64)
    columns = list(hierarchies)
    lattice = list(itertools.product(*[range(hierarchies[c].height + 1) for c in columns]))
    if len(lattice) > max_candidates:
        raise ValueError(
            f"the lattice has {len(lattice)} level combinations (> max_candidates={max_candidates})"
        )
    codes = {
        c: [
            pd.factorize(hierarchies[c].generalise(data[c], lv), use_na_sentinel=False)[0].astype(np.int64)
            for lv in range(hierarchies[c].height + 1)
        ]
        for c in columns
    }
    rows, best, best_mask = [], None, None
    for combo in progress(lattice, desc="level combinations"):
        chosen = [codes[c][lv] for c, lv in zip(columns, combo, strict=True)]
        keys = _combined_keys(chosen, [int(code.max()) + 1 for code in chosen])
        mask = _suppression_mask(keys, sensitive_values, int(k), l)
        levels = dict(zip(columns, combo, strict=True))
        loss = information_loss(levels, hierarchies, n_rows=n, n_suppressed=int(mask.sum()), weights=weights)
        feasible = mask.sum() <= max_suppression * n
        rows.append(
            {**levels, "n_suppressed": int(mask.sum()), "information_loss": loss, "feasible": feasible}
        )
        rank = (loss, int(mask.sum()), sum(combo))
        if feasible and (best is None or rank < best[0]):
            best, best_mask = (rank, levels), mask
    if best is None:
        raise ValueError(
            f"no generalisation reaches k={k} with at most {max_suppression:.0%} suppression; "
            "allow more suppression or give hierarchies with more levels"
        )
    levels = best[1]
    out = generalise(data, hierarchies=hierarchies, levels=levels).loc[~best_mask]
    reached = k_anonymity(out, quasi_identifiers=columns) if len(out) else 0
    return AnonymisationResult(
        data=out,
        levels=levels,
        k=reached,
        n_suppressed=int(best_mask.sum()),
        information_loss=best[0][0],
        candidates=pd.DataFrame(rows),
    )


# --------------------------------------------------------------------------------------------- linkage
@dataclass
class LinkageResult:
    """The outcome of :func:`linkage_attack`.

    Attributes
    ----------
    matches : DataFrame
        For every re-identified person, the identifier joined to the released record's columns.
    n_reidentified : int
        People of the external table matched to exactly one released record.
    rate : float
        ``n_reidentified / len(external)``.
    match_counts : Series
        For every external person, how many released records share their quasi-identifiers.
    """

    matches: pd.DataFrame
    n_reidentified: int
    rate: float
    match_counts: pd.Series = field(repr=False)


def linkage_attack(
    released: pd.DataFrame,
    external: pd.DataFrame,
    *,
    quasi_identifiers: Sequence[str],
    identifier: str,
    hierarchies: Mapping[str, Hierarchy] | None = None,
    levels: Mapping[str, int] | None = None,
) -> LinkageResult:
    """Join a "de-identified" release with a public table that has names, on the quasi-identifiers.

    A person of ``external`` is re-identified when exactly one released record shares their
    quasi-identifier values. When the release was generalised, pass the same ``hierarchies`` and
    ``levels`` so the attacker generalises the public table the same way.
    """
    qis = _check_qis(released, quasi_identifiers)
    check_columns(external, [*qis, identifier], "external")
    for name, table in (("released", released), ("external", external)):
        if len(table) == 0:
            raise ValueError(f"{name} is empty; a linkage attack needs at least one record in each table")
    if hierarchies is not None or levels is not None:
        if hierarchies is None or levels is None:
            raise ValueError("give both hierarchies and levels to generalise the external table, or neither")
        external = generalise(external, hierarchies=hierarchies, levels=levels)
    left = external[[identifier, *qis]].copy()
    right = released.copy()
    for column in qis:  # compare as text so generalised labels and raw values line up
        left[column] = left[column].astype(str)
        right[column] = right[column].astype(str)
    sizes = right.groupby(qis, sort=False).size().rename("n_matches").reset_index()
    counted = left.merge(sizes, on=qis, how="left")
    counted["n_matches"] = counted["n_matches"].fillna(0).astype(int)
    unique = counted.loc[counted["n_matches"] == 1, [identifier, *qis]]
    right_cols = [c for c in right.columns if c != identifier]
    matches = unique.merge(right[right_cols], on=qis, how="left")
    n_reid = int(len(unique))
    return LinkageResult(
        matches=matches,
        n_reidentified=n_reid,
        rate=n_reid / len(external),
        match_counts=pd.Series(counted["n_matches"].to_numpy(), index=external.index, name="n_matches"),
    )
