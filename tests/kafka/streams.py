"""Synthetic ward streams for the Kafka tests and benchmark: every bed gets waveforms, vitals, alarms.

Events come in availability order (a waveform chunk when its last sample exists, an alarm at its
time), which is how a monitor gateway would publish them.
"""

from __future__ import annotations

from alarmfilter.events import Alarm, InputEvent

from ..helpers import T0, alarm, vitals, waveform

ALARM_TYPES = ("ventricular_tachycardia", "asystole", "hr_high", "spo2_low", "leads_off", "extreme_bradycardia")


def ward_stream(
    beds: int, seconds: int, alarm_every_seconds: float = 4.0, fs_hz: float = 125.0, t0: float = T0, tag: str = "a"
) -> list[InputEvent]:
    """Events of all beds sorted by availability time; alarm ids are unique per (tag, bed, n)."""
    timed: list[tuple[float, int, InputEvent]] = []
    seq = 0
    for b in range(beds):
        bed = f"ICU1-{b + 1:02d}"
        offset = 0.013 * b
        for s in range(seconds):
            ts = t0 + s + offset
            seq += 1
            timed.append((ts + 1.0, seq, waveform(bed, ts, 1.0, ("II", "PLETH"), fs_hz)))
            seq += 1
            timed.append((ts, seq, vitals(bed, ts, hr_bpm=80.0 + s % 7, spo2_pct=97.0)))
        n = 0
        t = 2.5 + (b % 3)
        while t < seconds - 1:
            kind = ALARM_TYPES[(n + b) % len(ALARM_TYPES)]
            priority = "technical" if kind == "leads_off" else "high"
            seq += 1
            timed.append((t0 + t + offset, seq, alarm(bed, t0 + t + offset, f"{tag}-{bed}-{n}", kind, priority)))
            n += 1
            t += alarm_every_seconds
    timed.sort(key=lambda x: (x[0], x[1]))
    return [e for _, _, e in timed]


def alarm_ids(events: list[InputEvent]) -> set[str]:
    return {e.alarm_id for e in events if isinstance(e, Alarm)}
