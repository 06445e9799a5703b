"""Bias mitigation before, during and after training, and a comparison of the three.

* pre-processing: :func:`reweighing_weights` / :class:`ReweighingClassifier` (Kamiran & Calders 2012,
  ours), fairlearn's ``CorrelationRemover``;
* in-processing: fairlearn's ``ExponentiatedGradient`` with ``DemographicParity`` or ``EqualizedOdds``;
* post-processing: fairlearn's ``ThresholdOptimizer``.

:func:`compare_mitigations` fits a baseline and the chosen methods on the same training split and
reports accuracy against disparity on held-out data in one table.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from ethicskit._progress import progress
from ethicskit._validation import check_columns, check_in_choices, validate_params
from ethicskit.fairness._common import as_sensitive_frame, check_lengths, quiet, validate_labels

__all__ = [
    "reweighing_weights",
    "ReweighingClassifier",
    "MitigatedModel",
    "MitigationComparison",
    "METHODS",
    "make_preprocessor",
    "predict_fair",
    "compare_mitigations",
]

#: Mitigation methods known to :func:`compare_mitigations`, with their stage.
METHODS: dict[str, str] = {
    "baseline": "none",
    "reweighing": "pre-processing",
    "correlation_remover": "pre-processing",
    "exponentiated_gradient_dp": "in-processing",
    "exponentiated_gradient_eo": "in-processing",
    "threshold_optimizer_dp": "post-processing",
    "threshold_optimizer_eo": "post-processing",
}


def reweighing_weights(y: Any, sensitive_features: Any) -> np.ndarray:
    """Kamiran-Calders reweighing: one weight per row, ``P(A=a) P(Y=y) / P(A=a, Y=y)``.

    Under these weights the label is statistically independent of the group: every
    (group, label) cell gets the weight it would have if group and label were independent.
    Rows of an over-represented cell (e.g. favourable outcomes in the privileged group) weigh
    less than 1, rows of an under-represented cell more.

    Parameters
    ----------
    y : array-like of 0/1
        Training labels.
    sensitive_features : array-like or DataFrame
        Group of each row (several columns are combined into intersectional groups).

    Returns
    -------
    numpy.ndarray of float
        Weights, same length as ``y``; their mean is 1.

    Examples
    --------
    >>> reweighing_weights([1, 1, 0, 0, 0, 1], ["a", "a", "a", "b", "b", "b"]).round(3).tolist()
    [0.75, 0.75, 1.5, 0.75, 0.75, 1.5]
    """
    y = validate_labels(y, "y")
    frame = as_sensitive_frame(sensitive_features)
    check_lengths(y=y, sensitive_features=frame)
    groups = frame.agg(" & ".join, axis=1).to_numpy() if frame.shape[1] > 1 else frame.iloc[:, 0].to_numpy()
    cells = pd.DataFrame({"a": groups, "y": y})
    p_a = cells["a"].map(cells["a"].value_counts(normalize=True))
    p_y = cells["y"].map(cells["y"].value_counts(normalize=True))
    p_ay = cells.groupby(["a", "y"])["y"].transform("size") / len(cells)
    return (p_a * p_y / p_ay).to_numpy(dtype=float)


def _fit_with_weight(estimator: Any, X: Any, y: np.ndarray, weight: np.ndarray) -> Any:
    """Fit ``estimator`` with sample weights, routing them to the last step of a Pipeline."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        return estimator.fit(X, y, **{f"{estimator.steps[-1][0]}__sample_weight": weight})
    if "sample_weight" not in inspect.signature(estimator.fit).parameters:
        raise TypeError(f"estimator {type(estimator).__name__} does not accept sample_weight in fit")
    return estimator.fit(X, y, sample_weight=weight)


