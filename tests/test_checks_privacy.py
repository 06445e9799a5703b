"""ethicskit.checks.privacy: correct answers earn full marks, typical mistakes and cheats do not."""

import numpy as np
import pytest

from ethicskit.checks import CheckFailed
from ethicskit.checks import privacy as checks
from ethicskit.privacy import DPSGDClassifier, PrivacyAccountant, anonymise, dp_advantage_bound

SEED = 987654  # stands in for the hidden seed of the nbgrader source notebook


def laplace_ok(value, *, sensitivity, epsilon, rng):
    if epsilon <= 0 or sensitivity <= 0:
        raise ValueError("epsilon and sensitivity must be positive")
    return value + rng.laplace(0.0, sensitivity / epsilon)


def laplace_wrong_scale(value, *, sensitivity, epsilon, rng):
    if epsilon <= 0 or sensitivity <= 0:
        raise ValueError("bad")
    return value + rng.laplace(0.0, epsilon / sensitivity)


def laplace_global_rng(value, *, sensitivity, epsilon, rng):
    if epsilon <= 0 or sensitivity <= 0:
        raise ValueError("bad")
    return value + np.random.laplace(0.0, sensitivity / epsilon)


def laplace_no_validation(value, *, sensitivity, epsilon, rng):
    return value + rng.laplace(0.0, abs(sensitivity / epsilon)) if epsilon else value


class BudgetOk:
    def __init__(self, total_epsilon):
        if total_epsilon <= 0:
            raise ValueError("total_epsilon must be positive")
        self.total, self.spent = total_epsilon, 0.0

    @property
    def remaining(self):
        return max(self.total - self.spent, 0.0)

    def spend(self, epsilon):
        if epsilon <= 0:
            raise ValueError("epsilon must be positive")
        if self.spent + epsilon > self.total + 1e-9:
            raise ValueError("budget exceeded")
        self.spent += epsilon
        return self.remaining


class BudgetNoTolerance(BudgetOk):
    def spend(self, epsilon):
        if epsilon <= 0:
            raise ValueError("epsilon must be positive")
        if self.spent + epsilon > self.total:
            raise ValueError("budget exceeded")
        self.spent += epsilon
        return self.remaining


class BudgetRecordsRefused(BudgetOk):
    def spend(self, epsilon):
        if epsilon <= 0:
            raise ValueError("epsilon must be positive")
        self.spent += epsilon
        if self.spent > self.total + 1e-9:
            raise ValueError("budget exceeded")
        return self.remaining


def test_laplace_visible_and_hidden():
    checks.check_laplace(laplace_ok)
    assert checks.check_laplace(laplace_ok, hidden_seed=SEED) == pytest.approx(3)
    with pytest.raises(CheckFailed, match="scale"):
        checks.check_laplace(laplace_wrong_scale)
    assert checks.check_laplace(laplace_wrong_scale, hidden_seed=SEED) == pytest.approx(2)
    assert checks.check_laplace(laplace_global_rng, hidden_seed=SEED) == pytest.approx(2)
    assert checks.check_laplace(laplace_no_validation, hidden_seed=SEED) == pytest.approx(2)
    with pytest.raises(CheckFailed, match="No part"):
        checks.check_laplace(lambda value, **kw: value, hidden_seed=SEED)


def test_budget_visible_and_hidden():
    checks.check_budget(BudgetOk)
    assert checks.check_budget(BudgetOk, hidden_seed=SEED) == pytest.approx(2)
    assert checks.check_budget(BudgetNoTolerance, hidden_seed=SEED) == pytest.approx(1)
    with pytest.raises(CheckFailed, match="refused"):
        checks.check_budget(BudgetRecordsRefused)


