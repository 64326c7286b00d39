"""BedEngine branches: decided once, fail-open, holds and their ceiling, duplicates, routing, order."""

from __future__ import annotations

import pytest

from alarmfilter.engine import Assessment, BedEngine, EngineConfig, Verdict
from alarmfilter.events import Decision, ReasonCode
from tests.helpers import T0, alarm, feedback, vitals, waveform


class FixedScorer:
    """Scores every alarm with the same probability; records what it was shown and taught."""

    model_version = "fixed-1"
    window_seconds = 16.0

    def __init__(self, p: float = 0.1, fail: bool = False) -> None:
        self.p, self.fail = p, fail
        self.windows, self.learned = [], []

    def assess(self, alarm_type, window, vitals, alarm_ts):
        if self.fail:
            raise ZeroDivisionError("boom")
        self.windows.append(window)
        return Assessment(self.p, {"f": self.p}, {"f": "finding"}, self.model_version)

    def learn(self, alarm_type, features, actionable):
        self.learned.append((alarm_type, features, actionable))


class HalfPolicy:
    def decide(self, alarm_type, assessment):
        if assessment.p_true >= 0.5:
            return Verdict(Decision.FORWARD, ReasonCode.EVIDENCE_SUPPORTS, ["likely true"])
        return Verdict(Decision.SUPPRESS, ReasonCode.EVIDENCE_AGAINST, list(assessment.findings.values()))


def engine(p=0.1, fail=False, **cfg) -> BedEngine:
    cfg.setdefault("audit_fraction", 0.0)
    return BedEngine("B1", EngineConfig(**cfg), FixedScorer(p, fail), HalfPolicy())


def stream(eng, start, seconds):
    out = []
    for k in range(int(seconds)):
        out += eng.feed(waveform("B1", start + k))
    return out


def decisions(outputs):
    return [o for o in outputs if o.kind == "decision"]


def test_suppressed_with_reasons_and_no_alert():
    eng = engine(p=0.1)
    stream(eng, T0, 20)
    out = eng.feed(alarm("B1", T0 + 20))
    assert [o.kind for o in out] == ["decision"]
    d = out[0]
    assert d.decision == "suppress" and d.reason_code == "evidence_against" and d.reasons == ["finding"]
    assert d.model_version == "fixed-1" and d.score == pytest.approx(0.1)


def test_forwarded_alarm_gives_decision_and_alert():
    eng = engine(p=0.9)
    stream(eng, T0, 20)
    out = eng.feed(alarm("B1", T0 + 20))
    assert [o.kind for o in out] == ["decision", "alert"]
    assert out[1].alarm_id == "a1" and out[1].reasons == ["likely true"]


def test_hold_zero_sees_no_sample_after_the_alarm():
    eng = engine()
    stream(eng, T0, 30)  # waveform already past the alarm
    eng.feed(alarm("B1", T0 + 20.5))
    w = eng.scorer.windows[0]
    assert w.start_ts + w.n_samples / w.fs_hz == pytest.approx(T0 + 20.5)
    assert w.alarm_index == w.n_samples and w.seconds == pytest.approx(16.0)


def test_hold_waits_for_data_then_uses_it():
    eng = engine(hold_seconds={"asystole": 3.0})
    stream(eng, T0, 20)
    assert eng.feed(alarm("B1", T0 + 20)) == []
    assert eng.pending == 1
    assert decisions(stream(eng, T0 + 20, 2)) == []
    out = stream(eng, T0 + 22, 1)
    assert len(decisions(out)) == 1 and eng.pending == 0
    w = eng.scorer.windows[0]
    assert w.start_ts + w.seconds == pytest.approx(T0 + 23) and w.alarm_index == (13 * 250)


def test_hold_ceiling_in_event_time_when_waveform_stops():
    eng = engine(hold_seconds={"asystole": 10.0})
    stream(eng, T0, 20)
    eng.feed(alarm("B1", T0 + 20))
    assert eng.tick(T0 + 29.9) == []
    out = eng.tick(T0 + 30.0)
    assert len(decisions(out)) == 1


def test_hold_above_ceiling_is_refused():
    with pytest.raises(ValueError, match="within"):
        EngineConfig(hold_seconds={"asystole": 11.0})


def test_lagging_waveform_chunk_waits_for_grace():
    eng = engine()
    stream(eng, T0, 20)  # samples up to T0+20
    assert eng.feed(alarm("B1", T0 + 20.5)) == []  # the chunk covering the alarm is not in yet
    out = stream(eng, T0 + 20, 1)
    assert len(decisions(out)) == 1


