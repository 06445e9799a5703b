"""Lesson 00 exercises accept the right answers and reject the tempting wrong ones."""

import pytest

from ethicskit.checks import CheckFailed
from ethicskit.checks.welcome import q1, q2, q3
from ethicskit.datasets import load_adult, load_compas


def test_q1_accepts_filtered_count_and_rejects_raw():
    q1.check(len(load_compas()))
    with pytest.raises(CheckFailed, match="raw file"):
        q1.check(len(load_compas(raw=True)))
    with pytest.raises(CheckFailed, match="int"):
        q1.check("6172")


def test_q2_accepts_female_rate_and_explains_overall_rate():
    adult = load_adult()
    q2.check(adult.target[adult.data["sex"] == "Female"].mean())
    with pytest.raises(CheckFailed, match="over everybody"):
        q2.check(adult.target.mean())
    with pytest.raises(CheckFailed, match="off by"):
        q2.check(0.5)


def test_q3_label_is_rearrest():
    q3.check("re-arrest")
    with pytest.raises(CheckFailed, match="datasheet"):
        q3.check("re-offence")


def test_hint_and_solution_are_shown(capsys):
    q2.hint()
    q2.hint()
    q2.solution()
    out = capsys.readouterr().out
    assert "Female" in out and "mean of a 0/1" in out and "answer =" in out


def test_answer_keyword_and_wrong_calls_give_plain_messages():
    q3.check(answer="re-arrest")
    with pytest.raises(CheckFailed, match="Answer with one of the strings"):
        q3.check(answer=42)
    with pytest.raises(CheckFailed, match=r"call it as check\(answer\)"):
        q3.check("re-arrest", "extra")
    with pytest.raises(CheckFailed, match=r"call it as check\(answer\)"):
        q3.check()


def test_a_crash_inside_the_check_is_reported_plainly():
    from ethicskit.checks.explain import q3 as overlap

    def broken(a, b, k):
        return a[k + 100]

    with pytest.raises(CheckFailed, match="raised IndexError"):
        overlap.check(broken)


def test_lessons_words_are_accepted():
    from ethicskit.checks import fairness, sft

    for said in ("sufficiency", "Calibration within groups", "calibrated", "predictive parity"):
        fairness.q1.check(said)
    for said in ("BPSN", "bpsn AUC", "BPSN_AUC", "background positive, subgroup negative"):
        sft.q1.check(said)


@pytest.mark.notebook
def test_a_failed_check_shows_only_the_message_in_a_notebook(tmp_path):
    """In Jupyter the cell fails (so Run All stops) but shows no traceback through ethicskit."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from ethicskit.checks.welcome import q3\nq3.check('re-offence')"),
        nbformat.v4.new_code_cell("q3.check(answer=42)"),
    ]
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120).execute()
    for cell in nb.cells:
        (error,) = [o for o in cell.outputs if o.output_type == "error"]
        shown = "\n".join(error.traceback)
        assert "Exercise 0.3: not yet." in shown
        assert "ethicskit" not in shown and "File " not in shown and len(error.traceback) == 1
