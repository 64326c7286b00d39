"""A real Prometheus scrapes a running in-process driver; every dashboard query must answer.

The driver is the demo's: a simulated ward (`alarmfilter.sim`, synthetic, seeded) through the
real engines of `engine_factory` in a `MeteredWard`, clinicians labelling the alarms they are
shown (closed loop), outputs written to the replay files. The shipped model runs in a real
`ModelLifecycle` that learns from those labels and is snapshotted, as the worker does. The ward's
event time ends at the wall clock and is fed at ~150x real time, so Prometheus (1 s scrapes)
sees counters grow while alarms are decided. A few invalid lines, an unknown alarm type, a
duplicate alarm and a label for an unknown alarm are mixed in.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from alarmfilter.cli.engines import engine_factory
from alarmfilter.cli.replay import MeteredWard
from alarmfilter.delivery import DeliveryOutcome
from alarmfilter.delivery.service import FAILURE_REASONS
from alarmfilter.engine import EngineConfig
from alarmfilter.events import Alarm
from alarmfilter.metrics import DriverMetrics
from alarmfilter.model import load_prior
from alarmfilter.model.classifier import AlarmModel
from alarmfilter.model.lifecycle import ModelLifecycle, SnapshotStore
from alarmfilter.replay import OutputFiles, Ward
from alarmfilter.sim import FeedbackConfig, FeedbackModel, SimConfig, simulate
from alarmfilter.sim.closedloop import run_closed_loop
from tests.helpers import alarm, feedback, line
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
BEDS = 6
SPAN_SECONDS = 900.0  # simulated ward time
FEED_SECONDS = 6.0  # wall time to feed it
KEY = b"metrics-test-key-0123456789abcdef"
BAD_LINES = [
    "not json at all",
    '{"schema_version": 2, "kind": "alarm", "bed": "ICU1-01", "ts": 1764150000}',
    '{"schema_version": 1, "kind": "alarm", "bed": "ICU1-01", "ts": 5}',
    "[1, 2, 3]",
]
FAIL_OPEN_CODES = {"unknown_type", "no_signal", "stale_signal", "warming_up", "scorer_error", "policy_error"}


def paced(events: list, metered: MeteredWard, files: OutputFiles, start_ts: float, wall_start: float,
          consumed: list[int]) -> Iterator:
    """The ward's events at FEED_SECONDS / SPAN_SECONDS of real time, with odd input mixed in."""
    injected, odd_alarm_sent = 0, False
    for ev in events:
        consumed[0] += 1
        progress = (ev.ts - start_ts) / SPAN_SECONDS
        delay = wall_start + progress * FEED_SECONDS - time.time()
        if delay > 0:
            time.sleep(delay)
        if injected < 2 and progress > 0.3 + 0.4 * injected:
            injected += 1
            odd = [*BAD_LINES, line(feedback(ev.bed, ev.ts, f"never-raised-{injected}", True))]
            for raw in odd:
                files.write(metered.feed_raw(raw))
        yield ev
        if isinstance(ev, Alarm) and injected == 1 and not odd_alarm_sent:
            odd_alarm_sent = True  # once: the same alarm again, and a type no monitor should send
            files.write(metered.feed_raw(line(ev)))
            files.write(metered.feed_raw(line(alarm(ev.bed, ev.ts, "odd-1", "mystery_alarm", "medium"))))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_dashboards_and_rules_on_real_prometheus(tmp_path: Path) -> None:
    started = time.monotonic()
    registry = CollectorRegistry()
    metrics = DriverMetrics(unit="ICU1", registry=registry, per_bed=True)
    # series of a driver that delivers over HL7 (the worker with ALARMFILTER_HL7_URL); its live
    # behaviour is checked by tests/kafka/test_worker_hl7.py
    metrics.init_delivery(["primary"], [o.value for o in DeliveryOutcome], FAILURE_REASONS)
    port = metrics.serve(0)
    prom = PrometheusServer(tmp_path, [f"127.0.0.1:{port}"]).start()
    try:
        prom.wait_for('up{job="alarmfilter"}', 1.0)
        lifecycle = ModelLifecycle(load_prior().to_dict(), AlarmModel.from_dict, KEY)
        # audit draws are a hash of (seed, bed, alarm id): seed 2 gives this quarter-hour both an audit
        # sample that clinicians label and a suppressed alarm, which the estimate panels need (seed 0: none)
        ward = Ward(engine_factory(EngineConfig(audit_fraction=0.5, seed=2), model=lifecycle, learning=True))  # type: ignore[arg-type]
        wall_start = time.time()
        start_ts = wall_start + FEED_SECONDS - SPAN_SECONDS
        sim = simulate(SimConfig(beds=BEDS, hours=SPAN_SECONDS / 3600, seed=3, start_ts=start_ts,
                                 audible_alarms_per_bed_day=187.0 * 6, use_real_data=False))
        events, consumed = list(sim.events()), [0]
        wall_start = time.time()  # generating the ward took a moment; its event time ends a little before
        metered = MeteredWard(ward, metrics, backlog=lambda: len(events) - consumed[0])
        with OutputFiles(tmp_path / "out") as files:
            loop = run_closed_loop(paced(events, metered, files, start_ts, wall_start, consumed), metered,  # type: ignore[arg-type]
                                   FeedbackModel(sim.truth, FeedbackConfig(seed=3)), on_outputs=files.write)
        counts = files.counts
        snapshot_ts = time.time()
        SnapshotStore(tmp_path / "models").save(lifecycle, snapshot_ts)  # what the worker does when due
        metrics.set_model(lifecycle.version, snapshot_ts=snapshot_ts, prior_fallback=lifecycle.fallen_back)
        fed_seconds = time.monotonic() - started

        decisions = read_jsonl(tmp_path / "out" / "decisions.jsonl")
        by_decision = Counter(d["decision"] for d in decisions)
        assert counts["decision"] == len(decisions) == len(loop.decisions) + 1 > 30
        assert counts["deadletter"] == 2 * len(BAD_LINES)
        assert by_decision["suppress"] > 0 and loop.feedback_fed > 0
        # the final counts reached Prometheus, and the rules ran on them
        prom.wait_for('sum(alarmfilter_outputs_total{kind="decision"})', float(len(decisions)))
        prom.wait_for("max(alarmfilter_model_snapshot_timestamp_seconds)", snapshot_ts)
        prom.wait_for("count(unit:alarmfilter_alarms_in_per_bed_day:rate1h)")

        # every rule loaded and evaluates without error on live data
        rules = prom.rules()
        assert len(rules) == 20 and all(r["health"] == "ok" for r in rules), [
            (r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
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
        fail_open = sum(d["reason_code"] in FAIL_OPEN_CODES for d in decisions)
        assert prom.value("sum(alarmfilter_fail_open_total)") == fail_open > 0
        events = {r["metric"]["event"]: float(r["value"][1])
                  for r in prom.query("sum by (event) (alarmfilter_engine_events_total)")}
        stats = sum((Counter(e.stats) for e in ward.beds.values()), Counter())
        assert events["duplicate_alarms"] == stats["duplicate_alarms"] == 1, events
        assert events["feedback_unknown_alarm"] == stats["feedback_unknown_alarm"] > 0, events
        assert prom.value('sum(alarmfilter_consumer_lag_messages{topic="events-file"})') == 0
        assert prom.value("sum(alarmfilter_beds)") == len(ward.beds) == BEDS
        labels_in = prom.value("sum(alarmfilter_feedback_total)")
        assert labels_in == loop.feedback_fed + 2  # the two labels for alarms never raised
        assert prom.value('sum(alarmfilter_feedback_total{decision="unknown"})') == 2
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
                          "topic", "model_version", "bed", "le", "destination", "outcome"}
        assert {s["metric"]["__name__"] for s in series if "bed" in s["metric"]} == {"alarmfilter_bed_alarms_total"}
        print(f"\nlive prometheus test: fed in {fed_seconds:.1f} s, {checked} panel queries, "
              f"{len(decisions)} decisions {dict(by_decision)}, {audits} audit samples, {labels_in:.0f} labels, "
              f"missed-true estimates {prom.query('alarmfilter_estimated_missed_true_ratio')}, "
              f"total {time.monotonic() - started:.1f} s")
    finally:
        prom.stop()
        metrics.close()
