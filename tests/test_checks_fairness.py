"""ethicskit.checks.fairness: right answers pass, wrong, hard-coded or cheating answers fail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ethicskit.checks import CheckFailed
from ethicskit.checks import fairness as checks


def group_rates(y_true, y_pred, sensitive):
    df = pd.DataFrame({"y": np.asarray(y_true), "p": np.asarray(y_pred), "g": np.asarray(sensitive)})
    rows = {}
    for g, part in df.groupby("g"):
        pos, neg = part[part.y == 1], part[part.y == 0]
        rows[g] = {
            "selection_rate": part.p.mean(),
            "tpr": pos.p.mean() if len(pos) else np.nan,
            "fpr": neg.p.mean() if len(neg) else np.nan,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def group_rates_zero_for_undefined(y_true, y_pred, sensitive):
    return group_rates(y_true, y_pred, sensitive).fillna(0.0)


def reweighing(y, sensitive):
    y, a = np.asarray(y), np.asarray(sensitive)
    w = np.empty(len(y))
    for g in np.unique(a):
        for label in (0, 1):
            cell = (a == g) & (y == label)
            if cell.any():
                w[cell] = np.mean(a == g) * np.mean(y == label) / np.mean(cell)
    return w


def reweighing_misaligned(y, sensitive):
    """Classic bug: mixes a Series index with positions, so shuffled-index Series go wrong."""
    y = pd.Series(y)
    a = pd.Series(list(sensitive))  # fresh 0..n-1 index, y keeps its own
    p_a = a.map(a.value_counts(normalize=True))
    p_y = y.map(y.value_counts(normalize=True))
    cell = pd.Series(list(zip(a, y, strict=True)))
    p_ay = cell.map(cell.value_counts(normalize=True))
    return (p_a * p_y / p_ay).to_numpy()


def reweighing_library(y, sensitive):
    from ethicskit.fairness import reweighing_weights

    return reweighing_weights(y, sensitive)


def test_group_rates_checks():
    checks.check_group_rates(group_rates)
    assert checks.check_group_rates_hidden(group_rates, hidden_seed=11) == 2.0
    # NaN for undefined rates matters: filling with 0 passes the random part only
    checks.check_group_rates(group_rates_zero_for_undefined)  # the example has no undefined rate
    assert checks.check_group_rates_hidden(group_rates_zero_for_undefined, hidden_seed=11) == 1.0
    constant = pd.DataFrame(
        {"selection_rate": [0.5, 0.5], "tpr": [0.5, 0.5], "fpr": [0.5, 0.5]}, index=["F", "M"]
    )
    with pytest.raises(CheckFailed):
        checks.check_group_rates_hidden(lambda *a: constant, hidden_seed=11)


def test_hidden_feedback_does_not_reveal_expected_values(capsys):
    wrong = lambda *a: group_rates(*a) * 1.1  # noqa: E731
    with pytest.raises(CheckFailed) as info:
        checks.check_group_rates_hidden(wrong, hidden_seed=5)
    import re

    assert not re.search(r"expected -?\d", str(info.value))
    assert capsys.readouterr().err == ""


def test_reweighing_checks():
    checks.check_reweighing(reweighing)
    assert checks.check_reweighing_hidden(reweighing, hidden_seed=3) == 3.0
    checks.check_reweighing(reweighing_misaligned)
    assert checks.check_reweighing_hidden(reweighing_misaligned, hidden_seed=3) == 2.0
    with pytest.raises(CheckFailed):
        checks.check_reweighing_hidden(lambda y, a: np.ones(len(y)), hidden_seed=3)


def parity_gaps(rates):
    spread = lambda c: rates[c].max() - rates[c].min()  # noqa: E731  (pandas skips NaN)
    return spread("selection_rate"), max(spread("tpr"), spread("fpr"))


def test_parity_gaps_checks():
    assert checks.check_parity_gaps_hidden(parity_gaps, hidden_seed=8) == 1.0
    with pytest.raises(CheckFailed, match="equalized odds"):
        checks.check_parity_gaps_hidden(lambda r: (parity_gaps(r)[0], 0.1), hidden_seed=8)

    def nan_unaware(r):
        return tuple(
            float(np.max(r[c].to_numpy()) - np.min(r[c].to_numpy())) for c in ("selection_rate", "tpr")
        )

    with pytest.raises(CheckFailed):
        checks.check_parity_gaps_hidden(nan_unaware, hidden_seed=8)
    with pytest.raises(CheckFailed, match="dp_difference"):
        checks.check_parity_gaps(parity_gaps, 0.0, 0.0)


def test_lesson_exercise_0_sources_and_harms(capsys):
    sources = {"a": "historical", "b": "Representation bias", "c": "measurement", "d": "evaluation",
               "e": "deployment", "f": "aggregation"}
    harms = {"loan": "allocation", "voice": "quality-of-service"}
    checks.q0.check(sources, harms)
    assert "correct" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match=r"\['a', 'f'\]"):
        checks.q0.check({**sources, "a": "aggregation", "f": "historical"}, harms)
    with pytest.raises(CheckFailed, match="withholds"):
        checks.q0.check(sources, {**harms, "loan": "quality of service"})


def test_lesson_exercise_6_reweighing_function():
    def reweighing(y, group):
        p_a = group.map(group.value_counts(normalize=True))
        p_y = y.map(y.value_counts(normalize=True))
        cell = group.astype(str) + "|" + y.astype(str)
        return (p_a * p_y / cell.map(cell.value_counts(normalize=True))).to_numpy()

    checks.q6.check(reweighing)
    with pytest.raises(CheckFailed, match="reweighing"):
        checks.q6.check(lambda y, group: np.ones(len(y)))
    with pytest.raises(CheckFailed, match="raised"):
        checks.q6.check(lambda y: y)


def test_lesson_exercises(capsys):
    for said in ("calibration", "sufficiency", "Calibration within groups", "predictive parity"):
        checks.q1.check(said)
        assert "correct" in capsys.readouterr().out
    for wrong in ("equalized odds", "separation", "not calibration"):
        with pytest.raises(CheckFailed, match="Exercise 1"):
            checks.q1.check(wrong)
    checks.q2.check(1.5)
    with pytest.raises(CheckFailed):
        checks.q2.check(0.5)
    checks.q3.check(0.6, False)
    with pytest.raises(CheckFailed):
        checks.q3.check(0.6, True)
    # (a) per-group thresholds can equalise error rates; (b) one imperfect predictor cannot
    checks.q4.check(True, False)
    for wrong in [(False, False), (True, True)]:
        with pytest.raises(CheckFailed):
            checks.q4.check(*wrong)
    with pytest.raises(CheckFailed, match="answer_a, answer_b"):
        checks.q4.check(False)
    answer = {
        "reweighing": "pre",
        "correlation_remover": "pre",
        "exponentiated_gradient": "in",
        "threshold_optimizer": "post",
    }
    checks.q5.check(answer)
    with pytest.raises(CheckFailed, match="threshold_optimizer"):
        checks.q5.check({**answer, "threshold_optimizer": "in"})
    capsys.readouterr()
    checks.q2.hint()
    assert "P(group)" in capsys.readouterr().out
    checks.q2.solution()
    assert "0.2 * 0.3" in capsys.readouterr().out


# ---------------------------------------------------------------- Part 3 on the real data (slow)


def fit_threshold_optimizer(X, y, sensitive, *, random_state=0):
    from fairlearn.postprocessing import ThresholdOptimizer

    model = ThresholdOptimizer(
        estimator=checks.make_baseline(X), constraints="demographic_parity", predict_method="predict_proba"
    )
    return model.fit(X, y, sensitive_features=sensitive)


def fit_unmitigated(X, y, sensitive, *, random_state=0):
    return checks.make_baseline(X).fit(X, y)


class Constant:
    def predict(self, X):
        return np.zeros(len(X), dtype=int)


def fit_constant(X, y, sensitive, *, random_state=0):
    return Constant()


def fit_on_everything(X, y, sensitive, *, random_state=0):
    """Cheat: ignores its arguments and fits on the full dataset, hidden rows included."""
    from ethicskit.datasets import load_adult

    full = load_adult()
    return fit_threshold_optimizer(full.data, full.target, full.data["sex"])


@pytest.mark.slow
def test_mitigated_model_reference_passes_and_cheats_fail():
    assert checks.check_mitigated_model_hidden(fit_threshold_optimizer, hidden_seed=2024) == 4.0
    with pytest.raises(CheckFailed, match="demographic parity"):
        checks.check_mitigated_model_hidden(fit_unmitigated, hidden_seed=2024)
    with pytest.raises(CheckFailed, match="accuracy"):
        checks.check_mitigated_model_hidden(fit_constant, hidden_seed=2024)
    with pytest.raises(CheckFailed, match="shuffled labels"):
        checks.check_mitigated_model_hidden(fit_on_everything, hidden_seed=2024)


def _lab_test_cell(grade_id):
    import nbformat

    from tests.conftest import REPO_ROOT

    lab = REPO_ROOT / "solutions" / "lab1-bias-mitigation" / "lab1-bias-mitigation.ipynb"
    cells = nbformat.read(lab, as_version=4).cells
    return next(c.source for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def test_library_shortcuts_are_refused_under_any_alias():
    """The rule 'compute it yourself' is enforced by behaviour: the lab's test cells forbid the helpers,
    and the recheck's runner makes them raise under whatever name the student imported them."""
    import cloudpickle

    from ethicskit.course.proxy import Runner
    from ethicskit.course.recheck import forbidden_helpers

    assert set(forbidden_helpers(_lab_test_cell("test-group-rates"))) == set(checks.GROUP_RATES_FORBIDDEN)
    assert set(forbidden_helpers(_lab_test_cell("test-reweighing"))) == set(checks.REWEIGHING_FORBIDDEN)
    namespace: dict = {"np": np}
    exec(
        "from fairlearn.metrics import MetricFrame as Table, true_positive_rate as hit\n"
        "from ethicskit.fairness import reweighing_weights as kc\n"
        "def group_rates(y_true, y_pred, a):\n"
        "    frame = Table(metrics={'tpr': hit}, y_true=y_true, y_pred=y_pred, sensitive_features=a)\n"
        "    return frame.by_group\n"
        "def reweighing(y, sensitive):\n"
        "    return kc(np.asarray(y), np.asarray(sensitive))\n",
        namespace,
    )
    for names, func, check in [
        (checks.GROUP_RATES_FORBIDDEN, "group_rates", checks.check_group_rates_hidden),
        (checks.REWEIGHING_FORBIDDEN, "reweighing", checks.check_reweighing_hidden),
    ]:
        runner = Runner(timeout=60)
        try:
            runner.forbid(list(names))
            proxy = runner.load(cloudpickle.dumps(namespace[func]))
            with pytest.raises(CheckFailed, match="may not be used in this part"):
                check(proxy, hidden_seed=3)
        finally:
            runner.close()


