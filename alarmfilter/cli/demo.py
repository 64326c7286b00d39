"""`alarmfilter demo`: a ward replayed through the real engine, its alarm burden before and after."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from . import CliError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="run a ward end to end on this machine and show the alarm burden")
    p.add_argument("--seconds", type=float, default=3600.0, help="length of the simulated ward in seconds")
    p.add_argument("--beds", type=int, default=20, help="number of beds")
    p.add_argument("--data", default=None, help="data folder (default: $ALARMFILTER_DATA_DIR, ../shared/data)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..datasets.location import CHALLENGE, find_dataset
    from ..datasets.ward import record_ward
    from ..replay import Ward
    from .engines import engine_factory

    if args.beds < 1 or args.seconds <= 0:
        raise CliError("--beds and --seconds must be positive")
    loc = find_dataset(CHALLENGE, args.data)
    if loc is None:
        raise CliError(f"no {CHALLENGE} folder found (looked in --data, $ALARMFILTER_DATA_DIR, ../shared/data, ~/.cache/alarmfilter)")
    events, truth = record_ward(loc.dataset(CHALLENGE), beds=args.beds, seconds=args.seconds)
    ward = Ward(engine_factory())
    decisions = []
    for ev in events:
        decisions += [o for o in ward.feed(ev) if o.kind == "decision"]
    decisions += [o for o in ward.flush() if o.kind == "decision"]
    summary = summarise(decisions, truth)
    summary["data"] = {"dataset": str(loc.dataset(CHALLENGE)), "found_by": loc.source}
    if args.json:
        print(json.dumps(summary))
    else:
        print_table(summary)
    return 0


def summarise(decisions: list, truth: dict[str, bool]) -> dict:
    per_type: dict[str, Counter] = {}
    for d in decisions:
        c = per_type.setdefault(d.type, Counter())
        actionable = truth.get(d.alarm_id)
        forwarded = d.decision == "forward"
        c["alarms_in"] += 1
        c["forwarded" if forwarded else "suppressed"] += 1
        if actionable is False:
            c["false_alarms"] += 1
            c["false_suppressed"] += not forwarded
        elif actionable is True:
            c["true_alarms"] += 1
            c["missed_true"] += not forwarded
    total: Counter = sum(per_type.values(), Counter())

    def row(c: Counter) -> dict:
        keys = ["alarms_in", "forwarded", "suppressed", "false_alarms", "false_suppressed", "true_alarms", "missed_true"]
        r = {k: int(c[k]) for k in keys}
        r["false_alarm_reduction_pct"] = round(100.0 * c["false_suppressed"] / c["false_alarms"], 1) if c["false_alarms"] else 0.0
        return r

    return {"per_type": {t: row(c) for t, c in sorted(per_type.items())}, "total": row(total)}


def print_table(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="alarmfilter demo: alarm burden before and after filtering")
    cols = ["type", "alarms in", "forwarded", "suppressed", "false-alarm reduction", "missed true"]
    for c in cols:
        table.add_column(c, justify="right" if c != "type" else "left")
    rows = list(summary["per_type"].items()) + [("TOTAL", summary["total"])]
    for name, r in rows:
        table.add_row(name, str(r["alarms_in"]), str(r["forwarded"]), str(r["suppressed"]),
                      f"{r['false_alarm_reduction_pct']:.1f} %", str(r["missed_true"]))
    console = Console()
    console.print(table)
    console.print(f"data: {summary['data']['dataset']} (found via {summary['data']['found_by']})")