class ReweighingClassifier(ClassifierMixin, BaseEstimator):
    """Fit any classifier on Kamiran-Calders reweighed data (scikit-learn compatible).

    Parameters
    ----------
    estimator : classifier, default LogisticRegression(max_iter=1000)
        Must accept ``sample_weight`` in ``fit`` (a Pipeline gets it routed to its last step).

    Attributes
    ----------
    estimator_ : the fitted classifier
    weights_ : pandas.DataFrame
        Columns ``group, label, count, weight``: the weight of each (group, label) cell.
    classes_ : numpy.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(8.0).reshape(-1, 1); y = [0, 0, 0, 1, 0, 1, 1, 1]
    >>> model = ReweighingClassifier().fit(X, y, sensitive_features=list("aaaabbbb"))
    >>> model.weights_["weight"].round(3).tolist()
    [0.667, 2.0, 2.0, 0.667]
    """

    def __init__(self, estimator: Any = None):
        self.estimator = estimator

    def fit(self, X: Any, y: Any, *, sensitive_features: Any) -> ReweighingClassifier:
        """Compute the weights from ``y`` and ``sensitive_features``, then fit the estimator."""
        from sklearn.linear_model import LogisticRegression

        y_arr = validate_labels(y, "y")
        check_lengths(X=X, y=y_arr)
        weights = reweighing_weights(y_arr, sensitive_features)
        groups = as_sensitive_frame(sensitive_features).agg(" & ".join, axis=1).to_numpy()
        cells = pd.DataFrame({"group": groups, "label": y_arr, "weight": weights})
        self.weights_ = cells.groupby(["group", "label"], as_index=False).agg(
            count=("weight", "size"), weight=("weight", "first")
        )
        base = self.estimator if self.estimator is not None else LogisticRegression(max_iter=1000)
        with quiet():
            self.estimator_ = _fit_with_weight(clone(base), X, y_arr, weights)
        self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels of the reweighed classifier."""
        with quiet():
            return self.estimator_.predict(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Predicted probabilities of the reweighed classifier."""
        with quiet():
            return self.estimator_.predict_proba(X)


def make_preprocessor(X: pd.DataFrame) -> Any:
    """A ColumnTransformer: one-hot for text/category/bool columns, standard scaling for numbers.

    Output is a DataFrame with readable column names (``sex_Female``), so fairlearn's
    ``CorrelationRemover`` can find the one-hot columns of the sensitive attribute.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"X must be a pandas DataFrame, got {type(X).__name__}")
    numeric = [
        c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])
    ]
    categorical = [c for c in X.columns if c not in numeric]
    transformer = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
            ("numeric", StandardScaler(), numeric),
        ],
        verbose_feature_names_out=False,
    )
    return transformer.set_output(transform="pandas")


def make_baseline(X: pd.DataFrame, *, random_state: int = 0) -> Any:
    """The course's baseline classifier: :func:`make_preprocessor`, then logistic regression (unfitted).

    Steps are named ``prep`` and ``model``, so ``fit(X, y, model__sample_weight=w)`` reweighs.
    The solver is Newton-Cholesky, scikit-learn's choice for many rows and ~100 one-hot columns: on
    Adult it reaches the optimum in 6 iterations, about 5x less CPU than lbfgs (which stops earlier,
    at a looser optimum), and a lab's grader refits this baseline several times per submission.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    model = LogisticRegression(solver="newton-cholesky", max_iter=1000, random_state=random_state)
    return Pipeline([("prep", make_preprocessor(X)), ("model", model)])


@validate_params({"random_state": [None, "seed"]})
def predict_fair(model: Any, X: Any, *, sensitive_features: Any = None, random_state: int = 0) -> np.ndarray:
    """Predict labels with any classifier or fairlearn mitigator, passing what its ``predict`` accepts.

    ThresholdOptimizer needs ``sensitive_features``; ExponentiatedGradient and ThresholdOptimizer
    randomise and take ``random_state``; plain scikit-learn classifiers take neither.
    """
    params = inspect.signature(model.predict).parameters
    kwargs: dict[str, Any] = {}
    if "sensitive_features" in params:
        if sensitive_features is None:
            raise ValueError(f"{type(model).__name__}.predict needs sensitive_features; pass them")
        kwargs["sensitive_features"] = sensitive_features
    if "random_state" in params:
        kwargs["random_state"] = random_state
    with quiet():
        return np.asarray(model.predict(X, **kwargs)).astype(int)


