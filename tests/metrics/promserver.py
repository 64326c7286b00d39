"""A real Prometheus server for tests: 127.0.0.1, a free port, a temp storage dir, stopped after.

Uses the Debian package's `prometheus` binary (installed by .ci/run); tests skip, saying so,
when it is missing.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PROM_DIR = REPO / "config" / "prometheus"
RULE_FILES = sorted((PROM_DIR / "rules").glob("*.yml"))
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
MISSING = "Prometheus not installed (Debian package `prometheus`; .ci/run installs it)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrometheusServer:
    """Scrapes `targets` every second and evaluates the repo's rule files every second."""

    def __init__(self, workdir: Path, targets: list[str], job: str = "alarmfilter") -> None:
        self.workdir = workdir
        self.targets = targets
        self.job = job
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        cfg = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in RULE_FILES],
            "scrape_configs": [{"job_name": self.job, "static_configs": [{"targets": self.targets}]}],
        }
        path = self.workdir / "prometheus.yml"
        path.write_text(json.dumps(cfg), encoding="utf-8")  # JSON is YAML
        return path

    def start(self, timeout_seconds: float = 20.0) -> PrometheusServer:
        assert PROMETHEUS, MISSING
        config = self._write_config()
        for _attempt in range(3):  # a free port can be taken between probe and bind: retry
            self.port = free_port()
            storage = self.workdir / f"data-{self.port}"
            with self.log_path.open("ab") as log:
                self.proc = subprocess.Popen(
                    [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={storage}",
                     f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn",
                     "--storage.tsdb.retention.time=1h"],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                )
            deadline = time.monotonic() + timeout_seconds
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                        if r.status == 200:
                            return self
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(0.1)
            self.stop()
        raise RuntimeError(f"prometheus did not become ready; log:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query through the HTTP API; the result vector (or scalar as one sample)."""
        data = urllib.parse.urlencode({"query": expr}).encode()
        with urllib.request.urlopen(f"{self.url}/api/v1/query", data=data, timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        result = body["data"]["result"]
        if body["data"]["resultType"] == "scalar":
            return [{"metric": {}, "value": result}]
        return list(result)

    def rules(self) -> list[dict[str, Any]]:
        """Every loaded recording and alerting rule with its health and last error."""
        with urllib.request.urlopen(f"{self.url}/api/v1/rules", timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return [rule for group in body["data"]["groups"] for rule in group["rules"]]

    def query_range(self, expr: str, seconds: float = 30.0) -> list[dict[str, Any]]:
        now = time.time()
        params = {"query": expr, "start": f"{now - seconds:.3f}", "end": f"{now:.3f}", "step": "1"}
        data = urllib.parse.urlencode(params).encode()
        with urllib.request.urlopen(f"{self.url}/api/v1/query_range", data=data, timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def value(self, expr: str) -> float | None:
        """The single value of a one-sample result, None when there is no data."""
        result = self.query(expr)
        if not result:
            return None
        assert len(result) == 1, result
        return float(result[0]["value"][1])

    def wait_for(self, expr: str, expected: float | None = None, timeout_seconds: float = 20.0) -> float:
        """Poll until `expr` has data (equal to `expected` when given); bounded."""
        deadline = time.monotonic() + timeout_seconds
        last: float | None = None
        while time.monotonic() < deadline:
            last = self.value(expr)
            if last is not None and (expected is None or last == expected):
                return last
            time.sleep(0.2)
        raise AssertionError(f"{expr}: got {last}, expected {expected if expected is not None else 'data'}")


def grafana_to_promql(expr: str, unit_regex: str = ".*") -> str:
    """What Grafana sends for a panel query: its variables replaced (1 s scrapes here).

    >>> grafana_to_promql('rate(x{unit=~"$unit"}[$__rate_interval])')
    'rate(x{unit=~".*"}[1m])'
    """
    for var, value in (("$__rate_interval", "1m"), ("$__range", "1h"), ("$__interval", "1s"), ("$unit", unit_regex)):
        expr = expr.replace(var, value)
    return expr


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """All panels, including those nested in rows."""
    out = []
    for p in dashboard["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out
