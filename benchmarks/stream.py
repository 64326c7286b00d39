"""Benchmark input: the simulated ward with *continuous* 250 Hz waveforms, as pre-encoded JSON lines.

The simulator streams waveforms only around alarms (sim/render.py explains why). A monitor
gateway that forwards every waveform all the time is the costlier case the throughput target
is about, so here every bed second carries its waveform chunk, rendered block by block with
the simulator's own `render_window` (same physiology, artefacts, faults and spliced real
records); vitals and alarms are the simulator's, at its realistic rates.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from alarmfilter.events.wire import Alarm, Feedback, Vitals, Waveform
from alarmfilter.sim import SimConfig, SimRun, simulate
from alarmfilter.sim.plan import BedPlan
from alarmfilter.sim.realdata import RealData
from alarmfilter.sim.render import render_window

Event = Vitals | Waveform | Alarm | Feedback
_ORDER = {"waveform": 0, "vitals": 1, "alarm": 2, "feedback": 3}
#: Waveform samples rendered ahead, summed over beds (bounds memory however large the ward).
RENDER_AHEAD_BED_SECONDS = 2000


def block_seconds(beds: int) -> int:
    """Seconds rendered at a time per bed: long blocks for few beds, short for many.

    >>> block_seconds(1), block_seconds(100), block_seconds(1000)
    (120, 20, 4)
    """
    return max(4, min(120, RENDER_AHEAD_BED_SECONDS // max(1, beds)))


@dataclass(frozen=True, slots=True)
class Line:
    """One pre-encoded message and what it is (the driver only sees `raw`)."""

    raw: bytes
    kind: str
    bed_index: int
    ts: float
    seconds: float  # waveform duration (0 for other kinds)


def continuous_bed_events(plan: BedPlan, config: SimConfig, real: RealData, block: int = 120) -> Iterator[Event]:
    """One bed, every second: waveform chunk, vitals, alarms (as `sim.render.bed_events`, gap-free)."""
    period = max(1, round(config.vitals_period_seconds))
    vit = {k: np.where(np.isfinite(v), np.round(v), np.nan).tolist() for k, v in plan.measured.items()}
    alarms_at: dict[int, list[Alarm]] = {}
    for a in plan.alarms:
        alarms_at.setdefault(a.second, []).append(Alarm.model_construct(
            schema_version=1, kind="alarm", bed=plan.bed, ts=a.truth.ts, alarm_id=a.truth.alarm_id,
            type=a.alarm_type.value, priority=a.priority, channel=None))
    chunks: dict[int, Waveform] = {}
    for k in range(plan.seconds):
        if k % block == 0:
            chunks = render_window(plan, config, real, k, min(plan.seconds, k + block))
        chunk = chunks.pop(k, None)
        if chunk is not None:
            yield chunk
        if k % period == 0:
            values = {key: (None if col[k] != col[k] else col[k]) for key, col in vit.items()}
            yield Vitals.model_construct(schema_version=1, kind="vitals", bed=plan.bed, ts=plan.t0 + k,
                                         values=values)
        yield from alarms_at.get(k, ())


def continuous_events(run: SimRun) -> Iterator[tuple[int, Event]]:
    """(bed index, event) for every bed, merged in event-time order."""
    block = block_seconds(len(run.plans))
    streams = [
        ((e.ts, _ORDER[e.kind], p.index, e) for e in continuous_bed_events(p, run.config, run.real, block))
        for p in run.plans
    ]
    for _, _, index, event in heapq.merge(*streams, key=lambda x: x[:3]):
        yield index, event


def ward_run(beds: int, seconds: float, seed: int = 0, use_real_data: bool = True) -> SimRun:
    """A planned ward at the simulator's realistic alarm rate (Drew 2014: 187 audible/bed/day)."""
    return simulate(SimConfig(beds=beds, hours=seconds / 3600.0, seed=seed, use_real_data=use_real_data))


def encoded_batches(run: SimRun, batch_lines: int = 2000) -> Iterator[list[Line]]:
    """The stream as JSON lines (the pydantic-core serializer, as the simulator writes them)."""
    batch: list[Line] = []
    for index, event in continuous_events(run):
        seconds = event.duration_seconds if isinstance(event, Waveform) else 0.0
        batch.append(Line(event.model_dump_json().encode(), event.kind, index, event.ts, seconds))
        if len(batch) >= batch_lines:
            yield batch
            batch = []
    if batch:
        yield batch


def template_events(seconds: float, seed: int = 0, bed_index: int = 0) -> list[Event]:
    """One simulated bed's gap-free stream, kept in memory to be replicated (see `replicated_batches`)."""
    run = ward_run(bed_index + 1, seconds, seed)
    plan = run.plans[bed_index]
    return list(continuous_bed_events(plan, run.config, run.real, 120))


def replicated_batches(template: list[Event], beds: int, warmup_seconds: float, timed_seconds: float,
                       batch_lines: int = 2000) -> Iterator[list[Line]]:
    """`beds` beds that together replay the template's timed part exactly once, each after its own warm-up.

    Bed j takes the template slice [W + j*s - W, W + (j+1)*s) (s = timed/beds), shifted in time so that
    every bed's timed slice starts at the same instant; beds are interleaved in event-time order as
    on a ward. Whatever the number of beds, the timed lines carry the same waveforms and the same
    alarms: only the number of beds changes, which is what a scaling curve should vary.
    """
    if not template:
        return
    t_base = template[0].ts
    times = [e.ts for e in template]
    span = timed_seconds / beds
    streams = []
    for j in range(beds):
        origin = t_base + warmup_seconds + j * span  # template time where bed j's timed slice starts
        lo, hi = bisect.bisect_left(times, origin - warmup_seconds), bisect.bisect_left(times, origin + span)
        shift = round(t_base + warmup_seconds - origin, 3)
        streams.append(_shifted(template[lo:hi], shift, j))
    batch: list[Line] = []
    for ts, _, j, event in heapq.merge(*streams, key=lambda x: x[:3]):
        update: dict[str, object] = {"bed": f"SCALE-{j + 1:04d}", "ts": ts}
        if isinstance(event, Alarm):
            update["alarm_id"] = f"{event.alarm_id}-{j + 1}"
        moved = event.model_copy(update=update)
        seconds = moved.duration_seconds if isinstance(moved, Waveform) else 0.0
        batch.append(Line(moved.model_dump_json().encode(), moved.kind, j, ts, seconds))
        if len(batch) >= batch_lines:
            yield batch
            batch = []
    if batch:
        yield batch


def _shifted(events: list[Event], shift: float, j: int) -> Iterator[tuple[float, int, int, Event]]:
    for e in events:
        yield e.ts + shift, _ORDER[e.kind], j, e
