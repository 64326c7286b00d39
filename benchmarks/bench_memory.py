"""Memory the in-process driver keeps per bed over a simulated day, and whether it still grows.

Measured with tracemalloc (Python and numpy allocations), not RSS. The stream is generated and
written to a temporary JSON-lines file first, untraced; then tracing starts and the file is fed
line by line to a fresh `Ward` (the engines `alarmfilter replay` builds). At every checkpoint of
simulated time the traced total is therefore what the ward, its engines, their buffers and the
scorer's lazily built state keep (plus the one line being read). The stream is the simulator's
own: 1 Hz vitals all day, 250 Hz waveforms around every alarm, alarms at 187 per bed-day. Ring
buffers are allocated at full capacity on a bed's first chunk, so gap-free waveforms would not
change the steady state. Run: ``python benchmarks/bench_memory.py [--beds 3] [--hours 36] [--at-hours 24]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

from alarmfilter.cli.engines import engine_factory, shipped_model
from alarmfilter.replay import Ward
from alarmfilter.sim import SimConfig, simulate

TARGET_MB_PER_BED = 2.0


def _write_stream(beds: int, hours: float, seed: int, path: Path) -> int:
    """`ts<space>json` per line, so checkpoints need no decoding."""
    run = simulate(SimConfig(beds=beds, hours=hours, seed=seed))
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for e in run.events():
            f.write(f"{e.ts!r} {e.model_dump_json()}\n")
            n += 1
    return n


def measure(beds: int = 3, hours: float = 36.0, at_hours: float = 24.0, seed: int = 0,
            checkpoints: int = 18) -> dict[str, object]:
    """MB per bed at each checkpoint of simulated time.

    Reported: the figure at `at_hours`, its growth over the `at_hours / 2` before (decided alarms
    are kept 24 h for feedback, so that window is still filling up to 24 h), and the growth over
    the same span at the end of the run, past the retention (the steady state).
    """
    model, problem = shipped_model()
    if model is None:
        raise RuntimeError(f"shipped model unusable: {problem}")
    cfg = SimConfig(beds=beds, hours=hours, seed=seed)
    fd, name = tempfile.mkstemp(suffix=".jsonl", prefix="alarmfilter-bench-")
    os.close(fd)
    path = Path(name)
    try:
        lines = _write_stream(beds, hours, seed, path)
        ward = Ward(engine_factory(model=model, quiet=True))
        step = cfg.seconds / checkpoints
        t_next = cfg.start_ts + step
        curve: list[tuple[float, float]] = []
        tracked: list[float] = []  # decided alarms kept for feedback, per bed, at each checkpoint
        cpu_per_interval: list[float] = []  # CPU seconds feeding each checkpoint interval (traced)
        cpu0 = time.process_time()
        feed_cpu = 0.0
        gc.collect()
        tracemalloc.start(1)
        try:
            with path.open(encoding="utf-8") as f:
                for row in f:
                    ts_text, raw = row.split(" ", 1)
                    ts = float(ts_text)
                    while ts >= t_next:
                        gc.collect()
                        curve.append(((t_next - cfg.start_ts) / 3600.0, tracemalloc.get_traced_memory()[0] / beds / 1e6))
                        tracked.append(sum(len(e.alarms) for e in ward.beds.values()) / beds)
                        cpu_per_interval.append(feed_cpu)
                        feed_cpu = 0.0
                        t_next += step
                    c0 = time.process_time()
                    ward.feed_raw(raw)
                    feed_cpu += time.process_time() - c0
            ward.flush()
            cpu_per_interval.append(feed_cpu)
            gc.collect()
            curve.append((hours, tracemalloc.get_traced_memory()[0] / beds / 1e6))
            tracked.append(sum(len(e.alarms) for e in ward.beds.values()) / beds)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        cpu = time.process_time() - cpu0
    finally:
        path.unlink(missing_ok=True)
    span = at_hours / 2

    def mb_at(h: float) -> float:
        return min(curve, key=lambda c: abs(c[0] - h))[1]

    k = len(cpu_per_interval) // 2
    first, second = sum(cpu_per_interval[:k]), sum(cpu_per_interval[k:2 * k])
    return {
        "method": "tracemalloc (traced Python+numpy bytes while feeding a fresh Ward), per bed",
        "beds": beds, "simulated_hours": hours, "lines": lines,
        "at_hours": at_hours,
        "memory_mb_per_bed": round(mb_at(at_hours), 3),
        "growth_mb_per_bed_before": round(mb_at(at_hours) - mb_at(at_hours - span), 4),
        "growth_mb_per_bed_at_end": round(curve[-1][1] - mb_at(hours - span), 4) if hours > at_hours else None,
        "growth_span_hours": span,
        "memory_mb_per_bed_at_end": round(curve[-1][1], 3),
        "curve_hours_mb_tracked_alarms_per_bed": [[round(h, 2), round(mb, 3), round(n, 1)]
                                                  for (h, mb), n in zip(curve, tracked, strict=True)],
        "peak_traced_mb": round(peak / 1e6, 1),
        "feed_cpu_second_half_vs_first": round(second / first, 3) if first > 0 else None,
        "feed_cpu_seconds_per_interval": [round(c, 2) for c in cpu_per_interval],
        "feed_cpu_seconds_traced": round(cpu, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--beds", type=int, default=3)
    ap.add_argument("--hours", type=float, default=36.0)
    ap.add_argument("--at-hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(json.dumps(measure(a.beds, a.hours, a.at_hours, a.seed), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
