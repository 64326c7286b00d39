"""Engine throughput in bed-seconds per CPU-second, side by side with a decode-and-buffer driver.

Both drivers get the same pre-encoded JSON lines (continuous multi-channel 250 Hz waveform,
1 Hz vitals, alarms at the simulator's realistic rate) in the same process:

- engine: `Ward.feed_raw` with the engines `alarmfilter replay` builds (shipped model), i.e.
  decode + buffer + decide every alarm from the evidence;
- decode-only: `decode_event` + the same ring buffers, nothing else.

The stream is cut into batches; every batch goes to `repeats` independent engine wards and
`repeats` decode-only wards, alternating which goes first, and only the CPU time
(`time.process_time`) of the driver calls is counted. Noise from other processes on a shared
machine therefore hits both sides alike; the ratio is the robust figure.
Run: ``python benchmarks/bench_engine.py [--beds 10] [--seconds 600] [--repeats 3] [--scaling]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from alarmfilter.cli.engines import engine_factory, shipped_model
from alarmfilter.engine import EngineConfig
from alarmfilter.engine.buffers import VitalsLog, WaveformBuffer
from alarmfilter.events import DecodeError, Vitals, Waveform, decode_event
from alarmfilter.replay import Ward

try:  # run as a script (python benchmarks/bench_engine.py) or imported as benchmarks.bench_engine
    from .stream import Line, encoded_batches, replicated_batches, template_events, ward_run
except ImportError:
    from stream import (  # type: ignore[no-redef]
        Line,
        encoded_batches,
        replicated_batches,
        template_events,
        ward_run,
    )

#: Seconds of stream fed, untimed, before measuring: every timed alarm has this much waveform.
WARMUP_SECONDS = 60.0
TARGET_BED_SECONDS_PER_CPU_SECOND = 1000.0


class DecodeOnlyWard:
    """The floor any driver pays: decode every line and keep each bed's ring buffers, decide nothing."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.waves: dict[str, WaveformBuffer] = {}
        self.vitals: dict[str, VitalsLog] = {}

    def feed_raw(self, raw: str | bytes) -> None:
        event = decode_event(raw)
        if isinstance(event, DecodeError):
            return
        if isinstance(event, Waveform):
            buf = self.waves.get(event.bed)
            if buf is None:
                buf = self.waves[event.bed] = WaveformBuffer(self.config.buffer_seconds)
            buf.append(event.ts, event.fs_hz, event.signals, event.units)
        elif isinstance(event, Vitals):
            log = self.vitals.get(event.bed)
            if log is None:
                log = self.vitals[event.bed] = VitalsLog(self.config.vitals_seconds)
            log.append(event.ts, event.values)


@dataclass
class Side:
    """CPU seconds one driver spent, per repetition."""

    cpu_seconds: list[float] = field(default_factory=list)


def _feed_engine(ward: Ward, batch: list[Line], outputs: Counter[str]) -> float:
    t0 = time.process_time()
    for line in batch:
        for o in ward.feed_raw(line.raw):
            if o.kind == "decision":
                outputs["decisions"] += 1
                outputs["scored" if o.score is not None else f"unscored:{o.reason_code}"] += 1
            elif o.kind == "deadletter":
                outputs["deadletter"] += 1
    return time.process_time() - t0


def _feed_decode(ward: DecodeOnlyWard, batch: list[Line]) -> float:
    t0 = time.process_time()
    for line in batch:
        ward.feed_raw(line.raw)
    return time.process_time() - t0


