"""A real Prometheus scrapes a running in-process driver; every dashboard query must answer.

The driver is `metered_replay` (what `alarmfilter replay --metrics-port` runs) over the real
engines of `engine_factory`, with the shipped model in a real `ModelLifecycle` that learns from
the feedback in the stream and is snapshotted, as the worker does. Events are paced so event
time tracks the wall clock and Prometheus scrapes (every 1 s) while alarms are decided.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from alarmfilter.cli.engines import engine_factory
from alarmfilter.cli.replay import FILE_TOPIC, metered_replay
from alarmfilter.engine import EngineConfig
from alarmfilter.metrics import DriverMetrics
from alarmfilter.model import load_prior
from alarmfilter.model.classifier import AlarmModel
from alarmfilter.model.lifecycle import ModelLifecycle, SnapshotStore
from alarmfilter.replay import Ward
from tests.helpers import alarm, feedback, line, vitals, waveform
from tests.metrics.promserver import (
    MISSING,
    PROMETHEUS,
    REPO,
    PrometheusServer,
    grafana_to_promql,
    panels,
)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(PROMETHEUS is None, reason=MISSING)]

DASHBOARDS = REPO / "config" / "grafana" / "dashboards"
BEDS = [f"ICU1-{i:02d}" for i in range(1, 7)]
SECONDS = 8  # event-time span of the stream; fed at twice real time
STEP_WALL_SECONDS = 0.5
KEY = b"metrics-test-key-0123456789abcdef"
BAD_LINES = [
    "not json at all",
    '{"schema_version": 2, "kind": "alarm", "bed": "ICU1-01", "ts": 1764150000}',
    '{"schema_version": 1, "kind": "alarm", "bed": "ICU1-01", "ts": 5}',
    "[1, 2, 3]",
]
#: Alarm mix per bed and second: (second, type, priority). Unknown types fail open.
ALARMS = [
    (1, "spo2_low", "medium"), (2, "asystole", "high"), (3, "leads_off", "technical"),
    (4, "hr_high", "medium"), (5, "mystery_alarm", "medium"), (6, "ventricular_tachycardia", "high"),
    (7, "abp_high", "medium"),
]


def stream(t0: float) -> list[tuple[int, str]]:
    """(second, JSON line) of a small ward: waveforms and vitals each second, alarms, feedback, junk."""
    out: list[tuple[int, str]] = []
    for s in range(SECONDS):
        for b, bed in enumerate(BEDS):
            ts = t0 + s
            out.append((s, line(waveform(bed, ts, 1.0, ("II", "PLETH")))))
            out.append((s, line(vitals(bed, ts, hr_bpm=80.0, pulse_bpm=79.0, spo2_pct=97.0, abp_sys_mmhg=120.0,
                                       abp_dia_mmhg=70.0, abp_mean_mmhg=87.0, rr_per_min=16.0))))
            for sec, typ, prio in ALARMS:
                if sec == s and (b + sec) % 3 != 0:
                    out.append((s, line(alarm(bed, ts + 0.5, f"{bed}-{sec}", typ, prio))))
            if s >= 2 and b % 2 == 0:  # labels for alarms of two seconds ago (some never raised: unknown)
                out.append((s, line(feedback(bed, ts + 0.9, f"{bed}-{s - 2}", actionable=(s + b) % 2 == 0))))
        if s == 3:
            out.append((s, line(alarm(BEDS[1], t0 + 1.5, f"{BEDS[1]}-1", "spo2_low", "medium"))))  # duplicate
        if s in (2, 5):
            out.extend((s, bad) for bad in BAD_LINES)
    return out


def paced(lines: list[tuple[int, str]], wall_start: float):
    for s, text in lines:
        delay = wall_start + s * STEP_WALL_SECONDS - time.time()
        if delay > 0:
            time.sleep(delay)
        yield text


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_dashboards_and_rules_on_real_prometheus(tmp_path: Path) -> None:
    started = time.monotonic()
    registry = CollectorRegistry()
    metrics = DriverMetrics(unit="ICU1", registry=registry, per_bed=True)
    port = metrics.serve(0)
    prom = PrometheusServer(tmp_path, [f"127.0.0.1:{port}"]).start()
    try:
        prom.wait_for('up{job="alarmfilter"}', 1.0)
        lifecycle = ModelLifecycle(load_prior().to_dict(), AlarmModel.from_dict, KEY)
        ward = Ward(engine_factory(EngineConfig(audit_fraction=0.5), model=lifecycle, learning=True))  # type: ignore[arg-type]
        wall_start = time.time()
        lines = stream(t0=wall_start - SECONDS * STEP_WALL_SECONDS - 1.0)
        counts = metered_replay(paced(lines, wall_start), tmp_path / "out", ward, metrics, total_lines=len(lines))
        snapshot_ts = time.time()
        SnapshotStore(tmp_path / "models").save(lifecycle, snapshot_ts)  # what the worker does when due
        metrics.set_model(lifecycle.version, snapshot_ts=snapshot_ts, prior_fallback=lifecycle.fallen_back)
        fed_seconds = time.monotonic() - started

        decisions = read_jsonl(tmp_path / "out" / "decisions.jsonl")
        by_decision = Counter(d["decision"] for d in decisions)
        assert counts["decision"] == len(decisions) > 20 and counts["deadletter"] == 2 * len(BAD_LINES)
        # the final counts reached Prometheus, and the rules ran on them
        prom.wait_for('sum(alarmfilter_outputs_total{kind="decision"})', float(len(decisions)))
        prom.wait_for("max(alarmfilter_model_snapshot_timestamp_seconds)", snapshot_ts)
        prom.wait_for("count(unit:alarmfilter_alarms_in_per_bed_day:rate1h)")

        # every panel's every query returns data, and at least one finite value
        checked = 0
        for name in ("alarm-burden.json", "filter-health.json"):
            board = json.loads((DASHBOARDS / name).read_text())
            for panel in panels(board):
                for target in panel.get("targets", []):
                    expr = grafana_to_promql(target["expr"])
                    result = prom.query(expr) if target.get("instant") else prom.query_range(expr)
                    values = [float(v[1]) for r in result for v in ([r["value"]] if "value" in r else r["values"])]
                    assert result, f"{name} / {panel['title']} / {target['refId']}: no data for {expr}"
                    assert any(math.isfinite(v) for v in values), f"{panel['title']}: only NaN for {expr}"
                    checked += 1
        assert checked >= 40

        # totals on the dashboards equal what the driver wrote to its outputs
        q = 'sum(alarmfilter_alarms_total{unit=~".*"%s})'
        assert prom.value(q % "") == len(decisions)
        assert prom.value(q % ', decision="forward"') == by_decision["forward"]
        assert prom.value(q % ', decision="suppress"') == by_decision.get("suppress", 0)
        assert prom.value("sum(alarmfilter_dead_letters_total)") == counts["deadletter"]
        for kind, n in counts.items():
            assert prom.value(f'sum(alarmfilter_outputs_total{{kind="{kind}"}})') == n, kind
        per_type = Counter((d["type"] if d["type"] != "mystery_alarm" else "unknown", d["decision"]) for d in decisions)
        got = {(r["metric"]["alarm_type"], r["metric"]["decision"]): float(r["value"][1])
               for r in prom.query("sum by (alarm_type, decision) (alarmfilter_alarms_total)")}
        assert {k: v for k, v in got.items() if v} == {k: float(v) for k, v in per_type.items()}
        assert prom.value("sum(alarmfilter_technical_alarms_total)") == counts["technical"]
        audits = sum(d["audit_sample"] for d in decisions)
        assert prom.value("sum(alarmfilter_alarms_audit_sampled_total)") == audits
        fail_open = sum(d["reason_code"] in {"unknown_type", "no_signal", "stale_signal", "warming_up",
                                             "scorer_error", "policy_error"} for d in decisions)
        assert prom.value("sum(alarmfilter_fail_open_total)") == fail_open > 0
        events = {r["metric"]["event"]: float(r["value"][1])
                  for r in prom.query("sum by (event) (alarmfilter_engine_events_total)")}
        stats = sum((Counter(e.stats) for e in ward.beds.values()), Counter())
        assert events["duplicate_alarms"] == stats["duplicate_alarms"] == 1, events
        assert events["feedback_unknown_alarm"] == stats["feedback_unknown_alarm"] > 0, events
        assert prom.value(f'alarmfilter_consumer_lag_messages{{topic="{FILE_TOPIC}"}}') == 0
        assert prom.value("sum(alarmfilter_beds)") == len(BEDS)
        # burden per bed-day: the recording rule agrees with the raw counters
        burden = prom.value('sum(unit:alarmfilter_alarms_in_per_bed_day:rate1h)')
        raw = prom.value("sum(rate(alarmfilter_alarms_total[1h])) * 86400 / sum(alarmfilter_beds)")
        assert burden is not None and raw is not None and burden > 0
        assert abs(burden - raw) / raw < 0.5  # evaluated at slightly different instants
        # no patient identifier in any label; bed ids only on the per-bed counter
        series = prom.query('{__name__=~"alarmfilter_.+"}')
        labels = {k for s in series for k in s["metric"]}
        assert labels <= {"__name__", "job", "instance", "unit", "alarm_type", "priority", "decision",
                          "reason_code", "reason", "kind", "actionable", "audit_sample", "event", "estimator",
                          "topic", "model_version", "bed", "le"}
        assert {s["metric"]["__name__"] for s in series if "bed" in s["metric"]} == {"alarmfilter_bed_alarms_total"}
        print(f"\nlive prometheus test: fed in {fed_seconds:.1f} s, {checked} panel queries, "
              f"{len(decisions)} decisions, total {time.monotonic() - started:.1f} s")
    finally:
        prom.stop()
        metrics.close()
