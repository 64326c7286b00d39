"""`alarmfilter bench [--json] [--quick] [--out FILE]`: the benchmark suite, as `make bench` runs it.

The benchmarks live in the source tree's `benchmarks/` (they call the simulator, the dev
records and the broker, none of which belong in the installed package), so this command needs
a source checkout; it says so in one line when there is none.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

from . import CliError

#: The checkout this package was installed from (editable install): <root>/alarmfilter/cli/bench.py.
SOURCE_ROOT = Path(__file__).resolve().parents[2]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("bench", help="run the benchmark suite (throughput, memory, features, evaluate, Kafka)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--quick", action="store_true", help="a smoke run of every benchmark (seconds; figures rough)")
    p.add_argument("--out", default=None, help="also write the JSON object to this file")
    p.set_defaults(func=run)


def load_suite(root: Path = SOURCE_ROOT) -> ModuleType:
    """benchmarks/run.py of the source checkout, imported as `benchmarks.run`."""
    if not (root / "benchmarks" / "run.py").is_file():
        raise CliError(f"no benchmarks/ next to the package (looked in {root}): run from a source checkout")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module("benchmarks.run")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.is_dir():
        raise CliError(f"{out.parent}: no such directory")
    suite = load_suite()
    result = suite.run(quick=args.quick, log=lambda msg: print(f"bench: {msg}", file=sys.stderr, flush=True))
    text = json.dumps(result, indent=1)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
    print(text if args.json else suite.table(result))
    return 0
