"""Writes the Grafana dashboards (classic JSON model) of alarmfilter into dashboards/.

    python config/grafana/build_dashboards.py

The JSON files are committed (Grafana's file provider reads them); tests/metrics checks
they match this script and runs every panel's PromQL against a real Prometheus.
Grafana variables used in expressions: $unit (regex), $__rate_interval, $__range.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DS = {"type": "prometheus", "uid": "${datasource}"}
U = 'unit=~"$unit"'
HERE = Path(__file__).resolve().parent


def _quantile(q: float, histogram: str) -> str:
    """PromQL for a quantile of one of our histograms over the unit selection."""
    return f"histogram_quantile({q}, sum by (le) (rate({histogram}_bucket{{{U}}}[$__rate_interval])))"


def _target(expr: str, legend: str = "", ref: str = "A", instant: bool = False, table: bool = False) -> dict[str, Any]:
    t: dict[str, Any] = {"refId": ref, "datasource": DS, "expr": expr, "legendFormat": legend or "__auto",
                         "range": not instant, "instant": instant}
    if table:
        t["format"] = "table"
    return t


def _targets(queries: list[tuple[str, str]], **kw: Any) -> list[dict[str, Any]]:
    return [_target(e, legend, chr(ord("A") + i), **kw) for i, (e, legend) in enumerate(queries)]


class Board:
    """Lays panels out left to right, 24 columns wide, and numbers them."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.x = self.y = self.row_h = 0

    def add(self, kind: str, title: str, description: str, targets: list[dict[str, Any]], w: int, h: int,
            unit: str = "short", options: dict[str, Any] | None = None, decimals: int | None = None) -> None:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        defaults: dict[str, Any] = {"unit": unit}
        if decimals is not None:
            defaults["decimals"] = decimals
        panel = {
            "id": len(self.panels) + 1, "type": kind, "title": title, "description": description,
            "datasource": DS, "gridPos": {"x": self.x, "y": self.y, "w": w, "h": h},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options or {}, "targets": targets,
        }
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)

    def row(self, title: str) -> None:
        """A row header across the board; the panels added after it sit under it."""
        self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        self.panels.append({"id": len(self.panels) + 1, "type": "row", "title": title, "collapsed": False,
                            "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}, "panels": []})
        self.y += 1

    def stat(self, title: str, description: str, queries: list[tuple[str, str]], w: int = 6, unit: str = "short",
             decimals: int | None = None) -> None:
        self.add("stat", title, description, _targets(queries, instant=True), w, 4, unit,
                 {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                  "colorMode": "value", "graphMode": "none", "textMode": "auto"}, decimals)

    def series(self, title: str, description: str, queries: list[tuple[str, str]], w: int = 12,
               unit: str = "short") -> None:
        self.add("timeseries", title, description, _targets(queries), w, 8, unit,
                 {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
                  "tooltip": {"mode": "multi", "sort": "desc"}})

    def table(self, title: str, description: str, queries: list[tuple[str, str]], w: int = 12,
              units: dict[str, str] | None = None) -> None:
        """`units`: column (e.g. "Value #B") -> Grafana unit; several queries are merged into one table."""
        self.add("table", title, description, _targets(queries, instant=True, table=True), w, 8, "short",
                 {"showHeader": True, "cellHeight": "sm"})
        panel = self.panels[-1]
        if len(queries) > 1:
            panel["transformations"] = [{"id": "merge", "options": {}}]
        for column, unit in (units or {}).items():
            panel["fieldConfig"]["overrides"].append(
                {"matcher": {"id": "byName", "options": column}, "properties": [{"id": "unit", "value": unit}]})

    def bars(self, title: str, description: str, queries: list[tuple[str, str]], w: int = 12,
             unit: str = "short") -> None:
        self.add("bargauge", title, description, _targets(queries, instant=True), w, 8, unit,
                 {"orientation": "horizontal", "displayMode": "gradient",
                  "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}})


def _dashboard(uid: str, title: str, description: str, tags: list[str], board: Board) -> dict[str, Any]:
    return {
        "uid": uid, "title": title, "description": description, "tags": ["alarmfilter", *tags],
        "editable": True, "graphTooltip": 1, "timezone": "browser", "refresh": "30s",
        "schemaVersion": 39, "version": 1, "time": {"from": "now-24h", "to": "now"},
        "annotations": {"list": []}, "links": [],
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0},
            {"name": "unit", "label": "Care unit", "type": "query", "datasource": DS,
             "query": {"query": "label_values(alarmfilter_beds, unit)", "refId": "unit"},
             "definition": "label_values(alarmfilter_beds, unit)", "refresh": 2, "multi": True,
             "includeAll": True, "allValue": ".*", "current": {"text": "All", "value": "$__all"}, "sort": 1},
        ]},
        "panels": board.panels,
    }


def alarm_burden() -> dict[str, Any]:
    """Clinical and quality view: how many alarms reach staff, what was held back and why."""
    b = Board()
    b.stat("Alarms per bed per day, before filtering",
           "Every alarm the monitors raised, as a daily rate per bed over the last hour (Drew 2014: 187).",
           [(f"sum(unit:alarmfilter_alarms_in_per_bed_day:rate1h{{{U}}})", "before")], decimals=0)
    b.stat("Alarms per bed per day, reaching staff",
           "Forwarded alarms (alerts, audit samples, technical alarms to the bedside nurse), daily rate per bed.",
           [(f"sum(unit:alarmfilter_alarms_forwarded_per_bed_day:rate1h{{{U}}})", "after")], decimals=0)
    b.stat("Estimated false alarms suppressed",
           "Share of false alarms held back, estimated from clinician labels and audit samples.",
           [(f"max by (estimator) (alarmfilter_estimated_false_alarm_suppression_ratio{{{U}}})", "{{estimator}}")],
           unit="percentunit", decimals=1)
    b.stat("Estimated true alarms missed",
           "Share of true alarms suppressed, estimated from audit-sample labels (point and 95 % upper bound).",
           [(f"max by (estimator) (alarmfilter_estimated_missed_true_ratio{{{U}}})", "{{estimator}}"),
            (f"max by (estimator) (alarmfilter_estimated_missed_true_upper_ratio{{{U}}})", "{{estimator}} upper")],
           unit="percentunit", decimals=1)
    b.stat("Alarms decided since worker start", "Counter totals since each worker started (a restart resets them).",
           [(f"sum(alarmfilter_alarms_total{{{U}}})", "decided")], w=8)
    b.stat("Forwarded since worker start", "Alarms forwarded, audit samples and technical alarms included.",
           [(f'sum(alarmfilter_alarms_total{{{U}, decision="forward"}})', "forwarded")], w=8)
    b.stat("Suppressed since worker start", "Alarms held back with a reason code.",
           [(f'sum(alarmfilter_alarms_total{{{U}, decision="suppress"}})', "suppressed")], w=8)
    b.series("Alarm burden per bed-day, before and after filtering",
             "Daily alarms per bed, rate over the last hour.",
             [(f"sum(unit:alarmfilter_alarms_in_per_bed_day:rate1h{{{U}}})", "before filtering"),
              (f"sum(unit:alarmfilter_alarms_forwarded_per_bed_day:rate1h{{{U}}})", "reaching staff")], w=24)
    b.series("Alarms per hour by type", "Alarms raised, per hour, by alarm type.",
             [(f"sum by (alarm_type) (rate(alarmfilter_alarms_total{{{U}}}[$__rate_interval])) * 3600",
               "{{alarm_type}}")])
    b.series("Alarms per hour by priority and decision", "Forwarded and suppressed alarms per hour, by priority.",
             [(f"sum by (priority, decision) (rate(alarmfilter_alarms_total{{{U}}}[$__rate_interval])) * 3600",
               "{{priority}} {{decision}}")])
    b.bars("Suppressed share by alarm type", "Share of each type's alarms held back over the dashboard range.",
           [((f'sum by (alarm_type) (increase(alarmfilter_alarms_total{{{U}, decision="suppress"}}[$__range])) / '
              f"sum by (alarm_type) (increase(alarmfilter_alarms_total{{{U}}}[$__range]))"), "{{alarm_type}}")],
           unit="percentunit")
    for by in ("alarm_type", "priority"):
        b.bars(f"False-alarm share of labelled alarms, by {by.replace('_', ' ')}",
               "Share of clinician labels saying 'not actionable', since each worker started (labels come late "
               "and only for alarms staff saw).",
               [((f'sum by ({by}) (alarmfilter_feedback_total{{{U}, decision!="unknown", actionable="false"}}) / '
                  f'sum by ({by}) (alarmfilter_feedback_total{{{U}, decision!="unknown"}})'), f"{{{{{by}}}}}")],
               unit="percentunit")
    b.table("Alarms by type, priority and decision", "Counts over the dashboard range.",
            [(f"sum by (alarm_type, priority, decision) (increase(alarmfilter_alarms_total{{{U}}}[$__range]))", "")])
    b.table("What was decided, and why", "Decisions by reason code over the dashboard range.",
            [(f"sum by (decision, reason_code) (increase(alarmfilter_decision_reasons_total{{{U}}}[$__range]))", "")])
    b.series("Alarm floods: busiest beds (alarms per 10 min)",
             "Top 10 beds by alarms in 10 minutes (a flood is 10 or more). Needs per-bed metrics switched on.",
             [(f"topk(10, sum by (bed) (increase(alarmfilter_bed_alarms_total{{{U}}}[10m])))", "{{bed}}")])
    b.series("Technical alarms per hour by type", "Leads off, probe off, line faults, artefacts: to the bedside nurse.",
             [(f"sum by (alarm_type) (rate(alarmfilter_technical_alarms_total{{{U}}}[$__rate_interval])) * 3600",
               "{{alarm_type}}")])
    b.series("Clinician feedback per hour", "Labels received, by the decision they label and the label.",
             [(f"sum by (decision, actionable) (rate(alarmfilter_feedback_total{{{U}}}[$__rate_interval])) * 3600",
               "{{decision}} actionable={{actionable}}")])
    b.table("Agreement of decisions with feedback",
            "Labels by decision, audit flag and label: forwarded+false are false alarms that got through; "
            "audit+true are true alarms the filter would have missed.",
            [(f"sum by (decision, audit_sample, actionable) (increase(alarmfilter_feedback_total{{{U}}}[$__range]))",
              "")])
    b.series("Time from alarm to decision", "Wall-clock latency p50/p99 (live streams) and the event-time hold p99.",
             [(_quantile(0.5, "alarmfilter_decision_latency_seconds"), "latency p50"),
              (_quantile(0.99, "alarmfilter_decision_latency_seconds"), "latency p99"),
              (_quantile(0.99, "alarmfilter_decision_hold_seconds"), "hold p99 (event time)")], w=24, unit="s")
    b.series("Time from alarm to acknowledgement", "Event time from a forwarded alarm to the clinician's feedback "
             "on it, p50/p90.",
             [(_quantile(0.5, "alarmfilter_acknowledgement_seconds"), "p50"),
              (_quantile(0.9, "alarmfilter_acknowledgement_seconds"), "p90")], w=24, unit="s")
    return _dashboard("alarmfilter-alarm-burden", "Alarm burden",
                      "Alarms per bed per day before and after filtering, false-alarm share, what was suppressed "
                      "and why, estimated missed true alarms, time to decision and to acknowledgement.", ["clinical"], b)


def filter_health() -> dict[str, Any]:
    """Ops view: is the filter up, keeping up, deciding, and trusted."""
    b = Board()
    b.stat("Workers up", "Scrape targets of job alarmfilter answering.", [('sum(up{job="alarmfilter"})', "up")], w=4)
    b.stat("Beds served", "Beds with an engine, over all workers.", [(f"sum(alarmfilter_beds{{{U}}})", "beds")], w=4)
    b.stat("Alarms held for evidence", "Alarms pending a decision (bounded by the hold ceiling).",
           [(f"sum(alarmfilter_pending_alarms{{{U}}})", "pending")], w=4)
    b.stat("Fail-open share (10 min)", "Alarms forwarded because the filter could not decide.",
           [(f"max(unit:alarmfilter_fail_open:ratio_rate10m{{{U}}})", "fail-open")], w=4, unit="percentunit",
           decimals=1)
    b.stat("Dead letters since worker start", "Invalid input messages, kept with their reason.",
           [(f"sum(alarmfilter_dead_letters_total{{{U}}})", "dead letters")], w=4)
    b.stat("Model on prior fallback", "1 while the guard-rail has put the policy back on the shipped prior.",
           [(f"max(alarmfilter_model_prior_fallback{{{U}}})", "fallback")], w=4)
    b.table("Outputs written since worker start", "Messages written per output (alerts, decisions, technical, "
            "dead letters); compare with the topics.",
            [(f"sum by (kind) (alarmfilter_outputs_total{{{U}}})", "")], w=8)
    b.table("Model in use", "Model version per worker and when it was last snapshotted.",
            [(f"max by (instance, model_version) (alarmfilter_model_info{{{U}}})", ""),
             (f"max by (instance) (alarmfilter_model_snapshot_timestamp_seconds{{{U}}}) * 1000", "")], w=8,
            units={"Value #B": "dateTimeAsIso"})  # Grafana dates are epoch milliseconds
    b.stat("Model snapshot age", "Time since the model in use was last snapshotted.",
           [(f"time() - max(alarmfilter_model_snapshot_timestamp_seconds{{{U}}})", "age")], w=8, unit="s")
    b.series("Decisions per second", "Alarms decided per second, by decision.",
             [(f"sum by (decision) (rate(alarmfilter_alarms_total{{{U}}}[$__rate_interval]))", "{{decision}}")])
    b.series("Fail-open alarms per hour by reason", "no_signal, stale_signal, warming_up, unknown_type, errors.",
             [(f"sum by (reason_code) (rate(alarmfilter_fail_open_total{{{U}}}[$__rate_interval])) * 3600",
               "{{reason_code}}")])
    b.series("Dead letters per minute by reason", "Invalid messages by class of error.",
             [(f"sum by (reason) (rate(alarmfilter_dead_letters_total{{{U}}}[$__rate_interval])) * 60", "{{reason}}")])
    b.series("Decision latency", "Wall clock from the alarm's event time to its decision (live streams).",
             [(_quantile(q, "alarmfilter_decision_latency_seconds"), f"p{int(q * 100)}") for q in (0.5, 0.95, 0.99)],
             unit="s")
    b.series("Event lag", "Wall clock minus the newest event time processed, per worker.",
             [(f"max by (instance) (alarmfilter_event_lag_seconds{{{U}}})", "{{instance}}")], unit="s")
    b.series("Consumer lag", "Messages behind the end of each input (Kafka topics; events file for replay).",
             [(f"sum by (topic) (alarmfilter_consumer_lag_messages{{{U}}})", "{{topic}}")])
    b.series("Engine events per minute", "Duplicate alarms and feedback outcomes counted by the bed engines.",
             [(f"sum by (event) (rate(alarmfilter_engine_events_total{{{U}}}[$__rate_interval])) * 60", "{{event}}")])
    b.series("Audit samples per hour", "Would-be-suppressed alarms forwarded to keep the estimate honest.",
             [(f"sum(rate(alarmfilter_alarms_audit_sampled_total{{{U}}}[$__rate_interval])) * 3600", "audit samples"),
              (f"max(alarmfilter_audit_sample_ratio{{{U}}})", "configured fraction")])
    b.series("Missed-true estimate and interval", "Estimated share of true alarms suppressed, with 95 % bounds, "
             "per estimator; the alert fires above 5 %.",
             [(f"max by (estimator) (alarmfilter_estimated_missed_true_ratio{{{U}}})", "{{estimator}}"),
              (f"max by (estimator) (alarmfilter_estimated_missed_true_lower_ratio{{{U}}})", "{{estimator}} lower"),
              (f"max by (estimator) (alarmfilter_estimated_missed_true_upper_ratio{{{U}}})", "{{estimator}} upper")],
             unit="percentunit")
    b.series("Scrape duration", "Time Prometheus needs to scrape each worker.",
             [('max by (instance) (scrape_duration_seconds{job="alarmfilter"})', "{{instance}}")], unit="s")
    hl7 = "alarmfilter_hl7_deliveries_total"
    b.row("HL7 alert delivery")
    b.stat("HL7 queue", "Alert messages on disk not yet accepted by a receiver, over all workers.",
           [(f"sum(alarmfilter_hl7_queue_messages{{{U}}})", "queued")], w=4)
    b.stat("Oldest undelivered alert", "Wall time the oldest queued alert message has waited (alert fires at 5 min).",
           [(f"max(alarmfilter_hl7_oldest_undelivered_age_seconds{{{U}}})", "oldest")], w=4, unit="s")
    b.stat("Failed delivery attempts (1 h)", "Connections refused or timed out, no ACK, AE and AR answers.",
           [(f"sum(increase(alarmfilter_hl7_delivery_failures_total{{{U}}}[1h]))", "failed")], w=4, decimals=0)
    b.stat("Destinations failing", "Delivery destinations whose last attempt failed (alert after 1 min).",
           [(f"sum(1 - alarmfilter_hl7_destination_up{{{U}}})", "failing")], w=4, decimals=0)
    b.stat("Escalated (1 h)", "Alerts nobody acknowledged in time (or refused), sent to the next destination.",
           [(f'sum(increase({hl7}{{{U}, outcome="escalated"}}[1h]))', "escalated")], w=4, decimals=0)
    b.stat("High-priority alerts exhausted (24 h)", "Asystole/VF/VT alerts nobody acknowledged with no destination "
           "left: each one is an ERROR line in the worker log naming the bed. Should be 0.",
           [(f'sum(increase({hl7}{{{U}, outcome="exhausted", priority="high"}}[24h]))', "exhausted")], w=4,
           decimals=0)
    b.series("HL7 delivery outcomes per minute", "queued, accepted, error (AE), rejected (AR), no_ack, escalated, "
             "exhausted, acknowledged, by outcome.",
             [(f"sum by (outcome) (rate({hl7}{{{U}}}[$__rate_interval])) * 60", "{{outcome}}")])
    b.series("Failed delivery attempts per minute", "By destination and reason (connect_failed, no_ack, error, ...).",
             [(f"sum by (destination, reason) (rate(alarmfilter_hl7_delivery_failures_total{{{U}}}"
               f"[$__rate_interval])) * 60", "{{destination}} {{reason}}")])
    b.series("HL7 queue", "Queued alert messages per worker.",
             [(f"max by (instance) (alarmfilter_hl7_queue_messages{{{U}}})", "{{instance}}")])
    b.series("Oldest undelivered alert", "Age of the oldest queued alert message per worker.",
             [(f"max by (instance) (alarmfilter_hl7_oldest_undelivered_age_seconds{{{U}}})", "{{instance}}")],
             unit="s")
    return _dashboard("alarmfilter-filter-health", "Filter health",
                      "Workers up, fail-open, dead letters, latency, lag, model version and fallback, audit "
                      "sampling, HL7 alert delivery: is the filter healthy, and do its alerts reach clinicians?",
                      ["ops"], b)


DASHBOARDS = {"alarm-burden.json": alarm_burden, "filter-health.json": filter_health}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


def main() -> None:
    out = HERE / "dashboards"
    out.mkdir(exist_ok=True)
    for name, build in DASHBOARDS.items():
        (out / name).write_text(render(build), encoding="utf-8")
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
