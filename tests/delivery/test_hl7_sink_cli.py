"""`alarmfilter hl7-sink` as a subprocess, receiving from the real client."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys

import pytest

from alarmfilter.delivery import AlertDelivery
from tests.delivery.support import T0, alert, fast_config

pytestmark = pytest.mark.timeout(30)


def start_sink(*args: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "alarmfilter", "hl7-sink", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()  # printed once the socket is bound
    m = re.search(r"mllp://127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        raise AssertionError(f"hl7-sink did not report its port: {line!r} {proc.stderr.read()}")
    return proc, int(m.group(1))


def deliver(port: int, alerts, tmp_path, ack_wait_seconds: float = 5.0):
    records = []

    async def main():
        d = AlertDelivery(fast_config(port), tmp_path / "q", records.append)
        stop = asyncio.Event()
        task = asyncio.create_task(d.run(stop))
        for a in alerts:
            d.submit(a)
        ok = await d.drain(ack_wait_seconds)
        stop.set()
        await task
        return ok
    return asyncio.run(main()), records


def test_sink_acks_and_prints_each_message_as_json(tmp_path):
    proc, port = start_sink("--count", "2")
    try:
        ok, records = deliver(port, [alert("s1", ts=T0), alert("s2", ts=T0 + 5, type="spo2_low",
                                                               priority="medium", reasons=["SpO2 | 81 %"])], tmp_path)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert ok and proc.returncode == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    assert [x["alarm_id"] for x in lines] == ["s1", "s2"]
    assert all(x["message_type"] == "ORU^R40^ORU_R40" and x["ack"] == "AA" for x in lines)
    assert lines[1]["bed"] == "ICU1-07" and lines[1]["patient_id"] is None
    reasons = [o["value"] for o in lines[1]["observations"] if o["code"] == "AF_REASON"]
    assert reasons == ["SpO2 | 81 %"]
    assert lines[0]["observations"][0]["name"] == "MDC_EVT_ECG_ASYSTOLE"
    assert [r.outcome for r in records if r.outcome != "queued"] == ["accepted", "accepted"]


def test_sink_answering_ar_makes_the_client_record_a_rejection(tmp_path):
    proc, port = start_sink("--count", "1", "--ack", "AR")
    try:
        ok, records = deliver(port, [alert("r1")], tmp_path)
        proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert ok  # refused messages leave pending/ for failed/: nothing left to send
    assert [r.outcome for r in records] == ["queued", "rejected", "exhausted"]


def test_sink_user_errors_are_one_line_exit_2():
    busy = subprocess.run([sys.executable, "-m", "alarmfilter", "hl7-sink", "--port", "70000"],
                          capture_output=True, text=True, timeout=20, check=False)
    assert busy.returncode == 2 and busy.stderr.count("\n") == 1 and "Traceback" not in busy.stderr


@pytest.mark.slow
def test_demo_sends_every_forwarded_alert_to_the_sink():
    proc, port = start_sink()
    try:
        demo = subprocess.run([sys.executable, "-m", "alarmfilter", "demo", "--synthetic", "--beds", "3",
                               "--seconds", "600", "--json", "--hl7", f"mllp://127.0.0.1:{port}"],
                              capture_output=True, text=True, timeout=60, check=False)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert demo.returncode == 0, demo.stderr
    hl7 = json.loads(demo.stdout)["hl7"]
    received = [json.loads(x) for x in out.splitlines()]
    assert hl7["alerts"] >= 1 and hl7["accepted"] == hl7["alerts"] == len(received) and hl7["pending"] == 0
    assert len({x["alarm_id"] for x in received}) == len(received)


def test_demo_rejects_a_bad_hl7_url_in_one_line(capsys):
    from alarmfilter.cli import main

    assert main(["demo", "--hl7", "http://127.0.0.1:1", "--beds", "1", "--seconds", "10"]) == 2
    err = capsys.readouterr().err
    assert "mllp://HOST:PORT" in err and err.count("\n") == 1
