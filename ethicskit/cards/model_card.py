"""Model cards in the Hugging Face format (YAML metadata with model-index, then Markdown), offline.

:class:`ModelCard` is a :class:`huggingface_hub.ModelCard` that ethicskit can fill from a fitted model
and a fairness audit, edit section by section, render, and validate without the network.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from huggingface_hub import EvalResult, ModelCardData
from huggingface_hub import ModelCard as _HFModelCard

from ethicskit._validation import (
    Interval,
    check_binary,
    check_consistent_length,
    check_positive,
    validate_params,
)
from ethicskit.cards._text import PLACEHOLDER, normalise_heading, replace_section, split_sections
from ethicskit.cards.metrics import (
    INTERSECTION_SEP,
    KNOWN_METRICS,
    _column,
    group_metrics,
    largest_disparity,
    optional_str,
    tidy_metrics,
)
from ethicskit.cards.render import html_page
from ethicskit.cards.validation import (
    Finding,
    Findings,
    check_license,
    check_metric_entry,
    check_section_text,
)

__all__ = ["ModelCard", "AUTHORED_SECTIONS", "REQUIRED_SECTIONS", "DEFAULT_METRICS"]

DEFAULT_METRICS = ("accuracy", "selection_rate", "true_positive_rate", "false_positive_rate")

#: Sections a person must write, with the prompt ethicskit leaves for them. Never filled automatically.
AUTHORED_SECTIONS = {
    "Intended use": "Who should use this model, for which decision, in which setting and population?",
    "Out-of-scope use": "Which uses must be avoided (other populations, unreviewed automated decisions)?",
    "Limitations": "Where does the model fail or treat groups differently? Name the largest disparity the "
    "audit found (metric, sensitive feature, groups, size).",
    "Ethical considerations": "Who could be harmed, how, and what was done about it? Sensitive data used?",
    "Caveats and recommendations": "What should a deployer check or monitor; when must a person review?",
}

#: Every section a complete card has (generated ones included), in order.
REQUIRED_SECTIONS = (
    "Model details",
    "Intended use",
    "Out-of-scope use",
    "Training data",
    "Evaluation data",
    "Metrics",
    "Limitations",
    "Ethical considerations",
    "Caveats and recommendations",
)
_OPTIONAL_SECTIONS = ("Fairness audit", "Environmental impact", "Customisation decisions")

# Headings other templates use for the same thing (Hugging Face's default template among them).
_ALIASES = {
    "intended use": ("intended uses", "uses", "direct use", "intended uses and limitations"),
    "out of scope use": ("out of scope uses", "out of scope"),
    "limitations": ("bias risks and limitations", "risks and limitations"),
    "caveats and recommendations": ("recommendations", "caveats"),
    "model details": ("model description",),
    "metrics": ("evaluation results", "evaluation", "results"),
}


def _num(value: Any) -> float:
    return round(float(value), 4)


def _feature_list(sensitive_features: Any) -> list[str]:
    """Column names as a list; one name is one column (not its characters)."""
    if sensitive_features is None:
        return []
    if isinstance(sensitive_features, str):
        return [sensitive_features]
    return list(sensitive_features)


class ModelCard(_HFModelCard):
    """A Hugging Face model card that ethicskit can build, edit, render and validate offline.

    Build one with :meth:`from_model`; open a saved one with :meth:`load` (local files only);
    edit with :meth:`set_section`; check with :meth:`validate` (offline; it replaces the Hub call).

    Examples
    --------
    >>> card = ModelCard.from_model(model, X_test, y_test, model_name="adult-logreg",
    ...     sensitive_features=["sex", "race"], dataset_name="adult")  # doctest: +SKIP
    >>> card.set_section("Intended use", "...")                                            # doctest: +SKIP
    >>> print(card.validate(model, X_test, y_test))                                       # doctest: +SKIP
    """

    # ------------------------------------------------------------------ building
    @classmethod
    @validate_params({"model_name": ["text"], "dataset_name": ["text"], "license": ["text"]})
    def from_model(
        cls,
        model: Any,
        X: pd.DataFrame,
        y: Any,
        *,
        model_name: str,
        dataset_name: str,
        sensitive_features: Iterable[str] | None = None,
        metrics: Iterable[str] = DEFAULT_METRICS,
        audit: Any = None,
        dataset_split: str = "test",
        description: str | None = None,
        training_data: Any = None,
        datasheet: Any = None,
        emissions: Any = None,
        trail: Any = None,
        license: str = "apache-2.0",
        min_group_size: int = 1,
        sections: dict[str, str] | None = None,
    ) -> ModelCard:
        """Fill a card from a fitted classifier and its evaluation data.

        Parameters
        ----------
        model : fitted estimator
            Anything with ``predict`` (and ``predict_proba`` if ``roc_auc`` is asked for).
        X : DataFrame
            Evaluation features, sensitive columns included.
        y : array-like of 0/1
            Evaluation labels (1 = favourable outcome).
        model_name, dataset_name : str
            Names written into the metadata (``model-index``) and the text.
        sensitive_features : list of str, optional
            Columns of ``X`` audited group by group; stated in the metadata so the validator
            can demand per-group results for each.
        metrics : iterable of str
            Names from :data:`ethicskit.cards.metrics.KNOWN_METRICS`; only these are reported (also
            when ``audit`` holds more).
        audit : tidy DataFrame, MetricFrame or dict, optional
            An existing fairness audit (``ethicskit.fairness`` output or
            :func:`~ethicskit.cards.metrics.group_metrics`). When None, ethicskit computes it.
        dataset_split : str
            Which split ``X, y`` are (``"test"``, ``"validation"``).
        description : str, optional
            One paragraph for "Model details"; a factual default is derived from the model.
        training_data : Dataset or str, optional
            Reference to the training data (an ethicskit ``Dataset`` gives its name and size).
        datasheet : Datasheet, optional
            Its summary goes under "Training data".
        emissions : float, dict or EnergyReport, optional
            Measured CO2-equivalent in grams (or a dict with ``emissions`` and details, codecarbon's
            EmissionsData, or lesson 05's ``ethicskit.sft.EnergyReport``; its TDP fallback is
            written as an estimate). Left "not measured" when None; the card never invents a number.
        trail : AuditTrail, optional
            Its summary becomes the "Customisation decisions" section.
        license : str
            SPDX id of the model's licence.
        min_group_size : int
            Groups smaller than this are not reported (and not demanded by the validator).
        sections : dict, optional
            Text for the authored sections (``{"Intended use": "..."}``); the others are left as
            prompts with the ``[More Information Needed]`` placeholder.
        """
        features = _feature_list(sensitive_features)
        y_arr = check_binary(y, "y")
        results = _evaluate(model, X, y_arr, features, list(metrics), audit, min_group_size)
        card_data = ModelCardData(
            model_name=model_name,
            license=license,
            library_name=_library(model),
            datasets=[dataset_name],
            metrics=sorted(set(results["metric"])),
            pipeline_tag="tabular-classification",
            tags=["ethicskit", "fairness-audit"],
            eval_results=_eval_results(results, dataset_name, dataset_split),
            sensitive_features=features,
            min_group_size=int(min_group_size),
        )
        if emissions is not None:
            card_data.co2_eq_emissions = _emissions(emissions)
        if trail is not None:
            card_data.audit_trail_head = trail.head
        body = _body(
            model_name=model_name,
            model=model,
            description=description,
            dataset_name=dataset_name,
            dataset_split=dataset_split,
            n_eval=len(y_arr),
            training_data=training_data,
            datasheet=datasheet,
            results=results,
            emissions=card_data.get("co2_eq_emissions"),
            trail=trail,
            sections=sections or {},
        )
        content = f"---\n{card_data.to_yaml()}\n---\n{body}"
        return cls(content)

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> ModelCard:  # type: ignore[override]
        """Open a card saved with :meth:`save` (a local Markdown file; never downloads)."""
        if not Path(path).is_file():
            raise ValueError(
                f"path must be an existing local card file, got {str(path)!r} (ethicskit is offline)"
            )
        return super().load(path, **kwargs)

    def push_to_hub(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Refuse: ethicskit cards stay offline (save the file and upload it yourself if you must)."""
        raise RuntimeError("ethicskit model cards are offline; use card.save(path) and upload deliberately")

    # ------------------------------------------------------------------ editing
    @property
    def sections(self) -> dict[str, str]:
        """``{heading: markdown body}`` for every ``##`` section."""
        return split_sections(self.text)

    def _heading(self, name: str) -> str | None:
        wanted = normalise_heading(name)
        accepted = {wanted, *_ALIASES.get(wanted, ())}
        for heading in self.sections:
            if normalise_heading(heading) in accepted:
                return heading
        return None

    @validate_params({"name": ["text"]})
    def section(self, name: str) -> str | None:
        """The body of section ``name`` (aliases such as "Uses" for "Intended use" accepted), or None."""
        heading = self._heading(name)
        return None if heading is None else self.sections[heading]

    @validate_params({"name": ["text"]})
    def set_section(self, name: str, text: str) -> ModelCard:
        """Replace (or add) the body of section ``name``; returns the card for chaining."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        self.text = replace_section(self.text, self._heading(name) or name, text)
        return self

    def attach_trail(self, trail: Any, *, signing_key: Any = None) -> ModelCard:
        """Summarise ``trail`` under "Customisation decisions" and record its head hash in the metadata.

        Call it last (after the approval): :meth:`validate` with ``trail=`` then catches any later
        edit, removal or truncation of the trail - unless someone rewrites the card's head together
        with the trail. With ``signing_key`` (an Ed25519 private key,
        ``ethicskit.audit.generate_signing_key()``) the card also stores a signed anchor, which
        :meth:`validate` checks with ``public_key=``: without the private key it cannot be rewritten.
        """
        if not hasattr(trail, "summary_markdown") or not hasattr(trail, "head"):
            raise TypeError(f"trail must be an ethicskit.audit.AuditTrail, got {type(trail).__name__}")
        self.data.audit_trail_head = trail.head
        if signing_key is not None:
            self.data.audit_trail_anchor = trail.anchor(signing_key).to_dict()
        return self.set_section("Customisation decisions", trail.summary_markdown())

    def todo(self) -> list[str]:
        """Authored sections still holding a placeholder or missing."""
        return [name for name in AUTHORED_SECTIONS if check_section_text(name, self.section(name))]

    def reported_metrics(self) -> pd.DataFrame:
        """The metadata's evaluation results as a tidy table (metric, sensitive_feature, group, value)."""
        rows = []
        for result in self.data.eval_results or []:
            args = result.metric_args or {}
            rows.append(
                (result.metric_type, args.get("sensitive_feature"), args.get("group"), result.metric_value)
            )
        frame = pd.DataFrame(rows, columns=["metric", "sensitive_feature", "group", "value"])
        for column in ("sensitive_feature", "group"):
            frame[column] = pd.Series([optional_str(v) for v in frame[column]], dtype=object)
        return frame

    # ------------------------------------------------------------------ rendering
    def to_markdown(self) -> str:
        """The full card text (YAML metadata block, then Markdown) as saved to README.md."""
        return self.content

    def to_html(self) -> str:
        """A standalone HTML page of the card (metadata folded at the top)."""
        return html_page(
            self.data.get("model_name") or "Model card", self.text, metadata_yaml=self.data.to_yaml()
        )

    def _repr_markdown_(self) -> str:  # pragma: no cover - notebook display
        return self.text

    # ------------------------------------------------------------------ validating
    @validate_params({"min_words": [Interval("integral", 0, None)]})
    def validate(  # type: ignore[override]
        self,
        model: Any = None,
        X: pd.DataFrame | None = None,
        y: Any = None,
        *,
        sensitive_features: Iterable[str] | None = None,
        tolerance: float = 0.01,
        min_words: int = 12,
        trail: Any = None,
        public_key: Any = None,
    ) -> Findings:
        """Check the card offline; return the findings (empty when all is well).

        Checks that the required sections are present and specific (no placeholders, no filler,
        not just the heading), the metadata is valid (SPDX licence, known metric names, numeric
        values) and, when ``model``, ``X`` and ``y`` are given, that every reported metric equals
        its recomputation within ``tolerance`` (absolute), per group included, and that every stated
        sensitive feature has results for each of its groups.

        Parameters
        ----------
        model, X, y : optional
            The fitted model and evaluation data the card describes.
        sensitive_features : list of str, optional
            Features whose groups must be reported; defaults to those the card states.
        tolerance : float
            Largest allowed absolute difference between a reported and a recomputed value.
        min_words : int
            Shortest acceptable authored section, in words.
        trail : AuditTrail, optional
            Verified, and compared with the head hash the card recorded.
        public_key : Ed25519 public key, optional
            Also check the card's signed anchor (:meth:`attach_trail` with ``signing_key``) against
            ``trail``: catches a trail rewritten together with the card's head.
        """
        tolerance = check_positive(tolerance, "tolerance", allow_zero=True)
        findings = Findings()
        for name in REQUIRED_SECTIONS:
            findings += check_section_text(
                name, self.section(name), min_words=min_words if name in AUTHORED_SECTIONS else 3
            )
        findings += self._check_metadata()
        if model is not None or X is not None or y is not None:
            if model is None or X is None or y is None:
                raise TypeError("to recompute the metrics pass all of model, X and y")
            stated = _feature_list(sensitive_features)
            if sensitive_features is None:
                stated = self._stated_features()
            findings += _check_consistency(
                self.reported_metrics(),
                model,
                X,
                y,
                features=stated,
                tolerance=tolerance,
                min_group_size=int(self.data.get("min_group_size", 1) or 1),
            )
        if public_key is not None and trail is None:
            raise TypeError("public_key checks the card's signed anchor against a trail; pass trail too")
        if trail is not None:
            report = trail.verify(expected_head=self.data.get("audit_trail_head"))
            anchor = self.data.get("audit_trail_anchor")
            if public_key is not None and not anchor:
                report.problems.append("the card holds no signed anchor (attach_trail with signing_key)")
            elif public_key is not None:
                signed = trail.verify(anchor=anchor, public_key=public_key)
                report.problems += [p for p in signed.problems if p not in report.problems]
            report.ok = not report.problems
            if not report.ok:
                findings.append(
                    Finding(
                        "error",
                        "audit trail",
                        "the audit trail does not verify: " + "; ".join(report.problems),
                        "restore the original trail; append, never edit",
                    )
                )
        return findings

    def _stated_features(self) -> list[str]:
        stated = self.data.get("sensitive_features") or []
        return [stated] if isinstance(stated, str) else list(stated)

    def _check_metadata(self) -> list[Finding]:
        findings = check_license(self.data.get("license"), license_name=self.data.get("license_name"))
        if not self.data.get("model_name"):
            findings.append(
                Finding(
                    "error",
                    "metadata.model_name",
                    "the model has no name",
                    "set model_name (it names the model-index entry)",
                )
            )
        if not self.data.eval_results:
            findings.append(
                Finding(
                    "error",
                    "metadata.model-index",
                    "no evaluation results are reported",
                    "report overall and per-group metrics (ModelCard.from_model does it)",
                )
            )
        for result in self.data.eval_results or []:
            where = f"metric {result.metric_name or result.metric_type}"
            findings += check_metric_entry(where, result.metric_type, result.metric_value)
        if not self.data.get("datasets"):
            findings.append(
                Finding(
                    "warning",
                    "metadata.datasets",
                    "the training data is not referenced",
                    "list the dataset id(s) under datasets",
                )
            )
        if not self._stated_features():
            findings.append(
                Finding(
                    "warning",
                    "metadata.sensitive_features",
                    "no sensitive feature is stated",
                    "state which features were audited group by group",
                )
            )
        return findings


