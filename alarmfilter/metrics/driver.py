"""DriverMetrics: what a driver calls to turn engine outputs into Prometheus metrics.

Drivers (Kafka worker, replay, demo) own one per process and unit. It reads only
outputs, engine `stats` and feedback events; the engine never imports it. The join of late
labels to decisions and the running estimates are `policy.estimates`; this module writes them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, CollectorRegistry, Gauge

from ..events.outputs import Alert, DeadLetter, DecisionRecord, Output, TechnicalAlarm
from ..events.types import FAIL_OPEN_CODES, AlarmType, Decision, Priority, ReasonCode
from ..events.wire import Feedback
from ..policy.audit import STAT_POPULATION, estimate_from_stats
from ..policy.estimates import AuditCounts, FeedbackJoin
from .declarations import AlarmMetrics, DeadLetterReason, metrics_for

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from ..engine import BedEngine

#: Beds given their own label value when per-bed metrics are on; the rest count as "other".
MAX_BEDS = 256
#: Distinct engine stats keys exported; later new keys count as "other".
MAX_ENGINE_EVENTS = 64
#: Alarm-to-decision wall latencies beyond this are replays of recorded data, not latency.
MAX_LIVE_LATENCY_SECONDS = 300.0
#: Clock skew tolerated between the event source and this driver.
MAX_CLOCK_SKEW_SECONDS = 2.0
UNKNOWN = "unknown"
NO_DESTINATION = "none"
OTHER = "other"
OWN_ESTIMATOR = "audit_ratio"
#: The engines' own audit ledger (policy/audit.py), summed over beds.
IPW_ESTIMATOR = "ipw"

#: Stats that are states (0/1), not counts; exported elsewhere (model_prior_fallback).
GAUGE_STATS = frozenset({"fallback_active"})

_STATS_KEY = re.compile(r"^[a-z][a-z0-9_:]{0,63}$")


def type_label(alarm_type: str) -> str:
    """A bounded label for an alarm type: types outside the wire format become "unknown".

    >>> type_label("asystole"), type_label("Ventricular Tachycardia!")
    ('asystole', 'unknown')
    """
    return alarm_type if AlarmType.parse(alarm_type) is not None else UNKNOWN


def _value(x: object) -> str:
    """An Enum's value or the string itself (outputs keep enum values as plain strings)."""
    return str(getattr(x, "value", x))


def _destination_label(name: str) -> str:
    """Destination names come from the delivery config (bounded); records without one are "none"."""
    return name[:64] if name else NO_DESTINATION


def priority_label(priority: str) -> str:
    return priority if priority in _PRIORITIES else UNKNOWN


_PRIORITIES = frozenset(p.value for p in Priority)


