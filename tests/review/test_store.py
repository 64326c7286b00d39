"""The station's store: strips cut from the ring, the queue, the board, labels once, memory bounded."""

from __future__ import annotations

import numpy as np

from alarmfilter.events import Feedback
from alarmfilter.review.labels import feedback_event
from alarmfilter.review.store import Label, ReviewStore
from tests.helpers import alarm, waveform

T0 = 1_764_150_000.0


def _decision(alarm_id: str, bed: str, ts: float, decision: str = "suppress", type: str = "asystole",
              audit: bool = False) -> dict:
    return {"kind": "decision", "alarm_id": alarm_id, "bed": bed, "type": type, "priority": "high", "alarm_ts": ts,
            "decision": decision, "score": 0.1, "reason_code": "evidence_against", "reasons": ["pulse on ABP"],
            "decided_ts": ts, "model_version": "m1", "audit_sample": audit}


def _feed(store: ReviewStore, bed: str, t_from: float, t_to: float) -> None:
    for k in range(int(t_to - t_from)):
        store.add_waveform(waveform(bed, t_from + k))


def test_a_strip_is_cut_from_the_ring_whatever_comes_first() -> None:
    store = ReviewStore()
    _feed(store, "B1", T0, T0 + 30)
    store.add_decision(_decision("a1", "B1", T0 + 20))  # waveform first: cut at once
    store.add_decision(_decision("a2", "B1", T0 + 40))  # decision first: cut once the waveform passes it
    assert store.strip("a2") is None
    _feed(store, "B1", T0 + 30, T0 + 50)
    for alarm_id, ts in (("a1", T0 + 20), ("a2", T0 + 40)):
        s = store.strip(alarm_id)
        assert s is not None and s.start_ts == ts - 16.0 and s.n_samples == 20 * 250
        assert np.isfinite(s.signals["II"]).all()


def test_queue_holds_held_back_and_audit_alarms_until_labelled() -> None:
    store = ReviewStore()
    store.add_decision(_decision("held", "B1", T0))
    store.add_decision(_decision("audit", "B1", T0 + 1, decision="forward", audit=True))
    store.add_decision(_decision("fwd", "B1", T0 + 2, decision="forward"))
    store.add_decision(_decision("tech", "B1", T0 + 3, type="leads_off"))
    assert [r.alarm_id for r in store.queue()] == ["audit", "held"]
    store.set_label("held", Label.ARTEFACT, "motion")
    store.set_label("held", Label.ACTIONABLE)  # a second label does not overwrite the first
    assert store.get("held").label is Label.ARTEFACT and [r.alarm_id for r in store.queue()] == ["audit"]
    store.add_feedback(Feedback(schema_version=1, kind="feedback", bed="B1", ts=T0 + 9, alarm_id="audit",
                                actionable=True))  # another station's label, read from the topic
    assert store.queue() == []


def test_board_counts_per_bed_and_burden() -> None:
    store = ReviewStore()
    store.add_alarm(alarm("B2", T0 - 60, alarm_id="pending"))
    store.add_decision(_decision("x1", "B1", T0))
    store.add_decision(_decision("x2", "B1", T0 + 3600, decision="forward"))
    store.add_decision(_decision("x3", "B1", T0 + 7200, type="spo2_probe_off"))
    board = store.board(hours=4)
    rows = {r.bed: r for r in board.beds}
    assert (rows["B1"].held_back, rows["B1"].forwarded, rows["B1"].technical) == (1, 1, 1)
    assert rows["B2"].undecided == 1
    days = 7260 / 86400  # from the first alarm seen (B2, a minute earlier) to the newest
    assert rows["B1"].burden_before == 3 / days and rows["B1"].burden_after == 2 / days
    assert [r.alarm_id for r in board.recent] == ["x3", "x2", "x1", "pending"]


def test_memory_is_bounded() -> None:
    store = ReviewStore(ring_seconds=30, history_seconds=3600, max_strips=5)
    for k in range(300):  # one alarm a minute for five hours, waveform all along
        ts = T0 + 60 * k
        _feed(store, "B1", ts - 25, ts + 5) if k % 10 == 0 else None
        store.add_decision(_decision(f"a{k}", "B1", ts))
    assert sum(c.end_ts - c.ts for c in store.rings["B1"].chunks) <= 31
    assert len(store.strips) <= 5
    assert len(store.alarms) <= 61 and min(r.alarm_ts for r in store.alarms.values()) >= store.clock - 3600


def test_label_event_is_wire_format_feedback() -> None:
    store = ReviewStore()
    rec = store.add_decision(_decision("a1", "B1", T0), wall_now=100.0)
    e = feedback_event(rec, Label.ACTIONABLE, None, wall_now=103.0)
    Feedback.model_validate(e)
    assert (e["actionable"], e["ts"], "note" in e) == (True, T0 + 3.0, False)
