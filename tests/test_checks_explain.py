"""ethicskit.checks.explain: reference answers pass, typical wrong answers fail with useful messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ethicskit import explain
from ethicskit.checks import CheckFailed
from ethicskit.checks import explain as checks


def good_explain_rows(model, X, background):
    return explain.shap_values(model, X, background=background).values


def class0_explain_rows(model, X, background):
    return -good_explain_rows(model, X, background)


def fixed_background_rows(model, X, background):
    lab = checks.lab4_setup()
    return explain.shap_values(model, X, background=lab.X_train.iloc[:100]).values


def good_comprehensiveness(model, X, attributions, reference, k):
    changed = X.copy()
    values = attributions.to_numpy()
    for i in range(len(X)):
        top = np.argsort(-np.abs(values[i]), kind="stable")[:k]
        for j in top:
            changed.iloc[i, j] = reference.iloc[0, j]
    full = model.predict_proba(X)[:, 1]
    return float(np.mean(np.abs(full - model.predict_proba(changed)[:, 1])))


def signed_comprehensiveness(model, X, attributions, reference, k):
    changed = X.copy()
    values = attributions.to_numpy()
    for i in range(len(X)):
        for j in np.argsort(-values[i], kind="stable")[:k]:
            changed.iloc[i, j] = reference.iloc[0, j]
    return float(np.mean(np.abs(model.predict_proba(X)[:, 1] - model.predict_proba(changed)[:, 1])))


def good_agreement(a, b, k):
    result = explain.rank_agreement(a, b, k=k)
    return result["spearman"], result["top_k_overlap"]


def unaligned_agreement(a, b, k):
    from scipy.stats import spearmanr

    x, y = np.abs(a.to_numpy()), np.abs(b.to_numpy())  # ignores the feature order of b
    overlap = len(set(np.argsort(-x)[:k]) & set(np.argsort(-y)[:k])) / k
    return spearmanr(x, y).statistic, overlap


def test_lab_setup_is_deterministic_and_without_sex():
    first, second = checks.lab4_setup(), checks.lab4_setup()
    assert list(first.X_test.columns) == checks.LAB4_FEATURES and "sex" not in first.X_test
    pd.testing.assert_frame_equal(first.instances, second.instances)
    first.instances.iloc[0, 0] = -999  # a copy: the cached setup is not modified
    assert checks.lab4_setup().instances.iloc[0, 0] != -999
    proba = first.model.predict_proba(first.X_test.iloc[:2000])[:, 1]
    assert explain.prediction_gap(proba, first.sex_test.iloc[:2000]) > 0.1


@pytest.mark.parametrize("seed", [None, 1234])
def test_reference_answers_pass(seed):
    checks.check_attribution_function(good_explain_rows, hidden_seed=seed)
    checks.check_comprehensiveness_function(good_comprehensiveness, hidden_seed=seed)
    checks.check_rank_agreement_function(good_agreement, hidden_seed=seed)
    checks.check_proxy_features(["relationship", "marital_status"], hidden_seed=seed)
    checks.check_proxy_features(["relationship"], hidden_seed=seed)


def test_wrong_attributions_fail_with_a_reason():
    with pytest.raises(CheckFailed, match="opposite sign"):
        checks.check_attribution_function(class0_explain_rows, hidden_seed=5)
    with pytest.raises(CheckFailed, match="background"):
        checks.check_attribution_function(fixed_background_rows, hidden_seed=5)
    with pytest.raises(CheckFailed, match="shape"):
        checks.check_attribution_function(lambda m, X, b: np.zeros((3, 3)), hidden_seed=5)
    with pytest.raises(CheckFailed, match="NotImplementedError"):
        checks.check_attribution_function(lambda m, X, b: (_ for _ in ()).throw(NotImplementedError()))


def test_wrong_measures_fail_without_revealing_hidden_values():
    with pytest.raises(CheckFailed) as failure:
        checks.check_comprehensiveness_function(signed_comprehensiveness, hidden_seed=8)
    assert "absolute value" in str(failure.value) and "expected" not in str(failure.value)
    with pytest.raises(CheckFailed):
        checks.check_comprehensiveness_function(lambda *args: 0.1, hidden_seed=8)
    with pytest.raises(CheckFailed, match="Spearman|overlap"):
        checks.check_rank_agreement_function(unaligned_agreement, hidden_seed=8)
    with pytest.raises(CheckFailed, match="pair"):
        checks.check_rank_agreement_function(lambda a, b, k: 0.5)


@pytest.mark.parametrize(
    "names, match",
    [
        (["sex"], "not an input"),
        (["postcode"], "not inputs of the model"),
        (["capital_gain", "age"], "not in your list"),
        (["relationship", "education_num"], "less than half"),
        (["relationship", "marital_status", "hours_per_week"], "less than half"),
        ("relationship", "list of feature names"),
    ],
)
def test_wrong_proxies_fail(names, match):
    with pytest.raises(CheckFailed, match=match):
        checks.check_proxy_features(names, hidden_seed=3)


def test_proxy_table_check():
    lab = checks.lab4_setup()
    rows, sex = lab.X_test.iloc[:2000], lab.sex_test.iloc[:2000]
    for n_repeats, seed in [(3, 0), (1, 5), (10, 7)]:  # any number of shuffles and seed is fine
        table = explain.proxy_analysis(lab.model, rows, sex, n_repeats=n_repeats, random_state=seed,
                                       show_progress=False)
        checks.check_proxy_table(table)
    with pytest.raises(CheckFailed, match="gap_drop"):
        checks.check_proxy_table(table.drop(columns="gap_drop"))
    with pytest.raises(CheckFailed, match="one row per model feature"):
        checks.check_proxy_table(table.iloc[:3])


def test_proxy_table_on_other_rows_or_typed_fails():
    lab = checks.lab4_setup()
    small = explain.proxy_analysis(lab.model, lab.X_test.iloc[:300], lab.sex_test.iloc[:300], n_repeats=3,
                                   show_progress=False)
    with pytest.raises(CheckFailed, match="first 2,000 test rows"):
        checks.check_proxy_table(small)
    real = explain.proxy_analysis(lab.model, lab.X_test.iloc[:2000], lab.sex_test.iloc[:2000], n_repeats=3,
                                  show_progress=False)
    typed = real.round(4)
    typed.attrs = {"prediction_gap": round(real.attrs["prediction_gap"], 3), "groups": real.attrs["groups"]}
    with pytest.raises(CheckFailed, match="never type"):
        checks.check_proxy_table(typed)
    forged = real.copy()
    forged.attrs = dict(real.attrs)
    forged["gap_drop"] = forged["gap_drop"][::-1].to_numpy()  # right gap, made-up drops
    with pytest.raises(CheckFailed, match="does not match"):
        checks.check_proxy_table(forged)


def test_comprehensiveness_rule_is_a_forbid_line_in_the_lab():
    import nbformat

    from ethicskit.course.recheck import forbidden_helpers
    from tests.conftest import REPO_ROOT

    lab = REPO_ROOT / "solutions" / "lab4-explanations" / "lab4-explanations.ipynb"
    cells = nbformat.read(lab, as_version=4).cells
    ids = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in cells}
    source = ids["test-comprehensiveness"]
    assert forbidden_helpers(source) == ["ethicskit.explain.comprehensiveness"]


def test_lesson_exercises(capsys):
    lab = checks.lab4_setup()
    expl = explain.shap_values(lab.model, lab.instances.iloc[:3], background=lab.background)
    checks.q1.check(expl.base_values[0] + expl.values.iloc[0].sum(), expl, lab.model)
    with pytest.raises(CheckFailed, match="not yet"):
        checks.q1.check(0.5, expl, lab.model)
    checks.q2.check("SHAP")
    with pytest.raises(CheckFailed, match="lowest"):
        checks.q2.check("random")

    def overlap(a, b, k):
        top_a = set(np.argsort(-np.abs(np.asarray(a)))[:k])
        return len(top_a & set(np.argsort(-np.abs(np.asarray(b)))[:k])) / k

    checks.q3.check(overlap)
    with pytest.raises(CheckFailed):
        checks.q3.check(lambda a, b, k: len(set(np.argsort(a)[:k]) & set(np.argsort(b)[:k])) / k)
    table = pd.DataFrame({"gap_drop": [0.07, 0.05]}, index=["relationship", "marital_status"])
    checks.q4.check("relationship", table)
    with pytest.raises(CheckFailed, match="shrinks the gap less"):
        checks.q4.check("marital_status", table)
    checks.q4.hint()
    assert "correct" in capsys.readouterr().out


def test_lesson_exercise_2_5_closest_accepted_duration():
    from ethicskit.checks.explain import q5

    class ShortLoansOnly:
        """Good credit (P = 0.8) for loans of at most 10 months, else 0.3."""

        def predict_proba(self, X):
            good = np.where(X["duration"].to_numpy() <= 10, 0.8, 0.3)
            return np.column_stack([1 - good, good])

    person = pd.DataFrame({"duration": [24], "credit_amount": [1333]})
    model = ShortLoansOnly()
    q5.check(10, model, person)
    for wrong, match in [(9, "closer"), (24, "own loan"), (30, "still refuses"), (10.0, "int")]:
        with pytest.raises(CheckFailed, match=match):
            q5.check(wrong, model, person)


def test_lesson_exercises_2_6_and_2_7_read_the_lesson_tables():
    from sklearn.linear_model import LogisticRegression

    from ethicskit.checks.explain import q6, q7

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    y = (X["a"] + 0.5 * rng.normal(size=400) > 0).astype(int)
    good = LogisticRegression().fit(X, y)
    weak = LogisticRegression().fit(X[["b"]].assign(a=0.0)[["a", "b"]], y)
    from sklearn.metrics import roc_auc_score

    gain = roc_auc_score(y, good.predict_proba(X)[:, 1]) - roc_auc_score(y, weak.predict_proba(X)[:, 1])
    q6.check(gain, good, weak, X, y)
    q6.check(round(gain, 3), good, weak, X, y)
    with pytest.raises(CheckFailed, match="wrong sign"):
        q6.check(-gain, good, weak, X, y)

    table = pd.DataFrame({"spearman": [0.655, 0.897], "relative_std": [0.318, 0.122]}, index=["LIME", "SHAP"])
    q7.check("lime", table)
    q7.check(" LIME", table)
    with pytest.raises(CheckFailed):
        q7.check("shap", table)


def test_lesson_exercises_2_8_and_2_9_audiences_and_decoded_codes():
    from ethicskit.checks.explain import q8, q9
    from ethicskit.datasets import load_german, split_dataset

    q8.check({"a": "staff", "b": "applicant", "c": "regulator", "d": "applicant"})
    q8.check({"a": "The bank's staff", "b": "the applicant", "c": "Regulator ", "d": "customer"})
    for wrong in [{"a": "applicant", "b": "applicant", "c": "regulator", "d": "applicant"},
                  {"a": "staff", "b": "applicant", "c": "regulator"},
                  {"a": "staff", "b": "applicant", "c": "judge?", "d": "applicant"},
                  {"a": None, "b": None, "c": None, "d": None}, "staff"]:
        with pytest.raises(CheckFailed):
            q8.check(wrong)

    test = split_dataset(load_german(), random_state=0).test.data
    X_test, categories = explain.ordinal_encode(test[["purpose"]])
    code = int(X_test["purpose"].iloc[0])
    name = categories["purpose"][code]
    q9.check(name)
    q9.check(f"  {name.upper()} ")
    q9.check(f"purpose = {name}")
    with pytest.raises(CheckFailed, match="code"):
        q9.check(code)
    other = next(c for c in categories["purpose"] if c != name)
    for wrong in [other, None, True]:
        with pytest.raises(CheckFailed):
            q9.check(wrong)


@pytest.fixture(scope="module")
def small_explanation():
    lab = checks.lab4_setup()
    return explain.shap_values(lab.model, lab.instances.iloc[:6], background=lab.background)


def test_lesson_exercise_2_10_mean_absolute_shap(small_explanation):
    from ethicskit.checks.explain import q10

    values = small_explanation.values
    q10.check(values.abs().mean(), small_explanation)
    q10.check(values.abs().mean().sort_values(ascending=False), small_explanation)  # any order
    q10.check(small_explanation.global_importance(), small_explanation)
    q10.check(values.abs().mean().to_dict(), small_explanation)
    q10.check(values.abs().mean().to_numpy(), small_explanation)  # in column order
    q10.check(np.abs(values.to_numpy()).mean(axis=0), small_explanation)
    with pytest.raises(CheckFailed, match="signed"):
        q10.check(values.mean(), small_explanation)
    with pytest.raises(CheckFailed, match="sum"):
        q10.check(values.abs().sum(), small_explanation)
    for wrong in [None, values.abs().mean().iloc[:3], values.abs().max(), "age"]:
        with pytest.raises(CheckFailed):
            q10.check(wrong, small_explanation)


def test_lesson_exercise_2_11_twin_share():
    from ethicskit.checks.explain import q11

    importance = pd.DataFrame({"original model": [0.02944, np.nan], "with a twin": [0.00434, 0.03982]},
                              index=["duration", "duration_weeks"])
    importance.loc["sum of both"] = importance.sum()
    exact = 0.00434 / (0.00434 + 0.03982)
    q11.check(exact, False, importance)
    q11.check(round(0.0043 / 0.0442, 4), False, importance)  # from the rounded table
    with pytest.raises(CheckFailed, match="duration_weeks"):
        q11.check(1 - exact, False, importance)
    with pytest.raises(CheckFailed, match="original model"):
        q11.check(0.00434 / 0.02944, False, importance)
    with pytest.raises(CheckFailed, match="loan length"):
        q11.check(exact, True, importance)
    for wrong in [(None, False), (0.5, False), (exact, "no"), (True, False)]:
        with pytest.raises(CheckFailed):
            q11.check(*wrong, importance)


def test_lesson_exercise_2_12_top_reasons(small_explanation):
    from ethicskit.checks.explain import q12

    row = small_explanation.values.iloc[1]
    top = list(row.abs().sort_values(ascending=False).index[:3])
    q12.check(top, small_explanation)
    q12.check(tuple(reversed(top)), small_explanation)
    q12.check([t.upper() for t in top], small_explanation)
    q12.check(row.abs().sort_values(ascending=False).iloc[:3], small_explanation)  # a Series: its index
    q12.check([f"{t} = some value" for t in top], small_explanation)  # as explain_in_words writes them
    first_row = list(small_explanation.values.iloc[0].abs().sort_values(ascending=False).index[:3])
    positive = list(row.sort_values(ascending=False).index[:3])
    wrong_answers = [top[:2], top + ["age"], ["sex", *top[:2]], None, "status"]
    wrong_answers += [w for w in (first_row, positive) if set(w) != set(top)]
    for wrong in wrong_answers:
        with pytest.raises(CheckFailed):
            q12.check(wrong, small_explanation)
