"""Prometheus config and rules through promtool; Grafana provisioning and dashboards by structure."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess

import pytest
import yaml
from prometheus_client import CollectorRegistry

from alarmfilter.metrics import DriverMetrics
from tests.metrics.promserver import PROM_DIR, PROMTOOL, REPO, RULE_FILES, panels

GRAFANA = REPO / "config" / "grafana"
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus)")


def promtool(*args: str, cwd=PROM_DIR) -> str:
    assert PROMTOOL
    res = subprocess.run([PROMTOOL, *args], check=False, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout + res.stderr


@needs_promtool
def test_promtool_check_rules_and_config() -> None:
    out = promtool("check", "rules", *[str(p) for p in RULE_FILES])
    assert "SUCCESS" in out
    promtool("check", "config", "prometheus.yml")


@needs_promtool
def test_promtool_rule_unit_tests() -> None:
    out = promtool("test", "rules", "alarmfilter-alerts.test.yml", cwd=PROM_DIR / "tests")
    assert "SUCCESS" in out


def test_every_required_alert_exists_and_is_unit_tested() -> None:
    alerts = {r["alert"] for f in RULE_FILES for g in yaml.safe_load(f.read_text())["groups"]
              for r in g["rules"] if "alert" in r}
    assert alerts == {"AlarmfilterWorkerDown", "AlarmfilterWorkerAbsent", "AlarmfilterEventLagGrowing",
                      "AlarmfilterConsumerLagGrowing", "AlarmfilterFailOpenRateHigh",
                      "AlarmfilterMissedTrueRateAboveTarget", "AlarmfilterModelFellBackToPrior",
                      "AlarmfilterDeadLetterSpike", "AlarmfilterHl7DeliveryFailing", "AlarmfilterHl7QueueGrowing",
                      "AlarmfilterHighPriorityAlertExhausted", "AlarmfilterLabelRecordsRefused",
                      "AlarmfilterUnitModelsDiverge"}
    tests = yaml.safe_load((PROM_DIR / "tests" / "alarmfilter-alerts.test.yml").read_text())["tests"]
    fired = {t["alertname"] for case in tests for t in case.get("alert_rule_test", []) if t["exp_alerts"]}
    assert fired == alerts


def _exported_names() -> set[str]:
    reg = CollectorRegistry()
    DriverMetrics(registry=reg)
    names = set()
    for metric in reg.collect():
        names.add(metric.name)
        names.update(s.name for s in metric.samples)
        if metric.type == "counter":
            names.add(metric.name + "_total")
        if metric.type == "histogram":
            names.update(metric.name + suffix for suffix in ("_bucket", "_sum", "_count"))
    return names


def _recorded_names() -> set[str]:
    return {r["record"] for f in RULE_FILES for g in yaml.safe_load(f.read_text())["groups"]
            for r in g["rules"] if "record" in r}


def test_dashboards_are_generated_from_the_script() -> None:
    spec = importlib.util.spec_from_file_location("build_dashboards", GRAFANA / "build_dashboards.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name, build in mod.DASHBOARDS.items():
        assert (GRAFANA / "dashboards" / name).read_text() == mod.render(build), f"run build_dashboards.py ({name})"


@pytest.mark.parametrize("name", ["alarm-burden.json", "filter-health.json"])
def test_dashboard_structure_and_metric_names(name: str) -> None:
    board = json.loads((GRAFANA / "dashboards" / name).read_text())
    assert board["uid"].startswith("alarmfilter-") and len(board["uid"]) <= 40
    assert board["title"] in {"Alarm burden", "Filter health"}
    assert isinstance(board["schemaVersion"], int) and board["templating"]["list"]
    known = _exported_names() | _recorded_names() | {"up", "scrape_duration_seconds"}
    ids = []
    for p in panels(board):
        ids.append(p["id"])
        pos = p["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24 and pos["h"] > 0, p["title"]
        if p["type"] == "row":
            assert pos["w"] == 24 and p["title"] and "targets" not in p
            continue
        assert p["type"] in {"stat", "timeseries", "table", "bargauge"}
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs))
        for t in p["targets"]:
            assert t["datasource"]["type"] == "prometheus"
            tokens = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", t["expr"]))
            used = {x for x in tokens if x.startswith("alarmfilter_") or ":alarmfilter_" in x
                    or x in {"up", "scrape_duration_seconds"}}
            assert used, t["expr"]
            assert used <= known, (p["title"], used - known)
    assert len(ids) == len(set(ids))


def test_grafana_provisioning_files() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert ds["apiVersion"] == 1
    (source,) = ds["datasources"]
    assert source["type"] == "prometheus" and source["url"].startswith("http") and source["access"] == "proxy"
    dash = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "alarmfilter.yml").read_text())
    assert dash["apiVersion"] == 1
    (provider,) = dash["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")


def test_model_in_use_shows_a_date_not_epoch_seconds() -> None:
    board = json.loads((GRAFANA / "dashboards" / "filter-health.json").read_text())
    (panel,) = [p for p in panels(board) if p["title"] == "Model in use"]
    snapshot = [t for t in panel["targets"] if "model_snapshot_timestamp_seconds" in t["expr"]]
    assert len(snapshot) == 1 and snapshot[0]["expr"].endswith("* 1000")  # Grafana dates are milliseconds
    column = f"Value #{snapshot[0]['refId']}"
    units = {o["matcher"]["options"]: p["value"] for o in panel["fieldConfig"]["overrides"]
             for p in o["properties"] if p["id"] == "unit"}
    assert units.get(column) == "dateTimeAsIso", units
    assert {"id": "merge", "options": {}} in panel.get("transformations", [])


def test_filter_health_has_an_hl7_delivery_row() -> None:
    board = json.loads((GRAFANA / "dashboards" / "filter-health.json").read_text())
    all_panels = panels(board)
    (row_index,) = [i for i, p in enumerate(all_panels) if p["type"] == "row" and "HL7" in p["title"]]
    below = all_panels[row_index + 1:]
    exprs = " ".join(t["expr"] for p in below for t in p.get("targets", []))
    for name in ("alarmfilter_hl7_queue_messages", "alarmfilter_hl7_oldest_undelivered_age_seconds",
                 "alarmfilter_hl7_delivery_failures_total", "alarmfilter_hl7_deliveries_total"):
        assert name in exprs, name
    assert 'outcome="exhausted", priority="high"' in exprs
    row_y = all_panels[row_index]["gridPos"]["y"]
    assert all(p["gridPos"]["y"] > row_y for p in below)
