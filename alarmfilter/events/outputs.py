"""Output messages of the engine (wire format v1): alert, decision, technical, deadletter.

They carry the same JSON on Kafka as in the replay files.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .types import Decision, ReasonCode


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True, use_enum_values=True)

    schema_version: Literal[1] = 1

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def key(self) -> str:
        """Partition key on Kafka: the bed (dead letters have none)."""
        return getattr(self, "bed", "") or ""


class _AboutAlarm(_Output):
    """Fields every output about one alarm carries."""

    alarm_id: str
    bed: str
    type: str
    priority: str


class _Verdict(_AboutAlarm):
    """What was decided about an alarm, and why."""

    score: float | None
    reason_code: ReasonCode
    reasons: list[str]
    decided_ts: float
    model_version: str
    audit_sample: bool = False


class DecisionRecord(_Verdict):
    """Audit line: one per alarm, forwarded or not."""

    kind: Literal["decision"] = "decision"
    alarm_ts: float
    decision: Decision


class Alert(_Verdict):
    """A forwarded actionable alarm: the alarm's fields plus why it was forwarded."""

    kind: Literal["alert"] = "alert"
    ts: float
    channel: str | None = None


class TechnicalAlarm(_AboutAlarm):
    """A technical alarm (leads off, probe off, line fault) routed to the bedside nurse."""

    kind: Literal["technical"] = "technical"
    ts: float
    channel: str | None = None


class DeadLetter(_Output):
    """Input that was not a valid event, with the reason; the raw text is kept (truncated) for replay."""

    kind: Literal["deadletter"] = "deadletter"
    error: str
    raw: str
    bed: str | None = None


Output = DecisionRecord | Alert | TechnicalAlarm | DeadLetter
OUTPUT_MODELS: tuple[type[_Output], ...] = (Alert, DecisionRecord, TechnicalAlarm, DeadLetter)

#: Raw text kept in a dead letter, so a flood of huge messages cannot fill a disk.
MAX_RAW_CHARS = 4096


def dead_letter(error: str, raw: object, bed: str | None = None) -> DeadLetter:
    """`raw` as text for the record: bytes decoded with replacement, a null value as "", anything
    else by its repr; truncated to MAX_RAW_CHARS."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        data = bytes(raw)
        if len(data) > MAX_RAW_CHARS * 4:  # an oversized value is not decoded whole
            more = len(data) - MAX_RAW_CHARS
            return DeadLetter(error=error, raw=data[:MAX_RAW_CHARS].decode("utf-8", "replace") + f"...[{more} more bytes]", bed=bed)
        text = data.decode("utf-8", "replace")
    elif raw is None:
        text = ""
    elif isinstance(raw, str):
        text = raw
    else:
        text = repr(raw)[: MAX_RAW_CHARS + 1]
    if len(text) > MAX_RAW_CHARS:
        text = text[:MAX_RAW_CHARS] + f"...[{len(text) - MAX_RAW_CHARS} more chars]"
    return DeadLetter(error=error, raw=text, bed=bed)
