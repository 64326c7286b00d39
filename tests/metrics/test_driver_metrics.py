"""DriverMetrics on a private registry: counts, labels, estimates, engine stats, export."""

from __future__ import annotations

import subprocess
import urllib.request
from collections import Counter

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from alarmfilter.events import DecisionRecord
from alarmfilter.metrics import METRICS, DeadLetterReason, DriverMetrics
from alarmfilter.metrics.driver import MAX_BEDS
from alarmfilter.replay import Ward
from tests.helpers import T0, alarm, feedback, line
from tests.metrics.promserver import PROMTOOL

FORBIDDEN_LABELS = {"patient", "patient_id", "mrn", "alarm_id", "name"}


def decision(alarm_id: str, decision: str = "forward", type: str = "hr_high", priority: str = "medium",
             reason: str = "evidence_supports", audit: bool = False, bed: str = "ICU1-01",
             hold: float = 0.0) -> DecisionRecord:
    return DecisionRecord(alarm_id=alarm_id, bed=bed, type=type, priority=priority, alarm_ts=T0, decision=decision,
                          score=0.5, reason_code=reason, reasons=["test"], decided_ts=T0 + hold,
                          model_version="prior-abc+3", audit_sample=audit)


@pytest.fixture
def reg() -> CollectorRegistry:
    return CollectorRegistry()


def value(reg: CollectorRegistry, name: str, **labels: str) -> float:
    v = reg.get_sample_value(name, labels)
    return 0.0 if v is None else v


def test_counts_by_type_priority_decision_and_reason(reg: CollectorRegistry) -> None:
    m = DriverMetrics(unit="ICU2", registry=reg)
    m.observe([
        decision("a", "forward"), decision("b", "suppress", reason="evidence_against", hold=3.0),
        decision("c", "forward", reason="audit_sample", audit=True),
        decision("d", "forward", type="asystole", priority="high", reason="no_signal"),
        decision("e", "forward", type="Something New!", reason="unknown_type"),
    ], wall_now=T0 + 0.2)
    base = {"unit": "ICU2", "alarm_type": "hr_high", "priority": "medium"}
    assert value(reg, "alarmfilter_alarms_total", **base, decision="forward") == 2
    assert value(reg, "alarmfilter_alarms_total", **base, decision="suppress") == 1
    assert value(reg, "alarmfilter_alarms_audit_sampled_total", **base) == 1
    assert value(reg, "alarmfilter_alarms_total", unit="ICU2", alarm_type="unknown", priority="medium",
                 decision="forward") == 1
    assert value(reg, "alarmfilter_decision_reasons_total", unit="ICU2", alarm_type="hr_high", decision="suppress",
                 reason_code="evidence_against") == 1
    assert value(reg, "alarmfilter_fail_open_total", unit="ICU2", reason_code="no_signal") == 1
    assert value(reg, "alarmfilter_fail_open_total", unit="ICU2", reason_code="unknown_type") == 1
    assert value(reg, "alarmfilter_decision_latency_seconds_count", unit="ICU2", priority="medium",
                 decision="forward") == 3
    assert value(reg, "alarmfilter_decision_hold_seconds_sum", unit="ICU2", priority="medium",
                 decision="suppress") == 3.0
    assert value(reg, "alarmfilter_model_info", unit="ICU2", model_version="prior-abc") == 1
    # zero series exist for every known type, so a first alarm shows in rate()
    assert reg.get_sample_value("alarmfilter_alarms_total", {"unit": "ICU2", "alarm_type": "apnea",
                                                              "priority": "low", "decision": "suppress"}) == 0


def test_latency_only_where_meaningful(reg: CollectorRegistry) -> None:
    m = DriverMetrics(registry=reg)
    m.observe([decision("a")], wall_now=T0 + 86_400 * 365)  # a replay of last year's data
    m.observe([decision("b")], wall_now=None)
    m.observe([decision("c")], wall_now=T0 - 1.0)  # small clock skew: counted as 0 s
    assert value(reg, "alarmfilter_decision_latency_seconds_count", unit="icu", priority="medium",
                 decision="forward") == 1
    assert value(reg, "alarmfilter_decision_latency_seconds_sum", unit="icu", priority="medium",
                 decision="forward") == 0.0


