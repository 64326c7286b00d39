"""`alarmfilter replay EVENTS.jsonl --out DIR`: a recorded event stream through the in-process ward.

With `--metrics-port` the run exports its Prometheus metrics while it replays, and keeps
serving them for `--metrics-linger` seconds afterwards so a scrape sees the final counts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..events import Feedback, InputEvent, Output, decode_event
from . import CliError, readable_file

#: the care-unit label when none is given: the same spelling as the worker's (Settings.unit), so a
#: Grafana unit selector does not list one ward twice
DEFAULT_UNIT = "icu"

if TYPE_CHECKING:
    from ..metrics import DriverMetrics
    from ..replay import Ward

#: How often (wall seconds) engine counters, lag and input backlog are exported during a run.
REFRESH_SECONDS = 0.5
#: The replay's "topic" in alarmfilter_consumer_lag_messages: lines of the file not read yet.
FILE_TOPIC = "events-file"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("replay", help="run a JSON-lines event file through the filter")
    p.add_argument("events", help="JSON-lines file of wire-format v1 events, in arrival order")
    p.add_argument("--out", required=True, help="folder for alerts/decisions/technical/deadletter .jsonl")
    add_metrics_options(p)
    p.set_defaults(func=run)


def add_metrics_options(p: argparse.ArgumentParser) -> None:
    """--metrics-port and friends; shared with `alarmfilter demo`."""
    p.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                   help="serve Prometheus /metrics on this port during the run (0: any free port)")
    p.add_argument("--metrics-addr", default="127.0.0.1", help="address for /metrics (default 127.0.0.1)")
    p.add_argument("--metrics-linger", type=float, default=30.0, metavar="SECONDS",
                   help="keep serving /metrics this long after the run, for a last scrape (default 30)")
    p.add_argument("--unit", default=DEFAULT_UNIT,
                   help=f"care-unit label on the metrics (default {DEFAULT_UNIT}, the worker's default unit)")
    p.add_argument("--per-bed-metrics", action="store_true", help="also count alarms per bed (bed ids as labels)")


def start_metrics(args: argparse.Namespace) -> DriverMetrics | None:
    """A DriverMetrics serving /metrics when --metrics-port was given, else None."""
    if args.metrics_port is None:
        return None
    if not 0 <= args.metrics_port <= 65535:
        raise CliError(f"--metrics-port {args.metrics_port}: must be within 0..65535")
    if args.metrics_linger < 0:
        raise CliError("--metrics-linger must not be negative")
    from ..metrics import DriverMetrics

    metrics = DriverMetrics(unit=args.unit, per_bed=args.per_bed_metrics)
    try:
        port = metrics.serve(args.metrics_port, args.metrics_addr)
    except OSError as exc:
        raise CliError(f"cannot serve metrics on {args.metrics_addr}:{args.metrics_port}: {exc.strerror or exc}") from None
    print(f"metrics: http://{args.metrics_addr}:{port}/metrics", file=sys.stderr, flush=True)
    return metrics


def linger(metrics: DriverMetrics | None, seconds: float) -> None:
    """Keep /metrics up for a final scrape; Ctrl-C ends it early without an error."""
    if metrics is None:
        return
    try:
        if seconds > 0:
            print(f"metrics: serving {seconds:g} s more (Ctrl-C to stop)", file=sys.stderr, flush=True)
            time.sleep(seconds)
    except KeyboardInterrupt:
        pass
    finally:
        metrics.close()


def run(args: argparse.Namespace) -> int:
    from ..replay import Ward, read_lines, replay_file
    from .engines import engine_factory

    events = Path(readable_file(args.events))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"{out}: exists and is not a directory")
    metrics = start_metrics(args)
    try:
        if metrics is None:
            counts = replay_file(events, out, Ward(engine_factory()))
        else:
            total = sum(1 for _ in read_lines(events))
            counts = metered_replay(read_lines(events), out, Ward(engine_factory()), metrics, total_lines=total)
    except OSError as exc:
        if metrics is not None:
            metrics.close()
        raise CliError(f"{exc.filename or events}: {exc.strerror or exc}") from None
    print(json.dumps({"out": str(out), **counts}), flush=True)
    linger(metrics, args.metrics_linger)
    lines = sum(1 for _ in read_lines(events))
    if lines and counts.get("deadletter", 0) >= lines and not counts.get("decision", 0):
        raise CliError(f"{events}: none of its {lines} lines is a valid event (reasons in {out / 'deadletter.jsonl'})")
    return 0


class MeteredWard:
    """A `Ward` whose outputs and feedback events are counted in `metrics` (a driver-side wrapper).

    Same `feed` / `feed_raw` / `tick` / `flush` / `beds` as the ward it wraps. Engine counters,
    event lag (live streams only) and the source's backlog (`backlog()`, messages not read yet,
    as alarmfilter_consumer_lag_messages{topic="events-file"}) are exported every REFRESH_SECONDS.
    """

    def __init__(self, ward: Ward, metrics: DriverMetrics, clock: Callable[[], float] = time.time,
                 backlog: Callable[[], int] | None = None) -> None:
        self.ward = ward
        self.metrics = metrics
        self.clock = clock
        self.backlog = backlog  # messages still waiting at the driver's source, when it knows
        self._last_refresh = clock()

    @property
    def beds(self) -> dict[str, Any]:
        return self.ward.beds

    def feed(self, event: InputEvent) -> list[Output]:
        outputs = self.ward.feed(event)
        self._count(outputs)
        if isinstance(event, Feedback):
            self.metrics.observe_feedback(event)
        return outputs

    def feed_raw(self, raw: object) -> list[Output]:
        outputs = self.ward.feed_raw(raw)
        self._count(outputs)
        if (b'"feedback"' in raw) if isinstance(raw, bytes) else (isinstance(raw, str) and '"feedback"' in raw):
            event = decode_event(raw)
            if isinstance(event, Feedback):
                self.metrics.observe_feedback(event)
        return outputs

    def tick(self, now: float) -> list[Output]:
        outputs = self.ward.tick(now)
        self._count(outputs)
        return outputs

    def flush(self) -> list[Output]:
        outputs = self.ward.flush()
        self._count(outputs)
        self.refresh()
        return outputs

    def _count(self, outputs: list[Output]) -> None:
        now = self.clock()
        if outputs:
            self.metrics.observe(outputs, wall_now=now)
        if now - self._last_refresh >= REFRESH_SECONDS:
            self.refresh()

    def refresh(self) -> None:
        """Export engine counters, event lag (when the stream is live) and the input backlog."""
        from ..metrics.driver import MAX_LIVE_LATENCY_SECONDS

        now = self._last_refresh = self.clock()
        engines = self.ward.beds.values()
        self.metrics.observe_engines(engines)
        newest = max((eng.clock for eng in engines), default=0.0)
        if newest > 0 and abs(now - newest) <= MAX_LIVE_LATENCY_SECONDS:
            self.metrics.observe_lag(now - newest)
        if self.backlog is not None:
            self.metrics.observe_consumer_lag(FILE_TOPIC, self.backlog())


def metered_replay(
    lines: Iterable[str],
    out_dir: Path,
    ward: Ward,
    metrics: DriverMetrics,
    total_lines: int | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, int]:
    """`replay_file` with metrics: every output counted as it is written, feedback joined to decisions."""
    from ..replay import OutputFiles

    done = [0]

    def backlog() -> int:
        return max(0, (total_lines or 0) - done[0])

    metered = MeteredWard(ward, metrics, clock, backlog if total_lines is not None else None)
    with OutputFiles(out_dir) as files:
        for line in lines:
            files.write(metered.feed_raw(line))
            done[0] += 1
        files.write(metered.flush())
    return files.counts