def test_anonymisation_visible_and_hidden():
    def reference(data, k):
        return anonymise(data, k=k, hierarchies=checks.lab_hierarchies(), max_suppression=0.05).levels

    def no_suppression(data, k):  # a stricter rule than the lab's: half the points (issue 16.5)
        return anonymise(data, k=k, hierarchies=checks.lab_hierarchies(), max_suppression=0.0).levels

    def everything_generalised(data, k):
        return {c: h.height for c, h in checks.lab_hierarchies().items()}

    checks.check_anonymisation(reference)
    assert checks.check_anonymisation(reference, hidden_seed=SEED) == pytest.approx(3)
    assert checks.check_anonymisation(no_suppression, hidden_seed=SEED) == pytest.approx(1.5)
    # a fixed dict earns nothing (issue 16.7): not even the one printed for the visible table
    visible_answer = reference(checks.lab_patients(n=3000, random_state=0), 5)
    for seed in (SEED, 1, 2, 3):
        for fixed in (everything_generalised, lambda data, k: dict(visible_answer)):
            with pytest.raises(CheckFailed):
                checks.check_anonymisation(fixed, hidden_seed=seed)
    with pytest.raises(CheckFailed, match="exactly the quasi-identifiers"):
        checks.check_anonymisation(lambda data, k: {"age": 1})


class ConstantModel:
    epsilon_ = 0.5
    delta = 1e-5

    def predict_proba(self, X):
        return np.tile([0.9, 0.1], (len(X), 1))


@pytest.mark.slow
def test_private_model():
    X_train, y_train, X_valid, y_valid = checks.lab_data()
    assert len(X_train) == len(X_valid) == 2000 and not set(X_train.index) & set(X_valid.index)
    model = DPSGDClassifier(epsilon=1.0, delta=1e-5, epochs=8, batch_size=128, random_state=0).fit(
        X_train, y_train
    )
    checks.check_private_model(model)
    assert checks.check_private_model(model, hidden_seed=SEED) == pytest.approx(4)
    with pytest.raises(CheckFailed, match="no 'epsilon' parameter"):
        checks.check_private_model(ConstantModel())
    # what the model says about itself is not believed (issue 15.5): the recipe is retrained
    model.epsilon_, model.privacy_history_ = float("inf"), None
    assert checks.check_private_model(model, hidden_seed=SEED) == pytest.approx(4)
    weak = DPSGDClassifier(epsilon=2.0, delta=1e-5, epochs=8, batch_size=128, random_state=0).fit(
        X_train, y_train
    )
    weak.epsilon_ = 0.9
    assert checks.check_private_model(weak, hidden_seed=SEED) == pytest.approx(3)  # rubric: 3 of 4
    plain = DPSGDClassifier(epsilon=None, epochs=3, batch_size=128).fit(X_train, y_train)
    plain.epsilon_ = 0.5  # a non-private model with a made-up epsilon
    with pytest.raises(CheckFailed, match="trained without privacy"):
        checks.check_private_model(plain, hidden_seed=SEED)
    # plain SGD on other rows, dressed as the honest recipe (issue 15.2): it predicts otherwise
    X, y, _ = checks._adult_shuffled()
    everything = DPSGDClassifier(epsilon=None, epochs=2, batch_size=256).fit(X, y)
    forged = DPSGDClassifier(epsilon=1.0, delta=1e-5, epochs=8, batch_size=128, random_state=0).fit(
        X_train, y_train
    )
    forged.model_, forged.encoder_ = everything.model_, everything.encoder_
    with pytest.raises(CheckFailed, match="does not predict what"):
        checks.check_private_model(forged, hidden_seed=SEED)


def test_laplace_releases_from_the_kernel():
    """A mechanism that adds noise only while graded: its releases in the learner's kernel give it away."""
    honest = checks.release_evidence(laplace_ok)
    assert checks.check_laplace(laplace_ok, hidden_seed=SEED, releases=honest) == pytest.approx(3)
    exact = [1234.0] * 300  # what the same function released in the kernel, where it saw no grader
    with pytest.raises(CheckFailed, match="added no noise"):
        checks.check_laplace(laplace_ok, hidden_seed=SEED, releases=exact)
    # np.random instead of rng: the kernel's releases differ from the grader's, as before (2 of 3)
    kernel = checks.release_evidence(laplace_global_rng)
    assert checks.check_laplace(laplace_global_rng, hidden_seed=SEED, releases=kernel) == pytest.approx(2)


