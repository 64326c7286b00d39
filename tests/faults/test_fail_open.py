"""Faults around a real alarm: each ends in a defined, counted behaviour and never a lost alarm.

The model raising, feature extraction raising or overrunning its wall-time budget, a channel gone
flat or saturated, a late alarm (clock skew between topics), a feedback flood on one alarm.
tests/engine/test_faults.py covers the same faults with a fixed scorer; these run the real scorer
on real records (../shared/data; skipped when absent) and check the counters drivers export.
"""

from __future__ import annotations

import functools
import sys
import time

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

import alarmfilter.engine.learning as scorer_mod
from alarmfilter.cli.engines import shipped_model
from alarmfilter.datasets.challenge import load_record, read_alarms
from alarmfilter.datasets.events import record_events
from alarmfilter.datasets.location import CHALLENGE, find_dataset
from alarmfilter.engine import BedEngine, EngineConfig
from alarmfilter.engine.learning import LearningPolicy, LearningScorer
from alarmfilter.engine.watchdog import EVIDENCE_BUDGET_SECONDS
from alarmfilter.metrics import DriverMetrics
from alarmfilter.model.lifecycle import ModelLifecycle
from alarmfilter.model.loading import ward_model_lifecycle

T_ALARM = 1_764_150_300.0


@functools.cache
def data_dir():
    loc = find_dataset(CHALLENGE)
    return None if loc is None else loc.dataset(CHALLENGE)


@functools.cache
def model():
    m, problem = shipped_model()
    assert m is not None, problem
    return m


def record(name: str):
    d = data_dir()
    if d is None:
        pytest.skip("../shared/data/challenge2015-dev is absent: real-record fault tests skipped")
    return load_record(d / name, until_alarm=False)


def events_of(name: str, bed: str = "B1", signals=None, context_seconds: float = 70.0):
    sig, units, fs, alarm_type, _ = record(name)
    sig = signals or sig
    n_alarm = int(300 * fs)
    evs, alarm = record_events(name, bed, sig, units, fs, alarm_type, T_ALARM, n_alarm, context_seconds)
    return evs, alarm


def engine(m=None, bed: str = "B1", **cfg) -> BedEngine:
    m = m or model()
    cfg.setdefault("audit_fraction", 0.0)
    budget = cfg.pop("budget_seconds", EVIDENCE_BUDGET_SECONDS)
    lc = m if isinstance(m, ModelLifecycle) else ward_model_lifecycle(model=m)
    return BedEngine(bed, EngineConfig(**cfg), LearningScorer(lc, budget_seconds=budget), LearningPolicy(lc))


def run(eng: BedEngine, evs) -> list:
    out = []
    for e in evs:
        out += eng.feed(e)
    return out + eng.flush()


def the_decision(out):
    (d,) = [o for o in out if o.kind == "decision"]
    return d


def fail_open_counted(out, reason_code: str) -> float:
    reg = CollectorRegistry()
    DriverMetrics(registry=reg).observe(out)
    return reg.get_sample_value("alarmfilter_fail_open_total", {"unit": "icu", "reason_code": reason_code}) or 0.0


# -- the model or the extraction fails ----------------------------------------------------------



def raising_model():
    """The shipped model's lifecycle, made to fail the way a corrupt in-memory model would (fault injection)."""
    lc = ward_model_lifecycle(model=model())

    def predict_proba_one(x, alarm_type):
        raise FloatingPointError("corrupt weights")

    lc.predict_proba_one = predict_proba_one
    return lc


def test_model_raising_forwards_the_alarm_with_a_reason_counted_in_metrics():
    evs, _ = events_of("a103l")  # false asystole: the working model suppresses it
    assert the_decision(run(engine(), evs)).decision == "suppress"
    eng = engine(raising_model())
    out = run(eng, evs)
    d = the_decision(out)
    assert (d.decision, d.reason_code) == ("forward", "scorer_error")
    assert "FloatingPointError" in d.reasons[0]
    assert eng.stats["fail_open:scorer_error"] == 1
    assert fail_open_counted(out, "scorer_error") == 1
    assert [o.alarm_id for o in out if o.kind == "alert"] == [d.alarm_id]