def test_no_signal_fails_open():
    eng = engine()
    eng.feed(vitals("B1", T0))
    eng.feed(alarm("B1", T0 + 1))
    out = eng.tick(T0 + 3)
    assert [o.kind for o in out] == ["decision", "alert"]
    assert out[0].reason_code == "no_signal" and eng.stats["fail_open:no_signal"] == 1


def test_stale_signal_fails_open():
    eng = engine()
    stream(eng, T0, 20)
    eng.feed(vitals("B1", T0 + 40))
    out = eng.feed(alarm("B1", T0 + 40))
    out += eng.tick(T0 + 42)
    assert decisions(out)[0].reason_code == "stale_signal"


def test_warming_up_fails_open():
    eng = engine()
    stream(eng, T0, 3)
    out = eng.feed(alarm("B1", T0 + 3))
    assert decisions(out)[0].reason_code == "warming_up" and decisions(out)[0].decision == "forward"


@pytest.mark.parametrize("fail_in, code", [("scorer", "scorer_error"), ("policy", "policy_error")])
def test_errors_fail_open(fail_in, code):
    eng = engine(fail=fail_in == "scorer")
    if fail_in == "policy":
        eng.policy = None  # calling .decide on None raises
    stream(eng, T0, 20)
    out = eng.feed(alarm("B1", T0 + 20))
    assert decisions(out)[0].reason_code == code and [o.kind for o in out] == ["decision", "alert"]


def test_unknown_type_forwarded():
    eng = engine()
    out = eng.feed(alarm("B1", T0, type="pacer_not_capturing"))
    assert decisions(out)[0].reason_code == "unknown_type" and out[1].kind == "alert"


def test_technical_alarm_routed_to_technical_output():
    eng = engine()
    out = eng.feed(alarm("B1", T0, type="leads_off", priority="technical"))
    assert [o.kind for o in out] == ["decision", "technical"]
    assert out[0].reason_code == "technical_alarm"


def test_duplicate_alarm_id_decided_once():
    eng = engine()
    stream(eng, T0, 20)
    first = eng.feed(alarm("B1", T0 + 20))
    again = eng.feed(alarm("B1", T0 + 20)) + eng.feed(alarm("B1", T0 + 25, type="hr_high"))
    assert len(decisions(first)) == 1 and again == [] and eng.stats["duplicate_alarms"] == 2


def test_a_repeat_after_the_decision_left_memory_is_still_a_duplicate():
    # the fuzzer's case: a day later the decided alarm left the bed's memory, then the monitor sent it again
    eng = engine(max_tracked_alarms=2)
    stream(eng, T0, 20)
    first = eng.feed(alarm("B1", T0 + 20))
    eng.feed(vitals("B1", T0 + 20 + 86_401))  # past the 24 h retention: a1 is forgotten
    for k in range(3):  # and past the count cap
        eng.feed(alarm("B1", T0 + 86_430 + k, alarm_id=f"b{k}", type="hr_high"))
    again = eng.feed(alarm("B1", T0 + 20))
    assert len(decisions(first)) == 1 and decisions(again) == [] and "a1" not in eng.alarms
    assert eng.stats["duplicate_alarms"] == 1


def test_out_of_order_waveform_and_vitals_rejected_not_lost():
    eng = engine()
    stream(eng, T0, 10)
    out = eng.feed(waveform("B1", T0 + 5))
    assert [o.kind for o in out] == ["deadletter"] and "out of order" in out[0].error
    eng.feed(vitals("B1", T0 + 10))
    out = eng.feed(vitals("B1", T0 + 9))
    assert out[0].kind == "deadletter"
    # an alarm older than the newest data is still decided, with data up to its own time
    out = eng.feed(alarm("B1", T0 + 9.5))
    assert len(decisions(out)) == 1


def test_gap_in_waveform_reads_as_missing():
    eng = engine()
    stream(eng, T0, 5)
    stream(eng, T0 + 15, 5)
    eng.feed(alarm("B1", T0 + 20))
    import numpy as np

    x = eng.scorer.windows[0].signals["II"]
    assert np.isnan(x).sum() == pytest.approx(10 * 250, abs=2)


