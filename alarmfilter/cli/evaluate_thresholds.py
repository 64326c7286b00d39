"""`alarmfilter evaluate-thresholds DIR`: threshold alarms on real 1-Hz numerics, before and after."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from . import CliError, readable_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("evaluate-thresholds",
                       help="generate monitor threshold alarms on real 1-Hz numerics (BIDMC) and measure the filter")
    p.add_argument("dir", help="folder of bidmc_NN_Numerics.csv files (e.g. ../shared/data/bidmc-numerics)")
    p.add_argument("--json", action="store_true", help="print one JSON object (every alarm with its reasons)")
    p.add_argument("--hold", type=float, default=None, metavar="S",
                   help="hold of threshold alarms (0-10 s; default: the engine's, 10 s)")
    p.add_argument("--monitor-delay", type=float, default=0.0, metavar="S",
                   help="the monitor's own annunciation delay for limit alarms (0-30 s, default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..engine.config import HOLD_CEILING_SECONDS, EngineConfig
    from ..evaluate.thresholds import ThresholdDataError, evaluate_thresholds

    folder = Path(readable_dir(args.dir))
    if args.hold is not None and not 0 <= args.hold <= HOLD_CEILING_SECONDS:
        raise CliError(f"--hold must be within [0, {HOLD_CEILING_SECONDS:g}] s")
    if not 0 <= args.monitor_delay <= 30:
        raise CliError("--monitor-delay must be within [0, 30] s")
    cfg = EngineConfig() if args.hold is None else EngineConfig(threshold_hold_seconds=args.hold)
    try:
        report = evaluate_thresholds(folder, config=cfg, monitor_delay=args.monitor_delay)
    except ThresholdDataError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0


def print_report(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(100, Console().width))
    table = Table(title=f"threshold alarms on {r['stays']} real stays ({r['bed_hours']} bed-hours of 1-Hz numerics)")
    for c in ("alarming", "alarms", "/bed-h", "non-crit. /bed-h", "critical", "crit. late", "delay med/max"):
        table.add_column(c, justify="left" if c == "alarming" else "right", no_wrap=True)
    rows = [("monitor (before)", r["before"]), ("alarmfilter (after)", r["after"])]
    rows += [(f"fixed {k.split('_')[-1]} delay", v) for k, v in r["baselines"].items()]
    for name, f in rows:
        d = f["added_delay_seconds"]
        table.add_row(name, str(f["alarms"]), f"{f['per_bed_hour']:.2f}", f"{f['non_critical_per_bed_hour']:.2f}",
                      str(f["critical"]), str(f["critical_delayed_or_suppressed"]), f"{d['median']:g} / {d['max']:g} s")
    console.print(table)
    console.print("alarms: alarms that reach a clinician; /bed-h: per bed-hour; non-crit.: alarms never beyond a "
                  "critical bound; critical: beyond one at the alarm or within its hold; crit. late: critical alarms "
                  "forwarded after the value got there, or not at all; delay: seconds added to forwarded alarms",
                  soft_wrap=False)
    console.print(f"non-critical threshold alarms cut by {r['non_critical_reduction_pct']:.1f} %; per type: "
                  + ", ".join(f"{t} {v['forwarded']}/{v['alarms']} forwarded" for t, v in r["per_type"].items()))
    console.print(f"data: {r['data']}", soft_wrap=True)