# ---------------------------------------------------------------------- helpers


def predictions(
    model: Any, X: pd.DataFrame, *, need_scores: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """``model.predict(X)`` as 0/1 ints, and positive-class scores when ``need_scores``."""
    y_pred = check_binary(np.asarray(model.predict(X)), "model.predict(X)")
    y_score = None
    if need_scores:
        if not hasattr(model, "predict_proba"):
            raise TypeError("roc_auc needs a model with predict_proba")
        y_score = np.asarray(model.predict_proba(X))[:, 1]
    return y_pred, y_score


def _evaluate(
    model: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    features: list[str],
    metrics: list[str],
    audit: Any,
    min_group_size: int,
) -> pd.DataFrame:
    """The card's tidy results: ``audit`` (or a fresh audit of ``model`` on ``X, y``), ``metrics`` only."""
    if not hasattr(model, "predict"):
        raise TypeError(f"model must be a fitted estimator with predict(), got {type(model).__name__}")
    check_consistent_length(X=X, y=y)
    if audit is None:
        y_pred, y_score = predictions(model, X, need_scores="roc_auc" in metrics)
        audit = group_metrics(
            y,
            y_pred,
            sensitive_features=features or None,
            metrics=metrics,
            y_score=y_score,
            data=X,
            min_group_size=min_group_size,
        )
    results = tidy_metrics(audit)
    results = results[results["metric"].isin(metrics)].reset_index(drop=True)
    if results.empty:
        raise ValueError(f"audit reports none of the metrics {metrics}; name some it has in metrics=")
    return results


def _check_consistency(
    reported: pd.DataFrame,
    model: Any,
    X: pd.DataFrame,
    y: Any,
    *,
    features: list[str],
    tolerance: float,
    min_group_size: int,
) -> list[Finding]:
    """Recompute every reported number; demand all groups of each stated feature."""
    known = reported[reported["metric"].isin(list(KNOWN_METRICS))]
    truth = _recompute(known, model, X, y, features)
    findings = _value_findings(known, truth, tolerance)
    for feature in features:
        findings += _coverage_findings(known, X, feature, min_group_size)
    return findings


def _recompute(
    known: pd.DataFrame, model: Any, X: pd.DataFrame, y: Any, features: list[str]
) -> dict[tuple[str, str | None, str | None], float]:
    """``(metric, feature, group) -> value`` recomputed from ``model`` on ``X, y``."""
    y_arr = check_binary(y, "y")
    check_consistent_length(X=X, y=y_arr)
    y_pred, y_score = predictions(model, X, need_scores="roc_auc" in set(known["metric"]))
    present = sorted(f for f in {*features, *known["sensitive_feature"].dropna()} if _has(X, f))
    truth = group_metrics(
        y_arr,
        y_pred,
        sensitive_features=present or None,
        metrics=sorted(set(known["metric"])),
        y_score=y_score,
        data=X,
    )
    return {
        (m, optional_str(f), optional_str(g)): v
        for m, f, g, v in zip(
            truth["metric"], truth["sensitive_feature"], truth["group"], truth["value"], strict=False
        )
    }


def _value_findings(known: pd.DataFrame, truth: dict, tolerance: float) -> list[Finding]:
    """An error for each reported number that is off by more than ``tolerance`` or has no group."""
    findings = []
    for metric, feature, group, reported in zip(
        known["metric"], known["sensitive_feature"], known["group"], known["value"], strict=False
    ):
        feature, group = optional_str(feature), optional_str(group)
        label = metric if feature is None else f"{metric} for {feature}={group}"
        if (metric, feature, group) not in truth:
            findings.append(
                Finding(
                    "error",
                    f"metric {label}",
                    "this group does not occur in the evaluation data",
                    "report only groups present in the data the card is evaluated on",
                )
            )
            continue
        try:
            value = float(reported)
        except (TypeError, ValueError):
            continue  # already reported by the metadata checks
        expected = truth[(metric, feature, group)]
        if math.isnan(expected) or abs(value - expected) > tolerance:
            findings.append(
                Finding(
                    "error",
                    f"metric {label}",
                    f"reported {value:.4g} but recomputation on the evaluation data gives {expected:.4g} "
                    f"(tolerance {tolerance:g})",
                    "recompute the metric on the evaluation data; never type numbers in",
                )
            )
    return findings


def _coverage_findings(
    known: pd.DataFrame, X: pd.DataFrame, feature: str, min_group_size: int
) -> list[Finding]:
    """An error when a stated feature is not in ``X`` or some group of it lacks a reported metric."""
    if not _has(X, feature):
        return [
            Finding(
                "error",
                f"sensitive feature {feature}",
                "the stated sensitive feature is not a column of the evaluation data",
                "state only features present in the evaluation data",
            )
        ]
    overall = sorted(set(known.loc[known["sensitive_feature"].isna(), "metric"]) or set(known["metric"]))
    sizes = _column(X, feature).value_counts()
    groups = sorted(sizes[sizes >= min_group_size].index)
    have = set(zip(known["metric"], known["sensitive_feature"], known["group"].astype(str), strict=False))
    missing = [(m, g) for m in overall for g in groups if (m, feature, g) not in have]
    if not missing:
        return []
    shown = ", ".join(f"{m} for {g}" for m, g in missing[:4]) + (" ..." if len(missing) > 4 else "")
    return [
        Finding(
            "error",
            f"sensitive feature {feature}",
            f"{len(missing)} per-group result(s) are missing ({shown})",
            f"report every metric for every group of {feature}",
        )
    ]


def _has(X: pd.DataFrame, feature: str) -> bool:
    return all(part in X.columns for part in str(feature).split(INTERSECTION_SEP))


def _library(model: Any) -> str:
    root = type(model).__module__.split(".")[0]
    return {"sklearn": "sklearn", "torch": "pytorch", "transformers": "transformers"}.get(root, root)


def _eval_results(results: pd.DataFrame, dataset_name: str, split: str) -> list[EvalResult]:
    out = []
    for metric, feature, group, value in zip(
        results["metric"], results["sensitive_feature"], results["group"], results["value"], strict=False
    ):
        feature, group = optional_str(feature), optional_str(group)
        if feature is None:
            name, args = metric, None
        else:
            name = f"{metric} ({feature}={group})"
            args = {"sensitive_feature": feature, "group": group}
        out.append(
            EvalResult(
                task_type="tabular-classification",
                dataset_type=dataset_name,
                dataset_name=dataset_name,
                dataset_split=split,
                metric_type=metric,
                metric_value=_num(value),
                metric_name=name,
                metric_args=args,
            )
        )
    return out


def _emissions(emissions: Any) -> dict[str, Any]:
    if isinstance(emissions, dict):
        if "emissions" not in emissions:
            raise ValueError("emissions dict must hold 'emissions' (grams CO2-eq)")
        out = dict(emissions)
    elif hasattr(emissions, "emissions"):  # codecarbon EmissionsData (kg)
        out = {"emissions": float(emissions.emissions) * 1000, "source": "codecarbon"}
    elif hasattr(emissions, "co2_kg") and hasattr(emissions, "method"):  # ethicskit.sft.EnergyReport (kg)
        method = str(emissions.method)
        if method == "codecarbon":  # say where its energy figure came from: counters or rated power
            method += (
                " (CPU energy counters)"
                if getattr(emissions, "counters", False)
                else " (rated-power estimate)"
            )
        out = {
            "emissions": float(emissions.co2_kg) * 1000,
            "source": method,
            "geographical_location": str(getattr(emissions, "country_iso_code", "")) or None,
        }
        out = {k: v for k, v in out.items() if v is not None}
    else:
        out = {"emissions": check_positive(emissions, "emissions", allow_zero=True)}
    out["emissions"] = _num(out["emissions"])
    return out


def _prompt(name: str) -> str:
    return f"<!-- {AUTHORED_SECTIONS[name]} -->\n\n{PLACEHOLDER}"


def _metrics_table(results: pd.DataFrame) -> str:
    scope = [
        ("overall" if optional_str(f) is None else f"{f} = {g}")
        for f, g in zip(results["sensitive_feature"], results["group"], strict=False)
    ]
    table = results.assign(scope=scope).pivot_table(
        index="scope", columns="metric", values="value", sort=False
    )
    header = "| group | " + " | ".join(table.columns) + " |"
    rule = "|---" * (len(table.columns) + 1) + "|"
    lines = [f"| {scope} | " + " | ".join(f"{v:.3f}" for v in row) + " |" for scope, row in table.iterrows()]
    return "\n".join([header, rule, *lines])


def _fairness_text(results: pd.DataFrame) -> str:
    try:
        worst = largest_disparity(results)
    except ValueError:
        return "No per-group results: the model was not audited group by group."
    return (
        f"Largest between-group gap found by the audit: **{worst['metric']}** "
        f"by **{worst['sensitive_feature']}**, "
        f"{worst['max_group']} {worst['max_value']:.3f} vs {worst['min_group']} {worst['min_value']:.3f} "
        f"(difference {worst['gap']:.3f}). This is the largest *raw* gap: it carries no interval, does not "
        "say how many people each rate rests on (a true positive rate rests on the group's positives only), "
        "nor which error harms the people concerned. Check those before stating a disparity under "
        "Limitations (ethicskit.fairness.intervals.harmful_gap); whether it is acceptable is a judgement "
        "the authors must make there."
    )


def _training_text(training_data: Any, datasheet: Any) -> str:
    """The "Training data" section: the dataset's name and size, and its datasheet's summary."""
    text = "Training data: not stated."
    if training_data is not None:
        name = getattr(training_data, "name", str(training_data))
        size = f", {len(training_data.data):,} rows" if hasattr(training_data, "data") else ""
        text = f"Trained on the **{name}** dataset{size}."
    if datasheet is not None:
        text += "\n\n" + datasheet.summary()
    return text


def _emissions_text(emissions: dict[str, Any] | None) -> str:
    """The "Environmental impact" section: what was measured, and what is an estimate.

    The CO2 figure is always an estimate (energy times the grid's average carbon intensity); the energy
    is a measurement only where the CPU's energy counters were read.
    """
    if not emissions:
        return "Emissions were not measured for this model."
    grams = f"{emissions['emissions']:g} g CO2-eq"
    source = emissions.get("source") or ""
    if source == "tdp-estimate":  # EnergyMeter without codecarbon: the CPU's rated power x time
        return (
            f"Estimated emissions: {grams} (from the CPU's rated power and the training time, not a "
            "measurement; no energy counters were readable)."
        )
    if source.endswith("(rated-power estimate)"):
        return (
            f"Estimated emissions: {grams} (codecarbon's estimate: the energy from the CPU's rated power "
            "and the training time, as no energy counters were readable, times the grid's average "
            "carbon intensity; not a measurement)."
        )
    if source.endswith("(CPU energy counters)"):
        return (
            f"Emissions: {grams}. The energy was measured from the CPU's energy counters by codecarbon "
            "(memory estimated); the CO2 figure multiplies it by the grid's average carbon intensity, "
            "an estimate."
        )
    shown = f" (source: {source})" if source else ""
    return f"Reported emissions: {grams}{shown}."


def _body(
    *,
    model_name,
    model,
    description,
    dataset_name,
    dataset_split,
    n_eval,
    training_data,
    datasheet,
    results,
    emissions,
    trail,
    sections,
) -> str:
    unknown = [
        k for k in sections if normalise_heading(k) not in {normalise_heading(a) for a in AUTHORED_SECTIONS}
    ]
    if unknown:
        raise ValueError(
            f"sections has unknown heading(s) {unknown}; expected some of {list(AUTHORED_SECTIONS)}"
        )
    given = {normalise_heading(k): v for k, v in sections.items()}
    details = description or (
        f"A `{type(model).__name__}` classifier ({_library(model)}) that predicts the favourable outcome "
        f"(label 1) for records of the {dataset_name} dataset. Card generated with ethicskit."
    )
    parts = [
        f"# Model card for {model_name}",
        "## Model details",
        details,
        *[
            x
            for name in ("Intended use", "Out-of-scope use")
            for x in (f"## {name}", given.get(normalise_heading(name), _prompt(name)))
        ],
        "## Training data",
        _training_text(training_data, datasheet),
        "## Evaluation data",
        f"The **{dataset_split}** split of **{dataset_name}** ({n_eval:,} rows), not used in training.",
        "## Metrics",
        "Overall and per group, recomputed by ethicskit from the model's predictions "
        "(selection rate = share predicted favourable).\n\n" + _metrics_table(results),
        "## Fairness audit",
        _fairness_text(results),
        *[
            x
            for name in ("Limitations", "Ethical considerations", "Caveats and recommendations")
            for x in (f"## {name}", given.get(normalise_heading(name), _prompt(name)))
        ],
        "## Environmental impact",
        _emissions_text(emissions),
    ]
    if trail is not None:
        parts += ["## Customisation decisions", trail.summary_markdown()]
    return "\n\n".join(parts) + "\n"
