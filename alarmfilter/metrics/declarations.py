"""Every Prometheus metric of alarmfilter, declared once per registry.

Names follow the Prometheus naming rules: namespace `alarmfilter`, base units
(`_seconds`, `_ratio`), `_total` on counters. Labels are closed, bounded sets
(unit, alarm type, priority, decision, reason code, dead-letter class); never a
patient identifier, and bed ids only on the opt-in per-bed counter.

The module-level set (`alarmfilter.metrics.METRICS`, on the default registry) is what
drivers export; tests build their own set on a private `CollectorRegistry`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from enum import Enum

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

NAMESPACE = "alarmfilter"

#: Wall-clock latency from alarm (event time) to decision; sub-millisecond to past the hold ceiling.
LATENCY_BUCKETS_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Wall-clock delay from a label on the broker to the model version that includes it.
LABEL_BUCKETS_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
#: Event-time delay from alarm to decision: the hold (0 s for lethal types, ceiling 10 s).
ACK_BUCKETS_SECONDS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0)
HOLD_BUCKETS_SECONDS = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 12.0)


class DeadLetterReason(str, Enum):
    """Bounded classes of dead-letter errors (the full error text stays in the dead letter)."""

    MALFORMED_JSON = "malformed_json"
    NULL_VALUE = "null_value"
    NOT_UTF8 = "not_utf8"
    TOO_DEEP = "too_deep"
    TOO_LARGE = "too_large"
    NOT_AN_OBJECT = "not_an_object"
    SCHEMA_VERSION = "schema_version"
    INVALID_EVENT = "invalid_event"
    WRONG_BED = "wrong_bed"
    REJECTED_SAMPLES = "rejected_samples"
    ENGINE_ERROR = "engine_error"
    BED_LIMIT = "bed_limit"
    OTHER = "other"

    @classmethod
    def of(cls, error: str) -> DeadLetterReason:
        """Class of a dead letter's `error` text, from the prefixes the codec and engine use.

        >>> DeadLetterReason.of("malformed JSON: Expecting value: line 1 column 1 (char 0)").value
        'malformed_json'
        >>> DeadLetterReason.of("invalid event: alarm.ts: Field required").value
        'invalid_event'
        >>> DeadLetterReason.of("something new").value
        'other'
        """
        for prefix, reason in _PREFIXES:
            if error.startswith(prefix):
                return reason
        if "waveform" in error or "vitals" in error or "sample" in error or "fs_hz" in error:
            return cls.REJECTED_SAMPLES
        return cls.OTHER


_PREFIXES: tuple[tuple[str, DeadLetterReason], ...] = (
    ("malformed JSON", DeadLetterReason.MALFORMED_JSON),
    ("null value", DeadLetterReason.NULL_VALUE),
    ("value is not UTF-8", DeadLetterReason.NOT_UTF8),
    ("JSON nested deeper", DeadLetterReason.TOO_DEEP),
    ("message of ", DeadLetterReason.TOO_LARGE),
    ("message value must be", DeadLetterReason.MALFORMED_JSON),
    ("message must be a JSON object", DeadLetterReason.NOT_AN_OBJECT),
    ("schema_version", DeadLetterReason.SCHEMA_VERSION),
    ("invalid event", DeadLetterReason.INVALID_EVENT),
    ("event for bed", DeadLetterReason.WRONG_BED),
    ("engine error", DeadLetterReason.ENGINE_ERROR),
    ("worker error", DeadLetterReason.ENGINE_ERROR),
    ("bed limit", DeadLetterReason.BED_LIMIT),
)


@dataclass(frozen=True)
class AlarmMetrics:
    """The metric objects of one registry. Field names are the Python handles; see `name` in each."""

    alarms: Counter
    audit_sampled: Counter
    decision_reasons: Counter
    fail_open: Counter
    outputs: Counter
    technical_alarms: Counter
    dead_letters: Counter
    bed_alarms: Counter
    feedback: Counter
    engine_events: Counter
    decision_latency: Histogram
    decision_hold: Histogram
    acknowledgement: Histogram
    event_lag: Gauge
    consumer_lag: Gauge
    last_event_ts: Gauge
    beds: Gauge
    pending_alarms: Gauge
    audit_fraction: Gauge
    missed_true: Gauge
    missed_true_lower: Gauge
    missed_true_upper: Gauge
    false_alarm_suppression: Gauge
    model_info: Gauge
    model_snapshot_ts: Gauge
    model_prior_fallback: Gauge
    model_fallbacks: Counter
    unit_model_version: Gauge
    unit_labels_learned: Counter
    label_to_model: Histogram
    label_refusals: Counter
    hl7_deliveries: Counter
    hl7_delivery_failures: Counter
    hl7_queue: Gauge
    hl7_destination_up: Gauge
    hl7_oldest_undelivered_age: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None) -> AlarmMetrics:
        """Declare the whole set on `registry` (None: not registered, for throw-away use)."""
        ns, reg = NAMESPACE, registry

        def counter(name: str, doc: str, labels: list[str]) -> Counter:
            return Counter(name, doc, labels, namespace=ns, registry=reg)

        def gauge(name: str, doc: str, labels: list[str]) -> Gauge:
            return Gauge(name, doc, labels, namespace=ns, registry=reg)

        return cls(
            alarms=counter(
                "alarms_total",
                "Alarms decided, by decision; summed over decisions this is the alarm burden before filtering.",
                ["unit", "alarm_type", "priority", "decision"],
            ),
            audit_sampled=counter(
                "alarms_audit_sampled_total",
                "Would-be-suppressed alarms forwarded as audit samples (label-censoring guard).",
                ["unit", "alarm_type", "priority"],
            ),
            decision_reasons=counter(
                "decision_reasons_total",
                "Decisions by reason code: what was suppressed or forwarded, and why.",
                ["unit", "alarm_type", "decision", "reason_code"],
            ),
            fail_open=counter(
                "fail_open_total",
                "Alarms forwarded because the filter could not decide (no signal, stale, warming up, errors).",
                ["unit", "reason_code"],
            ),
            outputs=counter(
                "outputs_total",
                "Output messages written by the driver, by kind (alert, decision, technical, deadletter).",
                ["unit", "kind"],
            ),
            technical_alarms=counter(
                "technical_alarms_total",
                "Technical alarms (leads off, probe off, line fault, artefact) routed to the bedside nurse.",
                ["unit", "alarm_type"],
            ),
            dead_letters=counter(
                "dead_letters_total",
                "Input messages that were not valid events, by class of error.",
                ["unit", "reason"],
            ),
            bed_alarms=counter(
                "bed_alarms_total",
                "Alarms decided per bed (only when per-bed metrics are switched on; bed set capped).",
                ["unit", "bed", "decision"],
            ),
            feedback=counter(
                "feedback_total",
                "Clinician feedback received, joined with the decision it labels (decision=unknown if not seen).",
                ["unit", "alarm_type", "priority", "decision", "audit_sample", "actionable"],
            ),
            engine_events=counter(
                "engine_events_total",
                "Counts kept by the bed engines (duplicate alarms, feedback outcomes, fail-open), by event.",
                ["unit", "event"],
            ),
            decision_latency=Histogram(
                "decision_latency_seconds",
                "Wall-clock time from the alarm's event time to its decision (live streams only).",
                ["unit", "priority", "decision"],
                namespace=ns, registry=reg, buckets=LATENCY_BUCKETS_SECONDS,
            ),
            decision_hold=Histogram(
                "decision_hold_seconds",
                "Event time from the alarm to its decision: the evidence hold actually used.",
                ["unit", "priority", "decision"],
                namespace=ns, registry=reg, buckets=HOLD_BUCKETS_SECONDS,
            ),
            acknowledgement=Histogram(
                "acknowledgement_seconds",
                "Event time from an alarm to the clinician's feedback on it (acknowledgement).",
                ["unit", "priority", "decision"],
                namespace=ns, registry=reg, buckets=ACK_BUCKETS_SECONDS,
            ),
            event_lag=gauge("event_lag_seconds", "Wall clock minus the newest event time processed.", ["unit"]),
            consumer_lag=gauge(
                "consumer_lag_messages", "Messages behind the end of each input topic (Kafka worker).", ["unit", "topic"]
            ),
            last_event_ts=gauge(
                "last_event_timestamp_seconds", "Newest event time any bed engine has reached.", ["unit"]
            ),
            beds=gauge("beds", "Beds with an engine in this driver.", ["unit"]),
            pending_alarms=gauge("pending_alarms", "Alarms held for evidence, not decided yet.", ["unit"]),
            audit_fraction=gauge(
                "audit_sample_ratio", "Configured share of would-be-suppressed alarms forwarded as audit samples.",
                ["unit"],
            ),
            missed_true=gauge(
                "estimated_missed_true_ratio",
                "Estimated share of true (actionable) alarms that were suppressed, from audit-sample feedback.",
                ["unit", "estimator"],
            ),
            missed_true_lower=gauge(
                "estimated_missed_true_lower_ratio", "Lower confidence bound of the missed-true estimate.",
                ["unit", "estimator"],
            ),
            missed_true_upper=gauge(
                "estimated_missed_true_upper_ratio", "Upper confidence bound of the missed-true estimate.",
                ["unit", "estimator"],
            ),
            false_alarm_suppression=gauge(
                "estimated_false_alarm_suppression_ratio",
                "Estimated share of false (non-actionable) alarms that were suppressed.",
                ["unit", "estimator"],
            ),
            model_info=gauge("model_info", "Model version in use (value 1).", ["unit", "model_version"]),
            model_snapshot_ts=gauge(
                "model_snapshot_timestamp_seconds", "When the model in use was last snapshotted.", ["unit"]
            ),
            model_prior_fallback=gauge(
                "model_prior_fallback", "1 while the policy has fallen back to the shipped prior model.", ["unit"]
            ),
            model_fallbacks=counter(
                "model_fallbacks_total", "Times the learned model was dropped for the prior.", ["unit"]
            ),
            unit_model_version=gauge(
                "unit_model_version",
                "Shared model of a care unit: labels applied from the label log (every worker of the unit agrees).",
                ["unit"],
            ),
            unit_labels_learned=counter(
                "unit_labels_learned_total",
                "Clinician labels the unit's shared model learned, by the decision they label (forward, suppress, "
                "audit) and the label.",
                ["unit", "origin", "actionable"],
            ),
            label_to_model=Histogram(
                "label_to_model_seconds",
                "Wall time from a label record on the broker to this worker's model version that includes it.",
                ["unit"], namespace=ns, registry=reg, buckets=LABEL_BUCKETS_SECONDS,
            ),
            label_refusals=counter(
                "label_records_refused_total",
                "Label-log records not applied: malformed, unsigned, bad_signature, invalid, wrong_recipe, "
                "unit_limit, or duplicate (a label re-published after a crash; harmless).",
                ["reason"],
            ),
            hl7_deliveries=counter(
                "hl7_deliveries_total",
                "HL7 alert delivery events by outcome (queued, accepted, error = AE, rejected = AR, gave_up, no_ack, "
                "connect_failed = first of an outage, escalated, exhausted = nobody acknowledged and no destination "
                "left, acknowledged), per destination (none for exhausted and acknowledged) and alarm priority.",
                ["unit", "destination", "priority", "outcome"],
            ),
            hl7_delivery_failures=counter(
                "hl7_delivery_failures_total",
                "Failed HL7 delivery attempts, every one (connect_failed, no_ack, malformed_ack, connection_lost, "
                "error = AE, rejected = AR, internal), per destination.",
                ["unit", "destination", "reason"],
            ),
            hl7_destination_up=gauge(
                "hl7_destination_up",
                "0 while a delivery destination's last attempt failed (nothing accepted since), else 1.",
                ["unit", "destination"],
            ),
            hl7_queue=gauge("hl7_queue_messages", "HL7 messages queued on disk and not yet accepted.", ["unit"]),
            hl7_oldest_undelivered_age=gauge(
                "hl7_oldest_undelivered_age_seconds",
                "Wall time since the oldest message still in the HL7 queue was queued (0 when empty).", ["unit"],
            ),
        )


_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, AlarmMetrics] = weakref.WeakKeyDictionary()


def metrics_for(registry: CollectorRegistry = REGISTRY) -> AlarmMetrics:
    """The metric set of `registry`, declared on first use (a registry cannot hold two)."""
    found = _BY_REGISTRY.get(registry)
    if found is None:
        found = _BY_REGISTRY[registry] = AlarmMetrics.create(registry)
    return found
