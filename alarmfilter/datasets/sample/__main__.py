"""``python -m alarmfilter.datasets.sample build DIR [--out DIR]``: regenerate the shipped sample."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m alarmfilter.datasets.sample")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="rebuild the sample from a challenge record folder")
    b.add_argument("source", help="challenge record folder, e.g. ../shared/data/challenge2015-dev")
    b.add_argument("--out", default=None, help="output folder (default: the package's sample folder)")
    args = p.parse_args(argv)
    from .build import SampleError, build

    try:
        out, meta = build(Path(args.source), None if args.out is None else Path(args.out))
    except SampleError as exc:
        print(f"sample build: error: {exc}", file=sys.stderr)
        return 2
    kinds = ", ".join(f"{m['name']} {m['alarm_type']} {'true' if m['label'] else 'false'}" for m in meta)
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(meta)} records: {kinds})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
