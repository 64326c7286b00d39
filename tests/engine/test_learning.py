"""Learning from feedback through the engine: labels, audit samples, technical faults, re-raises."""

from __future__ import annotations

import pytest

from alarmfilter.engine import BedEngine, EngineConfig
from alarmfilter.engine.factory import engine_factory
from alarmfilter.engine.learning import LearningPolicy, LearningScorer
from alarmfilter.engine.scoring import Assessment
from alarmfilter.events import Alarm, Decision, ReasonCode
from alarmfilter.events.types import AlarmType
from alarmfilter.model.lifecycle import SnapshotStore
from alarmfilter.model.loading import ward_model_lifecycle
from alarmfilter.replay import Ward
from tests.helpers import T0, feedback, vitals

BED = "B1"


def alarm(ts, alarm_id, type="spo2_low", priority="medium", channel=None):
    return Alarm(schema_version=1, kind="alarm", bed=BED, ts=ts, alarm_id=alarm_id, type=type, priority=priority,
                 channel=channel)


def numerics(eng, start, n=60, *, artefact=False, kind="spo2_low"):
    """n s of 1 Hz numerics ending at start + n - 1: a real event or a one-step artefact."""
    for k in range(n):
        late = k >= n - 2
        hr, pulse, spo2 = 80.0, 80.0, 97.0
        if kind == "spo2_low":
            if artefact:
                spo2, pulse = (84.0, 45.0) if late else (97.0, 80.0)  # not beyond the critical bound (80 %)
            else:
                spo2 = 97.0 - min(1.0, max(0.0, (k - (n - 45)) / 35)) * 12
        else:  # hr_high
            hr = (150.0 if late else 80.0) if artefact else 80.0 + min(1.0, max(0.0, (k - (n - 45)) / 35)) * 50
            pulse = 80.0 if artefact else hr
        eng.feed(vitals(BED, start + k, hr_bpm=hr, pulse_bpm=pulse, spo2_pct=spo2))
    return start + n - 1


def make(**cfg):
    lc = ward_model_lifecycle()
    cfg.setdefault("audit_fraction", 0.0)
    cfg.setdefault("threshold_hold_seconds", 0.0)  # decided at the alarm: these tests are about learning
    return BedEngine(BED, EngineConfig(**cfg), LearningScorer(lc), LearningPolicy(lc)), lc


def decision(out, alarm_id):
    return next(o for o in out if o.kind == "decision" and o.alarm_id == alarm_id)


def teach(eng, t, n_pairs, kind="spo2_low"):
    """Pairs of (real, artefact) alarms each labelled by a clinician; returns the next free time."""
    for i in range(n_pairs):
        for artefact in (False, True):
            ts = numerics(eng, t, artefact=artefact, kind=kind)
            aid = f"teach-{kind}-{i}-{artefact}"
            eng.feed(alarm(ts, aid, kind))
            eng.feed(feedback(BED, ts + 30, aid, not artefact))
            t = ts + 61 + 100  # beyond the merge window
    return t


def test_threshold_alarm_decided_from_numerics_without_waveforms_and_versioned():
    eng, lc = make()
    ts = numerics(eng, T0, artefact=True)
    out = eng.feed(alarm(ts, "a1"))
    d = decision(out, "a1")
    assert d.decision == Decision.FORWARD and d.model_version == lc.version  # safe prior: forward
    assert any(o.kind == "alert" for o in out)


def test_feedback_teaches_the_bed_artefact_and_versions_move():
    eng, lc = make()
    v0 = lc.version
    t = teach(eng, T0, 25)
    assert lc.version == f"{v0}+50" and eng.stats["feedback_learned"] == 50
    assert eng.stats["forwarded_labelled_true"] == 25
    ts = numerics(eng, t, artefact=True)
    art = decision(eng.feed(alarm(ts, "art")), "art")
    ts = numerics(eng, ts + 200)
    real = decision(eng.feed(alarm(ts, "real")), "real")
    assert art.decision == Decision.SUPPRESS and art.reason_code == ReasonCode.EVIDENCE_AGAINST
    assert real.decision == Decision.FORWARD
    assert art.model_version == real.model_version == lc.version
    assert art.score < real.score


def test_audit_sample_feedback_is_counted_and_weighted_by_its_propensity():
    eng, lc = make(audit_fraction=1.0)  # every would-be suppression becomes an audit sample
    t = teach(eng, T0, 25)
    ts = numerics(eng, t, artefact=True)
    out = eng.feed(alarm(ts, "aud"))
    d = decision(out, "aud")
    assert d.audit_sample and d.reason_code == ReasonCode.AUDIT_SAMPLE and d.decision == Decision.FORWARD
    assert eng.stats["audit_population"] == eng.stats["audit_samples"] >= 1
    recorded = []
    real_record = lc.guard.record
    lc.guard.record = lambda t, **kw: recorded.append(kw) or real_record(t, **kw)
    eng.feed(feedback(BED, ts + 30, "aud", True))
    assert eng.stats["audit_labelled_true"] == 1
    assert recorded[-1]["weight"] == pytest.approx(1.0) and not recorded[-1]["learned_forwards"]


