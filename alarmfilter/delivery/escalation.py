"""Escalation in event time: no acknowledgement within the priority's timeout -> the next destination.

Sans-IO, like the engine: `start` when an alert is forwarded, `acknowledge` when a clinician
answers (an ORA^R41 from the alarm manager, or a `feedback` event), `advance(now_ts)` with
event time from the data; it returns the escalation steps that fell due. Re-sends of the
same message (lost ACK, receiver down) are the transport's business, not escalation's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .messages import alert_key


class EscalationPolicy(BaseModel):
    """Per-priority acknowledgement timeout in seconds of event time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_seconds: dict[str, float] = Field(
        default_factory=lambda: {"high": 30.0, "medium": 120.0, "low": 300.0, "technical": 300.0})
    default_timeout_seconds: float = 60.0  # a priority the table does not name (fail-safe: short)
    acknowledging_statuses: tuple[str, ...] = ("accepted", "read", "")  # ORA^R41 status ("" = none given)
    refusing_statuses: tuple[str, ...] = ("rejected", "declined")  # ORA^R41 status: escalate at once

    @field_validator("timeout_seconds")
    @classmethod
    def _positive(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if not x > 0}
        if bad:
            raise ValueError(f"timeouts must be > 0 seconds: {bad}")
        return v

    def timeout_for(self, priority: str) -> float:
        """
        >>> EscalationPolicy().timeout_for("high"), EscalationPolicy().timeout_for("unheard-of")
        (30.0, 60.0)
        """
        return self.timeout_seconds.get(priority, self.default_timeout_seconds)


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """Send the alert `alarm_id` (its `alert_key`: bed and alarm id) as attempt `attempt` to destination index `destination`.

    `destination is None` means the chain is exhausted: nobody left to page (audited, not dropped).
    """

    alarm_id: str
    attempt: int
    destination: int | None
    due_ts: float
    alert: dict[str, Any]
    reason: str


@dataclass(slots=True)
class _Pending:
    alert: dict[str, Any]
    priority: str
    attempt: int
    destination: int
    deadline_ts: float


@dataclass(slots=True)
class Escalator:
    """Tracks forwarded, not-yet-acknowledged alerts of one deployment."""

    policy: EscalationPolicy
    n_destinations: int
    now_ts: float = float("-inf")
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _done: dict[str, None] = field(default_factory=dict)  # recently finished, bounded

    MAX_REMEMBERED = 100_000

    def start(self, alert: dict[str, Any], start_ts: float) -> None:
        """An alert went out to the first destination at event time `start_ts`."""
        alarm_id = _key_of(alert)
        if alarm_id in self._pending or alarm_id in self._done:
            return  # a re-submitted alert (e.g. Kafka redelivery) keeps its running clock
        priority = str(alert.get("priority", ""))
        self._pending[alarm_id] = _Pending(alert, priority, 0, 0, start_ts + self.policy.timeout_for(priority))
        self.now_ts = max(self.now_ts, start_ts)

    def acknowledge(self, alarm_id: str) -> bool:
        """A clinician answered: stop escalating. False if it was not pending."""
        self._remember(alarm_id)
        return self._pending.pop(alarm_id, None) is not None

    def state(self) -> dict[str, Any]:
        """JSON-able state (pending alerts, event time), so escalation survives a restart.

        >>> esc = Escalator(EscalationPolicy(), n_destinations=2)
        >>> esc.start({"alarm_id": "a1", "priority": "high"}, start_ts=100.0)
        >>> again = Escalator.from_state(EscalationPolicy(), 2, esc.state())
        >>> again.deadline("a1"), again.now_ts
        (130.0, 100.0)
        """
        return {"now_ts": self.now_ts if self.now_ts != float("-inf") else None,
                "pending": [{"alert": p.alert, "priority": p.priority, "attempt": p.attempt,
                             "destination": p.destination, "deadline_ts": p.deadline_ts}
                            for p in self._pending.values()],
                "done": list(self._done)[-10_000:]}

    @classmethod
    def from_state(cls, policy: EscalationPolicy, n_destinations: int, state: dict[str, Any]) -> Escalator:
        esc = cls(policy, n_destinations)
        if state.get("now_ts") is not None:
            esc.now_ts = float(state["now_ts"])
        for p in state.get("pending", []):
            dest = min(int(p["destination"]), n_destinations - 1)  # fewer destinations now: stay on the last
            esc._pending[_key_of(p["alert"])] = _Pending(p["alert"], str(p["priority"]), int(p["attempt"]),
                                                               dest, float(p["deadline_ts"]))
        for a in state.get("done", []):
            esc._remember(str(a))
        return esc

    def is_pending(self, alarm_id: str) -> bool:
        return alarm_id in self._pending

    def attempt(self, alarm_id: str) -> int | None:
        """The attempt (0 = first destination) an unacknowledged alert is at."""
        p = self._pending.get(alarm_id)
        return p.attempt if p else None

    def deadline(self, alarm_id: str) -> float | None:
        p = self._pending.get(alarm_id)
        return p.deadline_ts if p else None

    def refused(self, alarm_id: str, attempt: int, reason: str) -> EscalationStep | None:
        """The destination of `attempt` refused it for good (AR): escalate now, not at the deadline."""
        p = self._pending.get(alarm_id)
        if p is None or p.attempt != attempt:
            return None
        return self._step(alarm_id, p, max(self.now_ts, p.deadline_ts - self.policy.timeout_for(p.priority)), reason)

    def advance(self, now_ts: float) -> list[EscalationStep]:
        """Event time moved to `now_ts`: every deadline passed escalates, in deadline order.

        >>> esc = Escalator(EscalationPolicy(timeout_seconds={"high": 30.0}), n_destinations=2)
        >>> esc.start({"alarm_id": "a1", "priority": "high"}, start_ts=100.0)
        >>> esc.advance(129.9)
        []
        >>> [(s.attempt, s.destination, s.due_ts) for s in esc.advance(130.0)]
        [(1, 1, 130.0)]
        >>> [(s.attempt, s.destination, s.due_ts) for s in esc.advance(160.0)]
        [(2, None, 160.0)]
        """
        self.now_ts = max(self.now_ts, now_ts)
        steps: list[EscalationStep] = []
        while True:
            due = [(p.deadline_ts, a) for a, p in self._pending.items() if p.deadline_ts <= self.now_ts]
            if not due:
                return steps
            deadline, alarm_id = min(due)
            p = self._pending[alarm_id]
            steps.append(self._step(alarm_id, p, deadline, "no acknowledgement within "
                                    f"{self.policy.timeout_for(p.priority):g} s ({p.priority or 'no'} priority)"))

    def _remember(self, alarm_id: str) -> None:
        self._done[alarm_id] = None
        while len(self._done) > self.MAX_REMEMBERED:
            del self._done[next(iter(self._done))]

    def _step(self, alarm_id: str, p: _Pending, at_ts: float, reason: str) -> EscalationStep:
        nxt = p.destination + 1
        if nxt >= self.n_destinations:
            self._pending.pop(alarm_id, None)
            self._remember(alarm_id)
            return EscalationStep(alarm_id, p.attempt + 1, None, at_ts, p.alert, reason + "; no destination left")
        p.attempt += 1
        p.destination = nxt
        p.deadline_ts = at_ts + self.policy.timeout_for(p.priority)
        return EscalationStep(alarm_id, p.attempt, nxt, at_ts, p.alert, reason)


def _key_of(alert: dict[str, Any]) -> str:
    """The alert's key: (bed, alarm id), as `messages.alert_key`."""
    return alert_key(str(alert.get("bed", "")), str(alert["alarm_id"]))
