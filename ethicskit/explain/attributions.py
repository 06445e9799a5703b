"""Local and global explanations through the real libraries: shap, lime and scikit-learn.

Every local method returns a :class:`LocalExplanation`: one row of feature attributions per explained
instance, in the same layout whichever library produced it, so that quality measures and plots treat
SHAP, LIME and anything else alike. Explanations are always about the probability (or log-odds) of the
positive class, label 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ethicskit._validation import (
    Interval,
    check_binary,
    check_consistent_length,
    check_in_choices,
    check_int,
    check_positive,
    validate_params,
)
from ethicskit.explain._common import check_frame, check_model, import_shap, positive_proba, progress, quiet

__all__ = [
    "LocalExplanation",
    "shap_values",
    "lime_values",
    "lime_text",
    "permutation_importances",
    "fit_logistic_baseline",
    "fit_tree_baseline",
    "coefficient_table",
    "tree_rules",
    "explain_in_words",
]

_TREE_MODULES = ("sklearn.ensemble", "sklearn.tree", "xgboost", "lightgbm", "catboost")
_LINEAR_NAMES = {
    "LogisticRegression",
    "LogisticRegressionCV",
    "SGDClassifier",
    "RidgeClassifier",
    "LinearSVC",
}


_SEED = [None, "seed"]  # None, an integer >= 0 or a numpy Generator


@dataclass
class LocalExplanation:
    """Feature attributions for a set of instances.

    Attributes
    ----------
    values : pandas.DataFrame
        One row per explained instance (same index as ``data``), one column per feature; the
        contribution of that feature to the model output for that instance.
    base_values : numpy.ndarray
        The output the attributions start from (SHAP: expected output over the background; LIME:
        the intercept of the local surrogate).
    data : pandas.DataFrame
        The explained instances.
    method : str
        Which algorithm produced the values (``"shap-tree"``, ``"shap-linear"``, ``"shap-exact"``,
        ``"shap-permutation"``, ``"lime"``).
    output : str
        What the attributions add up to: ``"probability"`` or ``"log-odds"`` of class 1.
    """

    values: pd.DataFrame
    base_values: np.ndarray
    data: pd.DataFrame
    method: str
    output: str = "probability"
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Quality measures pair values[i, j] with data[i, j]; a mismatch would pair the wrong cells.
        for name in ("values", "data"):
            if not isinstance(getattr(self, name), pd.DataFrame):
                found = type(getattr(self, name)).__name__
                raise TypeError(f"{name} must be a pandas DataFrame, got {found}")
        if self.values.shape != self.data.shape or list(self.values.columns) != list(self.data.columns):
            raise ValueError(
                f"values and data must have the same shape and columns, got {self.values.shape} "
                f"{list(self.values.columns)[:5]} and {self.data.shape} {list(self.data.columns)[:5]}"
            )
        base = np.atleast_1d(np.asarray(self.base_values, dtype=float))
        if base.size not in (1, len(self.values)):
            raise ValueError(
                f"base_values must hold one value or one per row ({len(self.values)}), got {base.size}"
            )

    def __len__(self) -> int:
        return len(self.values)

    @property
    def feature_names(self) -> list[str]:
        """The explained features, in column order."""
        return list(self.values.columns)

    def global_importance(self) -> pd.Series:
        """Mean absolute attribution per feature, largest first (a global summary)."""
        return self.values.abs().mean().sort_values(ascending=False).rename("mean |attribution|")

    def top_features(self, k: int = 3) -> pd.DataFrame:
        """The ``k`` features with the largest absolute attribution, per instance."""
        k = check_int(k, "k", minimum=1)
        order = np.argsort(-self.values.abs().to_numpy(), axis=1, kind="stable")[:, :k]
        names = np.asarray(self.feature_names, dtype=object)[order]
        return pd.DataFrame(
            names, index=self.values.index, columns=[f"top{i + 1}" for i in range(names.shape[1])]
        )

    def to_shap(self):
        """The same values as a ``shap.Explanation``, for shap's own plots."""
        shap = import_shap()
        return shap.Explanation(
            values=self.values.to_numpy(),
            base_values=np.asarray(self.base_values, dtype=float),
            data=self.data.to_numpy(dtype=float),
            feature_names=self.feature_names,
        )

    def __repr__(self) -> str:
        return (
            f"LocalExplanation(method={self.method!r}, output={self.output!r}, instances={len(self)}, "
            f"features={len(self.feature_names)})"
        )


