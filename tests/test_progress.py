"""Progress bars show for people and stay silent for tests and the grader."""

import sys

from ethicskit._progress import progress, progress_wanted


def test_tqdm_disable_wins(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setitem(sys.modules, "ipykernel", sys)
    assert not progress_wanted(True)


def test_shown_in_a_kernel_when_enabled(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setitem(sys.modules, "ipykernel", sys)
    assert progress_wanted(True)
    assert not progress_wanted(False)


def test_silent_bar_passes_items_through(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    bar = progress(range(3), desc="x")
    assert bar.disable and list(bar) == [0, 1, 2]
