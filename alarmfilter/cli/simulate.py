"""`alarmfilter simulate`: a seeded ICU ward as a JSON-lines event file (for `replay`), truth apart.

The stream is built by `make_run` + `event_stream`; a sink only consumes it: a file (`--out`),
stdout (`--out -`) or a Kafka broker (`--broker`, via alarmfilter.kafka.producer.send_events).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from . import CliError

if TYPE_CHECKING:
    from ..sim.ward import Event, SimRun


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("simulate", help="generate a simulated ICU ward stream with ground truth")
    p.add_argument("--beds", type=int, default=20, help="number of beds (default 20)")
    p.add_argument("--hours", type=float, default=1.0, help="simulated hours (default 1)")
    p.add_argument("--seed", type=int, default=0, help="same seed, same stream")
    p.add_argument("--out", default=None, help="JSON-lines file of wire-format events ('-' = stdout)")
    p.add_argument("--truth", default=None, help="JSON-lines file of ground truth: per alarm and per fault")
    p.add_argument("--realtime", action="store_true",
                   help="live ward: events stamped with the wall clock and sent when they happen "
                        "(default: as fast as possible, from a fixed start time)")
    p.add_argument("--start-ts", type=float, default=None, metavar="EPOCH",
                   help="event time of the ward's start, UTC epoch seconds (default: now with --realtime, "
                        "else a fixed time so the same seed gives the same stream)")
    p.add_argument("--speed", type=float, default=1.0, help="with --realtime: this many times real time")
    p.add_argument("--feedback", action="store_true",
                   help="add clinician feedback as if every alarm were seen (no filter in the loop)")
    p.add_argument("--data", default=None, help="data folder (default: $ALARMFILTER_DATA_DIR, ../shared/data, cache)")
    p.add_argument("--synthetic", action="store_true", help="ignore real data: fully synthetic ward")
    p.add_argument("--bed-dispersion", type=float, default=0.0, metavar="D",
                   help="variance of a per-bed alarm-rate multiplier (mean 1): some beds loud; default 0")
    p.add_argument("--broker", default=None, metavar="URL",
                   help="kafka://host:port[,host:port]: publish to the input topics instead of --out "
                        "(topic names from ALARMFILTER_TOPIC_PREFIX)")
    p.set_defaults(func=run)


def make_run(args: argparse.Namespace) -> SimRun:
    """The planned ward for these arguments (validated: bad values are one-line errors)."""
    from pydantic import ValidationError

    from ..sim import SimConfig, simulate

    if args.beds < 1 or args.hours <= 0:
        raise CliError("--beds and --hours must be positive")
    if args.realtime and args.speed <= 0:
        raise CliError("--speed must be positive")
    if args.data is not None and not Path(args.data).is_dir():
        raise CliError(f"{args.data}: no such directory")
    start: dict[str, float] = {}
    if args.start_ts is not None:
        start["start_ts"] = args.start_ts
    elif args.realtime:
        start["start_ts"] = round(time.time(), 3)  # a live ward: event time is the wall clock
    try:
        config = SimConfig(beds=args.beds, hours=args.hours, seed=args.seed, data_dir=args.data,
                           use_real_data=not args.synthetic, bed_rate_dispersion=args.bed_dispersion, **start)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise CliError(f"{'.'.join(str(x) for x in first['loc'])}: {first['msg']}") from None
    return simulate(config)


def event_stream(args: argparse.Namespace, run: SimRun) -> Iterator[Event]:
    """The events to send: optionally with open-loop feedback, optionally paced."""
    from ..sim import FeedbackModel
    from ..sim.closedloop import open_loop_feedback
    from ..sim.feedback import FeedbackConfig
    from ..sim.pacing import paced

    events: Iterator[Event] = run.events()
    if args.feedback:
        events = open_loop_feedback(events, FeedbackModel(run.truth, FeedbackConfig(seed=args.seed)))
    if args.realtime:
        # due when they happen: event time `start_ts` is the wall clock at the start (speed 1)
        start = run.config.start_ts
        events = paced(events, speed=args.speed, clock=time.time, anchor=(start, start))
    return events


def run(args: argparse.Namespace) -> int:
    from ..sim.ward import encode_event, write_jsonl, write_truth

    if args.broker:
        return _to_broker(args)
    if args.out is None:
        raise CliError("say where the events go: --out FILE.jsonl (or --out - for stdout)")
    sim = make_run(args)
    summary = sim.summary()
    try:
        if args.truth:
            write_truth(sim, Path(args.truth))
        if args.out == "-":
            n = 0
            for n, e in enumerate(event_stream(args, sim), start=1):
                sys.stdout.write(encode_event(e) + "\n")
            sys.stdout.flush()
        else:
            n = write_jsonl(event_stream(args, sim), Path(args.out))
    except OSError as exc:
        raise CliError(f"{exc.filename or args.out}: {exc.strerror or exc}") from None
    report = {"out": args.out, "truth": args.truth, "events": n, **summary}
    print(json.dumps(report), file=sys.stderr if args.out == "-" else sys.stdout)
    return 0


def _to_broker(args: argparse.Namespace) -> int:
    """Publish the ward to Kafka (paced by the producer when --realtime)."""
    from ..kafka.producer import BrokerUnavailable, send_events
    from ..sim.ward import write_truth

    sim = make_run(args)
    try:
        if args.truth:
            write_truth(sim, Path(args.truth))
        # paced here (blocking iterator, read on the producer's helper thread), by availability time
        sent = send_events(args.broker, event_stream(args, sim))
    except (BrokerUnavailable, ValueError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{exc.filename or args.truth}: {exc.strerror or exc}") from None
    print(json.dumps({"broker": args.broker, "sent": sent, **sim.summary()}))
    return 0
