"""Memory the in-process driver keeps per bed over a simulated day, and whether it still grows.

Measured with tracemalloc (Python and numpy allocations), not RSS. The stream is generated and
written to a temporary JSON-lines file first, untraced; then tracing starts and the file is fed
line by line to a fresh `Ward` (the engines `alarmfilter replay` builds). At every checkpoint of
simulated time the traced total is therefore what the ward, its engines, their buffers and the
scorer's lazily built state keep (plus the one line being read). The stream is the simulator's
own: 1 Hz vitals all day, 250 Hz waveforms around every alarm, alarms at 187 per bed-day. Ring
buffers are allocated at full capacity on a bed's first chunk, so gap-free waveforms would not
change the steady state. Run: ``python benchmarks/bench_memory.py [--beds 3] [--hours 36] [--at-hours 24]``.
``--worst-case`` measures instead a bed fed the worst input each per-bed limit accepts (`worst_case`).
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
#: The documented bound for the worst input a bed accepts (README, "Performance").
WORST_CASE_BOUND_MB_PER_BED = 8.0


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


def worst_case(beds: int = 2, seed: int = 0) -> dict[str, object]:
    """Bytes per bed when every per-bed limit is reached by input the engine accepts.

    Each bed gets the widest waveform it accepts (16 channels at 250 Hz = the 4000 samples/s
    budget; 4 channels at 1000 Hz cost the same) for longer than its buffer, numerics with the
    most values a message may carry (64, 64-character names) at 100 Hz until the log is full, and
    more alarms (128-character ids, each decided by the shipped model) than it keeps. A wider
    chunk (16 channels at 2000 Hz, which took 9.2 MB per bed before the budget) is offered too and
    must be refused. Traced as `measure` does; what is left is what the ward keeps per bed.
    """
    from alarmfilter.engine import EngineConfig
    from alarmfilter.events import encode
    from alarmfilter.events.wire import Alarm, Vitals, Waveform

    model, problem = shipped_model()
    if model is None:
        raise RuntimeError(f"shipped model unusable: {problem}")
    cfg = EngineConfig(seed=seed)
    t0 = 1_764_150_000.0
    wide = {f"CH{i:02d}": [0.1] * 250 for i in range(16)}
    names = [f"v{i:02d}_" + "x" * 60 for i in range(64)]
    ward = Ward(engine_factory(cfg, model=model, quiet=True))
    refused = 0
    gc.collect()
    tracemalloc.start(1)
    try:
        base = tracemalloc.get_traced_memory()[0]
        for b in range(beds):
            bed = f"WORST-{b:02d}"
            seconds = int(ward.engine(bed).waveforms.capacity_seconds) + 8
            for s in range(seconds):
                ward.feed(Waveform(schema_version=1, kind="waveform", bed=bed, ts=t0 + s, fs_hz=250.0, signals=wide))
            too_wide = Waveform(schema_version=1, kind="waveform", bed=bed, ts=t0 + seconds, fs_hz=2000.0,
                                signals={f"CH{i:02d}": [0.1] * 2000 for i in range(16)})
            out = ward.feed_raw(encode(too_wide))
            refused += sum(1 for o in out if o.kind == "deadletter" and o.error.startswith("bed limit"))
            for r in range(ward.engine(bed).vitals._rows.maxlen or 0):
                ward.feed(Vitals(schema_version=1, kind="vitals", bed=bed, ts=t0 + seconds + r * 0.01,
                                 values={n: float(r % 200) for n in names}))
            start = t0 + seconds + 20
            for k in range(cfg.max_tracked_alarms + 20):
                ward.feed(Alarm(schema_version=1, kind="alarm", bed=bed, ts=start + k * 0.01,
                                alarm_id=f"{k:08d}" + "x" * 120, type="hr_high", priority="medium", channel="CH00"))
            ward.engine(bed).flush()
        gc.collect()
        per_bed = (tracemalloc.get_traced_memory()[0] - base) / beds / 1e6
    finally:
        tracemalloc.stop()
    eng = next(iter(ward.beds.values()))
    return {
        "method": "tracemalloc, beds fed the worst input each limit accepts (see worst_case docstring)",
        "beds": beds,
        "worst_case_mb_per_bed": round(per_bed, 3),
        "bound_mb_per_bed": WORST_CASE_BOUND_MB_PER_BED,
        "waveform_ring_max_mb": round(eng.waveforms.max_bytes / 1e6, 3),
        "limits": {"max_samples_per_second": cfg.max_samples_per_second, "max_channels": eng.waveforms.max_channels,
                   "buffer_seconds": eng.waveforms.capacity_seconds, "vitals_rows": eng.vitals._rows.maxlen,
                   "max_tracked_alarms": cfg.max_tracked_alarms},
        "tracked_alarms_per_bed": len(eng.alarms),
        "refused_wider_chunks": refused,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--beds", type=int, default=3)
    ap.add_argument("--hours", type=float, default=36.0)
    ap.add_argument("--at-hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--worst-case", action="store_true", help="only the worst accepted input per bed")
    a = ap.parse_args()
    if a.worst_case:
        print(json.dumps(worst_case(seed=a.seed), indent=1))
        return 0
    print(json.dumps(measure(a.beds, a.hours, a.at_hours, a.seed), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
