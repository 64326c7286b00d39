"""The Kafka worker delivering forwarded alerts over HL7 MLLP (ALARMFILTER_HL7_URL), end to end.

Real broker (Tansu), `alarmfilter worker` subprocess, real `alarmfilter hl7-sink` receiver on
127.0.0.1 started only after every alarm was decided: the worker's on-disk queue holds the
alerts meanwhile, and the receiver then gets every forwarded alert and nothing else.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from alarmfilter.kafka.producer import produce_events
from alarmfilter.settings import Settings

from ..helpers import feedback
from ..metrics.promserver import MISSING, PROMETHEUS, PrometheusServer
from .conftest import ALARMFILTER, REPO, free_port, read_outputs, run
from .streams import alarm_ids, ward_stream

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

#: bounded waits on the live Prometheus (1 s scrapes and rule evaluations) with headroom for a loaded machine
LIVE_WAIT_SECONDS = 40.0

FAST_DELIVERY_YAML = """\
schema_version: 1
destinations:                  # replaced by ALARMFILTER_HL7_URL
  - {name: unused, url: "mllp://127.0.0.1:1"}
escalation:
  timeout_seconds: {high: 3600, medium: 3600, low: 3600, technical: 3600}
transport: {connect_timeout_seconds: 1, ack_timeout_seconds: 2, backoff_initial_seconds: 0.1, backoff_max_seconds: 0.5}
"""


def decided(out: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    return {d["alarm_id"]: d["decision"] for d in out["decision"]}


def sink_messages(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip().startswith("{")]


def audit(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def wait_until(cond: Any, timeout_seconds: float, what: str, log: Any = None) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout_seconds} s" + (f"\n{log()[-3000:]}" if log else ""))
        time.sleep(0.1)


def test_every_forwarded_alert_reaches_a_receiver_started_late(
    settings: Settings, workers: Any, tmp_path: Path
) -> None:
    port = free_port()
    config = tmp_path / "delivery.yaml"
    config.write_text(FAST_DELIVERY_YAML)
    w = workers("w1", hl7_url=f"mllp://127.0.0.1:{port}", hl7_config=config)
    data = tmp_path / "w1"
    w.wait_assigned()

    events = ward_stream(beds=2, seconds=40, tag="hl7")
    ids = alarm_ids(events)
    run(produce_events(settings, events))
    out = run(read_outputs(settings, lambda o: ids <= set(decided(o)), 30))
    alerts = {a["alarm_id"] for a in out["alert"]}
    suppressed = {a for a, d in decided(out).items() if d == "suppress"}
    technical = {t["alarm_id"] for t in out["technical"]}
    # the stream has all three kinds (the in-process driver decides the same: tests/kafka/test_worker.py)
    assert len(alerts) >= 5 and len(suppressed) >= 5 and technical, (alerts, suppressed, technical)

    # receiver down: every published alert is already queued on disk (submit returns before the send)
    queued = [json.loads(p.read_text())["alarm_id"] for p in (data / "delivery-queue" / "pending").glob("*.json")]
    assert sorted(queued) == sorted(alerts)
    wait_until(lambda: any(r["outcome"] == "connect_failed" for r in audit(data / "delivery-audit.jsonl")),
               10, "no connect_failed in the audit", w.text)

    sink_out = tmp_path / "sink.jsonl"
    with sink_out.open("w") as f:
        sink = subprocess.Popen([ALARMFILTER, "hl7-sink", "--port", str(port)], stdout=f,
                                stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        wait_until(lambda: {m["alarm_id"] for m in sink_messages(sink_out)} >= alerts, 15,
                   "the late receiver did not get every alert", w.text)
        # a clinician's feedback on one alert acknowledges it (audit), as an ORA^R41 would
        acked = min(alerts)
        bed = next(a["bed"] for a in out["alert"] if a["alarm_id"] == acked)
        run(produce_events(settings, [feedback(bed, events[-1].ts + 1.0, acked, actionable=True)]))
        wait_until(lambda: any(r["outcome"] == "acknowledged" and r["alarm_id"] == acked
                               for r in audit(data / "delivery-audit.jsonl")), 10, "feedback did not acknowledge",
                   w.text)
    finally:
        sink.terminate()
        sink.wait(5)

    messages = sink_messages(sink_out)
    got = {m["alarm_id"] for m in messages}
    assert got == alerts  # every forwarded alert, no suppressed or technical one
    assert not got & (suppressed | technical)
    assert all(m["message_type"] == "ORU^R40^ORU_R40" and m["ack"] == "AA" for m in messages)
    by_id: dict[str, set[str]] = {}
    for m in messages:  # at-least-once: a repeat carries the same control id
        by_id.setdefault(m["alarm_id"], set()).add(m["control_id"])
    assert all(len(c) == 1 for c in by_id.values()), by_id
    # alerts carry the bed's measured value from the vitals topic (hr_bpm 80..86 in the stream)
    hr = [o for m in messages if m["alarm_id"] in alerts and "hr_high" in json.dumps(m)
          for o in m["observations"] if o["units"]]
    hr_decisions = [(d["alarm_id"], d["decision"], d["reason_code"]) for d in out["decision"] if d["type"] == "hr_high"]
    assert hr and all(80 <= float(o["value"]) <= 86 for o in hr), (hr, hr_decisions)
    records = audit(data / "delivery-audit.jsonl")
    accepted = {r["alarm_id"] for r in records if r["outcome"] == "accepted"}
    assert accepted == alerts
    assert not list((data / "delivery-queue" / "pending").glob("*.json"))
    assert w.alive

    # shutdown is clean and says what delivery did
    w.stop()
    assert w.proc is not None and w.proc.returncode is not None
    assert "HL7 delivery stopped" in w.text(), w.text()[-3000:]


def test_a_full_queue_holds_the_worker_until_the_receiver_takes_the_alerts(
    settings: Settings, workers: Any, tmp_path: Path
) -> None:
    """A full queue: the worker neither drops an alert nor keeps one only in memory, and stops consuming;
    it resumes when there is room."""
    port = free_port()
    config = tmp_path / "delivery.yaml"
    config.write_text(FAST_DELIVERY_YAML + "queue: {max_items: 3}\n")
    w = workers("w1", hl7_url=f"mllp://127.0.0.1:{port}", hl7_config=config)
    data = tmp_path / "w1"
    w.wait_assigned()
    events = ward_stream(beds=2, seconds=40, tag="full")
    ids = alarm_ids(events)
    run(produce_events(settings, events))
    wait_until(lambda: any(r["outcome"] == "queue_full" for r in audit(data / "delivery-audit.jsonl")),
               20, "the queue never filled", w.text)
    # held: no more input taken, so the decided count settles (two reads agree) short of every alarm
    out = run(read_outputs(settings, lambda o: False, 2))
    deadline = time.monotonic() + 20
    while len(decided(again := run(read_outputs(settings, lambda o: False, 2)))) != len(decided(out)):
        assert time.monotonic() < deadline, "decisions kept coming after the queue filled"
        out = again
    assert len(decided(out)) < len(ids)
    pending = {json.loads(p.read_text())["alarm_id"] for p in (data / "delivery-queue" / "pending").glob("*.json")}
    assert len(pending) >= 3  # the bound was reached; alerts of the message that crossed it went past it
    assert {a["alarm_id"] for a in out["alert"]} <= pending  # every published alert is on disk: a crash loses none
    assert sum(r["outcome"] == "queue_full" for r in audit(data / "delivery-audit.jsonl")) == 1  # no retry spam

    sink_out = tmp_path / "sink.jsonl"
    with sink_out.open("w") as f:
        sink = subprocess.Popen([ALARMFILTER, "hl7-sink", "--port", str(port)], stdout=f,
                                stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        out = run(read_outputs(settings, lambda o: ids <= set(decided(o)), 30))
        alerts = {a["alarm_id"] for a in out["alert"]}
        wait_until(lambda: {m["alarm_id"] for m in sink_messages(sink_out)} >= alerts, 15,
                   "the receiver did not get every alert", w.text)
    finally:
        sink.terminate()
        sink.wait(5)
    assert set(decided(out)) == ids and len(alerts) >= 5
    assert {m["alarm_id"] for m in sink_messages(sink_out)} == alerts


def test_bad_hl7_url_is_one_line_and_exit_2(settings: Settings, tmp_path: Path) -> None:
    from .conftest import worker_env

    for extra, needle in (({"hl7_url": "http://127.0.0.1:2575"}, "hl7_url"),
                          ({"hl7_config": tmp_path / "missing.yaml"}, "missing.yaml")):
        r = subprocess.run([ALARMFILTER, "worker", "--broker-wait", "1"], env=worker_env(settings, tmp_path, **extra),
                           cwd=REPO, capture_output=True, text=True, timeout=30, check=False)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and needle in r.stderr, r.stderr
        assert "Traceback" not in r.stderr



@pytest.mark.timeout(150)
@pytest.mark.skipif(PROMETHEUS is None, reason=MISSING)
def test_a_stopped_receiver_shows_in_the_metrics_the_alerts_and_the_log(
    settings: Settings, workers: Any, tmp_path: Path
) -> None:
    """The receiver works, then stops: a real Prometheus scraping the worker sees the failure metrics and
    the delivery-failing alert go active, a high-priority alert nobody could acknowledge fires its alert,
    and the worker log says both (a warning per failing destination, an error naming the bed)."""
    port, metrics_port = free_port(), free_port()
    config = tmp_path / "delivery.yaml"
    config.write_text(FAST_DELIVERY_YAML.replace("high: 3600", "high: 60"))
    sink_out = tmp_path / "sink.jsonl"
    with sink_out.open("w") as f:
        sink = subprocess.Popen([ALARMFILTER, "hl7-sink", "--port", str(port)], stdout=f,
                                stderr=subprocess.DEVNULL, cwd=REPO)
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    prom = PrometheusServer(prom_dir, [f"127.0.0.1:{metrics_port}"])

    def wait(expr: str, expected: float | None = None) -> float:
        return prom.wait_for(expr, expected, timeout_seconds=LIVE_WAIT_SECONDS)

    try:
        w = workers("w1", hl7_url=f"mllp://127.0.0.1:{port}", hl7_config=config, metrics_port=metrics_port,
                    metrics_addr="127.0.0.1", status_interval_seconds=1)
        data = tmp_path / "w1"
        prom.start()
        w.wait_assigned()
        # receiver up: every alert accepted, then acknowledged by a clinician (no escalation left pending)
        first = ward_stream(beds=2, seconds=20, tag="up")
        run(produce_events(settings, first))
        out = run(read_outputs(settings, lambda o: alarm_ids(first) <= set(decided(o)), 30))
        alerts = {a["alarm_id"]: a["bed"] for a in out["alert"]}
        assert len(alerts) >= 3
        wait_until(lambda: {r["alarm_id"] for r in audit(data / "delivery-audit.jsonl")
                            if r["outcome"] == "accepted"} >= set(alerts), 15, "alerts not accepted", w.text)
        run(produce_events(settings, [feedback(bed, first[-1].ts + 0.5, a, True) for a, bed in alerts.items()]))
        wait_until(lambda: {r["alarm_id"] for r in audit(data / "delivery-audit.jsonl")
                            if r["outcome"] == "acknowledged"} >= set(alerts), 15, "feedback did not acknowledge",
                   w.text)
        wait('sum(alarmfilter_hl7_deliveries_total{outcome="accepted"})', float(len(alerts)))
        assert prom.value("min(alarmfilter_hl7_destination_up)") == 1.0
        assert prom.value("sum(alarmfilter_hl7_delivery_failures_total)") == 0.0

        sink.terminate()  # the receiver stops
        sink.wait(5)
        # a minute of ward later: its high-priority alerts fall due for escalation while nobody can see them
        second = ward_stream(beds=2, seconds=70, tag="down", t0=first[-1].ts + 30.0)
        run(produce_events(settings, second))
        wait("min(alarmfilter_hl7_destination_up)", 0.0)
        wait('sum(alarmfilter_hl7_delivery_failures_total{reason="connect_failed"}) > 0')
        wait("sum(alarmfilter_hl7_queue_messages) > 0")
        wait('count(ALERTS{alertname="AlarmfilterHl7DeliveryFailing", destination="dest0"})', 1.0)
        wait('count(ALERTS{alertname="AlarmfilterHighPriorityAlertExhausted", alertstate="firing"})', 1.0)
        wait("max(alarmfilter_hl7_oldest_undelivered_age_seconds) > 1")
        text = w.text()
        assert "HL7 delivery to dest0 failing" in text and "ConnectionRefusedError" in text, text[-3000:]
        exhausted = [r for r in audit(data / "delivery-audit.jsonl") if r["outcome"] == "exhausted"]
        assert exhausted and all(r["alarm_id"] not in alerts for r in exhausted)  # only the unacknowledged ones
        errors = [line for line in text.splitlines() if " ERROR " in line and "acknowledged by nobody" in line]
        assert errors and all(r["bed"] in text for r in exhausted if r["priority"] == "high"), text[-3000:]
        status = [line for line in text.splitlines() if "status: " in line and "HL7 queue" in line]
        assert status and "failing: dest0" in status[-1], status[-3:]
        # one warning per failing destination per WARN_EVERY_SECONDS, not one per attempt
        warnings = [line for line in text.splitlines() if "HL7 delivery to dest0 failing" in line]
        assert len(warnings) <= 2, warnings
        print(f"\n{errors[0]}\n{warnings[0]}\n{status[-1]}")
    finally:
        if sink.poll() is None:
            sink.terminate()
            sink.wait(5)
        prom.stop()
