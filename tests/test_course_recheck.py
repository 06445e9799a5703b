"""The fresh-process recheck: which variables a test cell needs, and how a cell is judged."""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys

import cloudpickle
import pytest

from ethicskit.course.recheck import MARKER, run_cell, variables_used


def test_variables_used_ignores_imports_builtins_and_local_names():
    source = (
        "from ethicskit.checks import expect_close\nimport numpy as np\n"
        "rng = np.random.default_rng(0)\nx = rng.normal(size=3)\n"
        "expect_close(model.predict(x), len(X_test), 'the model')\n"
        "def helper(a, *rest, k=1):\n    return a + k + total\n"
        "counter = counter + 1\n"
    )
    # names the cell assigns are included too (snapshotted only where the notebook has them)
    assert variables_used(source) == ["X_test", "counter", "model", "rng", "total", "x"]
    assert variables_used("this is not python(") == []


def test_run_cell_pass_fail_and_partial_credit():
    assert run_cell("x = 1\nassert x == 1", {}) == (True, None, "")
    passed, value, message = run_cell("from ethicskit.checks import expect\nexpect(False, 'plain words')", {})
    assert not passed and "plain words" in message
    assert run_cell("1.5", {}) == (True, 1.5, "")
    assert run_cell("raise KeyError('k')", {})[0] is False


def test_recheck_process_ignores_monkeypatching_done_elsewhere(tmp_path):
    # a snapshot of the student's variables; the recheck process runs the instructor's cell on them
    snap = tmp_path / "snap.pkl"
    with open(snap, "wb") as handle:
        pickle.dump({"blobs": {"answer": cloudpickle.dumps(0.3)}, "problems": {}}, handle)
    jobs = [
        {
            "index": 0,
            "source": "from ethicskit.checks import expect_close\n"
            "expect_close(answer, 0.5, 'a', reveal=False)",
            "snapshot": str(snap),
        },
        {
            "index": 1,
            "source": "from ethicskit.checks import expect_close\nexpect_close(answer, 0.3, 'a')",
            "snapshot": str(snap),
        },
        {"index": 2, "source": "answer", "snapshot": str(tmp_path / "missing.pkl")},
    ]
    job_file = tmp_path / "jobs.json"
    job_file.write_text(json.dumps(jobs))
    # -X faulthandler: if the recheck ever hangs (it did once in CI, under heavy load, with no output),
    # SIGABRT makes it print every thread's stack, so the failure says where it stopped
    process = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "ethicskit.course.recheck", str(job_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        stdout, stderr = process.communicate()
        pytest.fail(f"the recheck process hung for 300 s; its stacks:\n{stderr[-6000:]}")
    assert process.returncode == 0, stderr[-3000:]
    lines = [x for x in stdout.splitlines() if x.startswith(MARKER)]
    assert len(lines) == 4  # the verdicts so far after each of the three cells, then all of them
    assert [len(json.loads(x[len(MARKER) :])) for x in lines] == [1, 2, 3, 3]
    verdicts = json.loads(lines[-1][len(MARKER) :])
    assert [v["passed"] for v in verdicts] == [False, True, False]
    assert "0.5" not in verdicts[0]["message"]
    assert "could not be recorded" in verdicts[2]["message"]


def test_hidden_checks_decide_even_after_a_failed_visible_example():
    from ethicskit.course.recheck import run_cell

    source = (
        "from ethicskit.checks import expect_close\n"
        "expect_close(1.0, 2.0, 'a visible example')\n"
        "def part():\n"
        "    expect_close(1.0, 2.0, 'visible, inside a function')\n"
        "    ### BEGIN HIDDEN TESTS\n"
        "    return 1.5\n"
        "    ### END HIDDEN TESTS\n"
        "### BEGIN HIDDEN TESTS\n"
        "expect_close(3, 3, 'hidden')\n"
        "### END HIDDEN TESTS\n"
        "0.5\n"
    )
    assert run_cell(source, {}) == (True, 0.5, "")
    assert run_cell(source.replace("expect_close(3, 3", "expect_close(3, 4"), {})[0] is False
    assert run_cell("undefined_name\n### BEGIN HIDDEN TESTS\n1\n### END HIDDEN TESTS\n", {})[0] is False


def test_unsandboxed_recheck_keeps_the_cells_that_finished_before_a_time_limit(tmp_path):
    from ethicskit.course.execute import _recheck_process
    from ethicskit.course.tasks import GradingTask

    snap = tmp_path / "snap.pkl"
    with open(snap, "wb") as handle:
        pickle.dump({"blobs": {"answer": cloudpickle.dumps(0.3)}, "problems": {}}, handle)
    jobs = [
        {"index": 0, "source": "assert answer == 0.3", "snapshot": str(snap)},
        {"index": 1, "source": "import time\ntime.sleep(60)", "snapshot": str(snap)},
    ]
    job_file = tmp_path / "jobs.json"
    job_file.write_text(json.dumps(jobs))
    task = GradingTask(student="s", lab="lab", notebook="x.ipynb", sandbox=False)
    verdicts, problem = _recheck_process(task, tmp_path, job_file, 1, "", timeout=15)
    assert problem == "the recheck ran out of time"
    assert list(verdicts) == [0] and verdicts[0]["passed"]  # cell 1 has none: the judge fails it closed
