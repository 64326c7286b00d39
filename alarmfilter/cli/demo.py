"""`alarmfilter demo`: a simulated ward through the real engine, its alarm burden before and after.

20 beds for one simulated hour (by default), run as fast as possible through the in-process
`Ward` with the shipped engines, clinicians labelling the alarms they are shown. Ground truth
comes from the simulator, so missed true alarms are counted, not estimated.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from . import CliError
from .replay import MeteredWard, add_metrics_options, linger, start_metrics


def is_technical(alarm_type: str) -> bool:
    """A technical alarm (leads off, probe off, …): routed to the bedside nurse, not filtered."""
    from ..events.types import AlarmType  # lazily: `alarmfilter --help` stays light

    t = AlarmType.parse(alarm_type)
    return t is not None and t.is_technical


def is_threshold(alarm_type: str) -> bool:
    """A threshold (parameter) alarm: SpO2, HR, ABP, RR limits and apnea."""
    from ..policy.threshold_prior import THRESHOLD_TYPES

    return alarm_type in THRESHOLD_TYPES


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="run a simulated ward end to end on this machine and show the alarm burden")
    p.add_argument("--seconds", type=float, default=3600.0, help="simulated seconds (default 3600)")
    p.add_argument("--beds", type=int, default=20, help="number of beds (default 20)")
    p.add_argument("--seed", type=int, default=0, help="simulation seed")
    p.add_argument("--data", default=None, help="data folder (default: $ALARMFILTER_DATA_DIR, ../shared/data, cache)")
    p.add_argument("--synthetic", action="store_true", help="ignore real data: fully synthetic ward")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--hl7", metavar="mllp://HOST:PORT", default=None,
                   help="also send every forwarded alert there as HL7 ORU^R40 (IHE PCD ACM) over MLLP")
    add_metrics_options(p)
    p.add_argument("--live", action="store_true",
                   help="the whole stack live instead (= make live): embedded broker, two workers, the simulator "
                        "in real time, the review station and /metrics; Ctrl-C stops everything")
    p.add_argument("--review-port", type=int, default=8765, help="with --live: review station port (default 8765)")
    p.add_argument("--until-done", action="store_true", help="with --live: stop when the simulator is done")
    p.set_defaults(func=run)


def run_live(args: argparse.Namespace) -> int:
    from ..review.live import LiveError, LiveOptions
    from ..review.live import run_live as live

    try:
        live(LiveOptions(beds=args.beds, seconds=args.seconds, seed=args.seed, review_port=args.review_port,
                         metrics_port=9464 if args.metrics_port is None else args.metrics_port,
                         until_done=args.until_done))
    except LiveError as exc:
        raise CliError(str(exc)) from None
    return 0


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..replay import Ward
    from ..sim import FeedbackModel, SimConfig, simulate
    from ..sim.closedloop import run_closed_loop
    from ..sim.feedback import FeedbackConfig
    from .engines import engine_factory

    if args.beds < 1 or args.seconds <= 0:
        raise CliError("--beds and --seconds must be positive")
    if args.live:
        return run_live(args)
    if args.beds > 1000:
        raise CliError("--beds: at most 1000 for the in-process demo")
    if args.data is not None and not Path(args.data).is_dir():
        raise CliError(f"{args.data}: no such directory")
    if args.hl7 is not None:
        from ..delivery.batch import check_url

        try:
            check_url(args.hl7)
        except ValueError as exc:
            raise CliError(f"--hl7: {exc}") from None
    started = time.perf_counter()
    sim = simulate(SimConfig(beds=args.beds, hours=args.seconds / 3600.0, seed=args.seed, data_dir=args.data,
                             use_real_data=not args.synthetic))
    truth = sim.truth
    metrics = start_metrics(args)
    ward = Ward(engine_factory()) if metrics is None else MeteredWard(Ward(engine_factory()), metrics)
    alerts: list[Any] = []  # forwarded alerts, for --hl7
    loop = run_closed_loop(sim.events(), ward, FeedbackModel(truth, FeedbackConfig(seed=args.seed)),  # type: ignore[arg-type]
                           on_outputs=(lambda outs: alerts.extend(o for o in outs if o.kind == "alert")) if args.hl7 else None)
    summary = summarise(loop.decisions, {k: t.actionable for k, t in truth.items()})
    bed_days = args.beds * args.seconds / 86_400.0
    total = summary["total"]
    summary["burden_per_bed_day"] = {
        "before": round(total["alarms_in"] / bed_days, 1),
        "after": round(total["forwarded"] / bed_days, 1),
    }
    summary["ward"] = {"beds": args.beds, "simulated_seconds": args.seconds, "seed": args.seed,
                       "events": loop.events_in, "feedback_labels": loop.feedback_fed}
    summary["data"] = sim.data_source
    if not args.synthetic:
        from ..datasets.location import find_challenge, searched

        if find_challenge(args.data) is None:  # say where we looked and how to get the real records
            summary["data_searched"] = searched(args.data)
    summary["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    if args.hl7 is not None:
        from ..delivery.batch import deliver_alerts

        summary["hl7"] = deliver_alerts(alerts, args.hl7)
    if args.json:
        print(json.dumps(summary))
    else:
        print_table(summary)
        if "hl7" in summary:
            print("hl7: " + ", ".join(f"{k} {v}" for k, v in summary["hl7"].items()))
    linger(metrics, args.metrics_linger)
    return 0


def summarise(decisions: list[Any], truth: dict[str, bool]) -> dict[str, Any]:
    """Per type, clinical, technical and in total: alarms in, forwarded, suppressed, vs ground truth.

    Technical alarms are always routed to the bedside nurse, so the clinical totals are the ones
    that say what the filter did.
    """
    from ..policy.confusion import Confusion

    per_type: dict[str, list[tuple[bool | None, bool]]] = {}
    critical: dict[str, list[bool | None]] = {}
    for d in decisions:
        per_type.setdefault(d.type, []).append((truth.get(d.alarm_id), d.decision == "forward"))
        if d.reason_code == "critical_bound":  # a threshold value beyond its critical bound: forwarded at once
            critical.setdefault(d.type, []).append(truth.get(d.alarm_id))
    clinical = [x for t, xs in per_type.items() if not is_technical(t) for x in xs]
    technical = [x for t, xs in per_type.items() if is_technical(t) for x in xs]
    threshold = [x for t, xs in per_type.items() if is_threshold(t) for x in xs]

    def row(decided: list[tuple[bool | None, bool]], crit: list[bool | None] | None = None) -> dict[str, Any]:
        c = Confusion.of(decided)
        forwarded = sum(f for _, f in decided)
        return {"alarms_in": len(decided), "forwarded": forwarded, "suppressed": len(decided) - forwarded,
                "true_alarms": c.true_alarms, "false_alarms": c.false_alarms, "false_suppressed": c.tn,
                "missed_true": c.fn,
                "false_alarm_reduction_pct": round(100.0 * c.tnr, 1) if c.tnr is not None else 0.0,
                "critical_forwarded": len(crit or []), "critical_false": sum(v is False for v in crit or [])}

    return {
        "per_type": {t: row(c, critical.get(t)) for t, c in sorted(per_type.items(),
                                                                    key=lambda kv: (is_technical(kv[0]), kv[0]))},
        "clinical": row(clinical),
        "threshold": row(threshold, [v for vs in critical.values() for v in vs]),
        "technical": row(technical),
        "total": row(clinical + technical),
    }


#: what the table's columns mean (printed under it)
DEMO_LEGEND = ("columns: alarms in = raised by the monitors; true = actionable per the simulator's ground truth; "
               "forwarded = sent to clinicians; suppressed = held back with a reason; false cut = share of the false "
               "alarms suppressed; missed true = true alarms suppressed. Technical alarms are always routed to the "
               "bedside nurse: '-' where ground truth does not apply.")


def print_table(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    w = summary["ward"]
    table = Table(title=f"alarmfilter demo: {w['beds']} beds, {w['simulated_seconds'] / 3600:g} simulated h "
                        "- alarm burden before and after filtering")
    cols = ["type", "alarms in", "true", "forwarded", "suppressed", "false cut", "missed true"]
    for c in cols:
        table.add_column(c, justify="left" if c == "type" else "right", no_wrap=True)
    per_type = summary["per_type"]
    technical = [t for t in per_type if is_technical(t)]
    rows = [(t, r) for t, r in per_type.items() if not is_technical(t)] + [("CLINICAL TOTAL", summary["clinical"])]
    rows += [(t, per_type[t]) for t in technical] + [("TECHNICAL (routed)", summary["technical"])]
    for name, r in rows:
        routed = name in technical or name == "TECHNICAL (routed)"  # always forwarded: truth columns say nothing
        table.add_row(name, str(r["alarms_in"]), "-" if routed else str(r["true_alarms"]), str(r["forwarded"]),
                      str(r["suppressed"]),
                      f"{r['false_alarm_reduction_pct']:.1f} %" if r["false_alarms"] and not routed else "-",
                      "-" if routed else str(r["missed_true"]))
    console = Console()
    if console.width < 100:
        console = Console(width=100)
    console.print(table)
    console.print(DEMO_LEGEND, soft_wrap=True)
    t, b = summary["clinical"], summary["burden_per_bed_day"]
    console.print(f"alarm burden: {b['before']} alarms/bed/day before, {b['after']} after "
                  f"(technical alarms go to the bedside nurse and count as forwarded)")
    console.print(f"clinical false alarms suppressed: {t['false_suppressed']} of {t['false_alarms']} "
                  f"({t['false_alarm_reduction_pct']:.1f} %); missed true alarms: {t['missed_true']} of {t['true_alarms']}")
    th = summary["threshold"]
    console.print(f"threshold alarms (SpO2, HR, ABP, RR, apnea): false ones suppressed {th['false_suppressed']} of "
                  f"{th['false_alarms']} ({th['false_alarm_reduction_pct']:.1f} %), missed true {th['missed_true']} of "
                  f"{th['true_alarms']}; {th['critical_forwarded']} beyond a critical bound (every apnea included; "
                  f"{th['critical_false']} of them false) forwarded at once")
    console.print(f"clinician labels fed back: {w['feedback_labels']}; events: {w['events']}; "
                  f"elapsed {summary['elapsed_seconds']} s")
    console.print(f"data: {summary['data']}", soft_wrap=True)
    if "data_searched" in summary:
        console.print(f"no challenge data folder in {summary['data_searched']}; "
                      "`alarmfilter data fetch challenge2015` gets the full public training set", soft_wrap=True)