_SCALERS = {"StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler"}


def _scaled_linear(model: Any) -> bool:
    """A Pipeline of per-feature scalers ending in a linear model (e.g. ``fit_logistic_baseline``)."""
    steps = getattr(model, "steps", None)
    if not steps:
        return False
    *scalers, (_, final) = steps
    return type(final).__name__ in _LINEAR_NAMES and all(type(s).__name__ in _SCALERS for _, s in scalers)


def _model_family(model: Any) -> str:
    """Guess which shap algorithm fits ``model``: "tree", "linear" or "generic"."""
    if _scaled_linear(model):
        return "linear"
    module = type(model).__module__
    name = type(model).__name__
    if name in _LINEAR_NAMES:
        return "linear"
    if module.startswith(_TREE_MODULES) and (hasattr(model, "estimators_") or hasattr(model, "tree_")):
        return "tree"
    if name.startswith(("HistGradientBoosting", "XGB", "LGBM", "CatBoost")):
        return "tree"
    return "generic"


def _background(background: pd.DataFrame, X: pd.DataFrame) -> pd.DataFrame:
    background = check_frame(background, "background", columns=X.columns)
    if len(background) > 1000:
        raise ValueError(
            f"background has {len(background)} rows; pass a sample of about 100 rows "
            "(e.g. X_train.sample(100, random_state=0)) so SHAP stays fast"
        )
    return background


@validate_params({"random_state": _SEED})
def shap_values(
    model: Any,
    X: pd.DataFrame,
    *,
    background: pd.DataFrame,
    algorithm: str = "auto",
    random_state: int = 0,
) -> LocalExplanation:
    """SHAP attributions of the positive-class output, with a background sample.

    Parameters
    ----------
    model : fitted binary classifier
        Any estimator with ``predict_proba``. Tree ensembles use ``shap.TreeExplainer``
        (interventional, output = probability), linear models ``shap.LinearExplainer`` (output =
        log-odds; also a Pipeline of per-feature scalers ending in a linear model, such as
        :func:`fit_logistic_baseline`), anything else the generic ``shap.Explainer`` on ``predict_proba``.
    X : pandas.DataFrame
        Numeric features of the instances to explain.
    background : pandas.DataFrame
        Reference sample (about 100 rows of the training data) that "absent" features are drawn
        from; the attributions of an instance sum to its output minus the mean background output.
    algorithm : {"auto", "tree", "linear", "exact", "permutation"}
        Force an algorithm instead of choosing from the model type.
    random_state : int
        Seed of the sampling algorithms (permutation explainer).

    Returns
    -------
    LocalExplanation

    Notes
    -----
    The model-agnostic algorithms ("exact", "permutation") call ``predict_proba`` about
    2**n_features (exact, up to 12 features) or 2 * n_features * 10 (permutation) times per
    instance and background row, and shap compiles them with numba the first time they run in a
    process (20-40 s on a small CPU). Tree and linear models avoid both costs.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from sklearn.datasets import make_classification
    >>> import pandas as pd
    >>> X, y = make_classification(200, 4, random_state=0)
    >>> X = pd.DataFrame(X, columns=list("abcd"))
    >>> model = RandomForestClassifier(20, random_state=0).fit(X, y)
    >>> expl = shap_values(model, X.head(5), background=X.sample(50, random_state=0))
    >>> expl.values.shape, expl.method
    ((5, 4), 'shap-tree')
    """
    shap = import_shap()
    check_model(model)
    X = check_frame(X, model=model)
    background = _background(background, X)
    check_in_choices(algorithm, ["auto", "tree", "linear", "exact", "permutation"], "algorithm")
    family = _model_family(model) if algorithm == "auto" else algorithm
    output = "probability"
    with quiet():
        if family == "tree":
            explainer = shap.TreeExplainer(
                model, data=background, model_output="probability", feature_perturbation="interventional"
            )
            result = explainer(X, check_additivity=False)
        elif family == "linear":
            if _scaled_linear(model):
                # per-feature affine scaling: SHAP values of the scaled inputs are those of the raw ones
                scale, final = model[:-1], model[-1]
                explainer = shap.LinearExplainer(final, scale.transform(background))
                result = explainer(scale.transform(X))
            else:
                explainer = shap.LinearExplainer(model, background)
                result = explainer(X)
            output = "log-odds"
        else:
            columns = X.columns

            def predict(rows: np.ndarray) -> np.ndarray:
                return positive_proba(model, pd.DataFrame(rows, columns=columns))

            masker = shap.maskers.Independent(background.to_numpy(dtype=float), max_samples=len(background))
            if family == "generic":
                family = "exact" if X.shape[1] <= 12 else "permutation"
            if family == "exact":
                explainer = shap.explainers.ExactExplainer(predict, masker, feature_names=list(columns))
            else:
                explainer = shap.explainers.PermutationExplainer(
                    predict, masker, feature_names=list(columns), seed=random_state
                )
            result = explainer(X.to_numpy(dtype=float), silent=True)
    values = np.asarray(result.values, dtype=float)
    base = np.asarray(result.base_values, dtype=float)
    if values.ndim == 3:  # one slice per class: keep class 1
        values, base = values[..., 1], base[..., 1] if base.ndim == 2 else base
    base = np.broadcast_to(base, (len(X),)).astype(float).copy()
    return LocalExplanation(
        values=pd.DataFrame(values, index=X.index, columns=X.columns),
        base_values=base,
        data=X,
        method=f"shap-{family}",
        output=output,
        info={"background_size": len(background)},
    )