def test_feature_extraction_raising_forwards(monkeypatch):
    evs, _ = events_of("a103l")

    def broken(*args, **kwargs):
        raise MemoryError("extraction ran out of memory")

    monkeypatch.setattr(scorer_mod, "extract_evidence", broken)  # fault injection into the real scorer
    eng = engine()
    d = the_decision(run(eng, evs))
    assert (d.decision, d.reason_code) == ("forward", "scorer_error") and "MemoryError" in d.reasons[0]


def test_extraction_over_its_budget_fails_open_without_waiting_for_it():
    evs, _ = events_of("a103l")
    eng = engine(budget_seconds=1e-6)  # the real extraction on a real record takes longer than 1 us
    # the watchdog's wait ends after 1 us, but the waiting thread then needs the GIL back from the
    # extraction thread, which Python hands over only every switch interval (5 ms by default): a
    # ~6-ms extraction could finish first. A short interval makes the test measure the watchdog.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        d = the_decision(run(eng, evs))
    finally:
        sys.setswitchinterval(interval)
    assert (d.decision, d.reason_code) == ("forward", "scorer_error")
    assert "EvidenceTimeout" in d.reasons[0]
    assert eng.scorer.watchdog.stats["evidence_timeouts"] + eng.scorer.watchdog.stats["evidence_busy"] == 1
    assert eng.stats["fail_open:scorer_error"] == 1


def test_a_hung_extraction_bounds_the_wait_and_later_alarms_fail_open_until_it_returns(monkeypatch):
    real = scorer_mod.extract_evidence
    hang_seconds = 2.0

    def slow(*args, **kwargs):
        time.sleep(hang_seconds)  # fault injection: a stuck extraction
        return real(*args, **kwargs)

    evs1, a1 = events_of("a103l", bed="B1")
    evs2, a2 = events_of("a103l", bed="B2")
    lc = ward_model_lifecycle(model=model())
    scorer, policy = LearningScorer(lc, budget_seconds=0.2), LearningPolicy(lc)
    conf = EngineConfig(audit_fraction=0.0)
    b1, b2 = (BedEngine(b, conf, scorer, policy) for b in ("B1", "B2"))
    monkeypatch.setattr(scorer_mod, "extract_evidence", slow)
    for e in evs1[: evs1.index(a1)]:
        b1.feed(e)
    started = time.monotonic()
    d1 = the_decision(b1.feed(a1))
    waited = time.monotonic() - started
    assert waited < 1.0, f"waited {waited:.2f} s for a hung extraction (budget 0.2 s)"
    assert d1.decision == "forward" and "EvidenceTimeout" in d1.reasons[0]
    for e in evs2[: evs2.index(a2)]:
        b2.feed(e)
    started = time.monotonic()
    d2 = the_decision(b2.feed(a2))  # the first extraction still runs: no queueing behind it
    assert time.monotonic() - started < 0.5 and d2.decision == "forward"
    assert scorer.watchdog.stats == {"evidence_timeouts": 1, "evidence_busy": 1}
    monkeypatch.setattr(scorer_mod, "extract_evidence", real)
    time.sleep(hang_seconds)  # the hung one returns; scoring resumes
    evs3, _ = events_of("a103l", bed="B3")
    d3 = the_decision(run(BedEngine("B3", conf, scorer, policy), evs3))
    assert d3.reason_code != "scorer_error", d3.reasons


# -- a channel goes flat or saturated on real records -------------------------------------------

LETHAL = ("asystole", "ventricular_tachycardia", "ventricular_flutter_fib")


def true_lethal_records(n: int) -> list[str]:
    d = data_dir()
    if d is None:
        pytest.skip("../shared/data/challenge2015-dev is absent: real-record fault tests skipped")
    alarms = read_alarms(d)
    by_type = {t: [r for r, (at, lab) in sorted(alarms.items()) if at == t and lab] for t in LETHAL}
    return [r for t in LETHAL for r in by_type[t][:n]]