def test_technical_fault_on_the_source_sensor_is_evidence_and_reaches_the_technical_output():
    eng, _ = make()
    ts = numerics(eng, T0, artefact=True)
    tech = eng.feed(alarm(ts - 5, "t1", type="spo2_probe_off", priority="technical"))
    assert [o.kind for o in tech] == ["decision", "technical"]
    d = decision(eng.feed(alarm(ts, "a1")), "a1")
    assert eng.alarms["a1"].features["fault_on_source"] == 1.0
    assert d.decision == Decision.SUPPRESS  # the physiological prior: a probe-off alarm makes the SpO2 suspect
    assert any("spo2_probe_off" in r for r in d.reasons)  # and the reason names the fault
    # a fault on another sensor, or an old one, does not count
    ts2 = numerics(eng, ts + 200)
    eng.feed(alarm(ts2 - 1, "t2", type="leads_off", priority="technical"))
    eng.feed(alarm(ts2, "a2"))
    assert eng.alarms["a2"].features["fault_on_source"] == 0.0
    ts3 = numerics(eng, ts2 + 200)
    eng.feed(alarm(ts3, "a3"))
    assert eng.alarms["a3"].features["fault_on_source"] == 0.0  # probe fault from > 60 s ago
    assert eng.stats["fault_on_source"] == 1


def test_the_model_learns_what_a_fault_on_the_source_means():
    eng, lc = make()
    t = T0
    for i in range(25):  # artefacts come with a probe-off alarm, real events without
        for artefact in (False, True):
            ts = numerics(eng, t, artefact=artefact)
            if artefact:
                eng.feed(alarm(ts - 3, f"t{i}", type="spo2_probe_off", priority="technical"))
            eng.feed(alarm(ts, f"a{i}{artefact}"))
            eng.feed(feedback(BED, ts + 30, f"a{i}{artefact}", not artefact))
            t = ts + 161
    w = lc.learned.numerics.types["spo2_low"].logreg.weights
    assert w["fault_on_source"] < 0  # a fault on the probe speaks against the alarm


def test_reraised_alarm_is_merged_into_the_forwarded_one_but_lethal_ones_are_not():
    eng, _ = make()
    ts = numerics(eng, T0, kind="hr_high")
    first = eng.feed(alarm(ts, "h1", type="hr_high"))
    assert decision(first, "h1").decision == Decision.FORWARD
    eng.feed(vitals(BED, ts + 20, hr_bpm=131.0, pulse_bpm=130.0))
    again = eng.feed(alarm(ts + 20, "h2", type="hr_high"))
    assert [o.kind for o in again] == ["decision"]
    d = again[0]
    assert d.reason_code == ReasonCode.MERGED and d.decision == Decision.SUPPRESS and "h1" in d.reasons[0]
    assert eng.stats["merged"] == 1
    eng.feed(vitals(BED, ts + 75, hr_bpm=131.0, pulse_bpm=130.0))
    later = eng.feed(alarm(ts + 75, "h3", type="hr_high"))
    assert decision(later, "h3").reason_code != ReasonCode.MERGED  # outside the window: decided afresh
    assert eng.alarms["h3"].features["reraise_count"] >= 1
    for k, aid in enumerate(("v1", "v2")):  # lethal: every VT is decided on its own
        out = eng.feed(alarm(ts + 100 + k, aid, type="ventricular_tachycardia", priority="high"))
        out += eng.flush()
        assert decision(out, aid).reason_code != ReasonCode.MERGED


def test_feedback_edge_cases_still_counted_with_the_learning_scorer():
    eng, lc = make()
    ts = numerics(eng, T0)
    eng.feed(alarm(ts, "a1"))
    eng.feed(feedback(BED, ts + 1, "a1", True))
    eng.feed(feedback(BED, ts + 2, "a1", True))
    eng.feed(feedback(BED, ts + 3, "a1", False))
    eng.feed(feedback(BED, ts + 4, "nope", False))
    assert eng.stats["feedback_duplicate"] == 1 and eng.stats["feedback_contradictory"] == 1
    assert eng.stats["feedback_unknown_alarm"] == 1 and lc.n_learned == 1


