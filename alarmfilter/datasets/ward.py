"""A ward made of real labelled alarm records: each bed replays records one after another.

Used by the demo until the simulator fills the time between real alarms.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..events.wire import Alarm, Waveform
from .challenge import ALARM_TIME_SECONDS, load_record, record_names
from .events import alarm_event, waveform_events

WARD_START_TS = 1_764_150_000.0  # 2025-11-26 09:40 UTC; any fixed epoch keeps runs reproducible
CONTEXT_SECONDS = 60.0  # waveform replayed before each alarm


def record_ward(data_dir: Path, beds: int, seconds: float) -> tuple[list[Waveform | Alarm], dict[str, bool]]:
    """Events of all beds in event-time order, and the ground truth per alarm id (kept out of the stream)."""
    names = record_names(data_dir)
    per_bed = math.ceil(len(names) / beds)
    slot = max(CONTEXT_SECONDS + 1.0, seconds / max(per_bed, 1))
    per_bed_fit = max(1, int(seconds // slot))
    events: list[Waveform | Alarm] = []
    truth: dict[str, bool] = {}
    for i, name in enumerate(names[: beds * per_bed_fit]):
        bed = f"ICU1-{i % beds + 1:02d}"
        k = i // beds
        signals, units, fs_hz, alarm_type, label = load_record(data_dir / name)
        alarm_ts = WARD_START_TS + CONTEXT_SECONDS + k * slot + (i % beds) * 0.37
        first = max(0, int(round((ALARM_TIME_SECONDS - CONTEXT_SECONDS) * fs_hz)))
        start_ts = alarm_ts - ALARM_TIME_SECONDS
        events.extend(waveform_events(bed, signals, units, fs_hz, start_ts, first_sample=first))
        alarm = alarm_event(name, bed, alarm_ts, alarm_type)
        events.append(alarm)
        if label is not None:
            truth[alarm.alarm_id] = label
    events.sort(key=lambda e: e.ts)
    return events, truth
