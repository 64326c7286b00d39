"""The physiological prior for threshold alarms, through the real engine: critical values forward at
once, severe ones before the hold ends, suppression only for a violation that resolved or that the
signals show to be artefact, each with a reason a nurse can read; learning never lowers the
critical-bound rule."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from alarmfilter.engine import EngineConfig
from alarmfilter.engine.factory import engine_factory
from alarmfilter.events import Alarm, Decision, ReasonCode, Waveform
from alarmfilter.model.loading import ward_model_lifecycle
from alarmfilter.model.numerics_model import DEFAULT_THRESHOLD
from tests.helpers import T0, feedback, vitals
from tests.signals.synth import FS, beat_times, ecg, pulse

BED = "B1"
ALARM = T0 + 60.0


def make(**cfg):
    cfg.setdefault("audit_fraction", 0.0)
    lc = ward_model_lifecycle(b"threshold-prior-test-key")
    return engine_factory(EngineConfig(**cfg), lc, learning=True, budget_seconds=None)(BED), lc


def waves(eng, start: float, seconds: int, *, hr: float = 80.0, pleth_noise: bool = False, ecg_noise: bool = False,
          abp: str | None = None, ecg_hr: float | None = None, seed: int = 0) -> None:
    """1-s chunks of II, PLETH (and ABP): clean, or with the pleth / ECG turned to noise, or a flushed line."""
    rng = np.random.default_rng(seed)
    beats = beat_times(seconds + 1.0, hr)
    sig = {"II": ecg(seconds, beat_times(seconds + 1.0, ecg_hr or hr)), "PLETH": pulse(seconds, beats, base=0.0, amp=1.0)}
    if pleth_noise:
        sig["PLETH"] = rng.standard_normal(sig["PLETH"].size)
    if ecg_noise:
        sig["II"] = sig["II"] + 2.0 * rng.standard_normal(sig["II"].size)
    if abp == "pulsatile":
        sig["ABP"] = pulse(seconds, beats, base=110.0, amp=90.0)
    elif abp == "flush":  # a flat trace: the transducer sees the flush bag, not the artery
        sig["ABP"] = 180.0 + 0.5 * rng.standard_normal(sig["II"].size)
    n = int(FS)
    for k in range(seconds):
        eng.feed(Waveform(schema_version=1, kind="waveform", bed=BED, ts=start + k, fs_hz=FS,
                          signals={c: x[k * n:(k + 1) * n].tolist() for c, x in sig.items()},
                          units={"II": "mV", "PLETH": "NU", "ABP": "mmHg"}))


def run(eng, alarm_type: str, values: Callable[[float], dict[str, float]], *, until: float = 20.0,
        wave: dict | None = None) -> list:
    """Numerics from T0 to the alarm + `until`, waveforms (if asked) for the 12 s before the alarm."""
    if wave is not None:  # waveform and numerics are separate streams: the waveform may come first
        waves(eng, ALARM - 12, 12, **wave)
    out = []
    for k in range(int(ALARM - T0 + until) + 1):
        ts = T0 + k
        out += eng.feed(vitals(BED, ts, **values(ts - ALARM)))
        if ts == ALARM:
            out += eng.feed(Alarm(schema_version=1, kind="alarm", bed=BED, ts=ALARM, alarm_id="a1",
                                  type=alarm_type, priority="medium"))
    return [o for o in out if o.kind == "decision" and o.alarm_id == "a1"]


def only(decisions: list):
    assert len(decisions) == 1
    return decisions[0]


def spo2(level: Callable[[float], float]) -> Callable[[float], dict[str, float]]:
    return lambda dt: {"hr_bpm": 80.0, "pulse_bpm": 80.0, "spo2_pct": level(dt)}


def test_a_dip_that_recovers_within_the_hold_is_suppressed_with_a_reason_a_nurse_can_read():
    eng, _ = make()
    d = only(run(eng, "spo2_low", spo2(lambda dt: 88.0 if -2 <= dt <= 3 else 96.0), wave={}))
    assert d.decision == Decision.SUPPRESS and d.decided_ts == ALARM + 10
    assert d.reasons[0] == ("SpO2 dipped to 88 % for 6 s and recovered (96 % 10 s after the alarm); "
                            "PPG pulses unchanged")


def test_the_same_dip_still_there_when_the_hold_ends_is_forwarded_then():
    eng, _ = make()
    d = only(run(eng, "spo2_low", spo2(lambda dt: 88.0 if dt >= -2 else 96.0), wave={}))
    assert d.decision == Decision.FORWARD and d.decided_ts == ALARM + 10
    assert d.reasons[0] == "SpO2 88 % still below 90 % 10 s after the alarm: forwarded"


def test_a_value_beyond_the_critical_bound_is_forwarded_at_the_alarm():
    eng, _ = make()
    d = only(run(eng, "spo2_low", spo2(lambda dt: 76.0 if dt >= -2 else 96.0)))
    assert d.decision == Decision.FORWARD and d.decided_ts == ALARM
    assert d.reason_code == ReasonCode.CRITICAL_BOUND
    assert d.reasons == ["SpO2 76 % at the alarm is below the critical bound 80 %: forwarded at once"]


def test_a_value_that_turns_critical_during_the_hold_is_forwarded_that_second():
    eng, _ = make()
    hr = lambda dt: {"hr_bpm": 30.0 if dt >= 4 else (45.0 if dt >= -1 else 70.0), "pulse_bpm": 70.0}
    d = only(run(eng, "hr_low", hr))
    assert d.decision == Decision.FORWARD and d.decided_ts == ALARM + 4
    assert d.reasons == ["HR 30 bpm 4 s after the alarm is below the critical bound 35 bpm: forwarded at once"]


def test_a_deep_lasting_violation_is_forwarded_before_the_hold_ends():
    eng, _ = make()
    d = only(run(eng, "spo2_low", spo2(lambda dt: 83.0 if dt >= -2 else 96.0), wave={}))
    # depth 0.7 of the way to the critical bound: the 2-s budget is spent in 3 s
    assert d.decision == Decision.FORWARD and d.decided_ts == ALARM + 3
    assert "too deep for too long" in d.reasons[0] and "SpO2 83 %" in d.reasons[0]


def test_a_desaturation_while_the_pleth_lost_its_pulses_is_held_as_artefact():
    eng, _ = make()
    d = only(run(eng, "spo2_low", spo2(lambda dt: 83.0 if dt >= -2 else 96.0), wave={"pleth_noise": True}))
    assert d.decision == Decision.SUPPRESS and d.decided_ts == ALARM + 10
    assert d.reasons[0].startswith("SpO2 83 % at the alarm, but the pleth lost its pulses (pulse-likeness 0.")
    eng, _ = make()  # the same with the pleth lost but the value critical: forwarded at once all the same
    d = only(run(eng, "spo2_low", spo2(lambda dt: 75.0 if dt >= -2 else 96.0), wave={"pleth_noise": True}))
    assert d.decision == Decision.FORWARD and d.decided_ts == ALARM and d.reason_code == ReasonCode.CRITICAL_BOUND


def test_an_ecg_heart_rate_the_pulse_oximeter_and_arterial_line_contradict_is_a_counting_error():
    counted = lambda dt: {"hr_bpm": 150.0 if dt >= -2 else 80.0, "pulse_bpm": 80.0}
    eng, _ = make()
    d = only(run(eng, "hr_high", counted, wave={"ecg_noise": True, "abp": "pulsatile"}))
    assert d.decision == Decision.SUPPRESS
    assert "HR 150 bpm on the ECG contradicted by the pulse oximeter (80 bpm, clean pleth) and the arterial " \
           "line (80 bpm); the ECG is noise" in d.reasons[0]
    eng, _ = make()  # a clean ECG that itself runs at 150 (a pulse deficit): the pulse does not overrule it
    d = only(run(eng, "hr_high", counted, wave={"abp": "pulsatile", "ecg_hr": 150.0}))
    assert d.decision == Decision.FORWARD


def test_an_arterial_flush_is_not_blood_pressure_unless_the_number_is_critical():
    def high(sys_: float) -> Callable[[float], dict[str, float]]:
        return lambda dt: {"abp_sys_mmhg": sys_ if dt >= -2 else 120.0, "abp_dia_mmhg": sys_ - 5 if dt >= -2 else 65.0,
                           "abp_mean_mmhg": sys_ - 3 if dt >= -2 else 83.0}

    eng, _ = make()
    d = only(run(eng, "abp_high", high(182.0), wave={"abp": "flush"}))
    assert d.decision == Decision.SUPPRESS and "flush or zeroing" in d.reasons[0]
    eng, _ = make()  # the same numbers over a pulsing arterial trace: forwarded
    d = only(run(eng, "abp_high", high(182.0), wave={"abp": "pulsatile"}))
    assert d.decision == Decision.FORWARD
    eng, _ = make()  # a flush reading 300 mmHg is beyond the critical bound: forwarded at once all the same
    d = only(run(eng, "abp_high", high(300.0), wave={"abp": "flush"}))
    assert d.decision == Decision.FORWARD and d.reason_code == ReasonCode.CRITICAL_BOUND


def test_apnea_is_never_held_and_always_forwarded():
    eng, _ = make()
    d = only(run(eng, "apnea", lambda dt: {"rr_per_min": 0.0 if dt >= -20 else 14.0}))
    assert d.decision == Decision.FORWARD and d.decided_ts == ALARM and d.reason_code == ReasonCode.CRITICAL_BOUND


def test_a_forwarded_alarm_never_claims_a_value_within_its_limit_is_beyond_it():
    eng, _ = make()
    d = only(run(eng, "hr_high", lambda dt: {"hr_bpm": 102.0, "pulse_bpm": 101.0}))
    assert d.decision == Decision.FORWARD
    assert d.reasons == [("HR 102 bpm at the alarm is within the assumed limit 120 bpm; the unit's own limit is "
                         "unknown: forwarded")]
    assert not any("beyond" in r or "above" in r for r in d.reasons)


def test_a_unit_sets_its_own_limits_and_critical_bounds_and_they_must_make_sense():
    eng, _ = make(threshold_limits={"spo2_low": 85.0}, critical_bounds={"spo2_low": 75.0})
    d = only(run(eng, "spo2_low", spo2(lambda dt: 78.0 if dt >= -2 else 96.0)))
    assert d.reason_code != ReasonCode.CRITICAL_BOUND  # 78 % is not critical for this unit
    with pytest.raises(ValueError, match="critical bound of spo2_low"):
        EngineConfig(critical_bounds={"spo2_low": 95.0})
    with pytest.raises(ValueError, match="not threshold alarm types"):
        EngineConfig(critical_bounds={"asystole": 1.0})


def _teach(eng, n_pairs: int, t: float) -> float:
    """Clinicians call every step drop to 75 % (critical) false and every slow fall to 86 % true."""
    for i in range(n_pairs):
        for critical in (True, False):
            for k in range(40):
                dt = k - 39
                level = (75.0 if dt >= -1 else 97.0) if critical else max(86.0, 97.0 + dt * 0.4)
                eng.feed(vitals(BED, t + k, hr_bpm=80.0, pulse_bpm=80.0, spo2_pct=level))
            ts = t + 39
            aid = f"teach-{i}-{critical}"
            eng.feed(Alarm(schema_version=1, kind="alarm", bed=BED, ts=ts, alarm_id=aid, type="spo2_low",
                           priority="medium"))
            eng.feed(feedback(BED, ts + 5, aid, not critical))
            t = ts + 200
    return t


def test_learning_from_labels_never_lowers_the_critical_bound_rule():
    eng, lc = make(threshold_hold_seconds=0.0)
    t = _teach(eng, 25, T0)
    assert lc.learned.numerics.ready("spo2_low") and lc.n_learned == 50
    for k in range(40):
        eng.feed(vitals(BED, t + k, hr_bpm=80.0, pulse_bpm=80.0, spo2_pct=75.0 if k >= 38 else 97.0))
    out = eng.feed(Alarm(schema_version=1, kind="alarm", bed=BED, ts=t + 39, alarm_id="after", type="spo2_low",
                         priority="medium"))
    d = next(o for o in out if o.kind == "decision")
    assert d.decision == Decision.FORWARD and d.reason_code == ReasonCode.CRITICAL_BOUND
    # what was learned says "false": without the rule the learned model would suppress it
    x = {**eng.alarms["after"].features, "thr_critical": 0.0}
    assert lc.predict_proba_one(x, "spo2_low")[True] < DEFAULT_THRESHOLD
    # and the most hostile update imaginable does not change the decision either
    tm = lc.learned.numerics.types["spo2_low"]
    tm.logreg.intercept = -50.0
    eng.feed(vitals(BED, t + 300, hr_bpm=80.0, pulse_bpm=80.0, spo2_pct=74.0))
    out = eng.feed(Alarm(schema_version=1, kind="alarm", bed=BED, ts=t + 300, alarm_id="hostile", type="spo2_low",
                         priority="medium"))
    assert next(o for o in out if o.kind == "decision").decision == Decision.FORWARD
