"""ethicskit.explain: real shap / lime / scikit-learn on small synthetic data with known structure."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from ethicskit import explain

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def data():
    """y depends strongly on `strong`, weakly on `weak`, not at all on `noise`; `proxy` copies group s."""
    rng = np.random.default_rng(0)
    n = 1200
    s = rng.integers(0, 2, n)
    X = pd.DataFrame(
        {
            "strong": rng.normal(size=n),
            "weak": rng.normal(size=n),
            "proxy": s + rng.normal(scale=0.3, size=n),
            "noise": rng.normal(size=n),
        }
    )
    logit = 2.5 * X["strong"] + 0.6 * X["weak"] + 1.5 * X["proxy"] - 0.75
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, pd.Series(y, name="y"), pd.Series(np.where(s == 1, "A", "B"), name="group")


@pytest.fixture(scope="module")
def forest(data):
    X, y, _ = data
    return RandomForestClassifier(60, max_depth=5, random_state=0, n_jobs=1).fit(X, y)


@pytest.fixture(scope="module")
def shap_expl(data, forest):
    X, _, _ = data
    return explain.shap_values(forest, X.iloc[:40], background=X.sample(80, random_state=1))


def test_ordinal_encode_codes_and_categories():
    frame = pd.DataFrame({"c": ["b", "a", "b"], "n": [1.5, 2.0, 3.0], "flag": [True, False, True]})
    encoded, cats = explain.ordinal_encode(frame)
    assert encoded["c"].tolist() == [1, 0, 1] and cats["c"] == ["a", "b"]
    assert encoded["n"].tolist() == [1.5, 2.0, 3.0] and "n" not in cats
    assert all(pd.api.types.is_numeric_dtype(encoded[c]) for c in encoded)


def test_tree_shap_is_additive_in_probability(data, forest, shap_expl):
    X, _, _ = data
    assert shap_expl.method == "shap-tree" and shap_expl.output == "probability"
    proba = forest.predict_proba(X.iloc[:40])[:, 1]
    np.testing.assert_allclose(shap_expl.values.sum(axis=1) + shap_expl.base_values, proba, atol=1e-6)
    assert list(shap_expl.values.index) == list(X.index[:40])
    assert shap_expl.global_importance().index[0] == "strong"
    assert shap_expl.global_importance()["noise"] < shap_expl.global_importance()["strong"] / 5


@pytest.mark.slow  # shap's model-agnostic explainers compile numba code on first use (20-40 s)
def test_tree_shap_equals_exact_shapley_on_same_background(data, forest):
    X, _, _ = data
    background = X.sample(10, random_state=2)
    tree = explain.shap_values(forest, X.iloc[:2], background=background)
    exact = explain.shap_values(forest, X.iloc[:2], background=background, algorithm="exact")
    assert exact.method == "shap-exact"
    np.testing.assert_allclose(tree.values, exact.values, atol=1e-6)


def test_linear_model_is_explained_in_log_odds(data):
    X, y, _ = data
    background = X.sample(50, random_state=3)
    logistic = LogisticRegression().fit(X, y)
    lin = explain.shap_values(logistic, X.iloc[:10], background=background)
    assert lin.method == "shap-linear" and lin.output == "log-odds"
    np.testing.assert_allclose(
        lin.values.sum(axis=1) + lin.base_values, logistic.decision_function(X.iloc[:10]), atol=1e-6
    )


def test_scaled_logistic_pipeline_is_explained_on_raw_features(data):
    X, y, _ = data
    pipeline = explain.fit_logistic_baseline(X, y)
    rows, background = X.iloc[:6], X.sample(50, random_state=5)
    expl = explain.shap_values(pipeline, rows, background=background)
    assert expl.method == "shap-linear" and list(expl.values.columns) == list(X.columns)
    np.testing.assert_allclose(
        expl.values.sum(axis=1) + expl.base_values, pipeline.decision_function(rows), atol=1e-6
    )
    # interventional linear SHAP on raw features: beta_j / sigma_j * (x_j - mean of background x_j)
    scaler, logistic = pipeline[0], pipeline[-1]
    expected = logistic.coef_[0] / scaler.scale_ * (rows - background.mean())
    np.testing.assert_allclose(expl.values, expected, atol=1e-6)


@pytest.mark.slow  # shap's model-agnostic explainers compile numba code on first use (20-40 s)
def test_other_models_use_the_generic_explainer(data):
    X, y, _ = data
    knn = KNeighborsClassifier(15).fit(X, y)
    gen = explain.shap_values(knn, X.iloc[:5], background=X.sample(20, random_state=3))
    assert gen.method == "shap-exact"
    np.testing.assert_allclose(
        gen.values.sum(axis=1) + gen.base_values, knn.predict_proba(X.iloc[:5])[:, 1], atol=1e-6
    )


def test_explainers_are_quiet(data, forest):
    X, _, _ = data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        explain.shap_values(forest, X.iloc[:3], background=X.iloc[:20])
        explain.lime_values(forest, X.iloc[:2], training_data=X, num_samples=200)
    assert not caught, [str(w.message) for w in caught]


def test_lime_is_seeded_and_finds_the_strong_feature(data, forest):
    X, _, _ = data
    first = explain.lime_values(forest, X.iloc[:8], training_data=X, num_samples=500, random_state=0)
    again = explain.lime_values(forest, X.iloc[:8], training_data=X, num_samples=500, random_state=0)
    other = explain.lime_values(forest, X.iloc[:8], training_data=X, num_samples=500, random_state=1)
    np.testing.assert_array_equal(first.values, again.values)
    assert not np.allclose(first.values, other.values)
    assert first.global_importance().index[0] == "strong"
    assert first.info["score"].shape == (8,)


def test_lime_text_accepts_any_predict_proba():
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.pipeline import make_pipeline

    texts = [
        "you are an idiot",
        "have a nice day",
        "what an idiot move",
        "thanks for the help",
        "idiot",
        "nice work friend",
    ] * 5
    labels = [1, 0, 1, 0, 1, 0] * 5
    clf = make_pipeline(CountVectorizer(), LogisticRegression()).fit(texts, labels)
    result = explain.lime_text(clf.predict_proba, ["you absolute idiot, have a day"], num_samples=300)
    assert len(result) == 1 and result[0].abs().idxmax() == "idiot" and result[0]["idiot"] > 0
    with pytest.raises(TypeError, match="texts"):
        explain.lime_text(clf.predict_proba, "a single string")
    with pytest.raises(ValueError, match="predict_proba must return"):
        explain.lime_text(lambda t: np.ones((len(t), 3)) / 3, ["x y"], num_samples=20)


def test_permutation_importance_and_baselines(data, forest):
    X, y, _ = data
    table = explain.permutation_importances(forest, X.iloc[:400], y.iloc[:400], n_repeats=3)
    assert table.index[0] == "strong" and table.loc["strong", "importance"] > 0.1
    assert abs(table.loc["noise", "importance"]) < 0.05
    coefs = explain.coefficient_table(explain.fit_logistic_baseline(X, y))
    assert coefs.index[0] == "strong" and coefs.loc["strong", "coefficient"] > 0
    rules = explain.tree_rules(explain.fit_tree_baseline(X, y, max_depth=2))
    assert "strong" in rules and "class:" in rules


def test_faithfulness_measures_beat_random_order(data, forest, shap_expl):
    X, _, _ = data
    reference = explain.reference_row(X)
    deletion = explain.deletion_curve(forest, shap_expl, reference=reference)
    random_del = explain.deletion_curve(
        forest, shap_expl, reference=reference, order="random", random_state=0
    )
    with pytest.warns(FutureWarning, match="order='random'"):  # the old spelling still works
        old = explain.deletion_curve(forest, shap_expl, reference=reference, random_order=0)
    assert np.array_equal(old, random_del)
    insertion = explain.insertion_curve(forest, shap_expl, reference=reference)
    assert deletion.shape == (5,) and deletion[0] == 0 and insertion[-1] == pytest.approx(0, abs=1e-12)
    assert deletion[1] > random_del[1] + 0.05
    assert explain.comprehensiveness(forest, shap_expl, k=1, reference=reference) == pytest.approx(
        deletion[1]
    )
    assert explain.sufficiency(forest, shap_expl, k=2, reference=reference) == pytest.approx(insertion[2])
    assert explain.faithfulness_correlation(forest, shap_expl, reference=reference) > 0.7
    # a deliberately wrong explanation (attributions reversed) is judged unfaithful
    reversed_ranks = shap_expl.values.abs().rank(axis=1, ascending=False)
    wrong = explain.LocalExplanation(reversed_ranks, shap_expl.base_values, shap_expl.data, method="wrong")
    assert explain.comprehensiveness(forest, wrong, k=1, reference=reference) < deletion[1] - 0.05


def test_comprehensiveness_by_hand(data, forest, shap_expl):
    X, _, _ = data
    reference = explain.reference_row(X)
    x = shap_expl.data.iloc[[0]].copy()
    top = shap_expl.values.iloc[0].abs().idxmax()
    changed = x.copy()
    changed[top] = reference[top].to_numpy()
    expected = abs(forest.predict_proba(x)[0, 1] - forest.predict_proba(changed)[0, 1])
    single = explain.LocalExplanation(shap_expl.values.iloc[[0]], shap_expl.base_values[:1], x, "shap-tree")
    assert explain.comprehensiveness(forest, single, k=1, reference=reference) == pytest.approx(expected)


def test_agreement_sparsity_and_stability(shap_expl):
    assert explain.rank_agreement([3, 2, 1, 0], [2, 3, 0, 1], k=2) == {"spearman": 0.6, "top_k_overlap": 1.0}
    a = pd.Series({"x": 1.0, "y": 0.5, "z": 0.1})
    assert explain.rank_agreement(a, a[::-1], k=1)["spearman"] == pytest.approx(1.0)
    assert explain.rank_agreement(a, pd.Series({"x": 0.1, "y": 0.5, "z": 1.0}), k=1)["top_k_overlap"] == 0.0
    same = explain.agreement(shap_expl, shap_expl, k=2)
    assert same == {"spearman": pytest.approx(1.0), "top_k_overlap": 1.0}
    onehot = explain.LocalExplanation(
        pd.DataFrame([[0.0, 2.0, 0.0]], columns=list("abc")),
        np.zeros(1),
        pd.DataFrame([[1.0, 2.0, 3.0]], columns=list("abc")),
        "toy",
    )
    assert explain.sparsity(onehot, k=1) == {"top_k_share": 1.0, "effective_features": 1.0}
    flat = explain.sparsity(shap_expl, k=4)
    assert flat["top_k_share"] == pytest.approx(1.0) and 1.0 < flat["effective_features"] < 4.0
    result = explain.stability([shap_expl, shap_expl], k=2)
    assert result["spearman"] == pytest.approx(1.0) and result["relative_std"] == 0.0


def test_lime_is_less_stable_than_shap(data, forest):
    X, _, _ = data
    lime = explain.lime_stability(forest, X.iloc[:6], training_data=X, seeds=(0, 1, 2), num_samples=300)
    shap = explain.shap_stability(forest, X.iloc[:6], background_pool=X, background_size=60, n_draws=3)
    assert 0 < lime["relative_std"] and shap["spearman"] > 0.8
    assert lime["relative_std"] > shap["relative_std"]


def test_quality_table_has_one_row_per_method(data, forest, shap_expl):
    X, _, _ = data
    lime = explain.lime_values(forest, shap_expl.data, training_data=X, num_samples=300)
    table = explain.quality_table(
        forest, {"SHAP": shap_expl, "LIME": lime}, k=2, reference=explain.reference_row(X)
    )
    assert list(table.index) == ["SHAP", "LIME", "random order"]
    assert table.loc["SHAP", "spearman_vs_first"] == pytest.approx(1.0)
    assert table.loc["SHAP", "comprehensiveness"] > table.loc["random order", "comprehensiveness"]
    assert table.loc["SHAP", "sufficiency"] < table.loc["random order", "sufficiency"]


def test_proxy_analysis_finds_the_planted_proxy(data, forest):
    X, _, s = data
    rows = X.iloc[:300]
    attributions = explain.shap_values(forest, rows, background=X.sample(60, random_state=4))
    table = explain.proxy_analysis(forest, rows, s.iloc[:300], attributions=attributions, n_repeats=3)
    assert table.index[0] == "proxy"
    assert table.loc["proxy", "gap_drop_share"] > 0.5
    assert abs(table.loc["noise", "gap_drop"]) < 0.05
    gap = table.attrs["prediction_gap"]
    assert gap == pytest.approx(explain.prediction_gap(forest.predict_proba(rows)[:, 1], s.iloc[:300]))
    # SHAP efficiency: the per-feature attribution gaps add up to the prediction gap
    assert table["attribution_gap"].sum() == pytest.approx(gap, abs=1e-6)
    again = explain.proxy_analysis(forest, rows, s.iloc[:300], n_repeats=3)
    pd.testing.assert_series_equal(again["gap_drop"], table["gap_drop"])


def test_plots_return_axes(shap_expl, data, forest):
    from matplotlib.axes import Axes

    X, _, s = data
    assert isinstance(explain.plot_local(shap_expl, 0), Axes)
    assert isinstance(explain.plot_global(shap_expl), Axes)
    assert isinstance(explain.plot_beeswarm(shap_expl), Axes)
    curves = {"SHAP": explain.deletion_curve(forest, shap_expl)}
    assert isinstance(explain.plot_curves(curves), Axes)
    table = explain.proxy_analysis(forest, X.iloc[:100], s.iloc[:100], n_repeats=1)
    assert isinstance(explain.plot_proxies(table), Axes)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_categories_are_shown_by_name_and_removed_by_their_most_common_value():
    """Issue 19: category codes are not numbers to colour, label or take the median of."""
    import matplotlib.pyplot as plt
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    purpose = rng.permutation(["car"] * 120 + ["education"] * 75 + ["radio"] * 105)
    raw = pd.DataFrame({"purpose": purpose,
                        "amount": rng.normal(3000, 800, 300)})
    X, cats = explain.ordinal_encode(raw)
    y = ((raw["purpose"] == "car") | (raw["amount"] > 3500)).astype(int)
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    expl = explain.shap_values(model, X.iloc[:20], background=X.iloc[100:160])
    ax = explain.plot_local(expl, 0, categories=cats)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert f"purpose = {raw['purpose'].iloc[0]}" in labels
    assert ax.get_title().startswith("row 0:")  # not "np.int64(0)"
    ax = explain.plot_beeswarm(expl, categories=cats)
    assert "purpose (category)" in [t.get_text() for t in ax.get_yticklabels()]
    named = lambda row: cats["purpose"][int(row["purpose"].iloc[0])]  # noqa: E731
    assert named(explain.reference_row(X, categorical=["purpose"])) == raw["purpose"].mode()[0] == "car"
    assert named(explain.reference_row(X)) == "education"  # the median code: a meaningless middle category
    with pytest.raises(ValueError, match="categorical"):
        explain.reference_row(X, categorical=["colour"])
    with pytest.raises(TypeError, match="categories"):
        explain.plot_local(expl, 0, categories=["purpose"])
    plt.close("all")


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda X, m: explain.shap_values(m, X.to_numpy(), background=X),
            TypeError,
            "X must be a pandas DataFrame",
        ),
        (lambda X, m: explain.shap_values(object(), X, background=X), TypeError, "predict_proba"),
        (lambda X, m: explain.shap_values(m, X.assign(c="x"), background=X), ValueError, "not numeric"),
        (lambda X, m: explain.shap_values(m, X.assign(strong=np.nan), background=X), ValueError, "missing"),
        (lambda X, m: explain.shap_values(m, X.iloc[:2], background=X[["strong"]]), ValueError, "background"),
        (lambda X, m: explain.shap_values(m, X.iloc[:2], background=X), ValueError, "sample of about 100"),
        (
            lambda X, m: explain.shap_values(m, X.iloc[:2], background=X.iloc[:9], algorithm="magic"),
            ValueError,
            "algorithm",
        ),
        (
            lambda X, m: explain.lime_values(m, X.iloc[:2], training_data=X, categorical_features=["nope"]),
            ValueError,
            "categorical_features",
        ),
        (lambda X, m: explain.rank_agreement([1, 2], [1, 2, 3]), ValueError, "same number of features"),
        (lambda X, m: explain.rank_agreement([1, 2], [1, 2], k=3), ValueError, "k must be at most"),
        (
            lambda X, m: explain.proxy_analysis(m, X.iloc[:5], ["A"] * 5),
            ValueError,
            "at least 2 distinct groups",
        ),
        (lambda X, m: explain.proxy_analysis(m, X.iloc[:5], ["A", "B"]), ValueError, "same number of rows"),
        (lambda X, m: explain.stability([]), ValueError, "at least 2 runs"),
        (lambda X, m: explain.comprehensiveness(m, X), TypeError, "LocalExplanation"),
    ],
)
def test_invalid_inputs_are_named(data, forest, call, error, match):
    X, _, _ = data
    with pytest.raises(error, match=match):
        call(X, forest)


def test_multiclass_model_is_rejected(data):
    X, _, _ = data
    model = LogisticRegression().fit(X, np.arange(len(X)) % 3)
    with pytest.raises(ValueError, match="binary classifier"):
        explain.shap_values(model, X.iloc[:2], background=X.iloc[:10])


def test_explain_in_words_names_the_top_reasons(shap_expl):
    text = explain.explain_in_words(shap_expl, 0, k=2, outcome="approval")
    top = shap_expl.values.iloc[0].abs().sort_values(ascending=False).index[:2]
    assert "approval" in text and all(f"- {name} = " in text for name in top)
    assert text.count("\n- ") == 2
    coded = explain.LocalExplanation(
        pd.DataFrame([[0.2, -0.1]], columns=["housing", "age"]),
        np.array([0.5]),
        pd.DataFrame([[1, 30]], columns=["housing", "age"]),
        "toy",
    )
    text = explain.explain_in_words(coded, categories={"housing": ["own", "rent"]})
    assert "housing = rent: raised it by 0.20" in text and "age = 30: lowered it by 0.10" in text
    assert "0.60" in text
