"""Evaluator throughput on the dev records: records/s for the filter alone and with baselines.

Every record is loaded, turned into wire-format events and replayed through real engines.
Run: ``python benchmarks/bench_evaluate.py [DATA_DIR] [--jobs 1 2] [--limit N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from alarmfilter.cli.engines import shipped_model
from alarmfilter.datasets.challenge import record_names
from alarmfilter.datasets.location import CHALLENGE, find_dataset
from alarmfilter.evaluate.session import Options, evaluate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data_dir", nargs="?", default=None, help="default: the data location rules")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--limit", type=int, default=0, help="records to use (0 = all)")
    a = ap.parse_args()
    loc = find_dataset(CHALLENGE)
    d = Path(a.data_dir) if a.data_dir else (loc.dataset(CHALLENGE) if loc else Path(CHALLENGE))
    if not d.exists():
        print(f"skip: {d} absent")
        return 0
    model, problem = shipped_model()
    names = tuple(record_names(d)[: a.limit or None])
    rows = []
    for jobs in a.jobs:
        for baselines in (False, True):
            t0, c0 = time.perf_counter(), time.process_time()
            ev = evaluate(Options(d, jobs=jobs, baselines=baselines, records=names), model, problem)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            row = {"jobs": jobs, "variants": len(ev.outcomes), "records": len(names),
                   "seconds": round(wall, 2), "records_per_second": round(len(names) / wall, 1)}
            if jobs == 1:  # CPU time of this process: what a record costs, whatever the machine's load
                row["cpu_ms_per_record"] = round(1000 * cpu / len(names), 1)
            rows.append(row)
    print(json.dumps({"cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2), "runs": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
