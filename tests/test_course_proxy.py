"""Data-only loading of snapshots and the runner process that holds the student's code."""

from __future__ import annotations

import os
import pickle
import types

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from ethicskit.course.proxy import Forbidden, Handle, Runner, StudentCodeError, safe_loads


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_safe_loads_accepts_data_and_rejects_code():
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    for value in (frame, np.arange(5.0), {"k": [1, 2.5, None]}, model, frame["a"]):
        loaded = safe_loads(cloudpickle.dumps(value))
        assert type(loaded) is type(value)
    assert safe_loads(cloudpickle.dumps(model)).predict([[3.0]])[0] == 1
    for bad in (_Evil(), lambda x: x, exec):
        with pytest.raises(Forbidden):
            safe_loads(cloudpickle.dumps(bad))
    with pytest.raises(Forbidden):
        safe_loads(pickle.dumps(getattr))


def test_runner_calls_student_code_elsewhere_and_returns_data():
    def rate(values, *, threshold=0.5):
        import numpy as np

        return float(np.mean(np.asarray(values) > threshold))

    class Budget:
        def __init__(self, total):
            self.total = total

        def spend(self, amount):
            if amount > self.total:
                raise ValueError("over budget")
            self.total -= amount
            return self.total

    def sneaky():
        import builtins

        builtins.len = lambda x: 0  # would break the checks if it ran in the trusted process
        return 1

    runner = Runner(timeout=30)
    try:
        handle = runner.load(cloudpickle.dumps(rate))
        assert isinstance(handle, Handle) and callable(handle)
        assert handle([0.2, 0.7, 0.9]) == pytest.approx(2 / 3)
        assert handle([0.2, 0.7], threshold=0.1) == 1.0
        assert isinstance(handle.__code__, types.CodeType) and "mean" in handle.__code__.co_names
        assert handle.__name__ == "rate"
        cls = runner.load(cloudpickle.dumps(Budget))
        assert isinstance(cls, type)
        budget = cls(10)
        assert budget.spend(4) == 6 and budget.total == 6
        with pytest.raises(ValueError, match="over budget"):
            budget.spend(100)
        assert runner.load(cloudpickle.dumps(sneaky))() == 1
        assert len([1, 2]) == 2
        with pytest.raises(StudentCodeError, match="crashed"):
            runner.load(cloudpickle.dumps(lambda: os._exit(3)))()
    finally:
        runner.close()


def test_random_generators_passed_to_student_code_advance_like_local_ones():
    def noisy(value, *, rng):
        return float(value + rng.laplace(0.0, 1.0))

    runner = Runner(timeout=30)
    try:
        remote = runner.load(cloudpickle.dumps(noisy))
        rng_remote, rng_local = np.random.default_rng(5), np.random.default_rng(5)
        got = [remote(0.0, rng=rng_remote) for _ in range(5)]
        want = [noisy(0.0, rng=rng_local) for _ in range(5)]
        assert got == want and len(set(got)) == 5
    finally:
        runner.close()


def test_torch_modules_load_as_data():
    torch = pytest.importorskip("torch")
    layer = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU()).to(torch.float64)
    loaded = safe_loads(cloudpickle.dumps(layer))
    x = torch.ones(1, 3, dtype=torch.float64)
    assert torch.equal(loaded(x), layer(x))


def test_a_students_exception_keeps_its_trusted_bases_across_the_runner():
    namespace: dict = {}
    exec(
        "class BudgetExceededError(ValueError):\n    pass\n"
        "def spend(eps):\n    raise BudgetExceededError(f'budget exhausted at {eps}')\n"
        "class Fake(AssertionError):\n    pass\n"
        "def fake():\n    raise Fake('all checks passed')\n",
        namespace,
    )
    runner = Runner(timeout=30)
    try:
        spend, fake = (
            runner.load(cloudpickle.dumps(namespace["spend"])),
            runner.load(cloudpickle.dumps(namespace["fake"])),
        )
        with pytest.raises(ValueError, match="budget exhausted at 2") as caught:
            spend(2)
        assert type(caught.value).__name__ == "BudgetExceededError"
        with pytest.raises(Exception) as caught:
            fake()
        assert not isinstance(caught.value, AssertionError)  # never mistaken for a failed check
    finally:
        runner.close()


def test_forbidden_helpers_raise_under_any_alias():
    from ethicskit.course.recheck import forbidden_helpers

    namespace: dict = {}
    exec("from statistics import fmean as average\ndef mean_of(x):\n    return average(x)\n", namespace)
    assert forbidden_helpers("x = 1\n# ethicskit: forbid statistics.fmean\n") == ["statistics.fmean"]
    runner = Runner(timeout=30)
    try:
        runner.forbid(["statistics.fmean"])
        mean_of = runner.load(cloudpickle.dumps(namespace["mean_of"]))
        with pytest.raises(RuntimeError, match="may not be used in this part"):
            mean_of([1.0, 2.0])
    finally:
        runner.close()


def test_a_forked_runner_starts_warm_and_cannot_read_hidden_files(tmp_path):
    secret = tmp_path / "held-out.csv"
    secret.write_text("row,label\n1,0\n")
    namespace: dict = {}
    exec("def peek(path):\n    return open(path).read()\n", namespace)
    runner = Runner.forked(timeout=30, hide=[secret])
    try:
        peek = runner.load(cloudpickle.dumps(namespace["peek"]))
        assert peek(str(secret)) == ""  # empty for the student's code
    finally:
        runner.close()
    assert secret.read_text() == "row,label\n1,0\n"  # and untouched for everyone else


def test_handles_loaded_from_the_same_bytes_share_a_digest_and_lab3_scores_are_asked_once():
    from ethicskit.checks import sft as sft_checks
    from ethicskit.course.proxy import snapshot_digest

    class Model:
        def __init__(self, p_toxic):
            self.p_toxic, self.asked = p_toxic, 0

        def predict_proba(self, texts):
            import numpy as np

            self.asked += 1  # counted in the runner: how often the checks asked this copy
            return np.full(len(texts), self.p_toxic)

    runner = Runner(timeout=30)
    try:
        blob = cloudpickle.dumps(Model(0.25))
        first, second = runner.load(blob), runner.load(blob)  # two test cells' snapshots, same bytes
        other = runner.load(cloudpickle.dumps(Model(0.75)))
        assert snapshot_digest(first) == snapshot_digest(second) != snapshot_digest(other)
        assert snapshot_digest(np.arange(3)) is None
        texts = ["a", "b"]
        assert list(sft_checks._scores(first, texts, "m")) == [0.25, 0.25]
        assert list(sft_checks._scores(second, texts, "m")) == [0.25, 0.25]
        assert list(sft_checks._scores(other, texts, "m")) == [0.75, 0.75]
        assert (first.asked, second.asked, other.asked) == (1, 0, 1)
    finally:
        sft_checks._RECHECK_SCORES.clear()
        runner.close()
