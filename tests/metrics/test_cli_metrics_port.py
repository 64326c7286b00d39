"""`alarmfilter replay --metrics-port`: the real CLI process serves /metrics with the run's counts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import T0, alarm, feedback, line, waveform
from tests.metrics.promserver import REPO, free_port


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for m in re.finditer(rf"^{name}\{{([^}}]*)\}} (\S+)$", text, re.MULTILINE):
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
    return total


def test_replay_serves_metrics_matching_its_outputs(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    lines = [line(waveform("ICU1-01", T0 + s)) for s in range(10)]
    lines += [line(alarm("ICU1-01", T0 + 9.5, "a1", "hr_high", "medium")),
              line(alarm("ICU1-02", T0 + 9.6, "a2", "leads_off", "technical")),
              line(feedback("ICU1-01", T0 + 30, "a1", True)), "garbage", '{"schema_version": 1}']
    events.write_text("\n".join(lines) + "\n")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "alarmfilter", "replay", str(events), "--out", str(tmp_path / "out"),
         "--metrics-port", str(port), "--metrics-linger", "20", "--unit", "ICU7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    try:
        first = proc.stdout.readline()
        if not first:
            proc.wait(timeout=10)
            pytest.fail(f"replay printed nothing (exit {proc.returncode}): {proc.stderr.read()[-2000:]}")
        summary = json.loads(first)  # printed when the replay is done, before lingering
        text = ""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    text = r.read().decode()
                break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        assert text, "no /metrics answer"
        for kind in ("alert", "decision", "technical", "deadletter"):
            assert _metric(text, "alarmfilter_outputs_total", unit="ICU7", kind=kind) == summary[kind], kind
        assert _metric(text, "alarmfilter_alarms_total", unit="ICU7") == summary["decision"] == 2
        assert _metric(text, "alarmfilter_dead_letters_total", unit="ICU7") == 2
        assert _metric(text, "alarmfilter_feedback_total", unit="ICU7", actionable="true", decision="forward") == 1
        assert _metric(text, "alarmfilter_consumer_lag_messages", unit="ICU7", topic="events-file") == 0
        assert "ICU1-01" not in text  # no bed ids unless --per-bed-metrics
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_bad_metrics_port_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from alarmfilter.cli import main

    events = tmp_path / "e.jsonl"
    events.write_text(line(alarm("ICU1-01", T0)) + "\n")
    assert main(["replay", str(events), "--out", str(tmp_path / "o"), "--metrics-port", "70000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--metrics-port 70000" in err


def test_demo_serves_metrics_matching_its_summary(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "alarmfilter", "demo", "--beds", "2", "--seconds", "600", "--synthetic", "--json",
         "--metrics-port", str(port), "--metrics-linger", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        first = proc.stdout.readline()
        if not first:
            proc.wait(timeout=10)
            pytest.fail(f"demo printed nothing (exit {proc.returncode}): {proc.stderr.read()[-2000:]}")
        summary = json.loads(first)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
        total = summary["total"]
        assert _metric(text, "alarmfilter_alarms_total") == total["alarms_in"] > 0
        assert _metric(text, "alarmfilter_alarms_total", decision="forward") == total["forwarded"]
        assert _metric(text, "alarmfilter_alarms_total", decision="suppress") == total["suppressed"]
        assert _metric(text, "alarmfilter_feedback_total") == summary["ward"]["feedback_labels"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_busy_metrics_port_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    from alarmfilter.cli import main

    events = tmp_path / "e.jsonl"
    events.write_text(line(alarm("ICU1-01", T0)) + "\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["replay", str(events), "--out", str(tmp_path / "o"), "--metrics-port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot serve metrics on 127.0.0.1:{port}" in err
