"""Per-alarm life cycle. Rule: every state an alarm can be in, and every move, is in this file.

PENDING (waiting for its hold) -> DECIDED (exactly one decision emitted) -> LABELLED (feedback learned).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ..events.types import AlarmType, Decision
from ..events.wire import Alarm


class AlarmState(Enum):
    PENDING = "pending"
    DECIDED = "decided"
    LABELLED = "labelled"


class Move(Enum):
    DECIDE = "decide"
    LABEL = "label"


TRANSITIONS: dict[AlarmState, dict[Move, AlarmState]] = {
    AlarmState.PENDING: {Move.DECIDE: AlarmState.DECIDED},
    AlarmState.DECIDED: {Move.LABEL: AlarmState.LABELLED},
    AlarmState.LABELLED: {},
}


class IllegalMove(RuntimeError):
    pass


@dataclass(slots=True)
class TrackedAlarm:
    """One alarm the bed has seen: what it was, where it is in its life cycle, what was decided."""

    alarm: Alarm
    alarm_type: AlarmType | None
    due_ts: float  # event time at which its hold ends
    deadline_ts: float  # event time by which it is decided even without data
    state: AlarmState = AlarmState.PENDING
    decision: Decision | None = None
    features: dict[str, float] | None = None
    decided_ts: float | None = None
    label: bool | None = None
    audit_sample: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    def move(self, move: Move) -> None:
        try:
            self.state = TRANSITIONS[self.state][move]
        except KeyError:
            raise IllegalMove(f"{move.value} not allowed in state {self.state.value}") from None
