"""Labelled alarm records -> wire-format events, so real recordings run through the real engine."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from uuid import NAMESPACE_URL, uuid5

import numpy as np
import numpy.typing as npt

from ..events.wire import Alarm, Feedback, Vitals, Waveform

#: Monitors put arrhythmia alarms at high priority; the challenge records carry no priority.
ARRHYTHMIA_PRIORITY = "high"


def alarm_id_for(record: str, bed: str, alarm_ts: float) -> str:
    """A stable id, so re-running the same replay gives the same ids."""
    return str(uuid5(NAMESPACE_URL, f"alarmfilter:{bed}:{record}:{alarm_ts:.3f}"))


def waveform_events(
    bed: str,
    signals: Mapping[str, npt.NDArray[np.float64]],
    units: Mapping[str, str],
    fs_hz: float,
    start_ts: float,
    chunk_seconds: float = 1.0,
    first_sample: int = 0,
    stop_sample: int | None = None,
) -> Iterator[Waveform]:
    """Chunks of `chunk_seconds` of samples [first_sample, stop_sample); NaN becomes null."""
    n_total = len(next(iter(signals.values())))
    stop = n_total if stop_sample is None else min(stop_sample, n_total)
    step = max(1, round(chunk_seconds * fs_hz))
    for i in range(first_sample, stop, step):
        j = min(i + step, stop)
        chunk = {}
        for name, x in signals.items():
            seg = x[i:j]
            finite = np.isfinite(seg)
            chunk[name] = seg.tolist() if finite.all() else [v if ok else None for v, ok in zip(seg.tolist(), finite)]
        yield Waveform.model_construct(
            schema_version=1, kind="waveform", bed=bed, ts=start_ts + i / fs_hz, fs_hz=fs_hz,
            signals=chunk, units=dict(units),
        )


def alarm_event(record: str, bed: str, alarm_ts: float, alarm_type: str) -> Alarm:
    return Alarm(
        schema_version=1, kind="alarm", bed=bed, ts=alarm_ts, alarm_id=alarm_id_for(record, bed, alarm_ts),
        type=alarm_type, priority=ARRHYTHMIA_PRIORITY,
    )


def feedback_event(alarm: Alarm, actionable: bool, delay_seconds: float) -> Feedback:
    return Feedback(
        schema_version=1, kind="feedback", bed=alarm.bed, ts=alarm.ts + delay_seconds,
        alarm_id=alarm.alarm_id, actionable=actionable,
    )


def record_events(
    record: str,
    bed: str,
    signals: Mapping[str, npt.NDArray[np.float64]],
    units: Mapping[str, str],
    fs_hz: float,
    alarm_type: str,
    alarm_ts: float,
    alarm_sample: int,
    context_seconds: float,
    chunk_seconds: float = 1.0,
    with_vitals: bool = True,
) -> tuple[list[Waveform | Vitals | Alarm], Alarm]:
    """One record as a monitor would send it: waveform (and numerics) up to the alarm, the alarm, the rest.

    Only the last `context_seconds` before the alarm are sent (the engine keeps no more);
    every sample after the alarm is sent too, so it is the engine, not this function, that
    must keep a real-time decision from using data beyond its hold. Numerics, which the records
    lack, are derived from the waveform before the alarm only (`datasets.numerics`).
    """
    from .numerics import derived_vitals  # local: needs signals/, which plain replays do not

    n = len(next(iter(signals.values())))
    first = max(0, alarm_sample - round(context_seconds * fs_hz))
    start_ts = alarm_ts - alarm_sample / fs_hz
    alarm = alarm_event(record, bed, alarm_ts, alarm_type)
    before: list[Waveform | Vitals] = list(
        waveform_events(bed, signals, units, fs_hz, start_ts, chunk_seconds, first, min(alarm_sample, n))
    )
    if with_vitals:
        before += derived_vitals(bed, signals, units, fs_hz, start_ts, first, min(alarm_sample, n))
        before.sort(key=lambda e: e.ts + e.duration_seconds if isinstance(e, Waveform) else e.ts)
    events: list[Waveform | Vitals | Alarm] = [*before, alarm]
    if n > alarm_sample:
        events.extend(waveform_events(bed, signals, units, fs_hz, start_ts, chunk_seconds, alarm_sample, n))
    return events, alarm
