"""ethicskit.checks.sft: lesson exercises and lab checks, with stand-in models (no training needed)."""

from __future__ import annotations

import numpy as np
import pytest

from ethicskit.checks.core import CheckFailed
from ethicskit.checks.sft import check_baseline, check_bias_table, check_mitigated, q1, q2, q3, q4
from ethicskit.datasets.moderation import identity_eval_set, load_moderation
from ethicskit.sft import bias_metrics, compare, evaluate

HIDDEN = (["{who} are revolting.", "{who} are morons."], ["{who} live on my floor.", "I admire {who}."])


class Oracle:
    """Knows toxicity from the words (a stand-in for a good model).

    ``bias`` raises the score of non-toxic mentions of ``terms``.
    """

    def __init__(self, bias: float = 0.0, terms=("gay",)):
        self.bias, self.terms = bias, terms

    def predict_proba(self, texts):
        bad = (
            "scum",
            "despise",
            "idiot",
            "stupid",
            "hates",
            "losers",
            "annoying",
            "boring",
            "nobody",
            "belong",
            "never let",
            "not be allowed",
            "out of sight",
            "creepy",
            "worthless",
            "revolting",
            "morons",
        )
        out = []
        for t in texts:
            score = 0.9 if any(b in t.lower() for b in bad) else 0.1
            if score < 0.5 and any(term in t.lower().split() for term in self.terms):
                score += self.bias
            out.append(score)
        return np.array(out)


class TextBlind:
    def predict_proba(self, texts):
        return np.full(len(texts), 0.7)


def test_good_model_passes_visible_and_hidden():
    check_baseline(Oracle())
    assert check_baseline(Oracle(), hidden_templates=HIDDEN, points=2) == 2
    assert check_mitigated(Oracle(), Oracle(bias=0.85), hidden_templates=HIDDEN, points=6) == 6
    check_mitigated(Oracle(), Oracle(bias=0.85))


def test_constant_or_text_blind_predictors_fail():
    with pytest.raises(CheckFailed, match="AUC"):
        check_baseline(TextBlind())
    with pytest.raises(CheckFailed):
        check_baseline(TextBlind(), hidden_templates=HIDDEN)
    with pytest.raises(CheckFailed):
        check_mitigated(TextBlind(), Oracle(bias=0.85), hidden_templates=HIDDEN)


def test_unmitigated_model_gets_only_the_auc_part(capsys):
    biased = Oracle(bias=0.85)
    points = check_mitigated(biased, Oracle(bias=0.85), hidden_templates=HIDDEN, points=6)
    assert points == pytest.approx(2)
    out = capsys.readouterr().out
    assert "BPSN" in out and "improves" in out
    with pytest.raises(CheckFailed, match="same object"):
        check_mitigated(biased, biased)


def test_hidden_messages_do_not_reveal_hidden_templates(capsys):
    check_mitigated(Oracle(bias=0.85), Oracle(bias=0.85), hidden_templates=HIDDEN, points=6)
    out = capsys.readouterr().out
    assert "revolting" not in out and "floor" not in out


def test_bias_table_check():
    ev = load_moderation(split="eval")
    model = Oracle(bias=0.85)
    table = bias_metrics(model.predict_proba(ev.data["text"]), ev.target, ev.data["identity"])
    check_bias_table(table, model)
    assert check_bias_table(table, model, hidden=True, points=2) == 2
    wrong = table.copy()
    wrong["bpsn_auc"] = 1.0
    with pytest.raises(CheckFailed, match="bpsn_auc"):
        check_bias_table(wrong, model)
    with pytest.raises(CheckFailed, match="DataFrame"):
        check_bias_table([1, 2], model)


def test_model_without_predict_proba_is_explained():
    with pytest.raises(CheckFailed, match="predict_proba"):
        check_baseline(object())


def test_lesson_exercises():
    q1.check("BPSN AUC")
    with pytest.raises(CheckFailed):
        q1.check("subgroup")
    a, b = [0, 1, 1, 0, 1], [0, 1, 0, 0, 1]
    from sklearn.metrics import cohen_kappa_score

    q2.check(cohen_kappa_score(a, b), labels_a=a, labels_b=b)
    with pytest.raises(CheckFailed):
        q2.check(0.99, labels_a=a, labels_b=b)
    frame = identity_eval_set(
        toxic_templates=["{who} stink."], nontoxic_templates=["Hi {who}.", "Bye {who}."]
    )
    scores = Oracle(bias=0.3).predict_proba(frame["text"]) + np.linspace(0, 0.01, len(frame))
    table = bias_metrics(scores, frame["toxic"], frame["identity"], min_size=1)
    q3.check(
        table.loc["gay", "bpsn_auc"],
        scores=scores,
        labels=frame["toxic"],
        identities=frame["identity"],
        identity="gay",
    )
    results = {
        "a": evaluate(scores, frame["text"], frame["toxic"], frame["identity"], min_size=1),
        "b": evaluate(
            Oracle().predict_proba(frame["text"]),
            frame["text"],
            frame["toxic"],
            frame["identity"],
            min_size=1,
        ),
    }
    comparison = compare(results)
    q4.check("b", table=comparison)
    with pytest.raises(CheckFailed):
        q4.check("a", table=comparison)