def test_grader_references_live_in_the_hidden_module():
    import inspect

    source = inspect.getsource(checks)
    lab_part = source.split("lesson exercises")[0]
    assert "reweighing_weights(" not in lab_part and "audit_predictions(y_true" not in lab_part
    from ethicskit.checks import _hidden_fairness

    y, a = [1, 1, 0, 0, 0, 1], ["a", "a", "a", "b", "b", "b"]
    assert np.allclose(_hidden_fairness.reference_weights(y, a), [0.75, 0.75, 1.5, 0.75, 0.75, 1.5])


def test_lesson_exercises_7_to_9_families_proxy_and_monitoring_alert():
    families = {"demographic parity": "independence", "four-fifths rule": "Independence",
                "equalized odds": "separation", "equal opportunity": "separation",
                "predictive parity": "sufficiency", "calibration within groups": "sufficiency "}
    checks.q7.check(families)
    with pytest.raises(CheckFailed, match="equal opportunity"):
        checks.q7.check({**families, "equal opportunity": "independence"})
    with pytest.raises(CheckFailed):
        checks.q7.check({k: None for k in families})

    checks.q8.check("relationship")
    checks.q8.check(" Relationship")
    for wrong in ["sex", "(all features)", "marital_status", None]:
        with pytest.raises(CheckFailed):
            checks.q8.check(wrong)

    def first_alert(values, tolerance):
        fallen = values < values.iloc[0] - tolerance
        return fallen.idxmax() if fallen.any() else None

    def last_alert(values, tolerance):
        fallen = values < values.iloc[0] - tolerance
        return fallen[fallen].index[-1] if fallen.any() else None

    checks.q9.check(first_alert)
    for wrong in [last_alert, lambda values, tolerance: None, lambda values, tolerance: 4]:
        with pytest.raises(CheckFailed):
            checks.q9.check(wrong)


