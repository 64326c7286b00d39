"""`alarmfilter evaluate DIR`: labelled WFDB records through the real engine, scored, with baselines."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from . import CliError, readable_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("evaluate", help="replay labelled alarm records through the filter and score it")
    p.add_argument("dir", help="WFDB record folder with a RECORDS file (PhysioNet/CinC 2015 layout), or a vfdb "
                   "folder (RECORDS + .atr annotations, no ALARMS): alarms built from its rhythm annotations")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--decisions-out", metavar="FILE", help="write CSV record,alarm_type,decision,score,reason")
    p.add_argument("--hold", type=float, default=0.0, metavar="S",
                   help="seconds after the alarm the engine may use (0-10, default 0: real time)")
    p.add_argument("--report", metavar="HTML", help="write a self-contained HTML report")
    p.add_argument("--mode", choices=["frozen", "prequential"], default="frozen",
                   help="frozen: shipped model unchanged; prequential: learn each label after its decision")
    p.add_argument("--cv", type=int, default=0, metavar="K", help="K-fold cross-validation by record")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed for folds, order and audit sampling")
    p.add_argument("--repeats", type=int, default=1, metavar="R",
                   help="with --cv: repeat the nested CV under seeds N..N+R-1 and report the spread")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="processes to replay records in")
    p.add_argument("--monitor-delay", type=float, default=10.0, metavar="S",
                   help="annunciation delay of the monitor baseline (0-10 s, default 10)")
    p.add_argument("--truncate-at-alarm", action="store_true",
                   help="cut every record at the alarm first (proves decisions use no later data)")
    p.add_argument("--lead-names", choices=["monitor", "ecg"], default="monitor",
                   help="vfdb folders: name the two leads II/V (monitor, default) or ECG1/ECG2 (ecg)")
    p.add_argument("--compare-lead-names", action="store_true",
                   help="vfdb folders: decide again with the other lead names and count the decisions that change")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..datasets.vfdb import is_vfdb_folder
    from ..engine.config import HOLD_CEILING_SECONDS
    from ..evaluate.session import (
        FILTER,
        EvaluationError,
        Options,
        compare_lead_names,
        evaluate,
        repeated_cv,
    )
    from .engines import shipped_model

    data_dir = Path(readable_dir(args.dir))
    if not (data_dir / "RECORDS").is_file() and not any(data_dir.glob("*.hea")):
        raise CliError(f"{data_dir}: no RECORDS file and no .hea headers: not a WFDB record folder")
    if not 0 <= args.hold <= HOLD_CEILING_SECONDS:
        raise CliError(f"--hold must be within [0, {HOLD_CEILING_SECONDS:g}] s")
    if not 0 < args.monitor_delay <= HOLD_CEILING_SECONDS:
        raise CliError(f"--monitor-delay must be within (0, {HOLD_CEILING_SECONDS:g}] s")
    if args.cv == 1 or args.cv < 0:
        raise CliError("--cv needs K >= 2 folds (0 = no cross-validation)")
    if args.jobs < 1:
        raise CliError("--jobs must be at least 1")
    if args.repeats < 1 or (args.repeats > 1 and not args.cv):
        raise CliError("--repeats needs R >= 1, and --cv K when R > 1")
    vfdb_folder = is_vfdb_folder(data_dir)
    if (args.lead_names != "monitor" or args.compare_lead_names) and not vfdb_folder:
        raise CliError(f"{data_dir}: --lead-names and --compare-lead-names need a vfdb folder "
                       "(RECORDS + .atr annotations, no ALARMS)")
    for out in (args.decisions_out, args.report):
        if out and Path(out).is_dir():
            raise CliError(f"{out}: is a directory, expected a file name")
    model, problem = shipped_model()
    if problem:
        print(f"alarmfilter evaluate: {problem}; the filter runs the evidence-free policy", file=sys.stderr)
    if args.cv and model is None:
        raise CliError("--cv needs the model package's prior to refit; it is unavailable")
    opts = Options(data_dir, args.mode, args.cv, args.seed, args.hold, args.jobs, 0.0 if args.truncate_at_alarm else None,
                   args.monitor_delay, lead_names=args.lead_names)
    try:
        with _progress(enabled=sys.stderr.isatty()) as hook:
            if args.repeats > 1:
                assert model is not None
                result, repeats = repeated_cv(opts, model, args.repeats, hook)
            else:
                result, repeats = evaluate(opts, model, problem, hook), None
            comparison = compare_lead_names(opts, model, result, hook) if args.compare_lead_names else None
    except EvaluationError as exc:
        raise CliError(str(exc)) from None
    summary = result.summary()
    if repeats:
        summary["repeats"] = repeats
    if comparison is not None:
        summary["lead_name_comparison"] = comparison.to_dict()
    if args.decisions_out:
        _write_decisions(Path(args.decisions_out), result.outcomes[FILTER])
    if args.report:
        from ..evaluate.report import write_report

        write_report(Path(args.report), result)
        summary["report"] = args.report
    if args.json:
        print(json.dumps(summary))
    else:
        _print_table(summary)
    return 0


def _write_decisions(path: Path, outcomes: list) -> None:
    try:
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["record", "alarm_type", "decision", "score", "reason"])
            for o in outcomes:
                w.writerow([o.record, o.alarm_type, int(o.forwarded), "" if o.score is None else f"{o.score:.6f}",
                            o.reason])
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror or exc}") from None


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""
    if not enabled:
        yield lambda description, total: (lambda n: None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:

        def start(description: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(description, total=total)
            return lambda n: bar.advance(task, n)

        yield start


def _print_table(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..evaluate.metrics import format_table

    results = {"filter": {"per_type": summary["per_type"], "overall": summary["overall"]}, **summary["baselines"]}
    title = (f"alarmfilter evaluate: {summary['records']} records, mode {summary['mode']}"
             + (f", {summary['cv_folds']}-fold CV" if summary["cv_folds"] else "") + f", hold {summary['hold_seconds']:g} s")
    table = Table(title=title)
    for c in ["variant", "type", "TP", "FN", "TN", "FP", "TPR", "TNR", "score", "suppressed %", "true fwd"]:
        table.add_column(c, justify="left" if c in ("variant", "type") else "right", no_wrap=True)
    for row in format_table(results):
        table.add_row(*row, end_section=row[1] == "overall")
    console = Console(width=None if sys.stdout.isatty() else 120)
    console.print(table)
    console.print(f"{summary['records_per_second']:.1f} records/s; model {summary['model_version']}; "
                  f"{len(summary['errors'])} unreadable record(s) forwarded")
    for e in summary["errors"]:
        console.print(f"  {e['record']}: {e['error']}", markup=False)
    if "repeats" in summary:
        rep = summary["repeats"]
        console.print(f"the table is seed {rep['runs'][0]['seed']}; over {len(rep['runs'])} seeds:")
        for r in rep["runs"]:
            missed = ", ".join(f"{t} {n}" for t, n in r["missed"].items()) or "none"
            console.print(f"  seed {r['seed']}: score {r['score']:.3f}, TPR {r['TPR']:.3f}, TNR {r['TNR']:.3f}; "
                          f"true alarms missed: {missed}")
        sp = rep["spread"]
        console.print("  " + "; ".join(f"{k} {v['min']:.3f} / {v['mean']:.3f} / {v['max']:.3f}" for k, v in sp.items())
                      + " (min / mean / max)")
    if summary.get("lead_names"):
        console.print(f"vfdb alarms built from rhythm annotations; leads named {summary['lead_names']}")
    cmp = summary.get("lead_name_comparison")
    if cmp:
        console.print(f"lead names {cmp['namings'][0]} vs {cmp['namings'][1]}: {cmp['changed']} of {cmp['decisions']} "
                      f"decisions change (forwarded {cmp['forwarded'][0]} vs {cmp['forwarded'][1]})"
                      + (f": {', '.join(cmp['changed_records'])}" if cmp["changed_records"] else ""), markup=False)
