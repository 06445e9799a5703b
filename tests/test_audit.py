"""ethicskit.audit: hash-chained trail, review queue and feedback log detect tampering and say where."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ethicskit.audit import AuditTrail, FeedbackLog, ReviewQueue


def _trail(path=None, n=4):
    trail = AuditTrail(path)
    for i in range(n):
        trail.record(
            "hyperparameter", f"decision {i}", author="ana", rationale=f"reason {i}", details={"C": i}
        )
    return trail


def test_intact_trail_verifies_and_persists(tmp_path):
    path = tmp_path / "trail.jsonl"
    trail = _trail(path)
    assert trail.verify().ok and len(path.read_text().splitlines()) == 4
    again = AuditTrail.load(path)
    assert again.entries == trail.entries and again.verify(expected_head=trail.head).ok
    again.record("approval", "ship it", author="lead", rationale="reviewed the audit")
    assert len(AuditTrail(path)) == 5


def test_edited_entry_is_named(tmp_path):
    path = tmp_path / "trail.jsonl"
    _trail(path)
    lines = path.read_text().splitlines()
    entry = json.loads(lines[2])
    entry["rationale"] = "a better-sounding reason"
    lines[2] = json.dumps(entry)
    path.write_text("\n".join(lines) + "\n")
    report = AuditTrail.load(path).verify()
    assert (
        not report.ok
        and report.bad_entries == [2]
        and "entry 2" in report.problems[0]
        and "edited" in str(report)
    )


def test_removed_reordered_and_truncated_entries_are_found():
    trail = _trail()
    head = trail.head
    removed = _trail()
    del removed.entries[1]
    report = removed.verify()
    assert not report.ok and 1 in report.bad_entries and "removed" in report.problems[0]
    reordered = _trail()
    reordered.entries[1], reordered.entries[2] = reordered.entries[2], reordered.entries[1]
    assert {1, 2} <= set(reordered.verify().bad_entries)
    truncated = _trail()
    truncated.entries.pop()
    assert truncated.verify().ok  # a shorter chain is still a chain...
    assert not truncated.verify(expected_head=head).ok  # ...until compared with the recorded head


def test_rehashing_an_edit_still_breaks_the_link():
    from ethicskit.audit import _hash

    trail = _trail()
    trail.entries[1]["decision"] = "something else"
    trail.entries[1]["hash"] = _hash(trail.entries[1])
    assert trail.verify().bad_entries == [2]


def test_record_validates_its_inputs():
    trail = AuditTrail()
    with pytest.raises(ValueError, match="kind"):
        trail.record("vibes", "x", author="a", rationale="r")
    with pytest.raises(ValueError, match="rationale"):
        trail.record("data", "x", author="a", rationale="  ")
    with pytest.raises(TypeError, match="details"):
        trail.record("data", "x", author="a", rationale="r", details=[1])


def test_summary_lists_decisions_and_status():
    trail = _trail(n=2)
    text = trail.summary_markdown()
    assert "decision 1" in text and "verified intact" in text
    trail.entries[0]["author"] = "mallory"
    assert "FAILED" in trail.summary_markdown()


def test_review_queue_routes_with_reasons_and_records_decisions(tmp_path):
    queue = ReviewQueue(tmp_path / "queue.jsonl", margin=0.1, flagged_groups={"race": ["Other"]})
    data = pd.DataFrame({"race": ["White", "White", "Other", "Black"]})
    routed = queue.route(
        np.array([0.55, 0.95, 0.05, 0.2]),
        data=data,
        ids=["a", "b", "c", "d"],
        high_impact=[False, False, False, True],
    )
    assert list(routed["case_id"]) == ["a", "c", "d"]
    assert routed.set_index("case_id").loc["c", "reasons"] == ["flagged group race"]
    queue.decide("a", "approve", reviewer="rita", reason="income documents confirm")
    assert queue.pending() == ["c", "d"]
    assert ReviewQueue(tmp_path / "queue.jsonl").verify().ok
    with pytest.raises(ValueError, match="never routed"):
        queue.decide("b", "reject", reviewer="rita", reason="x")
    with pytest.raises(ValueError, match="scores"):
        queue.route([1.5], data=data.iloc[:1])
    with pytest.raises(TypeError, match="data"):
        queue.route([0.5])


def test_feedback_is_linked_to_its_correction():
    trail, log = AuditTrail(), FeedbackLog()
    first = log.report("refused although income is high", reporter="user-17", category="unfair outcome")
    second = log.report("explanation unclear", reporter="user-4", category="explanation")
    resolution = log.resolve(first, "retrained with corrected income field", author="ana", trail=trail)
    assert log.open_reports() == [second]
    assert resolution["trail_hash"] == trail.entries[-1]["hash"] and trail.verify().ok and log.verify().ok
    with pytest.raises(ValueError, match="feedback_id"):
        log.resolve(99, "x", author="a")