@validate_params(
    {"random_state": _SEED, "discretize_continuous": ["boolean"], "show_progress": ["boolean"]}
)
def lime_values(
    model: Any,
    X: pd.DataFrame,
    *,
    training_data: pd.DataFrame,
    categorical_features: Sequence[str] = (),
    num_samples: int = 1000,
    discretize_continuous: bool = True,
    random_state: int = 0,
    show_progress: bool = True,
) -> LocalExplanation:
    """LIME attributions (weights of a local linear surrogate) for every feature of every instance.

    Parameters
    ----------
    model : fitted binary classifier
        Any estimator with ``predict_proba``.
    X : pandas.DataFrame
        Numeric features of the instances to explain.
    training_data : pandas.DataFrame
        Data LIME uses for feature statistics (means, quartiles, category frequencies).
    categorical_features : sequence of str
        Columns holding integer category codes (see :func:`ordinal_encode`).
    num_samples : int
        Perturbed samples per instance; fewer is faster and less stable.
    discretize_continuous : bool
        LIME's default: explain continuous features through quartile bins.
    random_state : int
        Seed of LIME's sampling; another seed gives another explanation (see ``lime_stability``).
    show_progress : bool
        Show a progress bar over instances (quiet anyway when not interactive).

    Returns
    -------
    LocalExplanation
        ``base_values`` holds the surrogate's intercepts; ``info["score"]`` its local R².
    """
    from lime.lime_tabular import LimeTabularExplainer

    check_model(model)
    X = check_frame(X, model=model)
    training_data = check_frame(training_data, "training_data", columns=X.columns)
    num_samples = check_int(num_samples, "num_samples", minimum=1)
    unknown = [c for c in categorical_features if c not in X.columns]
    if unknown:
        raise ValueError(f"categorical_features {unknown} are not columns of X; columns: {list(X.columns)}")
    columns = list(X.columns)
    cat_idx = [columns.index(c) for c in categorical_features]

    def predict(rows: np.ndarray) -> np.ndarray:
        return model.predict_proba(pd.DataFrame(rows, columns=columns))

    with quiet():
        explainer = LimeTabularExplainer(
            training_data.to_numpy(dtype=float),
            mode="classification",
            feature_names=columns,
            categorical_features=cat_idx,
            discretize_continuous=discretize_continuous,
            random_state=random_state,
        )
        weights = np.zeros(X.shape, dtype=float)
        intercepts = np.zeros(len(X))
        scores = np.zeros(len(X))
        rows = X.to_numpy(dtype=float)
        for i in progress(range(len(X)), desc="LIME", total=len(X), enabled=show_progress):
            exp = explainer.explain_instance(
                rows[i], predict, labels=(1,), num_features=len(columns), num_samples=num_samples
            )
            for feature, weight in exp.as_map()[1]:
                weights[i, feature] = weight
            intercepts[i] = exp.intercept[1]
            scores[i] = exp.score
    return LocalExplanation(
        values=pd.DataFrame(weights, index=X.index, columns=X.columns),
        base_values=intercepts,
        data=X,
        method="lime",
        output="probability",
        info={"score": scores, "num_samples": num_samples, "random_state": random_state},
    )