@dataclass
class MitigatedModel:
    """A fitted mitigation method that predicts from raw feature DataFrames.

    Attributes
    ----------
    method : str
        One of :data:`METHODS`.
    preprocessor : fitted ColumnTransformer (see :func:`make_preprocessor`)
    model : the fitted estimator or fairlearn mitigator, working on preprocessed features
    sensitive_feature : str
        Column of ``X`` holding the sensitive attribute.
    """

    method: str
    preprocessor: Any
    model: Any
    sensitive_feature: str

    def predict(self, X: pd.DataFrame, *, random_state: int = 0) -> np.ndarray:
        """Predicted labels for raw features ``X`` (the sensitive column must be present)."""
        check_columns(X, [self.sensitive_feature], "X (sensitive_feature)")
        with quiet():
            encoded = self.preprocessor.transform(X)
        return predict_fair(
            self.model,
            encoded,
            sensitive_features=X[self.sensitive_feature].astype(str).to_numpy(),
            random_state=random_state,
        )


@dataclass
class MitigationComparison:
    """Result of :func:`compare_mitigations`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per method: ``method, stage, accuracy, balanced_accuracy, selection_rate,
        demographic_parity_difference, equalized_odds_difference, equal_opportunity_difference,
        fit_seconds`` (all on the held-out data).
    models : dict of str to MitigatedModel
    predictions : dict of str to numpy.ndarray
        Held-out predictions of each method.
    """

    table: pd.DataFrame
    models: dict[str, MitigatedModel] = field(default_factory=dict)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)

    def plot(self, **kwargs: Any):
        """Accuracy versus disparity; see :func:`ethicskit.fairness.plot_tradeoff`."""
        from ethicskit.fairness.plots import plot_tradeoff

        return plot_tradeoff(self.table, **kwargs)


def _build(method: str, base: Any, sensitive_columns: list[str], seed: int) -> Any:
    """An unfitted model for ``method`` working on preprocessed features."""
    if method in ("baseline",):
        return clone(base)
    if method == "reweighing":
        return ReweighingClassifier(clone(base))
    if method == "correlation_remover":
        from fairlearn.preprocessing import CorrelationRemover
        from sklearn.pipeline import make_pipeline

        return make_pipeline(CorrelationRemover(sensitive_feature_ids=sensitive_columns), clone(base))
    if method.startswith("exponentiated_gradient"):
        from fairlearn.reductions import DemographicParity, EqualizedOdds, ExponentiatedGradient

        constraint = DemographicParity() if method.endswith("dp") else EqualizedOdds()
        return ExponentiatedGradient(clone(base), constraints=constraint, eps=0.01, max_iter=50)
    from fairlearn.postprocessing import ThresholdOptimizer

    constraint = "demographic_parity" if method.endswith("dp") else "equalized_odds"
    return ThresholdOptimizer(
        estimator=clone(base),
        constraints=constraint,
        predict_method="predict_proba",
        objective="accuracy_score",
    )


