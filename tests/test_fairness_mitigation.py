"""ethicskit.fairness.mitigation and plots: reweighing, fairlearn mitigators, comparison, plots."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ethicskit.fairness import (
    METHODS,
    ReweighingClassifier,
    compare_mitigations,
    plot_group_metric,
    plot_roc_by_group,
    plot_tradeoff,
    predict_fair,
    reweighing_weights,
)


def test_reweighing_weights_formula():
    y = np.array([1, 1, 0, 0, 0, 1, 0, 0])
    a = np.array(["p", "p", "p", "u", "u", "u", "u", "u"])
    w = reweighing_weights(y, a)
    n = len(y)
    for i in range(n):
        p_a = np.mean(a == a[i])
        p_y = np.mean(y == y[i])
        p_ay = np.mean((a == a[i]) & (y == y[i]))
        assert w[i] == pytest.approx(p_a * p_y / p_ay)
    assert w.mean() == pytest.approx(1.0)


def test_reweighing_makes_label_independent_of_group():
    rng = np.random.default_rng(0)
    a = rng.choice(["p", "u"], 500, p=[0.7, 0.3])
    y = (rng.random(500) < np.where(a == "p", 0.6, 0.2)).astype(int)
    w = reweighing_weights(y, a)
    rates = [np.average(y[a == g], weights=w[a == g]) for g in ("p", "u")]
    assert rates == pytest.approx([y.mean(), y.mean()])


def test_reweighing_edge_cases():
    # a group with only one label: its cell weight is P(a)P(y)/P(a,y) = P(y)
    w = reweighing_weights([1, 1, 0, 1], ["a", "a", "b", "b"])
    assert w.tolist() == pytest.approx([0.75, 0.75, 0.5, 1.5])
    with pytest.raises(ValueError, match="binary"):
        reweighing_weights([1, 2, 0, 1], ["a", "a", "b", "b"])
    with pytest.raises(ValueError, match="same number of rows"):
        reweighing_weights([1, 0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="at least 2 distinct groups"):
        reweighing_weights([1, 0], ["a", "a"])


def _biased_data(n=1200, seed=0):
    rng = np.random.default_rng(seed)
    group = rng.choice(["p", "u"], n, p=[0.6, 0.4])
    skill = rng.normal(size=n)
    proxy = (group == "p") + rng.normal(0, 0.5, n)
    y = (skill + 0.8 * (group == "p") + rng.normal(0, 0.7, n) > 0.5).astype(int)
    X = pd.DataFrame({"skill": skill, "proxy": proxy, "group": group})
    half = n // 2
    return X.iloc[:half], y[:half], X.iloc[half:].reset_index(drop=True), y[half:]


def test_reweighing_classifier_is_sklearn_compatible():
    X, y, _, _ = _biased_data()
    numeric = X[["skill", "proxy"]].to_numpy()
    model = ReweighingClassifier(make_pipeline(StandardScaler(), LogisticRegression()))
    assert clone(model).get_params()["estimator"] is not None
    model.fit(numeric, y, sensitive_features=X["group"])
    assert set(model.weights_.columns) == {"group", "label", "count", "weight"}
    assert model.weights_["count"].sum() == len(y)
    assert model.predict(numeric).shape == (len(y),)
    assert model.predict_proba(numeric).shape == (len(y), 2)


def test_compare_mitigations_reduces_disparity():
    X_train, y_train, X_test, y_test = _biased_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fairlearn / pandas deprecation leaks
        result = compare_mitigations(
            X_train, y_train, X_test, y_test, sensitive_feature="group", methods=list(METHODS), random_state=0
        )
    table = result.table.set_index("method")
    assert list(table.index) == list(METHODS)
    base = table.loc["baseline", "demographic_parity_difference"]
    assert base > 0.2
    assert table.loc["threshold_optimizer_dp", "demographic_parity_difference"] < base / 2
    assert table.loc["exponentiated_gradient_dp", "demographic_parity_difference"] < base / 2
    assert table.loc["reweighing", "demographic_parity_difference"] < base
    assert table.loc["threshold_optimizer_eo", "equalized_odds_difference"] < 0.15
    assert (table["accuracy"] > 0.6).all()
    assert table.loc["baseline", "stage"] == "none" and table.loc["reweighing", "stage"] == "pre-processing"
    preds = result.models["threshold_optimizer_dp"].predict(X_test, random_state=0)
    np.testing.assert_array_equal(preds, result.predictions["threshold_optimizer_dp"])
    again = compare_mitigations(
        X_train,
        y_train,
        X_test,
        y_test,
        sensitive_feature="group",
        methods=["exponentiated_gradient_dp"],
        random_state=0,
    )
    np.testing.assert_array_equal(
        again.predictions["exponentiated_gradient_dp"], result.predictions["exponentiated_gradient_dp"]
    )


def test_compare_mitigations_rejects_bad_input():
    X_train, y_train, X_test, y_test = _biased_data(200)
    with pytest.raises(ValueError, match="unknown method"):
        compare_mitigations(X_train, y_train, X_test, y_test, sensitive_feature="group", methods=["magic"])
    with pytest.raises(ValueError, match="no column"):
        compare_mitigations(X_train, y_train, X_test, y_test, sensitive_feature="sex")
    with pytest.raises(TypeError, match="X_train must be a pandas DataFrame"):
        compare_mitigations(X_train.to_numpy(), y_train, X_test, y_test, sensitive_feature="group")
    with pytest.raises(ValueError, match="same number of rows"):
        compare_mitigations(X_train, y_train[:-1], X_test, y_test, sensitive_feature="group")


def test_predict_fair_needs_sensitive_features_for_threshold_optimizer():
    from fairlearn.postprocessing import ThresholdOptimizer

    X, y, _, _ = _biased_data(400)
    numeric = X[["skill", "proxy"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ThresholdOptimizer(estimator=LogisticRegression(), predict_method="predict_proba").fit(
            numeric, y, sensitive_features=X["group"]
        )
    with pytest.raises(ValueError, match="needs sensitive_features"):
        predict_fair(model, numeric)
    assert predict_fair(model, numeric, sensitive_features=X["group"]).shape == (len(y),)
    plain = LogisticRegression().fit(numeric, y)
    np.testing.assert_array_equal(predict_fair(plain, numeric), plain.predict(numeric))


def test_plots_return_axes():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.axes import Axes

    from ethicskit.fairness import audit_predictions

    rng = np.random.default_rng(0)
    y, s = rng.integers(0, 2, 200), rng.random(200)
    g = rng.choice(["a", "b", "c"], 200)
    audit = audit_predictions(y, (s > 0.5).astype(int), sensitive_features=g, n_boot=5)
    ax = plot_group_metric(audit, "tpr")
    assert isinstance(ax, Axes) and len(ax.patches) == 3
    assert isinstance(audit.plot("selection_rate"), Axes)
    with pytest.raises(ValueError, match="no column"):
        plot_group_metric(audit, "nonsense")
    ax = plot_roc_by_group(y, s, sensitive_features=g)
    assert len(ax.get_lines()) == 4  # three groups + chance diagonal
    table = pd.DataFrame(
        {"method": ["a", "b"], "accuracy": [0.8, 0.7], "demographic_parity_difference": [0.2, 0.05]}
    )
    assert isinstance(plot_tradeoff(table), Axes)


def test_compare_mitigations_leaves_the_callers_global_numpy_stream_alone():
    from ethicskit.fairness.mitigation import _global_numpy_seed

    np.random.seed(123)
    expected = np.random.random(3)
    np.random.seed(123)
    with _global_numpy_seed(0):
        inside = np.random.random()
    assert inside == np.random.RandomState(0).random_sample()
    assert np.array_equal(np.random.random(3), expected)
