"""Prometheus metrics of alarmfilter: declared once at module level, written only by drivers.

    from alarmfilter.metrics import DriverMetrics
    metrics = DriverMetrics(unit="ICU1")
    metrics.serve(9464)                      # /metrics on 127.0.0.1:9464
    metrics.observe(outputs, wall_now=time.time())
    metrics.observe_engines(ward.beds.values())

The engine never imports this package (dependency direction: drivers -> engine, metrics).
"""

from prometheus_client import REGISTRY

from .declarations import NAMESPACE, AlarmMetrics, DeadLetterReason, metrics_for
from .driver import DriverMetrics, priority_label, type_label

#: The module-level metric set on the default registry, exported by every driver.
METRICS: AlarmMetrics = metrics_for(REGISTRY)

ALARMS = METRICS.alarms
AUDIT_SAMPLED = METRICS.audit_sampled
DECISION_REASONS = METRICS.decision_reasons
FAIL_OPEN = METRICS.fail_open
OUTPUTS = METRICS.outputs
TECHNICAL_ALARMS = METRICS.technical_alarms
DEAD_LETTERS = METRICS.dead_letters
BED_ALARMS = METRICS.bed_alarms
FEEDBACK = METRICS.feedback
ENGINE_EVENTS = METRICS.engine_events
DECISION_LATENCY = METRICS.decision_latency
DECISION_HOLD = METRICS.decision_hold
EVENT_LAG = METRICS.event_lag
CONSUMER_LAG = METRICS.consumer_lag
LAST_EVENT_TS = METRICS.last_event_ts
BEDS = METRICS.beds
PENDING_ALARMS = METRICS.pending_alarms
AUDIT_FRACTION = METRICS.audit_fraction
ESTIMATED_MISSED_TRUE = METRICS.missed_true
ESTIMATED_MISSED_TRUE_LOWER = METRICS.missed_true_lower
ESTIMATED_MISSED_TRUE_UPPER = METRICS.missed_true_upper
ESTIMATED_FALSE_ALARM_SUPPRESSION = METRICS.false_alarm_suppression
MODEL_INFO = METRICS.model_info
MODEL_SNAPSHOT_TS = METRICS.model_snapshot_ts
MODEL_PRIOR_FALLBACK = METRICS.model_prior_fallback
MODEL_FALLBACKS = METRICS.model_fallbacks
HL7_DELIVERIES = METRICS.hl7_deliveries
HL7_DELIVERY_FAILURES = METRICS.hl7_delivery_failures
HL7_QUEUE = METRICS.hl7_queue
HL7_DESTINATION_UP = METRICS.hl7_destination_up
HL7_OLDEST_UNDELIVERED_AGE = METRICS.hl7_oldest_undelivered_age

__all__ = [
    "ALARMS", "AUDIT_FRACTION", "AUDIT_SAMPLED", "BEDS", "BED_ALARMS", "CONSUMER_LAG", "DEAD_LETTERS",
    "DECISION_HOLD", "DECISION_LATENCY", "DECISION_REASONS", "ENGINE_EVENTS", "ESTIMATED_FALSE_ALARM_SUPPRESSION",
    "ESTIMATED_MISSED_TRUE", "ESTIMATED_MISSED_TRUE_LOWER", "ESTIMATED_MISSED_TRUE_UPPER", "EVENT_LAG", "FAIL_OPEN",
    "FEEDBACK", "HL7_DELIVERIES", "HL7_DELIVERY_FAILURES", "HL7_DESTINATION_UP", "HL7_OLDEST_UNDELIVERED_AGE", "HL7_QUEUE",
    "LAST_EVENT_TS", "METRICS", "MODEL_FALLBACKS", "MODEL_INFO", "MODEL_PRIOR_FALLBACK",
    "MODEL_SNAPSHOT_TS", "NAMESPACE", "OUTPUTS", "PENDING_ALARMS", "TECHNICAL_ALARMS",
    "AlarmMetrics", "DeadLetterReason", "DriverMetrics", "metrics_for", "priority_label", "type_label",
]
