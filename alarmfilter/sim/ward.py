"""`simulate(config)`: a seeded multi-bed ICU ward as wire-format events, with ground truth apart.

    run = simulate(SimConfig(beds=20, hours=1, seed=7))
    for event in run.events():      # Vitals/Waveform/Alarm models, event-time order, all beds
        producer.send(event)        # or write_jsonl(run, path), or Ward.feed(event)
    run.truth[alarm_id].actionable  # never in the stream

Beds are planned up front (numerics, schedule, alarms: cheap); waveform samples are drawn only
when the iterator reaches them, so memory stays flat however many beds there are.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..events.types import AlarmType
from ..events.wire import Alarm, Feedback, Vitals, Waveform
from .config import (
    ARRHYTHMIA_FALSE_SHARE,
    CATEGORY_SHARE,
    SECONDS_PER_DAY,
    SimConfig,
)
from .plan import AlarmTruth, BedPlan, FaultTruth, plan_bed
from .realdata import RealData, find_real_data
from .render import bed_events

Event = Vitals | Waveform | Alarm | Feedback
_ORDER = {"waveform": 0, "vitals": 1, "alarm": 2, "feedback": 3}


def category(alarm_type: str) -> str:
    t = AlarmType.parse(alarm_type)
    if t is None:
        return "unknown"
    return "technical" if t.is_technical else ("arrhythmia" if t.is_arrhythmia else "parameter")


@dataclass
class SimRun:
    """A planned ward: iterate `events()` as often as needed (same events each time)."""

    config: SimConfig
    real: RealData
    plans: list[BedPlan]

    @cached_property
    def truth(self) -> dict[str, AlarmTruth]:
        """alarm_id -> ground truth, for every alarm in the stream."""
        return {a.truth.alarm_id: a.truth for p in self.plans for a in p.alarms}

    @cached_property
    def faults(self) -> list[FaultTruth]:
        return [f for p in self.plans for f in p.faults]

    @property
    def data_source(self) -> str:
        return self.real.describe()

    def events(self) -> Iterator[Event]:
        """Every bed's events merged in event-time order (ties: waveform, vitals, alarm)."""
        streams = [
            ((e.ts, _ORDER[e.kind], p.index, e) for e in bed_events(p, self.config, self.real))
            for p in self.plans
        ]
        for _, _, _, event in heapq.merge(*streams, key=lambda x: x[:3]):
            yield event

    def summary(self) -> dict[str, object]:
        """The simulated alarm mix and rates next to what the simulator claims (config.py)."""
        truths = list(self.truth.values())
        bed_days = self.config.beds * self.config.seconds / SECONDS_PER_DAY
        by_cat = Counter(category(t.type) for t in truths)
        arr = [t for t in truths if category(t.type) == "arrhythmia"]
        expected: dict[str, float] = {}
        for p in self.plans:
            for t, x in p.expected.items():
                expected[t.value] = expected.get(t.value, 0.0) + x
        return {
            "beds": self.config.beds,
            "hours": self.config.hours,
            "seed": self.config.seed,
            "alarms": len(truths),
            "alarms_per_bed_day": round(len(truths) / bed_days, 1),
            "claimed_alarms_per_bed_day": self.config.audible_alarms_per_bed_day,
            "category_share": {c: round(by_cat[c] / max(1, len(truths)), 3) for c in CATEGORY_SHARE},
            "claimed_category_share": {c: round(v, 3) for c, v in CATEGORY_SHARE.items()},
            "arrhythmia_false_share": round(sum(not t.actionable for t in arr) / max(1, len(arr)), 3),
            "claimed_arrhythmia_false_share": ARRHYTHMIA_FALSE_SHARE,
            "per_type": dict(sorted(Counter(t.type for t in truths).items())),
            "expected_per_type": {k: round(v, 1) for k, v in sorted(expected.items())},
            "actionable": sum(t.actionable for t in truths),
            # threshold (parameter) alarms apart, with their ground truth: what needs action, what
            # was real but self-limiting, what was artefact
            "threshold": {
                "alarms": by_cat["parameter"],
                "actionable": sum(t.actionable for t in truths if category(t.type) == "parameter"),
                "by_cause": dict(sorted(Counter(t.cause.value for t in truths
                                                if category(t.type) == "parameter").items())),
            },
            "faults": dict(sorted(Counter(f.fault.value for f in self.faults).items())),
            "data": self.data_source,
        }


def simulate(config: SimConfig, real: RealData | None = None) -> SimRun:
    """Plan every bed of the ward; `real` defaults to whatever `find_real_data` finds."""
    if real is None:
        real = find_real_data(config.data_dir, config.use_real_data)
    return SimRun(config, real, [plan_bed(config, i, real) for i in range(config.beds)])


def encode_event(event: Event) -> str:
    """One compact JSON line (the pydantic-core serializer: fast on long sample lists)."""
    return event.model_dump_json()


def write_jsonl(events: Iterator[Event], path: Path) -> int:
    """Events to a JSON-lines file that `alarmfilter replay` reads; returns the line count."""
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for e in events:
            f.write(encode_event(e))
            f.write("\n")
            n += 1
    return n


def write_truth(run: SimRun, path: Path) -> int:
    """Ground truth, one JSON object a line: `truth` per alarm, `fault` per injected fault, and
    `bed` per bed (where its numerics came from, arterial line or not, its alarm limits)."""
    rows: list[dict[str, object]] = [
        {"kind": "bed", "bed": p.bed, "sources": p.sources, "abp": p.abp,
         "limits": {t.value: {"key": lim.key, "limit": lim.limit, "delay_seconds": lim.delay_seconds}
                    for t, lim in p.limits.items()}}
        for p in run.plans
    ]
    rows += [t.to_json() for t in sorted(run.truth.values(), key=lambda t: (t.ts, t.bed))]
    rows += [f.to_json() for f in run.faults]
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
    return len(rows)


def read_truth(path: Path) -> dict[str, bool]:
    """alarm_id -> actionable, from a truth file (for scoring a replay)."""
    out: dict[str, bool] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row.get("kind") == "truth":
                out[row["alarm_id"]] = bool(row["actionable"])
    return out