class Memoriser(Oracle):
    """A model trained on the public evaluation split: near-certain there, an ordinary oracle elsewhere."""

    def __init__(self):
        super().__init__()
        frame = load_moderation(split="eval").frame
        self.known = dict(zip(frame["text"], frame["toxic"], strict=True))

    def predict_proba(self, texts):
        guesses = super().predict_proba(texts)
        return np.array([0.999 if self.known.get(t) == 1 else 0.001 if t in self.known else g
                         for t, g in zip(texts, guesses, strict=True)])


def test_model_that_fits_the_public_evaluation_split_too_well_scores_zero(capsys):
    with pytest.raises(CheckFailed, match="evaluation split"):
        check_baseline(Memoriser(), hidden_templates=HIDDEN, points=2)
    with pytest.raises(CheckFailed, match="evaluation split"):
        check_mitigated(Memoriser(), Oracle(bias=0.85), hidden_templates=HIDDEN, points=6)
    check_baseline(Memoriser())  # the visible check cannot know: it has no unseen templates


def test_what_a_model_records_about_its_training_is_never_believed():
    """Issue 15.5: the gate reads behaviour only; records can be forged or hidden; squashing keeps ranks."""
    from ethicskit.sft.train import TextClassifier

    class Recorded(TextClassifier):
        def predict_proba(self, texts):
            return Oracle().predict_proba(texts)

    honest_but_forged = Recorded(None, None)  # its record claims the evaluation split; it behaves honestly
    honest_but_forged.remember_training_texts(load_moderation(split="eval").data["text"])
    check_baseline(honest_but_forged)
    assert check_baseline(honest_but_forged, hidden_templates=HIDDEN, points=2) == 2

    class SquashedMemoriser(Memoriser):  # trained on the evaluation split, record wiped, scores squashed
        seen_texts_ = np.empty(0, dtype=np.uint64)

        def predict_proba(self, texts):
            return 0.5 + 0.2 * (super().predict_proba(texts) - 0.5)

    with pytest.raises(CheckFailed, match="evaluation split"):
        check_baseline(SquashedMemoriser(), hidden_templates=HIDDEN, points=2)
    with pytest.raises(CheckFailed, match="membership AUC 1.00"):
        check_mitigated(SquashedMemoriser(), Oracle(bias=0.85), hidden_templates=HIDDEN, points=6)


def test_membership_auc_is_rank_based():
    from ethicskit.checks.sft import membership_auc

    rng = np.random.default_rng(0)
    pub, hid = rng.uniform(size=200), rng.uniform(size=200)
    labels = np.r_[np.ones(100), np.zeros(100)]
    plain = membership_auc(pub, labels, hid, labels)
    assert 0.4 < plain < 0.6
    assert membership_auc(pub**3, labels, hid**3, labels) == pytest.approx(plain)
    confident = np.where(labels == 1, 0.99, 0.01)
    assert membership_auc(confident, labels, hid, labels) > 0.95


def test_recheck_asks_one_handle_for_the_same_texts_once():
    """In the recheck (models behind handles) a cell's checks share one prediction pass per model and
    texts; another handle (a later cell's model) is asked again, and a model in the kernel every time."""
    from ethicskit.checks import sft as sft_checks
    from ethicskit.course.proxy import Handle

    calls = []

    def predict_proba(texts):
        calls.append(list(texts))
        return np.full(len(texts), 0.5)

    class FakeRunner:
        def op(self, hid, name, *args, **kwargs):
            assert (name, args) == ("getattr", ("predict_proba",))
            return predict_proba

    class InKernel:
        def predict_proba(self, texts):
            return predict_proba(texts)

    model, later = Handle(1, FakeRunner()), Handle(2, FakeRunner())
    first = sft_checks._scores(model, ["a", "b"], "m")
    first[:] = 0.9  # a caller changing its copy changes nothing for the next one
    assert list(sft_checks._scores(model, ["a", "b"], "m")) == [0.5, 0.5] and len(calls) == 1
    sft_checks._scores(later, ["a", "b"], "m")
    sft_checks._scores(model, ["c"], "m")
    assert len(calls) == 3
    kernel_model = InKernel()
    sft_checks._scores(kernel_model, ["a", "b"], "m")
    sft_checks._scores(kernel_model, ["a", "b"], "m")
    assert len(calls) == 5