def test_lesson_exercises():
    from ethicskit.datasets import load_adult
    from ethicskit.privacy import uniqueness

    share = uniqueness(
        load_adult().data, quasi_identifiers=["age", "sex", "race", "native_country", "education"]
    )
    checks.q1.check(share)
    with pytest.raises(CheckFailed):
        checks.q1.check(share * 48842)
    checks.q2.check(4.0)
    with pytest.raises(CheckFailed, match="other way round"):
        checks.q2.check(0.25)
    checks.q3.check(6)
    with pytest.raises(CheckFailed, match="seventh"):
        checks.q3.check(7)
    checks.q4.check(dp_advantage_bound(0.5))
    with pytest.raises(CheckFailed):
        checks.q4.check(0.5)
    assert PrivacyAccountant  # the checks use the package's own accountant as reference


def test_lesson_exercise_4_5_noisy_share():
    checks.q5.check(lambda mask, *, epsilon, rng: (mask.sum() + rng.laplace(0, 1 / epsilon)) / len(mask))
    with pytest.raises(CheckFailed, match="no noise"):
        checks.q5.check(lambda mask, *, epsilon, rng: mask.mean())
    with pytest.raises(CheckFailed, match="spread"):  # noise of scale 1/epsilon on the share itself
        checks.q5.check(lambda mask, *, epsilon, rng: mask.mean() + rng.laplace(0, 1 / epsilon))
    with pytest.raises(CheckFailed, match="spread"):  # Gaussian noise of the wrong size
        checks.q5.check(lambda mask, *, epsilon, rng: mask.mean() + rng.normal(0, 0.1))


def test_lesson_exercises_4_6_to_4_8_rights_pseudonyms_and_k():
    from ethicskit.checks.privacy import q6, q7, q8

    q6.check(False, False)
    q7.check(False, False)
    for q in (q6, q7):
        for wrong in [(True, False), (False, True), ("no", False)]:
            with pytest.raises(CheckFailed):
                q.check(*wrong)

    def smallest_class(table, quasi_identifiers):
        return int(table.groupby(list(quasi_identifiers), observed=True).size().min())

    def counts_every_column(table, quasi_identifiers):
        return int(table.groupby(list(table.columns)).size().min())

    q8.check(smallest_class)
    for wrong in [counts_every_column, lambda table, quasi_identifiers: None, lambda t, q: 1.0]:
        with pytest.raises(CheckFailed):
            q8.check(wrong)


def test_lesson_exercise_4_9_privacy_cost():
    import pandas as pd

    from ethicskit.checks.privacy import q9

    tradeoff = pd.DataFrame({"epsilon": [0.193, 0.492, 0.994, 3.995, np.inf],
                             "accuracy": [0.8041, 0.8152, 0.8183, 0.8221, 0.8364]})
    cost = 0.8364 - 0.8183
    q9.check(cost, False, tradeoff)
    q9.check(round(0.836 - 0.818, 3), False, tradeoff)  # from the table shown rounded
    q9.check(np.float64(cost), np.False_, tradeoff)
    with pytest.raises(CheckFailed, match="wrong sign"):
        q9.check(-cost, False, tradeoff)
    with pytest.raises(CheckFailed, match="accuracy at epsilon about 1"):
        q9.check(0.8183, False, tradeoff)
    with pytest.raises(CheckFailed, match="cost at epsilon 0.19"):
        q9.check(0.8364 - 0.8041, False, tradeoff)
    with pytest.raises(CheckFailed, match="small groups"):
        q9.check(cost, True, tradeoff)
    for wrong in [(None, None), (cost, "no"), (0.1, False), (True, False)]:
        with pytest.raises(CheckFailed):
            q9.check(*wrong, tradeoff)


def test_lesson_exercise_4_10_keys():
    from ethicskit.checks.privacy import q10

    q10.check(False, True, False)
    q10.check(np.False_, np.True_, False)
    for wrong in [(True, True, False), (False, False, False), (False, True, True), (None, None, None),
                  ("False", "True", "False"), (0, 1, 0)]:
        with pytest.raises(CheckFailed):
            q10.check(*wrong)