def lime_text(
    predict_proba: Callable[[list[str]], np.ndarray],
    texts: Sequence[str],
    *,
    class_names: Sequence[str] = ("acceptable", "harmful"),
    label: int = 1,
    num_features: int = 8,
    num_samples: int = 500,
    random_state: int = 0,
) -> list[pd.Series]:
    """LIME word attributions for any text classifier.

    Parameters
    ----------
    predict_proba : callable
        Takes a list of strings, returns an array of shape (n_texts, n_classes) of probabilities,
        e.g. the ``predict_proba`` of a fine-tuned moderation model or a scikit-learn text pipeline.
    texts : sequence of str
        The texts to explain.
    class_names : sequence of str
        Names of the classes, in the column order of ``predict_proba``.
    label : int
        Which class to explain (column of ``predict_proba``).
    num_features : int
        How many words to keep per explanation.
    num_samples : int
        Perturbed texts per explanation (each costs one model call).
    random_state : int
        Seed of LIME's word masking.

    Returns
    -------
    list of pandas.Series
        For each text, word -> weight towards ``label``, largest absolute weight first.
    """
    from lime.lime_text import LimeTextExplainer

    if not callable(predict_proba):
        raise TypeError(
            f"predict_proba must be a callable taking a list of texts, got {type(predict_proba).__name__}"
        )
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a list of strings (wrap a single text in a list)")
    if len(texts) == 0:
        raise ValueError("texts is empty; pass at least one text to explain")
    if not 0 <= label < len(class_names):
        raise ValueError(f"label must index class_names (0..{len(class_names) - 1}), got {label}")

    def classifier(batch: list[str]) -> np.ndarray:
        proba = np.asarray(predict_proba(list(batch)), dtype=float)
        if proba.ndim != 2 or proba.shape[1] != len(class_names):
            raise ValueError(
                f"predict_proba must return shape (n_texts, {len(class_names)}), got {proba.shape}"
            )
        return proba

    results = []
    with quiet():
        explainer = LimeTextExplainer(class_names=list(class_names), random_state=random_state)
        for text in texts:
            exp = explainer.explain_instance(
                text, classifier, labels=(label,), num_features=num_features, num_samples=num_samples
            )
            pairs = exp.as_list(label=label)
            results.append(pd.Series(dict(pairs), name=text[:40], dtype=float))
    return results


@validate_params({"random_state": _SEED, "scoring": ["text"]})
def permutation_importances(
    model: Any,
    X: pd.DataFrame,
    y: Any,
    *,
    scoring: str = "roc_auc",
    n_repeats: int = 5,
    random_state: int = 0,
) -> pd.DataFrame:
    """scikit-learn's permutation importance as a tidy table, largest first.

    Returns
    -------
    pandas.DataFrame
        Index: features; columns ``importance`` (mean drop of ``scoring`` when the feature is
        shuffled) and ``std`` (across ``n_repeats`` shuffles).
    """
    from sklearn.inspection import permutation_importance

    check_model(model)
    X = check_frame(X, model=model)
    y = check_binary(y, "y")
    check_consistent_length(X=X, y=y)
    n_repeats = check_int(n_repeats, "n_repeats", minimum=1)
    with quiet():
        result = permutation_importance(
            model, X, y, scoring=scoring, n_repeats=n_repeats, random_state=random_state, n_jobs=1
        )
    table = pd.DataFrame(
        {"importance": result.importances_mean, "std": result.importances_std}, index=X.columns
    )
    return table.sort_values("importance", ascending=False)