def test_dead_letters_classified_from_real_codec_errors(reg: CollectorRegistry) -> None:
    m = DriverMetrics(registry=reg)
    ward = Ward()
    bad = ["{nope", '{"schema_version": 3, "kind": "alarm"}', "[]", '{"schema_version": 1, "kind": "alarm"}',
           "x" * (3 * 1024 * 1024), None, b'{"bed": "\xff"}', "[" * 5000]
    for raw in bad:
        m.observe(ward.feed_raw(raw))
    got = {r.value: value(reg, "alarmfilter_dead_letters_total", unit="icu", reason=r.value) for r in DeadLetterReason}
    assert got == {**dict.fromkeys(got, 0.0), "malformed_json": 1, "schema_version": 1, "not_an_object": 1,
                   "invalid_event": 1, "too_large": 1, "null_value": 1, "not_utf8": 1, "too_deep": 1}


def test_feedback_joins_the_decision_of_its_own_bed(reg: CollectorRegistry) -> None:
    m = DriverMetrics(registry=reg)
    m.observe([decision("same-id", "forward", bed="ICU1-01"), decision("same-id", "suppress", bed="ICU1-02")])
    m.observe_feedback([feedback("ICU1-02", T0 + 60, "same-id", False)])
    lab = {"unit": "icu", "alarm_type": "hr_high", "priority": "medium", "audit_sample": "false", "actionable": "false"}
    assert value(reg, "alarmfilter_feedback_total", **lab, decision="suppress") == 1
    assert value(reg, "alarmfilter_feedback_total", **lab, decision="forward") == 0


def test_feedback_joined_with_decisions_and_estimates(reg: CollectorRegistry) -> None:
    m = DriverMetrics(registry=reg)
    outs = [decision(f"f{i}") for i in range(10)] + [decision(f"s{i}", "suppress") for i in range(18)]
    outs += [decision(f"a{i}", reason="audit_sample", audit=True) for i in range(2)]
    m.observe(outs)
    fbs = [feedback("ICU1-01", T0 + 60, f"f{i}", actionable=i < 4) for i in range(10)]
    fbs += [feedback("ICU1-01", T0 + 60, "a0", True), feedback("ICU1-01", T0 + 60, "a1", False),
            feedback("ICU1-01", T0 + 60, "never-seen", True)]
    m.observe_feedback(fbs)
    lab = {"unit": "icu", "alarm_type": "hr_high", "priority": "medium", "decision": "forward"}
    assert value(reg, "alarmfilter_feedback_total", **lab, audit_sample="false", actionable="true") == 4
    assert value(reg, "alarmfilter_feedback_total", **lab, audit_sample="false", actionable="false") == 6
    assert value(reg, "alarmfilter_feedback_total", **lab, audit_sample="true", actionable="true") == 1
    assert value(reg, "alarmfilter_feedback_total", unit="icu", alarm_type="unknown", priority="unknown",
                 decision="unknown", audit_sample="false", actionable="true") == 1
    # half the audits true: 9 of 18 suppressed are true; true total 9 + 1 + 10 * 0.4 = 14
    missed = value(reg, "alarmfilter_estimated_missed_true_ratio", unit="icu", estimator="audit_ratio")
    assert missed == pytest.approx(9 / 14)
    lo = value(reg, "alarmfilter_estimated_missed_true_lower_ratio", unit="icu", estimator="audit_ratio")
    hi = value(reg, "alarmfilter_estimated_missed_true_upper_ratio", unit="icu", estimator="audit_ratio")
    assert 0 < lo < missed < hi < 1
    fas = value(reg, "alarmfilter_estimated_false_alarm_suppression_ratio", unit="icu", estimator="audit_ratio")
    assert fas == pytest.approx(9 / (9 + 1 + 6))
    ack = {"unit": "icu", "priority": "medium", "decision": "forward"}
    assert value(reg, "alarmfilter_acknowledgement_seconds_count", **ack) == 12  # 10 forwarded + 2 audit samples
    assert value(reg, "alarmfilter_acknowledgement_seconds_sum", **ack) == pytest.approx(12 * 60.0)


def test_estimate_dropped_while_unknown_and_lethal_types_left_out(reg: CollectorRegistry) -> None:
    m = DriverMetrics(registry=reg)
    m.observe([decision("f1"), decision("l1", "suppress", type="asystole", priority="high")])
    m.observe_feedback(feedback("ICU1-01", T0, "f1", True))
    assert reg.get_sample_value("alarmfilter_estimated_missed_true_ratio",  # nothing auditable suppressed
                                {"unit": "icu", "estimator": "audit_ratio"}) == 0.0
    m.observe([decision("s1", "suppress")])  # suppressed, and no audit label yet: unknown, not a stale 0
    assert reg.get_sample_value("alarmfilter_estimated_missed_true_ratio",
                                {"unit": "icu", "estimator": "audit_ratio"}) is None
    assert m.counts.suppressed == 1 and m.counts.forwarded == 1