def test_lesson_exercise_10_healthcare_label(capsys):
    def selection_gap(selected, sickest, group):
        return selected[sickest & (group == "A")].mean() - selected[sickest & (group == "B")].mean()

    def selection_gap_numpy(selected, sickest, group):
        s, k, g = np.asarray(selected), np.asarray(sickest), np.asarray(group)
        return float(np.mean(s[k & (g == "A")]) - np.mean(s[k & (g == "B")]))

    for function in (selection_gap, selection_gap_numpy):
        for label in ("conditions_next", "Number of active chronic conditions", "chronic conditions"):
            checks.q10.check(function, label)
            assert "correct" in capsys.readouterr().out
    for label, why in [("cost_next", "access"), ("total cost", "access"), ("visits_next", "access"),
                       ("age", "not one of"), (None, "pick the label")]:
        with pytest.raises(CheckFailed, match=why):
            checks.q10.check(selection_gap, label)
    wrong = [
        lambda selected, sickest, group: selected[group == "A"].mean() - selected[group == "B"].mean(),
        lambda selected, sickest, group: selected[sickest & (group == "B")].mean()
        - selected[sickest & (group == "A")].mean(),
        lambda selected, sickest, group: None,
        lambda selected, sickest, group: 0.27,
    ]
    for function in wrong:
        with pytest.raises(CheckFailed):
            checks.q10.check(function, "conditions_next")
    with pytest.raises(CheckFailed, match="function"):
        checks.q10.check("conditions_next")
