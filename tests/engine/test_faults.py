"""Faults end in a defined behaviour: forwarded with a reason, never lost, never an unbounded wait."""

from __future__ import annotations

import tracemalloc

from alarmfilter.engine import BedEngine, EngineConfig
from tests.engine.test_bed import FixedScorer, HalfPolicy, decisions, stream
from tests.helpers import T0, alarm, feedback, waveform


def make(**cfg) -> BedEngine:
    cfg.setdefault("audit_fraction", 0.0)
    return BedEngine("B1", EngineConfig(**cfg), FixedScorer(0.1), HalfPolicy())


def test_alarm_clock_ahead_of_waveform_within_stale_limit_uses_what_is_there():
    eng = make()
    stream(eng, T0, 20)  # waveform up to T0+20
    out = eng.feed(alarm("B1", T0 + 23))  # monitor clock 3 s ahead of the waveform gateway
    out += eng.tick(T0 + 24.5)
    (d,) = decisions(out)
    assert d.reason_code == "evidence_against"
    w = eng.scorer.windows[0]
    assert w.start_ts + w.seconds <= T0 + 20 + 1e-6


def test_alarm_clock_far_ahead_of_waveform_fails_open():
    eng = make()
    stream(eng, T0, 20)
    eng.feed(alarm("B1", T0 + 40))
    (d,) = decisions(eng.tick(T0 + 41.5))
    assert d.reason_code == "stale_signal" and d.decision == "forward"


def test_waveform_stalls_while_hold_pending_decided_at_ceiling():
    eng = make(hold_seconds={"ventricular_tachycardia": 6.0})
    stream(eng, T0, 20)
    eng.feed(alarm("B1", T0 + 20, type="ventricular_tachycardia"))
    assert eng.tick(T0 + 26.9) == []  # due at +6, grace 1 s
    (d,) = decisions(eng.tick(T0 + 27.0))
    assert d.decision in ("forward", "suppress")  # decided with the data there was
    assert eng.pending == 0


def test_feedback_flood_is_counted_and_costs_no_memory():
    eng = make()
    stream(eng, T0, 20)
    eng.feed(alarm("B1", T0 + 20))
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(20_000):
        eng.feed(feedback("B1", T0 + 21, f"bogus-{i}", bool(i % 2)))
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename") if s.size_diff > 0)
    assert eng.stats["feedback_unknown_alarm"] == 20_000
    assert grown < 200_000, f"feedback flood grew memory by {grown} bytes"
    assert len(eng.scorer.learned) == 0


def test_flat_and_saturated_channels_still_decided():
    from alarmfilter.events import Waveform

    eng = make()
    for k in range(20):
        eng.feed(Waveform(schema_version=1, kind="waveform", bed="B1", ts=T0 + k, fs_hz=250.0,
                          signals={"II": [0.0] * 250, "PLETH": [5.0] * 250}))
    (d,) = decisions(eng.feed(alarm("B1", T0 + 20)))
    assert d.alarm_id == "a1"


def test_engine_bug_while_handling_an_alarm_forwards_it_once():
    eng = make()
    stream(eng, T0, 20)

    def broken(*args, **kwargs):
        raise KeyError("bug")

    eng._on_alarm = broken  # a defect inside the engine itself, not in the scorer or policy
    out = eng.feed(alarm("B1", T0 + 20))
    assert [o.kind for o in out] == ["decision", "alert"]
    assert out[0].reason_code == "engine_error" and out[0].decision == "forward"
    assert eng.stats["fail_open:engine_error"] == 1
    del eng._on_alarm
    assert eng.feed(alarm("B1", T0 + 21)) == [] and eng.stats["duplicate_alarms"] == 1


def test_engine_bug_on_other_events_is_a_dead_letter():
    eng = make()
    eng.waveforms.append = lambda *a: 1 / 0
    (dl,) = eng.feed(waveform("B1", T0))
    assert dl.kind == "deadletter" and "ZeroDivisionError" in dl.error


def test_engine_bug_while_deciding_a_held_alarm_at_tick_or_flush_forwards_it():
    """tick and flush never raise either, so drivers need no try around the engine."""
    for finish in ("tick", "flush"):
        eng = make(default_hold_seconds=5.0)
        stream(eng, T0, 20)

        def broken(tracked):  # a defect while deciding, in the engine itself
            raise KeyError("bug")

        eng._decide_now = broken
        assert eng.feed(alarm("B1", T0 + 20)) == [] and eng.pending == 1  # held
        out = eng.tick(T0 + 100) if finish == "tick" else eng.flush()
        (d,) = decisions(out)
        assert d.reason_code == "engine_error" and d.decision == "forward", finish
        assert [o.kind for o in out] == ["decision", "alert"] and eng.pending == 0