@functools.cache
def channel_faults():
    """(record, alarm type, channel, fault, decision with the fault, decision without) on true lethal alarms."""
    rows = []
    for name in true_lethal_records(2):
        sig, _, _, alarm_type, _ = record(name)
        base = the_decision(run(engine(), events_of(name)[0]))
        for ch in sig:
            for how, value in (("flat", 0.0), ("saturated", float(np.nanmax(np.abs(sig[ch]))) or 5.0)):
                bad = {**sig, ch: np.full_like(sig[ch], value)}
                rows.append((name, alarm_type, ch, how, the_decision(run(engine(), events_of(name, signals=bad)[0])), base))
    return rows


@pytest.mark.slow
def test_flat_or_saturated_channel_on_true_lethal_alarms_is_decided_once_and_never_errors():
    for name, _, ch, how, d, _ in channel_faults():
        assert d.reason_code != "scorer_error", (name, ch, how, d.reasons)
        assert d.reasons and d.decision in ("forward", "suppress")


@pytest.mark.slow
def test_a_dead_channel_never_turns_a_forwarded_true_lethal_alarm_into_a_suppression():
    flips = [(n, t, ch, how) for n, t, ch, how, d, base in channel_faults()
             if base.decision == "forward" and d.decision == "suppress"]
    assert flips == [], f"true lethal alarms suppressed after a channel fault: {flips}"


# -- the waveform stalls while an alarm is pending; clock skew between topics --------------------

def test_waveform_stalls_while_a_held_alarm_is_pending_decided_at_the_ceiling_in_event_time():
    evs, alarm = events_of("a103l")
    eng = engine(hold_seconds={"asystole": 6.0})
    before = [e for e in evs if e.ts < alarm.ts]
    for e in before:
        eng.feed(e)
    assert eng.feed(alarm) == [] and eng.pending == 1
    assert eng.tick(alarm.ts + 6.9) == []  # due at +6 s, 1 s grace for a lagging chunk
    d = the_decision(eng.tick(alarm.ts + 7.0))
    assert d.decided_ts <= alarm.ts + 10.0 and eng.pending == 0


@pytest.mark.parametrize("late_seconds, scored", [(20.0, True), (120.0, False)])
def test_alarm_topic_behind_the_waveform_topic(late_seconds, scored):
    """The alarm arrives after the waveform has run on: scored from the data before it while the
    buffer still holds that, else forwarded with the reason; decided once either way."""
    from tests.helpers import waveform

    evs, alarm = events_of("a103l")  # the record runs 30 s past the alarm; the monitor streams on
    end = max(e.ts + e.duration_seconds for e in evs if e.kind == "waveform")
    evs += [waveform("B1", end + k, channels=("II", "V", "PLETH")) for k in range(int(late_seconds))]
    eng = engine()
    out = []
    for e in [e for e in evs if e.kind != "alarm" and e.ts < alarm.ts + late_seconds]:
        out += eng.feed(e)
    out += eng.feed(alarm) + eng.flush()
    d = the_decision(out)
    if scored:
        assert d.reason_code in ("evidence_supports", "evidence_against", "safety_floor"), d.reasons
    else:
        assert d.decision == "forward" and d.reason_code in ("warming_up", "no_signal", "stale_signal"), d.reasons
        assert fail_open_counted(out, d.reason_code) == 1


# -- forged feedback: a flood of labels on one alarm teaches the model once ----------------------

def test_feedback_flood_on_one_alarm_teaches_once():
    from alarmfilter.engine.factory import engine_factory
    from tests.helpers import feedback

    lc = ward_model_lifecycle(b"k" * 32)
    eng = engine_factory(EngineConfig(audit_fraction=0.0), lc, learning=True)("B1")
    evs, alarm = events_of("a103l")
    run(eng, evs)
    v0 = lc.version
    for i in range(5000):
        eng.feed(feedback("B1", alarm.ts + 30 + i * 0.001, alarm.alarm_id, bool(i % 2)))
    assert eng.stats["feedback_learned"] == 1
    assert eng.stats["feedback_duplicate"] + eng.stats["feedback_contradictory"] == 4999
    assert lc.n_learned <= 1 and lc.version != "" and v0 != ""
