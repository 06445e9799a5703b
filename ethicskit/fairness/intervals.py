"""Group rates with their support and intervals, and the gap that harms people.

"The largest disparity" of an audit is easy to misread: the largest raw gap between two groups is often
a rate computed from a dozen people, and a gap says nothing about who is hurt by it. This module reports
each group's rate with the number of people it rests on (its *support*: the positives for a true or false
negative rate, the negatives for a false positive rate) and a Wilson score interval, then compares groups
in the direction of harm the caller names, among groups with enough support::

    >>> import numpy as np
    >>> y_true = np.array([1, 1, 1, 1, 0, 0, 1, 1, 0, 0])
    >>> y_pred = np.array([1, 1, 1, 0, 0, 1, 0, 0, 0, 0])
    >>> group = np.array(["a"] * 5 + ["b"] * 5)
    >>> rates_by_group(y_true, y_pred, group, metric="fnr")[["group", "value", "support"]]
      group  value  support
    0     a   0.25        4
    1     b   1.00        2

Wilson intervals (closed form, no resampling) behave well for small counts and rates near 0 or 1, where
bootstrap percentile intervals are too narrow; the interval of a difference is Newcombe's (1998) method
built from the two Wilson intervals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ethicskit._validation import Interval, validate_params

_CONFIDENCE = [Interval("real", 0, 1, closed="neither")]

__all__ = ["RATES", "wilson_interval", "rates_by_group", "harmful_gap", "plot_group_rates"]

#: Each rate as (who counts in the denominator, who counts in the numerator), on ``y`` and ``pred``.
RATES = {
    "selection_rate": ("everyone", lambda y, p: np.ones_like(y, bool), lambda y, p: p == 1),
    "accuracy": ("everyone", lambda y, p: np.ones_like(y, bool), lambda y, p: p == y),
    "true_positive_rate": ("positives", lambda y, p: y == 1, lambda y, p: p == 1),
    "false_negative_rate": ("positives", lambda y, p: y == 1, lambda y, p: p == 0),
    "false_positive_rate": ("negatives", lambda y, p: y == 0, lambda y, p: p == 1),
    "true_negative_rate": ("negatives", lambda y, p: y == 0, lambda y, p: p == 0),
    "precision": ("predicted positives", lambda y, p: p == 1, lambda y, p: y == 1),
}
_ALIASES = {"tpr": "true_positive_rate", "fnr": "false_negative_rate", "fpr": "false_positive_rate",
            "tnr": "true_negative_rate", "ppv": "precision"}


def _metric_name(metric: str) -> str:
    name = _ALIASES.get(str(metric).lower(), str(metric).lower())
    if name not in RATES:
        raise ValueError(f"metric must be one of {sorted(RATES)} (or {sorted(_ALIASES)}), got {metric!r}")
    return name


@validate_params({"confidence": _CONFIDENCE})
def wilson_interval(events: Any, support: Any, *, confidence: float = 0.95) -> tuple[Any, Any]:
    """Wilson score interval of a proportion ``events / support`` (NaN where ``support`` is 0).

    >>> [round(v, 3) for v in wilson_interval(5, 12)]
    [0.193, 0.68]
    """
    from scipy.stats import norm

    k, n = np.asarray(events, float), np.asarray(support, float)
    z = norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def _as_features(sensitive_features: Any, n: int) -> pd.DataFrame:
    if isinstance(sensitive_features, pd.DataFrame):
        frame = sensitive_features.reset_index(drop=True)
    elif isinstance(sensitive_features, pd.Series):
        frame = sensitive_features.reset_index(drop=True).to_frame(sensitive_features.name or "group")
    else:
        frame = pd.DataFrame({"group": np.asarray(sensitive_features)})
    if len(frame) != n:
        raise ValueError(f"sensitive_features has {len(frame)} rows, y_true has {n}")
    return frame.astype(str)


@validate_params({"confidence": _CONFIDENCE})
def rates_by_group(
    y_true: Any, y_pred: Any, sensitive_features: Any, *, metric: str, confidence: float = 0.95
) -> pd.DataFrame:
    """One row per (sensitive feature, group): the rate, the counts it rests on and its Wilson interval.

    Parameters
    ----------
    y_true, y_pred : array-like of 0/1
    sensitive_features : array-like, Series or DataFrame (one column per feature)
    metric : str
        A name of :data:`RATES` or ``tpr``, ``fnr``, ``fpr``, ``tnr``, ``ppv``.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        ``sensitive_feature, group, metric, value, events, support, low, high``; ``support`` is the size
        of the rate's denominator (e.g. the group's positives for a false negative rate).
    """
    name = _metric_name(metric)
    y, p = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    if y.shape != p.shape:
        raise ValueError(f"y_true has {len(y)} values, y_pred {len(p)}")
    _, denominator, numerator = RATES[name]
    counted, hit = denominator(y, p), numerator(y, p)
    rows = []
    for feature, column in _as_features(sensitive_features, len(y)).items():
        for group in sorted(column.unique()):
            rows_in = (column == group).to_numpy() & counted
            support, events = int(rows_in.sum()), int((rows_in & hit).sum())
            rows.append((feature, group, name, events / support if support else np.nan, events, support))
    table = pd.DataFrame(rows, columns=["sensitive_feature", "group", "metric", "value", "events", "support"])
    table["low"], table["high"] = wilson_interval(table["events"], table["support"], confidence=confidence)
    return table


@validate_params({"confidence": _CONFIDENCE, "min_support": [Interval("integral", 1, None)],
                  "higher_is_harmful": ["boolean"]})
def harmful_gap(
    y_true: Any,
    y_pred: Any,
    sensitive_features: Any,
    *,
    metric: str,
    higher_is_harmful: bool = True,
    min_support: int = 30,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """For each sensitive feature, the group worst off on ``metric`` against the best off, with an interval.

    Only groups whose rate rests on at least ``min_support`` people are compared (the others are listed
    in ``too_small``). ``higher_is_harmful`` names the direction of harm: True for an error rate that hurts
    the people it hits (a false positive rate for defendants labelled high risk, a false negative rate
    for applicants wrongly refused), False for a rate of something good (selection for a loan, a TPR).

    Returns one row per feature: ``metric, sensitive_feature, harmed_group, harmed_value,
    harmed_support, reference_group, reference_value, reference_support, gap`` (how much worse, >= 0),
    ``gap_low, gap_high`` (Newcombe interval), ``clear`` (True when ``gap_low > 0``: the gap is larger than
    sampling noise at this confidence) and ``too_small`` (groups left out). Sorted by decreasing
    ``gap_low``: the first row is the most credible harm, not merely the largest raw gap.
    The harmed and reference groups are picked after looking at the data, so with many groups ``clear``
    is optimistic; read it as "worth investigating", not as proof.
    """
    rates = rates_by_group(y_true, y_pred, sensitive_features, metric=metric, confidence=confidence)
    sign = 1 if higher_is_harmful else -1
    rows = []
    for feature, part in rates.groupby("sensitive_feature", sort=False):
        big = part[part["support"] >= min_support]
        small = sorted(part.loc[part["support"] < min_support, "group"])
        if len(big) < 2:
            continue
        worst = big.loc[(sign * big["value"]).idxmax()]
        best = big.loc[(sign * big["value"]).idxmin()]
        gap = sign * (worst["value"] - best["value"])
        # Newcombe's hybrid score interval of worst - best, turned into the direction of harm
        if higher_is_harmful:
            low = gap - np.hypot(worst["value"] - worst["low"], best["high"] - best["value"])
            high = gap + np.hypot(worst["high"] - worst["value"], best["value"] - best["low"])
        else:
            low = gap - np.hypot(worst["high"] - worst["value"], best["value"] - best["low"])
            high = gap + np.hypot(worst["value"] - worst["low"], best["high"] - best["value"])
        rows.append({
            "metric": worst["metric"], "sensitive_feature": feature,
            "harmed_group": worst["group"], "harmed_value": worst["value"],
            "harmed_support": worst["support"],
            "reference_group": best["group"], "reference_value": best["value"],
            "reference_support": best["support"],
            "gap": float(gap), "gap_low": float(low), "gap_high": float(high), "clear": bool(low > 0),
            "too_small": small,
        })
    if not rows:
        raise ValueError(f"no sensitive feature has two groups with at least {min_support} people in the "
                         f"denominator of {metric!r}; lower min_support or collect more data")
    return pd.DataFrame(rows).sort_values("gap_low", ascending=False, ignore_index=True)


def plot_group_rates(rates: pd.DataFrame, *, min_support: int = 30, ax: Any = None) -> Any:
    """Each group's rate with its interval, one row per group, labelled with its support.

    Groups under ``min_support`` are drawn in grey: their interval is too wide to compare.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.35 * len(rates) + 1))
    labels = [f"{f} = {g}  (n = {n})" for f, g, n in zip(rates["sensitive_feature"], rates["group"],
                                                          rates["support"], strict=True)]
    for y_pos, row in enumerate(rates.itertuples()):
        colour = "tab:blue" if row.support >= min_support else "0.6"
        ax.errorbar(row.value, y_pos, xerr=[[row.value - row.low], [row.high - row.value]], fmt="o",
                    color=colour, capsize=3)
    ax.set_yticks(range(len(rates)), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    metric = rates["metric"].iloc[0].replace("_", " ")
    ax.set_xlabel(f"{metric} (95 % Wilson interval; grey: fewer than {min_support} people)")
    return ax