class DriverMetrics:
    """Metrics of one driver for one care unit.

    `per_bed` adds a per-bed alarm counter (bed ids, never patient ids), capped at
    MAX_BEDS beds. `registry` is the default registry in production and a private
    `CollectorRegistry()` in tests.
    """

    def __init__(self, unit: str = "icu", registry: CollectorRegistry = REGISTRY, per_bed: bool = False) -> None:
        self.unit = unit
        self.registry = registry
        self.per_bed = per_bed
        self.m: AlarmMetrics = metrics_for(registry)
        self.join = FeedbackJoin()  # decisions remembered for late labels, and the audit counts
        self._pairs: set[tuple[str, str]] = set()
        self._beds: set[str] = set()
        self._stats_seen: dict[int, dict[str, int]] = {}  # owner (engine or model) -> last stats seen
        self._engine_events: set[str] = set()
        self._model_version: str | None = None
        self._explicit_model = False  # set_model was called: decisions' versions no longer drive model_info
        self._fallback = False
        self._unit_versions: dict[str, str] = {}  # care unit -> model_info version shown (shared models)
        self._server: WSGIServer | None = None
        self._preinitialise()

    def _preinitialise(self) -> None:
        """Zero series for the closed sets, so `rate()` shows 0 rather than no data."""
        u, m = self.unit, self.m
        for code in sorted(FAIL_OPEN_CODES, key=lambda c: c.value):
            m.fail_open.labels(u, code.value)
        for reason in DeadLetterReason:
            m.dead_letters.labels(u, reason.value)
        for kind in ("alert", "decision", "technical", "deadletter"):
            m.outputs.labels(u, kind)
        for atype in AlarmType:  # every known type and priority: a type's first alarm then shows in rate()
            for prio in Priority:
                self._init_pair(atype.value, prio.value)
            if atype.is_technical:
                m.technical_alarms.labels(u, atype.value)
        for prio in Priority:  # latency series exist before the first decision, so rate() sees it
            for dec in Decision:
                m.decision_latency.labels(u, prio.value, dec.value)
                m.decision_hold.labels(u, prio.value, dec.value)
                m.acknowledgement.labels(u, prio.value, dec.value)
        m.model_prior_fallback.labels(u).set(0)
        m.model_fallbacks.labels(u)
        m.beds.labels(u)
        m.pending_alarms.labels(u)

    # -- outputs -------------------------------------------------------------------------------

    def observe(self, outputs: Iterable[Output], wall_now: float | None = None) -> None:
        """Count what the engines output. `wall_now` (driver's clock) enables latency, where meaningful."""
        m, u = self.m, self.unit
        decided = False
        for o in outputs:
            m.outputs.labels(u, o.kind).inc()
            if isinstance(o, DecisionRecord):
                self._on_decision(o, wall_now)
                decided = True
            elif isinstance(o, TechnicalAlarm):
                m.technical_alarms.labels(u, type_label(o.type)).inc()
            elif isinstance(o, DeadLetter):
                m.dead_letters.labels(u, DeadLetterReason.of(o.error).value).inc()
            elif isinstance(o, Alert):
                pass  # counted through its decision record
        if decided:
            self._publish_estimates()

    def _on_decision(self, d: DecisionRecord, wall_now: float | None) -> None:
        m, u = self.m, self.unit
        atype, prio, decision = type_label(d.type), priority_label(d.priority), _value(d.decision)
        if (atype, prio) not in self._pairs:
            self._init_pair(atype, prio)
        m.alarms.labels(u, atype, prio, decision).inc()
        m.decision_reasons.labels(u, atype, decision, _value(d.reason_code)).inc()
        if d.audit_sample:
            m.audit_sampled.labels(u, atype, prio).inc()
        if ReasonCode(d.reason_code).is_fail_open:
            m.fail_open.labels(u, _value(d.reason_code)).inc()
        m.decision_hold.labels(u, prio, decision).observe(max(0.0, d.decided_ts - d.alarm_ts))
        if wall_now is not None:
            latency = wall_now - d.alarm_ts
            if -MAX_CLOCK_SKEW_SECONDS <= latency <= MAX_LIVE_LATENCY_SECONDS:
                m.decision_latency.labels(u, prio, decision).observe(max(0.0, latency))
        if self.per_bed:
            m.bed_alarms.labels(u, self._bed_label(d.bed), decision).inc()
        if not self._explicit_model and d.model_version.split("+", 1)[0][:64] != self._model_version:
            self._show_model(d.model_version)
        self.join.decided(d)

    def _init_pair(self, atype: str, prio: str) -> None:
        """Zero series for both decisions of a type and priority, so the counterpart shows as 0."""
        self._pairs.add((atype, prio))
        for dec in Decision:
            self.m.alarms.labels(self.unit, atype, prio, dec.value)
        self.m.audit_sampled.labels(self.unit, atype, prio)

    def _bed_label(self, bed: str) -> str:
        if bed in self._beds:
            return bed
        if len(self._beds) < MAX_BEDS:
            self._beds.add(bed)
            return bed
        return OTHER

    # -- feedback ------------------------------------------------------------------------------

    def observe_feedback(self, feedback: Feedback | Iterable[Feedback]) -> None:
        """Count clinician labels, joined with the decisions they label, and update the estimates."""
        items = [feedback] if isinstance(feedback, Feedback) else feedback
        m, u = self.m, self.unit
        for fb in items:
            seen = self.join.labelled(fb)
            actionable = "true" if fb.actionable else "false"
            if seen is None:
                m.feedback.labels(u, UNKNOWN, UNKNOWN, UNKNOWN, "false", actionable).inc()
                continue
            atype, prio = type_label(seen.alarm_type), priority_label(seen.priority)
            audit = "true" if seen.audit_sample else "false"
            m.feedback.labels(u, atype, prio, seen.decision, audit, actionable).inc()
            m.acknowledgement.labels(u, prio, seen.decision).observe(max(0.0, fb.ts - seen.alarm_ts))
        self._publish_estimates()

    @property
    def counts(self) -> AuditCounts:
        """The audit counts behind the driver's own estimate (`policy.estimates`)."""
        return self.join.counts

    def _publish_estimates(self) -> None:
        m = self.m
        missed = self.counts.missed_true_ratio()
        point, lower, upper = missed if missed is not None else (None, None, None)
        for gauge, value in ((m.missed_true, point), (m.missed_true_lower, lower), (m.missed_true_upper, upper),
                             (m.false_alarm_suppression, self.counts.false_alarm_suppression_ratio())):
            self._show(gauge, OWN_ESTIMATOR, value)

    def _show(self, gauge: Gauge, estimator: str, value: float | None) -> None:
        """Set an estimate, or drop its series while it is unknown (a stale figure would mislead)."""
        if value is not None:
            gauge.labels(self.unit, estimator).set(value)
            return
        try:
            gauge.remove(self.unit, estimator)
        except KeyError:
            pass

    def set_audit_estimate(
        self,
        missed_true_ratio: float,
        lower: float | None = None,
        upper: float | None = None,
        false_alarm_suppression_ratio: float | None = None,
        estimator: str = "ipw",
    ) -> None:
        """Publish another estimator's figures (e.g. policy/audit.py's inverse-propensity one)."""
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", estimator):
            raise ValueError(f"estimator name {estimator!r} must be a short snake_case word")
        m, u = self.m, self.unit
        for gauge, value in ((m.missed_true, missed_true_ratio), (m.missed_true_lower, lower),
                             (m.missed_true_upper, upper), (m.false_alarm_suppression, false_alarm_suppression_ratio)):
            if value is not None:
                if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                    raise ValueError(f"a ratio must be within [0, 1], got {value}")
                gauge.labels(u, estimator).set(value)

    # -- engines, lag, model -------------------------------------------------------------------

    def observe_engines(self, engines: Iterable[BedEngine]) -> None:
        """Export the engines' `stats` Counter (as deltas since the last call), bed and pending counts."""
        m, u = self.m, self.unit
        n_beds = pending = 0
        newest = 0.0
        audit = None
        totals: Counter[str] = Counter()
        models: dict[int, Any] = {}
        seen_before, self._stats_seen = self._stats_seen, {}  # engines gone since are forgotten
        for eng in engines:
            n_beds += 1
            pending += eng.pending
            newest = max(newest, eng.clock)
            audit = eng.config.audit_fraction
            totals.update(eng.stats)
            self._export_deltas(seen_before, id(eng), "", eng.stats)
            model = getattr(eng.scorer, "model", None)
            if model is not None and isinstance(getattr(model, "stats", None), Counter):
                models[id(model)] = model
        for key, model in models.items():  # a shared model lifecycle: its own counters, and the fallback flag
            self._export_deltas(seen_before, key, "model:", model.stats)
            fallen_back = getattr(model, "fallen_back", None)
            if isinstance(fallen_back, bool) and not getattr(model, "scope", ""):  # a unit's own: observe_shared
                self._set_fallback(fallen_back)
        m.beds.labels(u).set(n_beds)
        m.pending_alarms.labels(u).set(pending)
        if newest > 0:
            m.last_event_ts.labels(u).set(newest)
        if audit is not None:
            m.audit_fraction.labels(u).set(audit)
        if totals.get(STAT_POPULATION):
            est = estimate_from_stats(totals)
            informative = est.informative or est.suppressed == 0
            self._show(m.missed_true, IPW_ESTIMATOR, est.missed_share if informative else None)
            self._show(m.missed_true_lower, IPW_ESTIMATOR, est.missed_share_low if informative else None)
            self._show(m.missed_true_upper, IPW_ESTIMATOR, est.missed_share_high if informative else None)

    def _export_deltas(self, seen_before: dict[int, dict[str, int]], owner: int, prefix: str,
                       stats: Counter[str]) -> None:
        last = seen_before.get(owner, {})
        now = self._stats_seen[owner] = {}
        for key, value in list(stats.items()):
            if key in GAUGE_STATS:
                continue
            if value > last.get(key, 0):
                self.m.engine_events.labels(self.unit, self._event_label(prefix + key)).inc(value - last.get(key, 0))
            now[key] = value

    def _event_label(self, key: str) -> str:
        if key in self._engine_events:
            return key
        if _STATS_KEY.match(key) and len(self._engine_events) < MAX_ENGINE_EVENTS:
            self._engine_events.add(key)
            return key
        return OTHER

    def observe_lag(self, seconds: float) -> None:
        """Event lag: the driver's wall clock minus the newest event time it processed."""
        self.m.event_lag.labels(self.unit).set(seconds)

    def observe_consumer_lag(self, topic: str, messages: int) -> None:
        """Kafka consumer lag of one input topic, summed over the partitions this worker owns."""
        self.m.consumer_lag.labels(self.unit, topic).set(messages)

    def observe_shared(self, models: Any) -> None:
        """The shared per-unit models (`engine.shared.UnitModels`): version, fallback and model info per unit."""
        self._explicit_model = True  # model_info comes per unit from here, not from the decisions' versions
        for unit, um in list(models.units.items()):
            self.m.unit_model_version.labels(unit).set(um.labels_applied)
            self.m.model_prior_fallback.labels(unit).set(1 if um.lifecycle.fallen_back else 0)
            version = um.version.split("+", 1)[0][:64]
            shown = self._unit_versions.get(unit)
            if shown != version:
                if shown is not None:
                    self.m.model_info.remove(unit, shown)
                self.m.model_info.labels(unit, version).set(1)
                self._unit_versions[unit] = version

    def observe_label(self, applied: Any, seconds_since_published: float | None) -> None:
        """One record of the label log: learned (with its delay to the model), or refused and why."""
        if applied.outcome == "applied":
            actionable = "true" if applied.actionable else "false"
            self.m.unit_labels_learned.labels(applied.unit, applied.origin, actionable).inc()
            if seconds_since_published is not None:
                self.m.label_to_model.labels(applied.unit).observe(max(0.0, seconds_since_published))
        elif applied.outcome != "replayed":
            self.m.label_refusals.labels(applied.outcome).inc()

    def set_model(self, version: str, snapshot_ts: float | None = None, prior_fallback: bool | None = None) -> None:
        """The model in use; `prior_fallback=True` when the guard-rail dropped the learned model."""
        self._explicit_model = True
        self._show_model(version)
        if snapshot_ts is not None:
            self.m.model_snapshot_ts.labels(self.unit).set(snapshot_ts)
        if prior_fallback is not None:
            self._set_fallback(prior_fallback)

    def _set_fallback(self, active: bool) -> None:
        if active and not self._fallback:
            self.m.model_fallbacks.labels(self.unit).inc()
        self._fallback = active
        self.m.model_prior_fallback.labels(self.unit).set(1 if active else 0)

    def _show_model(self, version: str) -> None:
        """One model_info series at a time: the old version's series is removed.

        A learning model's version ends in "+N" (labels learned); that count is dropped from
        the label so the series does not change with every label.
        """
        version = version.split("+", 1)[0][:64]
        if self._model_version is not None and self._model_version != version:
            self.m.model_info.remove(self.unit, self._model_version)
        self._model_version = version
        self.m.model_info.labels(self.unit, version).set(1)

    # -- HL7 delivery ----------------------------------------------------------------------------

    def init_delivery(self, destinations: Iterable[str], outcomes: Iterable[str], reasons: Iterable[str]) -> None:
        """Zero series for every destination, priority, outcome and failure reason, so `increase()` sees
        the first failure (a series born at 1 shows no increase) and dashboards show 0, not no data."""
        m, u = self.m, self.unit
        dests = [_destination_label(d) for d in destinations]
        outcomes, reasons = list(outcomes), list(reasons)
        for dest in [*dests, NO_DESTINATION]:
            for prio in Priority:
                for outcome in outcomes:
                    m.hl7_deliveries.labels(u, dest, prio.value, outcome)
        for dest in dests:
            for reason in reasons:
                m.hl7_delivery_failures.labels(u, dest, reason)
            m.hl7_destination_up.labels(u, dest).set(1)
        self.observe_delivery_queue(0, None)

    def observe_delivery(self, destination: str, priority: str, outcome: str) -> None:
        """One delivery audit record (queued, accepted, escalated, exhausted, ...)."""
        self.m.hl7_deliveries.labels(self.unit, _destination_label(destination), priority_label(priority),
                                     outcome).inc()

    def observe_delivery_failures(self, destination: str, reason: str, count: int) -> None:
        """`count` more failed delivery attempts of one destination for one reason."""
        if count > 0:
            self.m.hl7_delivery_failures.labels(self.unit, _destination_label(destination), reason).inc(count)

    def observe_destination(self, destination: str, up: bool) -> None:
        """Whether a destination's last delivery attempt succeeded."""
        self.m.hl7_destination_up.labels(self.unit, _destination_label(destination)).set(1 if up else 0)

    def observe_delivery_queue(self, messages: int, oldest_age_seconds: float | None) -> None:
        """Queue depth and the age of its oldest message (None or 0 when empty)."""
        self.m.hl7_queue.labels(self.unit).set(messages)
        self.m.hl7_oldest_undelivered_age.labels(self.unit).set(max(0.0, oldest_age_seconds or 0.0))

    # -- exporting -----------------------------------------------------------------------------

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Serve /metrics on a daemon thread; returns the bound port (useful with port 0)."""
        from prometheus_client import disable_created_metrics, start_http_server

        disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` twin per counter: half the series, unused by our queries
        server, _thread = start_http_server(port, addr, registry=self.registry)
        self._server = server
        return int(server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def snapshot(self) -> dict[str, Any]:
        """The cumulative counts behind the estimates (for logs and tests)."""
        from dataclasses import asdict

        return asdict(self.counts)
