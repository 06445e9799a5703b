"""The judge phase fails closed: a test cell scores only when it ran to completion and was confirmed."""

from __future__ import annotations

import nbformat

from ethicskit.course.execute import KernelRun, cell_score, judge_cells


def _test_cell(grade_id: str, points: float, outputs=()):
    cell = nbformat.v4.new_code_cell("check(answer)")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": grade_id, "points": points}
    cell.outputs = list(outputs)
    return cell


def _notebook(*cells):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = list(cells)
    return notebook


def test_a_cell_that_never_ran_scores_zero_even_without_output():
    run = KernelRun(
        notebook=_notebook(_test_cell("q1", 2), _test_cell("q2", 3)), executed={0}, stopped="the kernel died"
    )
    verdicts, _ = judge_cells(run, None)
    assert [(v.grade_id, v.score) for v in verdicts] == [("q1", 2.0), ("q2", 0.0)]
    assert "not run: the kernel died" in verdicts[1].reason
    assert run.notebook.cells[1].outputs[0]["ename"] == "NotRun"  # feedback shows why


def test_the_recheck_must_confirm_every_scoring_cell():
    cells = [_test_cell("q1", 2), _test_cell("q2", 2), _test_cell("q3", 4)]
    run = KernelRun(notebook=_notebook(*cells), executed={0, 1, 2})
    rechecked = {
        0: {"passed": True, "value": None, "message": ""},
        2: {"passed": True, "value": 1.5, "message": ""},
    }
    verdicts, events = judge_cells(run, rechecked, "the recheck process failed (exit 1)")
    assert [v.score for v in verdicts] == [2.0, 0.0, 1.5]  # q2: no verdict at all -> zero
    assert "the recheck process failed" in verdicts[1].reason
    assert len(events) == 2


def test_stderr_does_not_fail_a_cell_but_an_error_does():
    warning = nbformat.v4.new_output("stream", name="stderr", text="WARNING: budget refused a query\n")
    error = nbformat.v4.new_output("error", ename="CheckFailed", evalue="wrong", traceback=[])
    partial = nbformat.v4.new_output("execute_result", data={"text/plain": "1.5"}, execution_count=1)
    assert cell_score(_test_cell("a", 2, [warning])) == (2.0, "")
    assert cell_score(_test_cell("b", 2, [warning, error]))[0] == 0.0
    assert cell_score(_test_cell("c", 2, [partial])) == (1.5, "1.5 of 2 points")


def test_hidden_tests_decide_a_cell_even_when_a_visible_example_failed():
    failed = nbformat.v4.new_output("error", ename="CheckFailed", evalue="the example is off", traceback=[])
    run = KernelRun(notebook=_notebook(_test_cell("q1", 3, [failed])), executed={0}, decided={0})
    printed = "- part b: too low\n"
    verdicts, _ = judge_cells(run, {0: {"passed": True, "value": 1.5, "message": "", "printed": printed}})
    assert verdicts[0].score == 1.5
    assert run.notebook.cells[0].outputs[0]["text"] == printed  # the feedback says which part lost points


def test_visible_source_drops_hidden_blocks():
    from ethicskit.course.execute import visible_source

    source = "check(x)\n### BEGIN HIDDEN TESTS\nseed = 80321\ncheck(x, seed)\n### END HIDDEN TESTS\n"
    source += "print('done')\n"
    assert visible_source(source) == "check(x)\nprint('done')\n"


def test_the_kernel_runs_only_a_test_cells_imports():
    from ethicskit.course.execute import kernel_source

    source = (
        "import numpy as np\nfrom ethicskit.checks import fairness as checks\n\n"
        "checks.check_group_rates(rates)\nassert np.isfinite(gap)\n"
        "### BEGIN HIDDEN TESTS\nimport secret_module\nchecks.check_group_rates(rates, seed=3)\n"
        "### END HIDDEN TESTS\n"
    )
    assert kernel_source(source) == "import numpy as np\nfrom ethicskit.checks import fairness as checks"
    assert kernel_source("check(x)\n") == ""
    assert kernel_source("this is not python\n") == ""
