"""Wire format v1: validated input events, engine outputs, the JSON codec. Pure: no I/O."""

from .codec import DecodeError, decode_event, encode
from .outputs import Alert, DeadLetter, DecisionRecord, Output, TechnicalAlarm, dead_letter
from .types import AlarmType, Decision, Priority, ReasonCode
from .wire import SCHEMA_VERSION, Alarm, Feedback, Vitals, Waveform

InputEvent = Vitals | Waveform | Alarm | Feedback

__all__ = [
    "SCHEMA_VERSION",
    "Alarm",
    "AlarmType",
    "Alert",
    "DeadLetter",
    "Decision",
    "DecisionRecord",
    "DecodeError",
    "Feedback",
    "InputEvent",
    "Output",
    "Priority",
    "ReasonCode",
    "TechnicalAlarm",
    "Vitals",
    "Waveform",
    "dead_letter",
    "decode_event",
    "encode",
]
