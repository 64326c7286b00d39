"""`alarmfilter replay EVENTS.jsonl --out DIR`: a recorded event stream through the in-process ward."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import CliError, readable_file


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("replay", help="run a JSON-lines event file through the filter")
    p.add_argument("events", help="JSON-lines file of wire-format v1 events, in arrival order")
    p.add_argument("--out", required=True, help="folder for alerts/decisions/technical/deadletter .jsonl")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..replay import Ward, replay_file
    from .engines import engine_factory

    events = Path(readable_file(args.events))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"{out}: exists and is not a directory")
    try:
        counts = replay_file(events, out, Ward(engine_factory()))
    except OSError as exc:
        raise CliError(f"{exc.filename or events}: {exc.strerror or exc}") from None
    print(json.dumps({"out": str(out), **counts}))
    return 0