def test_flush_decides_pending_alarms():
    eng = engine(hold_seconds={"asystole": 5.0})
    stream(eng, T0, 20)
    eng.feed(alarm("B1", T0 + 20))
    assert len(decisions(eng.flush())) == 1 and eng.flush() == []


def test_feedback_teaches_scorer_once_and_counts_the_odd_ones():
    eng = engine()
    stream(eng, T0, 20)
    eng.feed(alarm("B1", T0 + 20))
    eng.feed(feedback("B1", T0 + 30, "a1", True))
    eng.feed(feedback("B1", T0 + 31, "a1", True))
    eng.feed(feedback("B1", T0 + 32, "a1", False))
    eng.feed(feedback("B1", T0 + 33, "nope", False))
    assert len(eng.scorer.learned) == 1 and eng.scorer.learned[0][2] is True
    assert eng.stats["feedback_duplicate"] == 1 and eng.stats["feedback_contradictory"] == 1
    assert eng.stats["feedback_unknown_alarm"] == 1


def test_audit_sample_forwards_some_non_lethal_suppressions_only():
    eng = BedEngine("B1", EngineConfig(audit_fraction=1.0), FixedScorer(0.1), HalfPolicy())
    stream(eng, T0, 20)
    out = eng.feed(alarm("B1", T0 + 20, "x1", type="extreme_tachycardia"))
    assert decisions(out)[0].audit_sample and decisions(out)[0].reason_code == "audit_sample"
    assert out[1].kind == "alert" and out[1].audit_sample
    out = eng.feed(alarm("B1", T0 + 20, "x2", type="asystole"))
    assert decisions(out)[0].decision == "suppress"


def test_an_alarms_audit_draw_is_its_own_whatever_was_decided_before_it():
    def sampled(ids, bed="B1"):
        eng = BedEngine(bed, EngineConfig(audit_fraction=0.5, merge_window_seconds=0, threshold_hold_seconds=0.0),
                        FixedScorer(0.1), HalfPolicy())
        for k in range(20):
            eng.feed(waveform(bed, T0 + k))
        out = []
        for i in ids:
            out += eng.feed(alarm(bed, T0 + 20, f"x{i}", type="spo2_low", priority="medium"))
        return {d.alarm_id for d in decisions(out) if d.audit_sample}

    every = sampled(range(40))
    assert 5 < len(every) < 35  # some are, some are not
    assert sampled(range(1, 40, 2)) == {a for a in every if int(a[1:]) % 2}  # without the even ones
    assert sampled(reversed(range(40))) == every  # in the reverse order
    assert sampled(range(40), bed="B2") != every  # another bed draws its own


def test_memory_of_decided_alarms_is_bounded():
    eng = engine(max_tracked_alarms=10)
    stream(eng, T0, 20)
    for i in range(50):
        eng.feed(alarm("B1", T0 + 20, f"id{i}", type="mystery"))
    assert len(eng.alarms) <= 11


def test_waveform_memory_is_bounded():
    eng = engine()
    stream(eng, T0, 200)
    assert eng.waveforms.held_seconds <= eng.config.buffer_seconds


def test_a_bed_past_its_sample_budget_gets_a_dead_letter_and_keeps_what_it_had():
    eng = BedEngine("B1")
    assert eng.feed(waveform("B1", T0, channels=("II", "V", "PLETH"), fs=250.0)) == []
    before = eng.waveforms.end_ts
    for ch, fs in ((("II", "V", "PLETH"), 2000.0), (tuple(f"C{i}" for i in range(16)), 500.0),
                   (tuple(f"C{i}" for i in range(14)), 250.0)):  # 14 new + the 3 held = 17 channels
        out = eng.feed(waveform("B1", T0 + 1, channels=ch, fs=fs))
        assert [o.kind for o in out] == ["deadletter"] and out[0].error.startswith("bed limit"), out
    assert eng.waveforms.end_ts == before and set(eng.waveforms._rings) == {"II", "V", "PLETH"}
    worst = tuple(f"C{i}" for i in range(16))  # the worst accepted shape: 16 channels at 250 Hz
    eng = BedEngine("B2")
    assert eng.feed(waveform("B2", T0, channels=worst, fs=250.0)) == []
    held = sum(r.nbytes for r in eng.waveforms._rings.values())
    assert held <= eng.waveforms.max_bytes <= 1.2e6  # 4000 samples/s x 72 s x float32


def test_event_for_other_bed_is_refused():
    eng = engine()
    assert eng.feed(alarm("B2", T0))[0].kind == "deadletter"