@contextlib.contextmanager
def _global_numpy_seed(seed: int) -> Iterator[None]:
    """Seed numpy's global generator for the block, then give the caller's state back.

    Some estimators a student may pass (and older fairlearn reductions) draw from the global
    generator; seeding it makes a comparison repeatable, and restoring it leaves the learner's own
    ``np.random`` stream exactly as it was.
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _fit(model: Any, method: str, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, seed: int) -> Any:
    with quiet(), _global_numpy_seed(seed):
        if method in ("baseline", "correlation_remover"):
            return model.fit(X, y)
        return model.fit(X, y, sensitive_features=groups)


def _validate_split(X: Any, y: Any, sensitive_feature: str, name: str) -> tuple[pd.DataFrame, np.ndarray]:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"X_{name} must be a pandas DataFrame, got {type(X).__name__}")
    check_columns(X, [sensitive_feature], f"X_{name} (sensitive_feature)")
    y = validate_labels(y, f"y_{name}")
    check_lengths(**{f"X_{name}": X, f"y_{name}": y})
    return X, y


def compare_mitigations(
    X_train: pd.DataFrame,
    y_train: Any,
    X_test: pd.DataFrame,
    y_test: Any,
    *,
    sensitive_feature: str,
    estimator: Any = None,
    methods: list[str] | tuple[str, ...] = (
        "baseline",
        "reweighing",
        "exponentiated_gradient_dp",
        "threshold_optimizer_dp",
    ),
    random_state: int = 0,
) -> MitigationComparison:
    """Fit a baseline and mitigated models on the training split and compare them on the test split.

    Every method sees the same preprocessed features (one-hot + scaling, fitted on ``X_train``),
    including the sensitive column, except ``correlation_remover``, which removes it and
    decorrelates the other features from it.

    Parameters
    ----------
    X_train, X_test : pandas.DataFrame
        Features with the sensitive column.
    y_train, y_test : array-like of 0/1
    sensitive_feature : str
        Column of ``X_train`` / ``X_test`` with the sensitive attribute.
    estimator : classifier, default LogisticRegression(max_iter=1000)
        Base estimator; must accept ``sample_weight``.
    methods : sequence of str
        Names from :data:`METHODS` ("baseline" is always added first).
    random_state : int, default 0
        Seed of the randomised mitigators (fit and predict).

    Returns
    -------
    MitigationComparison
        ``table`` (one row per method), ``models``, ``predictions``; ``.plot()`` draws the trade-off.
    """
    from sklearn.linear_model import LogisticRegression

    from ethicskit.fairness.metrics import audit_predictions

    X_train, y_train = _validate_split(X_train, y_train, sensitive_feature, "train")
    X_test, y_test = _validate_split(X_test, y_test, sensitive_feature, "test")
    methods = ["baseline"] + [m for m in methods if m != "baseline"]
    for m in methods:
        check_in_choices(m, METHODS, "method")
    base = estimator if estimator is not None else LogisticRegression(max_iter=1000)
    groups_train = as_sensitive_frame(X_train[sensitive_feature]).iloc[:, 0].to_numpy()
    groups_test = as_sensitive_frame(X_test[sensitive_feature]).iloc[:, 0].to_numpy()
    with quiet():
        preprocessor = make_preprocessor(X_train).fit(X_train)
        enc_train = preprocessor.transform(X_train)
    sensitive_columns = [c for c in enc_train.columns if c.startswith(f"{sensitive_feature}_")] or [
        sensitive_feature
    ]
    rows, models, predictions = [], {}, {}
    for method in progress(methods, desc="fitting"):
        start = time.perf_counter()
        fitted = _fit(
            _build(method, base, sensitive_columns, random_state),
            method,
            enc_train,
            y_train,
            groups_train,
            random_state,
        )
        seconds = time.perf_counter() - start
        models[method] = MitigatedModel(method, preprocessor, fitted, sensitive_feature)
        pred = models[method].predict(X_test, random_state=random_state)
        predictions[method] = pred
        rows.append(_score_row(method, y_test, pred, groups_test, seconds, audit_predictions))
    return MitigationComparison(pd.DataFrame(rows), models, predictions)


def _score_row(method, y_test, pred, groups, seconds, audit_predictions) -> dict[str, Any]:
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gaps = audit_predictions(y_test, pred, sensitive_features=groups, min_group_size=0).gaps.iloc[0]
    return {
        "method": method,
        "stage": METHODS[method],
        "accuracy": float(np.mean(pred == y_test)),
        "balanced_accuracy": float(balanced_accuracy_score(y_test, pred)),
        "selection_rate": float(np.mean(pred)),
        "demographic_parity_difference": float(gaps["demographic_parity_difference"]),
        "equalized_odds_difference": float(gaps["equalized_odds_difference"]),
        "equal_opportunity_difference": float(gaps["equal_opportunity_difference"]),
        "fit_seconds": round(seconds, 3),
    }