def measure(beds: int, seconds: float, repeats: int = 3, seed: int = 0, decode_only: bool = True,
            warmup_seconds: float = WARMUP_SECONDS, batch_lines: int = 2000,
            batches: Iterable[list[Line]] | None = None, t_start: float | None = None) -> dict[str, object]:
    """Throughput of `repeats` engine wards (and decode-only wards) over the same lines.

    By default the lines are a simulated ward of `beds` x (`warmup_seconds` + `seconds`); lines
    before `warmup_seconds` are fed to every ward untimed. `batches` + `t_start` replace them.
    """
    model, problem = shipped_model()
    if model is None:
        raise RuntimeError(f"shipped model unusable: {problem}")
    config = EngineConfig()
    if batches is None:
        run = ward_run(beds, seconds + warmup_seconds, seed)
        t_start = run.config.start_ts + warmup_seconds
        batches = encoded_batches(run, batch_lines)
    assert t_start is not None
    engines = [Ward(engine_factory(model=model, quiet=True)) for _ in range(repeats)]
    decoders = [DecodeOnlyWard(config) for _ in range(repeats if decode_only else 0)]
    eng_cpu = [0.0] * repeats
    dec_cpu = [0.0] * len(decoders)
    outputs: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    raw_bytes = 0
    bed_seconds = 0.0  # seconds of waveform fed, summed over beds
    flip = False
    for batch in batches:
        cut = next((i for i, ln in enumerate(batch) if ln.ts >= t_start), len(batch))  # time-ordered
        warm, timed = batch[:cut], batch[cut:]
        for ward in engines:
            _feed_engine(ward, warm, Counter())
        for dw in decoders:
            _feed_decode(dw, warm)
        if not timed:
            continue
        kinds.update(ln.kind for ln in timed)
        raw_bytes += sum(len(ln.raw) for ln in timed)
        bed_seconds += sum(ln.seconds for ln in timed)
        for r in range(repeats):
            flip = not flip
            sides = [("e", r), ("d", r)] if flip else [("d", r), ("e", r)]
            for side, i in sides:
                if side == "e":
                    eng_cpu[i] += _feed_engine(engines[i], timed, outputs if i == 0 else Counter())
                elif i < len(decoders):
                    dec_cpu[i] += _feed_decode(decoders[i], timed)
    for i, ward in enumerate(engines):
        t0 = time.process_time()
        last = ward.flush()
        eng_cpu[i] += time.process_time() - t0
        if i == 0:
            decided = [o for o in last if o.kind == "decision"]
            outputs["decisions"] += len(decided)
            outputs.update("scored" if o.score is not None else f"unscored:{o.reason_code}" for o in decided)
    eng_rate = [bed_seconds / c for c in eng_cpu if c > 0]
    result: dict[str, object] = {
        "beds": beds, "seconds": seconds, "warmup_seconds": warmup_seconds, "repeats": repeats,
        "bed_seconds": round(bed_seconds, 1), "lines": sum(kinds.values()), "lines_by_kind": dict(kinds),
        "megabytes": round(raw_bytes / 1e6, 1), "alarms": kinds["alarm"],
        "decisions": dict(outputs),
        "engine_cpu_seconds": [round(c, 3) for c in eng_cpu],
        "engine_bed_seconds_per_cpu_second": round(statistics.median(eng_rate), 1) if eng_rate else None,
    }
    if decoders:
        dec_rate = [bed_seconds / c for c in dec_cpu if c > 0]
        ratios = [d / e for d, e in zip(dec_cpu, eng_cpu, strict=True) if e > 0]
        result.update({
            "decode_only_cpu_seconds": [round(c, 3) for c in dec_cpu],
            "decode_only_bed_seconds_per_cpu_second": round(statistics.median(dec_rate), 1) if dec_rate else None,
            "engine_vs_decode_only": round(statistics.median(ratios), 3) if ratios else None,
            "engine_vs_decode_only_per_repeat": [round(x, 3) for x in ratios],
        })
    return result


def scaling(beds_list: list[int], timed_seconds: float = 3600.0, seed: int = 0,
            warmup_seconds: float = WARMUP_SECONDS, repeats: int = 2) -> dict[str, object]:
    """Engine throughput at several ward sizes over the *same* timed content (stream.replicated_batches).

    One simulated bed of `warmup_seconds + timed_seconds` is the template; at N beds each bed
    replays 1/N of its timed part after its own warm-up, so every point decodes the same
    waveforms and decides the same alarms. Flat throughput = cost linear in the number of beds.
    """
    template = template_events(warmup_seconds + timed_seconds, seed)
    t_start = template[0].ts + warmup_seconds
    rows = []
    for beds in beds_list:
        r = measure(beds, timed_seconds / beds, repeats=repeats, decode_only=True, warmup_seconds=warmup_seconds,
                    batches=replicated_batches(template, beds, warmup_seconds, timed_seconds), t_start=t_start)
        rows.append({k: r[k] for k in ("beds", "seconds", "bed_seconds", "alarms", "decisions",
                                       "engine_bed_seconds_per_cpu_second",
                                       "decode_only_bed_seconds_per_cpu_second", "engine_vs_decode_only")})
    base = rows[0]["engine_bed_seconds_per_cpu_second"] if rows else None
    for row in rows:
        rate = row["engine_bed_seconds_per_cpu_second"]
        row["relative_to_first"] = round(rate / base, 3) if base and rate else None  # type: ignore[operator]
    return {"template": {"bed_seconds": timed_seconds, "warmup_seconds": warmup_seconds, "seed": seed},
            "points": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--beds", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=600.0, help="timed simulated seconds per bed")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scaling", action="store_true", help="also the 1/10/100/1000-bed curve")
    a = ap.parse_args()
    out: dict[str, object] = {"engine": measure(a.beds, a.seconds, a.repeats, a.seed)}
    if a.scaling:
        out["scaling"] = scaling([1, 10, 100, 1000], seed=a.seed)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
