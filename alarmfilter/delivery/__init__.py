"""Clinician alert delivery: HL7 v2.6 ORU^R40 over MLLP (IHE PCD ACM), acknowledgement, escalation.

`messages` is pure (build ORU^R40, parse ACK / ORA^R41); `escalation` is sans-IO (event
time); `queue` is the bounded on-disk queue; `mllp` one connection; `service.AlertDelivery`
the driver-facing hook: `submit(alert)`, `feedback(event)`, `tick(now_ts)`, `async run(stop)`.
"""

from .config import DeliveryConfig, Destination
from .escalation import EscalationPolicy, EscalationStep, Escalator
from .messages import (
    AckCode,
    MalformedMessage,
    Response,
    ResponseKind,
    Site,
    alert_key,
    build_ack,
    build_oru_r40,
    message_control_id,
    parse_response,
)
from .mllp import parse_mllp_url
from .queue import DiskQueue, QueueFull
from .service import AlertDelivery, DeliveryOutcome, DeliveryRecord, JsonlAudit

__all__ = [
    "AckCode",
    "AlertDelivery",
    "DeliveryConfig",
    "DeliveryOutcome",
    "DeliveryRecord",
    "Destination",
    "DiskQueue",
    "EscalationPolicy",
    "EscalationStep",
    "Escalator",
    "JsonlAudit",
    "MalformedMessage",
    "QueueFull",
    "Response",
    "ResponseKind",
    "Site",
    "alert_key",
    "build_ack",
    "build_oru_r40",
    "message_control_id",
    "parse_mllp_url",
    "parse_response",
]
