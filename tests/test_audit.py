"""ethicskit.audit: hash-chained trail, review queue and feedback log detect tampering and say where."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ethicskit.audit import (
    AuditTrail,
    FeedbackLog,
    HeadAnchor,
    ReviewQueue,
    TornTailError,
    _hash,
    generate_signing_key,
)


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


# --- concurrency, torn tails, keyed chains and signed anchors (#21) ---------------------------------


_WRITER = textwrap.dedent(
    """
    import pathlib, sys, time
    from ethicskit.audit import AuditTrail
    path, name, n, reopen = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
    pathlib.Path(path + "." + name + ".ready").touch()
    while not pathlib.Path(path + ".go").exists():  # start together, so the appends really interleave
        time.sleep(0.005)
    trail = AuditTrail(path)
    for i in range(n):
        if reopen and i % 5 == 0:
            trail = AuditTrail(path)  # a writer that re-opens the log, as a notebook re-run does
        trail.record("other", f"{name} decision {i}", author=name, rationale=f"step {i} of {name}")
    """
)

_READER = textwrap.dedent(
    """
    import sys
    from ethicskit.audit import AuditTrail
    for _ in range(30):
        trail = AuditTrail(sys.argv[1])
        assert trail.torn_tail is None, "a reader saw half a line"
        assert trail.verify().ok, str(trail.verify())
    """
)


def _start(path, jobs):
    """Start one process per (script, args); release the writers together once all are ready."""
    procs = [
        subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stderr=subprocess.PIPE)
        for script, args in jobs
    ]
    names = [args[1] for script, args in jobs if script is _WRITER]
    deadline = time.monotonic() + 60
    while not all(Path(f"{path}.{n}.ready").exists() for n in names) and time.monotonic() < deadline:
        time.sleep(0.01)
    Path(f"{path}.go").touch()
    return procs


def _processes(path, script, *argument_lists):
    procs = _start(path, [(script, args) for args in argument_lists])
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs), errors


def test_concurrent_writer_processes_lose_nothing_and_keep_one_chain(tmp_path):
    path = tmp_path / "trail.jsonl"
    AuditTrail(path).record("data", "start", author="lead", rationale="before the writers start")
    writers = [(path, f"w{k}", 40, k % 2) for k in range(3)]
    _processes(path, _WRITER, *writers)
    trail = AuditTrail.load(path)
    assert len(trail) == 1 + 3 * 40 and trail.torn_tail is None
    assert trail.verify().ok, str(trail.verify())
    for k in range(3):
        mine = [e["decision"] for e in trail.entries if e["author"] == f"w{k}"]
        assert mine == [f"w{k} decision {i}" for i in range(40)]  # each writer's order is kept


def test_readers_never_see_a_torn_line_while_writers_append(tmp_path):
    path = tmp_path / "trail.jsonl"
    AuditTrail(path).record("data", "start", author="lead", rationale="before the writers start")
    procs = _start(path, [(_WRITER, (path, "w0", 60, 1)), (_WRITER, (path, "w1", 60, 0)), (_READER, (path,))])
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    assert len(AuditTrail(path)) == 121


def test_a_stale_writer_chains_onto_what_others_appended(tmp_path):
    path = tmp_path / "trail.jsonl"
    first, second = AuditTrail(path), AuditTrail(path)
    first.record("data", "one", author="a", rationale="r")
    second.record("data", "two", author="b", rationale="r")  # second never re-opened the file
    assert len(second) == 2 and AuditTrail(path).verify().ok


def test_torn_tail_is_reported_and_repaired_without_losing_entries(tmp_path):
    path = tmp_path / "trail.jsonl"
    trail = _trail(path)
    with path.open("ab") as handle:
        handle.write(b'{"seq": 4, "kind": "da')  # a write cut short by a crash
    torn = AuditTrail(path)  # still opens: the log can be inspected
    assert len(torn) == 4 and torn.entries == trail.entries
    report = torn.verify()
    assert not report.ok and "incomplete entry" in str(report)
    with pytest.raises(TornTailError, match="repair"):
        torn.record("data", "x", author="a", rationale="r")
    aside = torn.repair()
    assert aside.read_bytes().startswith(b'{"seq": 4') and torn.verify().ok
    torn.record("data", "after repair", author="a", rationale="r")
    assert len(AuditTrail(path)) == 5 and AuditTrail(path).verify().ok


def test_damaged_middle_line_is_named_not_fatal(tmp_path):
    path = tmp_path / "trail.jsonl"
    _trail(path)
    lines = path.read_text().splitlines()
    lines[1] = lines[1][:20]
    path.write_text("\n".join(lines) + "\n")
    report = AuditTrail.load(path).verify()
    assert report.first_bad_entry == 1 and "not valid JSON" in report.problems[0]


def _rechain(trail, start):
    for i in range(start, len(trail.entries)):
        if i:
            trail.entries[i]["prev_hash"] = trail.entries[i - 1]["hash"]
        trail.entries[i]["hash"] = _hash(trail.entries[i])


def test_rechained_edit_is_not_mistaken_for_truncation():
    trail = _trail(n=5)
    head, anchor = trail.head, trail.anchor()
    trail.entries[2]["rationale"] = "a nicer story"
    _rechain(trail, 2)
    assert trail.verify().ok  # the unkeyed chain alone proves nothing against a re-chainer
    text = str(trail.verify(expected_head=head))
    assert "re-chained" in text and "removed at the end" in text  # both possibilities, honestly
    report = trail.verify(anchor=anchor)
    assert report.bad_entries == [4] and "rewritten" in report.problems[0]


def test_anchor_tells_truncation_from_rewriting():
    trail = _trail(n=5)
    anchor = trail.anchor()
    trail.entries.pop()
    report = trail.verify(anchor=anchor)
    assert not report.ok and "removed at the end" in report.problems[0]
    grown = _trail(n=5)
    anchor = grown.anchor()
    grown.record("data", "later", author="a", rationale="r")
    report = grown.verify(anchor=anchor)
    assert report.ok and any("appended after the anchor" in note for note in report.notes)


def test_keyed_chain_names_the_first_forged_entry(tmp_path):
    key = b"k" * 32
    path = tmp_path / "trail.jsonl"
    trail = AuditTrail(path, key=key)
    for i in range(5):
        trail.record("data", f"d{i}", author="a", rationale="r")
    assert trail.verify().ok and AuditTrail.load(path).verify(key=key).ok
    forged = AuditTrail.load(path)
    forged.entries[2]["decision"] = "forged"
    _rechain(forged, 2)
    assert forged.verify().ok  # without the key the forgery passes...
    report = forged.verify(key=key)  # ...with it, the first forged entry is named
    assert report.first_bad_entry == 2 and "without the key" in report.problems[0]
    stripped = AuditTrail.load(path)
    for entry in stripped.entries:
        del entry["mac"]
    assert stripped.verify(key=key).first_bad_entry == 0
    with pytest.raises(ValueError, match="16 bytes"):
        AuditTrail(key=b"short")


def test_signed_anchor_cannot_be_rewritten_with_the_trail():
    signing_key = generate_signing_key()
    public = signing_key.public_key()
    trail = _trail(n=4)
    anchor = trail.anchor(signing_key)
    assert trail.verify(anchor=anchor, public_key=public).ok
    assert trail.verify(anchor=HeadAnchor.from_dict(anchor.to_dict()), public_key=public).ok
    trail.entries[1]["author"] = "mallory"
    _rechain(trail, 1)
    forged_anchor = HeadAnchor(anchor.seq, trail.head, anchor.signature)  # the editor updates the head too
    report = trail.verify(anchor=forged_anchor, public_key=public)
    assert not report.ok and "signature does not verify" in report.problems[0]
    assert not trail.verify(anchor=anchor, public_key=public).ok
    with pytest.raises(ValueError, match="public_key"):
        trail.verify(anchor=anchor)


def test_review_queue_refuses_ambiguous_input():
    queue = ReviewQueue()
    with pytest.raises(ValueError, match="high_impact"):
        queue.route([0.9, 0.95], high_impact=["no", "no"])
    with pytest.raises(ValueError, match="ids"):
        queue.route([0.5, 0.5], ids=["a", "a"])
    queue.route([0.5], ids=["a"])
    with pytest.raises(ValueError, match="already waiting"):
        queue.route([0.5], ids=["a"])
    with pytest.raises(ValueError, match="scores"):
        queue.route([np.nan])
    with pytest.raises(ValueError, match="timestamp"):
        AuditTrail().record("data", "x", author="a", rationale="r", timestamp="yesterday")


def test_a_read_only_trail_opens_and_verifies(tmp_path):
    path = tmp_path / "trail.jsonl"
    _trail(path)
    path.chmod(0o444)
    try:
        assert AuditTrail.load(path).verify().ok
    finally:
        path.chmod(0o644)


def _tamper(trail, kind, position):
    """Apply one kind of tampering at ``position``; return the position of the first changed entry."""
    entries = trail.entries
    if kind == "edit":
        entries[position]["rationale"] += " (improved)"
    elif kind == "edit and rehash":
        entries[position]["rationale"] += " (improved)"
        entries[position]["hash"] = _hash(entries[position])
    elif kind == "edit and rechain":
        entries[position]["rationale"] += " (improved)"
        _rechain(trail, position)
    elif kind == "delete":
        del entries[position]
    elif kind == "swap":
        position = min(position, len(entries) - 2)
        entries[position], entries[position + 1] = entries[position + 1], entries[position]
    elif kind == "truncate":
        del entries[position:]
    return position


@pytest.mark.parametrize(
    "kind", ["edit", "edit and rehash", "edit and rechain", "delete", "swap", "truncate"]
)
def test_every_tamper_kind_is_caught_with_key_and_anchor_and_reported_honestly_without(kind):
    """Property over positions: keyed + anchored verification catches every kind; the plain chain
    catches all but re-chaining and truncation, which only the anchor can see."""
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    key = b"k" * 32

    @hypothesis.settings(max_examples=15, deadline=None)
    @hypothesis.given(st.integers(min_value=2, max_value=7), st.data())
    def check(n, data):
        trail = AuditTrail(key=key)
        for i in range(n):
            trail.record("data", f"d{i}", author="a", rationale=f"r{i}")
        anchor = trail.anchor()
        position = _tamper(trail, kind, data.draw(st.integers(min_value=0, max_value=n - 2)))
        full = trail.verify(key=key, anchor=anchor)
        assert not full.ok
        if kind in ("edit", "edit and rechain", "delete", "swap"):
            assert full.first_bad_entry == position  # the first bad entry is named, not a later one
        plain = AuditTrail()
        plain.entries = trail.entries
        if kind in ("edit and rechain", "truncate"):
            assert plain.verify().ok  # undetectable without the anchor or key: say so, do not pretend
            assert not plain.verify(anchor=anchor).ok
        else:
            assert not plain.verify().ok

    check()
