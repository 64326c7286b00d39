"""Small builders of wire-format events for tests."""

from __future__ import annotations

import json
import math

from alarmfilter.events import Alarm, Feedback, Vitals, Waveform

T0 = 1_764_150_000.0
FS = 250.0


def sine_ecg(seconds: float, fs: float = FS, bpm: float = 75.0) -> list[float]:
    """A crude ECG-like pulse train: enough for buffer tests, not for signal tests."""
    n = int(seconds * fs)
    period = 60.0 / bpm
    return [1.0 if (i / fs) % period < 0.04 else 0.05 * math.sin(i / fs) for i in range(n)]


def waveform(bed: str, ts: float, seconds: float = 1.0, channels: tuple[str, ...] = ("II", "PLETH"), fs: float = FS) -> Waveform:
    x = sine_ecg(seconds, fs)
    return Waveform(schema_version=1, kind="waveform", bed=bed, ts=ts, fs_hz=fs,
                    signals={c: x for c in channels}, units={c: "mV" for c in channels})


def alarm(bed: str, ts: float, alarm_id: str = "a1", type: str = "asystole", priority: str = "high") -> Alarm:
    return Alarm(schema_version=1, kind="alarm", bed=bed, ts=ts, alarm_id=alarm_id, type=type, priority=priority)


def vitals(bed: str, ts: float, **values: float) -> Vitals:
    return Vitals(schema_version=1, kind="vitals", bed=bed, ts=ts, values=values or {"hr_bpm": 80.0})


def feedback(bed: str, ts: float, alarm_id: str, actionable: bool) -> Feedback:
    return Feedback(schema_version=1, kind="feedback", bed=bed, ts=ts, alarm_id=alarm_id, actionable=actionable)


def line(event) -> str:
    return json.dumps(event.model_dump(mode="json"))
