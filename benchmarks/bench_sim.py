"""Ward simulator throughput: plan, generate and write N beds x H simulated hours on one core.

Target (issue 7): 100 beds x 1 h generated in under a minute. Run:
``python benchmarks/bench_sim.py [--beds 100] [--hours 1] [--seed 0] [--synthetic] [--write FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from alarmfilter.sim import SimConfig, simulate
from alarmfilter.sim.ward import write_jsonl


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--beds", type=int, default=100)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--synthetic", action="store_true", help="ignore real data even when present")
    ap.add_argument("--write", default=None, help="also time writing JSON lines to this file")
    a = ap.parse_args()
    cfg = SimConfig(beds=a.beds, hours=a.hours, seed=a.seed, use_real_data=not a.synthetic)
    t0 = time.perf_counter()
    run = simulate(cfg)
    t_plan = time.perf_counter() - t0
    kinds: Counter[str] = Counter()
    samples = 0
    t1 = time.perf_counter()
    for e in run.events():
        kinds[e.kind] += 1
        if e.kind == "waveform":
            samples += len(e.signals) * len(next(iter(e.signals.values())))
    t_gen = time.perf_counter() - t1
    result = {
        "beds": a.beds, "hours": a.hours, "data": run.data_source,
        "plan_seconds": round(t_plan, 2), "generate_seconds": round(t_gen, 2),
        "total_seconds": round(t_plan + t_gen, 2), "events": dict(kinds), "waveform_samples": samples,
        "events_per_second": round(sum(kinds.values()) / (t_plan + t_gen)),
    }
    if a.write is not None:
        path = Path(a.write)
    else:
        fd, name = tempfile.mkstemp(suffix=".jsonl")
        os.close(fd)
        path = Path(name)
    t2 = time.perf_counter()
    write_jsonl(run.events(), path)
    result["write_jsonl_seconds"] = round(time.perf_counter() - t2, 2)
    result["jsonl_megabytes"] = round(path.stat().st_size / 1e6, 1)
    if a.write is None:
        path.unlink()
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
