"""Clinicians as the filter sees them: they label only alarms they saw, late, not always, not always right.

A driver hands every decision to `FeedbackModel.on_decision` and feeds back the `Feedback`
events it returns once stream time reaches their `ts` (`FeedbackQueue` keeps them in order).
Each alarm's draw is seeded by its id, so the feedback does not depend on the order decisions
arrive in, and the same seed gives the same labels.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..events.outputs import DecisionRecord
from ..events.types import AlarmType
from ..events.wire import Alarm, Feedback
from .plan import AlarmTruth


class FeedbackConfig(BaseModel):
    """How clinicians answer. Defaults are assumptions: no study measures labelling behaviour."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    response_share: float = Field(0.6, ge=0, le=1, description="forwarded alarms that get a label")
    median_delay_seconds: float = Field(120.0, gt=0, description="alarm to label, median (log-normal)")
    delay_sigma: float = Field(0.8, ge=0, description="log-normal spread of the delay")
    max_delay_seconds: float = Field(3600.0, gt=0)
    label_noise: float = Field(0.05, ge=0, le=0.5, description="labels that are wrong")
    seed: int = 0


class FeedbackModel:
    """Feedback for alarms the clinicians saw: forwarded ones (or every one, with no filter)."""

    def __init__(self, truth: Mapping[str, AlarmTruth], config: FeedbackConfig | None = None) -> None:
        self.truth = truth
        self.config = config or FeedbackConfig()

    def on_decision(self, decision: DecisionRecord) -> list[Feedback]:
        """The label(s) a decision leads to: none unless it was forwarded to a clinician."""
        if decision.decision != "forward":
            return []
        return self._label(decision.alarm_id, decision.bed, max(decision.alarm_ts, decision.decided_ts))

    def on_alarm(self, alarm: Alarm) -> list[Feedback]:
        """Labels when there is no filter: clinicians see every alarm as the monitor raises it."""
        return self._label(alarm.alarm_id, alarm.bed, alarm.ts)

    def _label(self, alarm_id: str, bed: str, seen_ts: float) -> list[Feedback]:
        truth = self.truth.get(alarm_id)
        if truth is None:
            return []
        t = AlarmType.parse(truth.type)
        if t is None or t.is_technical:
            return []  # technical alarms are fixed at the bedside, not labelled
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, zlib.crc32(alarm_id.encode())])
        answer, delay, flip = rng.random(), rng.lognormal(np.log(cfg.median_delay_seconds), cfg.delay_sigma), rng.random()
        if answer >= cfg.response_share:
            return []
        label = truth.actionable != (flip < cfg.label_noise)
        ts = seen_ts + min(float(delay), cfg.max_delay_seconds)
        return [Feedback(schema_version=1, kind="feedback", bed=bed, ts=round(ts, 3), alarm_id=alarm_id,
                         actionable=label)]


class FeedbackQueue:
    """Pending feedback in event-time order, released when the stream reaches it.

    >>> q = FeedbackQueue()
    >>> q.push([Feedback(schema_version=1, kind="feedback", bed="B1", ts=1764150100.0, alarm_id="a", actionable=True)])
    >>> q.due(1764150050.0), [f.alarm_id for f in q.due(1764150100.0)]
    ([], ['a'])
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Feedback]] = []
        self._n = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, items: list[Feedback]) -> None:
        for fb in items:
            heapq.heappush(self._heap, (fb.ts, self._n, fb))
            self._n += 1

    def due(self, now: float) -> list[Feedback]:
        out = []
        while self._heap and self._heap[0][0] <= now:
            out.append(heapq.heappop(self._heap)[2])
        return out

    def drain(self) -> list[Feedback]:
        return self.due(float("inf"))