def test_set_audit_estimate_validates(reg: CollectorRegistry) -> None:
    m = DriverMetrics(registry=reg)
    m.set_audit_estimate(0.03, lower=0.01, upper=0.08, estimator="ipw")
    assert value(reg, "alarmfilter_estimated_missed_true_upper_ratio", unit="icu", estimator="ipw") == 0.08
    with pytest.raises(ValueError):
        m.set_audit_estimate(1.5)
    with pytest.raises(ValueError):
        m.set_audit_estimate(0.1, estimator="Patient 12")


def test_engine_stats_exported_as_deltas(reg: CollectorRegistry) -> None:
    m = DriverMetrics(registry=reg)
    ward = Ward()
    for ev in [alarm("ICU1-01", T0, "x1"), alarm("ICU1-01", T0 + 1, "x1"), feedback("ICU1-01", T0 + 2, "x1", True),
               feedback("ICU1-01", T0 + 3, "x1", True), feedback("ICU1-01", T0 + 4, "x1", False),
               feedback("ICU1-02", T0 + 5, "zz", True)]:
        m.observe(ward.feed_raw(line(ev)))
        m.observe_engines(ward.beds.values())  # repeated calls must not double count
    stats = sum((Counter(e.stats) for e in ward.beds.values()), Counter())
    for key in ("duplicate_alarms", "feedback_learned", "feedback_duplicate", "feedback_contradictory",
                "feedback_unknown_alarm"):
        assert value(reg, "alarmfilter_engine_events_total", unit="icu", event=key) == stats[key] == 1, key
    assert value(reg, "alarmfilter_beds", unit="icu") == 2


def test_per_bed_off_by_default_and_capped(reg: CollectorRegistry) -> None:
    DriverMetrics(registry=reg).observe([decision("a", bed="ICU9-01")])
    assert b"ICU9-01" not in generate_latest(reg)
    reg2 = CollectorRegistry()
    m = DriverMetrics(registry=reg2, per_bed=True)
    m.observe([decision(f"a{i}", bed=f"B{i}") for i in range(MAX_BEDS + 10)])
    beds = {s.labels["bed"] for metric in reg2.collect() if metric.name == "alarmfilter_bed_alarms"
            for s in metric.samples}
    assert len(beds) == MAX_BEDS + 1 and "other" in beds
    assert value(reg2, "alarmfilter_bed_alarms_total", unit="icu", bed="other", decision="forward") == 10


def test_no_patient_identifier_in_labels(reg: CollectorRegistry) -> None:
    m = DriverMetrics(registry=reg, per_bed=True)
    m.observe([decision("alarm-of-patient-QXZW")])
    m.observe_feedback(feedback("ICU1-01", T0, "alarm-of-patient-QXZW", True))
    text = generate_latest(reg).decode()
    assert "QXZW" not in text
    names = {k for metric in reg.collect() for s in metric.samples for k in s.labels}
    assert not names & FORBIDDEN_LABELS


def test_model_info_one_series_and_fallback(reg: CollectorRegistry) -> None:
    m = DriverMetrics(registry=reg)
    m.set_model("m1", snapshot_ts=T0)
    m.set_model("m2", snapshot_ts=T0 + 60, prior_fallback=True)
    m.set_model("m2", prior_fallback=True)
    series = [s for metric in reg.collect() if metric.name == "alarmfilter_model_info" for s in metric.samples]
    assert [s.labels["model_version"] for s in series] == ["m2"]
    assert value(reg, "alarmfilter_model_snapshot_timestamp_seconds", unit="icu") == T0 + 60
    assert value(reg, "alarmfilter_model_prior_fallback", unit="icu") == 1
    assert value(reg, "alarmfilter_model_fallbacks_total", unit="icu") == 1


def test_module_level_metrics_are_on_the_default_registry() -> None:
    from prometheus_client import REGISTRY

    assert DriverMetrics().m is METRICS
    assert REGISTRY.get_sample_value("alarmfilter_model_prior_fallback", {"unit": "icu"}) == 0


def test_serve_and_promtool_check_metrics(reg: CollectorRegistry) -> None:
    m = DriverMetrics(registry=reg, per_bed=True)
    m.observe([decision("a"), decision("b", "suppress")], wall_now=T0 + 0.1)
    m.observe_feedback(feedback("ICU1-01", T0, "a", True))
    m.observe_lag(1.5)
    m.observe_consumer_lag("icu.alarms", 3)
    port = m.serve(0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read()
    finally:
        m.close()
    assert b'alarmfilter_alarms_total{alarm_type="hr_high",decision="suppress",priority="medium",unit="icu"} 1.0' in text
    if PROMTOOL is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    res = subprocess.run([PROMTOOL, "check", "metrics"], check=False, input=text, capture_output=True, timeout=30)
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()