def test_arrhythmia_scores_take_a_fault_on_the_source_lead_into_account_once_learned():
    from tests.helpers import waveform

    eng, lc = make()
    t = T0
    scores = []
    for i in range(12):
        for k in range(20):
            eng.feed(waveform(BED, t + k))
        t += 20
        eng.feed(alarm(t - 2, f"lo{i}", type="leads_off", priority="technical"))
        out = eng.feed(alarm(t, f"as{i}", type="asystole", priority="high")) + eng.flush()
        d = decision(out, f"as{i}")
        assert any("leads_off" in r for r in d.reasons), d.reasons  # the fault is shown, whatever the decision
        if d.decision == Decision.SUPPRESS:  # the safety floor names the lead that vouched
            assert d.reasons[0].startswith("lead ") and "QRS" in d.reasons[0], d.reasons
        scores.append(d.score)
        eng.feed(feedback(BED, t + 5, f"as{i}", False))
        t += 100  # a gap: the next stretch of waveform starts afresh
    assert eng.alarms["as0"].features["fault_on_source"] == 1.0
    assert lc.learned.context.weights["asystole"]["fault_on_source"] < 0
    x = dict(eng.alarms["as11"].features)
    with_fault = lc.predict_proba_one(x, "asystole")[True]
    without = lc.predict_proba_one({**x, "fault_on_source": 0.0}, "asystole")[True]
    assert with_fault < without  # the same signals, scored lower once leads-off is known to mislead
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_a_configured_hold_waits_for_numerics_and_sees_whether_the_value_stayed():
    eng, _ = make(hold_seconds={"spo2_low": 10.0})
    ts = numerics(eng, T0, artefact=True)
    assert eng.feed(alarm(ts, "a1")) == []  # held: numerics after the alarm are still to come
    out = []
    for k in range(1, 11):
        out += eng.feed(vitals(BED, ts + k, hr_bpm=80.0, pulse_bpm=80.0, spo2_pct=97.0 if k > 2 else 84.0))
        if k < 10:
            assert not out
    d = decision(out, "a1")
    assert d.decided_ts == ts + 10
    assert eng.alarms["a1"].features["num_post_beyond_frac"] == pytest.approx(0.2)


def test_a_restarted_ward_resumes_from_its_signed_snapshot_and_decides_alike(tmp_path):
    key = b"ward-snapshot-key-0123456789"
    cfg = EngineConfig(audit_fraction=0.0, threshold_hold_seconds=0.0)
    lc = ward_model_lifecycle(key)
    ward = Ward(engine_factory(cfg, lc, learning=True))
    eng = ward.engine(BED)
    t = teach(eng, T0, 25)
    store = SnapshotStore(tmp_path / "models")
    assert store.maybe_save(lc, now_ts=t) is not None and store.maybe_save(lc, now_ts=t + 1) is None

    restarted_lc = ward_model_lifecycle(key)
    assert restarted_lc.version != lc.version  # a fresh process starts from the prior...
    found, errors = store.restore_latest(restarted_lc)
    assert found is not None and not errors and restarted_lc.version == lc.version  # ...and resumes
    restarted = Ward(engine_factory(cfg, restarted_lc, learning=True))
    outs = []
    for w in (ward, restarted):
        e = w.engine(BED)
        ts = numerics(e, t + 500, artefact=True)
        outs.append(decision(e.feed(alarm(ts, "after")), "after"))
    assert outs[0].decision == outs[1].decision == Decision.SUPPRESS
    assert outs[0].score == pytest.approx(outs[1].score) and outs[0].model_version == outs[1].model_version


def test_learning_may_not_lower_a_lethal_alarms_bar_below_the_shipped_prior() -> None:
    """A VT the floor lets the model judge, and the prior forwards, stays forwarded however a ward labels.

    The ward calls every such VT a false alarm until the learned model scores this one under its
    threshold; the prior still forwards it, so the verdict is forward and says why.
    """
    lc = ward_model_lifecycle()
    policy = LearningPolicy(lc)
    vt = AlarmType("ventricular_tachycardia")
    x = {"floor_ecg_usual_gap_s": 1.2, "vt_usual_gap_min_s": 3.0, "vt_pulse_during_disturbance": 1.0,
         "vt_stretch_regularity_max": 0.95}
    assert lc.prior_forwards(x, vt.value)
    for _ in range(400):
        lc.learn_one(x, False, vt.value)
    p = lc.predict_proba_one(x, vt.value)[True]
    assert p < lc.thresholds[vt.value] and not lc.fallen_back
    v = policy.decide(vt, Assessment(p, x, {}, lc.version))
    assert v.decision == Decision.FORWARD and "shipped prior forwards it" in v.reasons[0], v.reasons
