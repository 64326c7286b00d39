"""Feature-extraction latency per alarm type on the dev records (p50 / p99 ms, one core).

Each alarm gets the engine's view: the last EVIDENCE_WINDOW_SECONDS before the
alarm, every channel.  Run: ``python benchmarks/bench_features.py [DATA_DIR] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from alarmfilter.datasets.challenge import load_record, record_names
from alarmfilter.signals.evidence import EVIDENCE_WINDOW_SECONDS, extract_evidence

DEFAULT_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "challenge2015-dev"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data_dir", nargs="?", default=str(DEFAULT_DIR))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0, help="records to use (0 = all)")
    a = ap.parse_args()
    d = Path(a.data_dir)
    if not d.exists():
        print(f"skip: {d} absent")
        return 0
    names = record_names(d)[: a.limit or None]
    times: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for n in names:
        signals, units, fs, alarm_type, _ = load_record(d / n)
        end = min(len(v) for v in signals.values())
        first = max(0, end - int(EVIDENCE_WINDOW_SECONDS * fs))
        win = {k: np.ascontiguousarray(v[first:end]) for k, v in signals.items()}
        for _ in range(a.repeat):
            t0, c0 = time.perf_counter(), time.thread_time()
            extract_evidence(alarm_type, win, units, fs, end - first)
            times.setdefault(alarm_type, []).append(1000.0 * (time.perf_counter() - t0))
            cpu.setdefault(alarm_type, []).append(1000.0 * (time.thread_time() - c0))
    print(f"window {EVIDENCE_WINDOW_SECONDS:.0f} s, {len(names)} records x {a.repeat}")
    print("wall = elapsed time; cpu = this thread's CPU time (robust to a loaded machine)")
    print(f"{'alarm type':26s} {'n':>5s} {'wall p50':>9s} {'wall p99':>9s} {'cpu p50':>8s} {'cpu p99':>8s}  (ms)")
    allt: list[float] = []
    allc: list[float] = []
    for t in sorted(times):
        v, c = np.array(times[t]), np.array(cpu[t])
        allt += times[t]
        allc += cpu[t]
        print(f"{t:26s} {v.size:5d} {np.percentile(v, 50):9.2f} {np.percentile(v, 99):9.2f} "
              f"{np.percentile(c, 50):8.2f} {np.percentile(c, 99):8.2f}")
    v, c = np.array(allt), np.array(allc)
    print(f"{'all':26s} {v.size:5d} {np.percentile(v, 50):9.2f} {np.percentile(v, 99):9.2f} "
          f"{np.percentile(c, 50):8.2f} {np.percentile(c, 99):8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