@validate_params({"random_state": _SEED})
def fit_logistic_baseline(X: pd.DataFrame, y: Any, *, C: float = 1.0, random_state: int = 0):
    """An inherently interpretable baseline: standardised features + logistic regression.

    Returns a fitted scikit-learn ``Pipeline``; read it with :func:`coefficient_table`.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = check_frame(X)
    y = check_binary(y, "y")
    check_consistent_length(X=X, y=y)
    check_positive(C, "C")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000, random_state=random_state))
    with quiet():
        return model.fit(X, y)


def coefficient_table(model: Any) -> pd.DataFrame:
    """Coefficients of a fitted logistic baseline, largest magnitude first.

    On standardised features a coefficient is the change in log-odds for one standard deviation.
    """
    final = model[-1] if hasattr(model, "steps") else model
    if not hasattr(final, "coef_"):
        raise TypeError(f"model must be a fitted linear model (with coef_), got {type(final).__name__}")
    names = getattr(model, "feature_names_in_", None)
    coef = np.ravel(final.coef_)
    if names is None:
        names = [f"x{i}" for i in range(len(coef))]
    table = pd.DataFrame({"coefficient": coef, "odds_ratio": np.exp(coef)}, index=list(names))
    return table.reindex(table["coefficient"].abs().sort_values(ascending=False).index)


@validate_params({"random_state": _SEED})
def fit_tree_baseline(X: pd.DataFrame, y: Any, *, max_depth: int = 3, random_state: int = 0):
    """An inherently interpretable baseline: a shallow decision tree (read it with :func:`tree_rules`)."""
    from sklearn.tree import DecisionTreeClassifier

    X = check_frame(X)
    y = check_binary(y, "y")
    check_consistent_length(X=X, y=y)
    max_depth = check_int(max_depth, "max_depth", minimum=1)
    return DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=20, random_state=random_state).fit(
        X, y
    )


def tree_rules(tree: Any, *, decimals: int = 2) -> str:
    """The if/else rules of a fitted decision tree, as text."""
    from sklearn.tree import export_text

    if not hasattr(tree, "tree_"):
        raise TypeError(f"tree must be a fitted DecisionTreeClassifier, got {type(tree).__name__}")
    names = list(getattr(tree, "feature_names_in_", [f"x{i}" for i in range(tree.n_features_in_)]))
    return export_text(tree, feature_names=names, decimals=decimals)


@validate_params({"row": [Interval("integral", 0, None)]})
def explain_in_words(
    explanation: LocalExplanation,
    row: int = 0,
    *,
    categories: dict[str, list[Any]] | None = None,
    k: int = 3,
    outcome: str = "the positive outcome",
) -> str:
    """A plain-words summary of one local explanation, for the person it concerns.

    Parameters
    ----------
    explanation : LocalExplanation
    row : int
        Position of the instance in ``explanation``.
    categories : dict, optional
        Code -> category lists from :func:`ordinal_encode`, to print "housing = rent" instead of a code.
    k : int
        Number of reasons given.
    outcome : str
        What class 1 means, in words ("good credit").

    Returns
    -------
    str
    """
    if not isinstance(explanation, LocalExplanation):
        raise TypeError(f"explanation must be a LocalExplanation, got {type(explanation).__name__}")
    if not 0 <= row < len(explanation):
        raise ValueError(f"row must be between 0 and {len(explanation) - 1}, got {row}")
    k = check_int(k, "k", minimum=1)
    categories = categories or {}
    values = explanation.values.iloc[row]
    data = explanation.data.iloc[row]
    total = explanation.base_values[row] + values.sum()
    unit = "" if explanation.output == "probability" else " (log-odds)"
    lines = [
        f"Estimated {explanation.output} of {outcome}: {total:.2f}{unit}; "
        f"the average over the reference data is {explanation.base_values[row]:.2f}.",
        f"Main reasons ({explanation.method}):",
    ]
    for name in values.abs().sort_values(ascending=False).index[:k]:
        raw = data[name]
        shown = raw
        if name in categories and float(raw).is_integer() and 0 <= int(raw) < len(categories[name]):
            shown = categories[name][int(raw)]
        direction = "raised" if values[name] > 0 else "lowered"
        lines.append(f"- {name} = {shown!s}: {direction} it by {abs(values[name]):.2f}")
    return "\n".join(lines)
