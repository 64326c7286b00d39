"""A clinician's label as a wire-format `feedback` event (pure).

`actionable` is what the engine learns from; the station adds the label in words (artefact is
told apart from other not-actionable alarms) and the optional note as extra fields, which
consumers of wire format v1 ignore. No patient identifier: the bed and the alarm id only.
"""

from __future__ import annotations

import json
from typing import Any

from ..events import Feedback
from .store import AlarmRecord, Label

MAX_NOTE_CHARS = 300


def clean_note(note: str | None) -> str | None:
    """One line, at most MAX_NOTE_CHARS, None when empty.

    >>> clean_note("  lead fell off\\n at 03:10  "), clean_note("   ")
    ('lead fell off  at 03:10', None)
    """
    if note is None:
        return None
    text = " ".join(note.replace("\r", " ").replace("\n", " ").split(" ")).strip()
    text = "".join(ch for ch in text if ch.isprintable())
    return text[:MAX_NOTE_CHARS] or None


def label_ts(rec: AlarmRecord, wall_now: float) -> float:
    """Event time of the label: the decision's event time plus the wall time since the station read it
    (the simulator's clock need not be the wall clock, and the engine orders a bed's events by it).

    >>> rec = AlarmRecord("a1", "B1", "asystole", "high", 1764150000.0, decided_ts=1764150001.0, seen_wall=50.0)
    >>> label_ts(rec, wall_now=80.0)
    1764150031.0
    """
    base = rec.decided_ts if rec.decided_ts is not None else rec.alarm_ts
    waited = max(0.0, wall_now - rec.seen_wall) if rec.seen_wall is not None else 0.0
    return base + waited


def feedback_event(rec: AlarmRecord, label: Label, note: str | None, wall_now: float) -> dict[str, Any]:
    """The message sent to the feedback topic (validated as wire format v1 before it goes).

    >>> rec = AlarmRecord("a1", "B1", "asystole", "high", 1764150000.0, decided_ts=1764150000.0, seen_wall=10.0)
    >>> e = feedback_event(rec, Label.ARTEFACT, "motion", wall_now=12.0)
    >>> e["kind"], e["actionable"], e["label"], e["ts"]
    ('feedback', False, 'artefact', 1764150002.0)
    """
    event: dict[str, Any] = {
        "schema_version": 1, "kind": "feedback", "bed": rec.bed, "ts": label_ts(rec, wall_now),
        "alarm_id": rec.alarm_id, "actionable": label.actionable, "label": label.value, "source": "review",
    }
    if note:
        event["note"] = note
    Feedback.model_validate(event)
    return event


def encode_feedback(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()
