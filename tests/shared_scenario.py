"""A seeded ward scenario in which labels on some beds must change decisions on others (shared model tests).

Threshold alarms are forwarded by the prior until their type has 20 clinician labels of each class,
so any suppression after labels given on other beds' alarms shows the model was shared.
"""

from __future__ import annotations

import random

from alarmfilter.events import Alarm, Feedback, InputEvent, Vitals
from alarmfilter.sim.learning_experiment import T0, VITALS_SECONDS, Scenario, _vitals


def hr_alarms(beds: list[str], n: int, seed: int, tag: str, t0: float = T0 + 3600.0,
              false_only: bool = False) -> list[tuple[Scenario, str]]:
    """`n` hr_high alarms spread over `beds` (half real, half a one-step artefact unless `false_only`)."""
    rng = random.Random(seed)
    spacing = 4.0 * VITALS_SECONDS  # a bed's alarms never share a vitals window
    out = []
    for i in range(n):
        bed = beds[i % len(beds)]
        ts = t0 + (i // len(beds)) * spacing + rng.uniform(0, 5) + 0.37 * (i % len(beds))
        actionable = (not false_only) and i % 2 == 0
        out.append((Scenario(bed, ts, "hr_high", actionable, "real"), f"{tag}-{i}"))
    return out


def events_of(alarms: list[tuple[Scenario, str]], seed: int) -> list[InputEvent]:
    """Vitals (60 s at 1 Hz before each alarm) and the alarm, in event-time order."""
    rng = random.Random(seed + 1)
    events: list[InputEvent] = []
    for s, alarm_id in alarms:
        for ts, values in _vitals(rng, s):
            events.append(Vitals(schema_version=1, kind="vitals", bed=s.bed, ts=ts, values=values))
        events.append(Alarm(schema_version=1, kind="alarm", bed=s.bed, ts=s.ts, alarm_id=alarm_id,
                            type=s.alarm_type, priority="medium"))
    return sorted(events, key=lambda e: e.ts)


def labels_of(alarms: list[tuple[Scenario, str]], delay_seconds: float = 30.0) -> list[Feedback]:
    return [Feedback(schema_version=1, kind="feedback", bed=s.bed, ts=s.ts + delay_seconds, alarm_id=a,
                     actionable=s.actionable) for s, a in alarms]
