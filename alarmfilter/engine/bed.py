"""BedEngine: one bed's alarm filter as a sans-IO state machine.

Fed validated events in arrival order, it returns outputs; it never reads a clock, a socket or
a global. Time is event time: the newest `ts` seen (or a driver's `tick(now)`).
Anything that goes wrong while deciding forwards the alarm with a reason (fail-open).
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict

from ..events.outputs import Alert, DecisionRecord, Output, TechnicalAlarm, dead_letter
from ..events.types import AlarmType, Decision, ReasonCode
from ..events.wire import Alarm, Feedback, Vitals, Waveform
from ..policy.audit import audit_draw
from ..policy.threshold_prior import SOURCE, STALE_SECONDS, THRESHOLD_TYPES, critical_crossing
from ..signals.numerics import fault_channel, source_channel
from .buffers import VitalsLog, WaveformBuffer, Window
from .config import EngineConfig
from .scoring import (
    NO_EVIDENCE_VERSION,
    AlarmContext,
    Assessment,
    ContextScorer,
    EarlyDecider,
    FeedbackLearner,
    ForwardAllPolicy,
    LabelledAlarm,
    Policy,
    Scorer,
    Verdict,
)
from .states import AlarmState, Move, TrackedAlarm

Event = Vitals | Waveform | Alarm | Feedback


class BedEngine:
    """Decides every alarm of one bed exactly once.

    >>> from alarmfilter.events import decode_event
    >>> eng = BedEngine("ICU1-07")
    >>> out = eng.feed(decode_event('{"schema_version":1,"kind":"alarm","bed":"ICU1-07",'
    ...     '"ts":1764150300,"alarm_id":"a1","type":"asystole","priority":"high"}'))
    >>> [(o.kind, o.decision if o.kind == "decision" else "") for o in out]
    [('decision', 'forward'), ('alert', '')]
    >>> out[0].reason_code, out[0].reasons
    ('no_evidence_policy', ['no-evidence policy: every alarm is forwarded'])
    """

    def __init__(
        self,
        bed: str,
        config: EngineConfig | None = None,
        scorer: Scorer | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.bed = bed
        self.config = config or EngineConfig()
        self.scorer = scorer
        self.policy: Policy = policy or ForwardAllPolicy()
        self.waveforms = WaveformBuffer(self.config.buffer_seconds_for(scorer.window_seconds if scorer else 0.0),
                                        self.config.max_samples_per_second)
        self.vitals = VitalsLog(self.config.vitals_seconds)
        self.clock = 0.0  # newest event time seen
        self.alarms: OrderedDict[str, TrackedAlarm] = OrderedDict()
        #: ids of decided alarms that left `alarms` (retention or count cap): a late repeat of one (a
        #: replay, a monitor's clock jump) is still a duplicate, never decided twice. Bounded as `alarms`.
        self._forgotten: OrderedDict[str, None] = OrderedDict()
        self._pending: dict[str, TrackedAlarm] = {}  # held alarms, in arrival order: checked on every event
        self.stats: Counter[str] = Counter()  # read by drivers for metrics
        self.faults: dict[str, tuple[str, float]] = {}  # sensor class -> (technical alarm type, ts)
        self._forwarded: dict[str, tuple[str, float]] = {}  # alarm type -> (alarm id, ts) last forwarded
        self._raised: dict[str, list[float]] = {}  # alarm type -> recent raise times (merge window)
        self._prior = self.config.prior_config()

    # -- input ---------------------------------------------------------------------------------

    def feed(self, event: Event) -> list[Output]:
        """Take one event; return the outputs it causes (decisions, alerts, technical, dead letters).

        Never raises: a bug met while handling an alarm forwards that alarm (fail-open); any other
        event that trips one goes to dead-letter with the reason.
        """
        try:
            return self._feed(event)
        except Exception as exc:  # noqa: BLE001 -- fail-open: the engine never raises into a driver
            return self._engine_error(event, exc)

    def _engine_error(self, event: Event, exc: Exception) -> list[Output]:
        self.stats["fail_open:engine_error"] += 1
        why = f"engine error ({type(exc).__name__})"
        tracked = self.alarms.get(event.alarm_id) if isinstance(event, Alarm) else None
        if not isinstance(event, Alarm) or (tracked is not None and tracked.state is not AlarmState.PENDING):
            return [dead_letter(f"{why}: event not processed", _summary(event), self.bed)]
        tracked = tracked or TrackedAlarm(event, AlarmType.parse(event.type), event.ts, event.ts)
        self._pending.pop(event.alarm_id, None)
        self.alarms[event.alarm_id] = tracked
        tracked.move(Move.DECIDE)
        tracked.decision = Decision.FORWARD
        tracked.decided_ts = max(self.clock, event.ts)
        common = dict(  # noqa: C408 -- keyword form: the fields both outputs share
            alarm_id=event.alarm_id, bed=self.bed, type=event.type, priority=event.priority, score=None,
            reason_code=ReasonCode.ENGINE_ERROR, reasons=[f"{why}: forwarded"], decided_ts=tracked.decided_ts,
            model_version=NO_EVIDENCE_VERSION,
        )
        return [DecisionRecord(alarm_ts=event.ts, decision=Decision.FORWARD, **common),
                Alert(ts=event.ts, channel=event.channel, **common)]

    def _feed(self, event: Event) -> list[Output]:
        if event.bed != self.bed:
            return [dead_letter(f"event for bed {event.bed!r} fed to engine of bed {self.bed!r}", "", event.bed)]
        out: list[Output] = []
        if isinstance(event, Waveform):
            err = self.waveforms.append(event.ts, event.fs_hz, event.signals, event.units)
            if err:
                return [dead_letter(err, _summary(event), self.bed)]
            self._advance(event.ts + event.duration_seconds)
        elif isinstance(event, Vitals):
            err = self.vitals.append(event.ts, event.values)
            if err:
                return [dead_letter(err, _summary(event), self.bed)]
            self._advance(event.ts)
        elif isinstance(event, Alarm):
            out += self._on_alarm(event)
            self._advance(event.ts)
        else:
            self._on_feedback(event)
            self._advance(event.ts)
        out += self._decide_due(final=False)
        return out

    def tick(self, now: float) -> list[Output]:
        """Let event time pass without data (a driver's timer); decides holds that ran out."""
        self._advance(now)
        return self._decide_due(final=False)

    def flush(self) -> list[Output]:
        """End of input: decide every pending alarm with the data there is."""
        return self._decide_due(final=True)

    @property
    def pending(self) -> int:
        return sum(1 for t in self._pending.values() if t.state is AlarmState.PENDING)

    def is_pending(self, alarm_id: str) -> bool:
        """The alarm is held, not yet decided (False once decided, or if never seen or forgotten)."""
        tracked = self.alarms.get(alarm_id)
        return tracked is not None and tracked.state is AlarmState.PENDING

    def features_of(self, alarm_id: str) -> dict[str, float] | None:
        """The evidence an alarm was scored on (None if it was not scored, or is forgotten)."""
        tracked = self.alarms.get(alarm_id)
        return dict(tracked.features) if tracked is not None and tracked.features else None

    # -- alarms --------------------------------------------------------------------------------

    def _advance(self, ts: float) -> None:
        self.clock = max(self.clock, ts)
        self._forget_old()

    def _on_alarm(self, alarm: Alarm) -> list[Output]:
        if alarm.alarm_id in self.alarms or alarm.alarm_id in self._forgotten:
            self.stats["duplicate_alarms"] += 1
            return []
        alarm_type = AlarmType.parse(alarm.type)
        if alarm_type is not None and alarm_type.is_technical:
            self.faults[fault_channel(alarm_type.value, alarm.channel)] = (alarm_type.value, alarm.ts)
        self._note_raise(alarm, alarm_type)
        if alarm_type is None or alarm_type.is_technical or self.scorer is None:
            tracked = TrackedAlarm(alarm, alarm_type, alarm.ts, alarm.ts)
            self.alarms[alarm.alarm_id] = tracked
            return self._decide_now(tracked)
        hold = min(self.config.hold_for(alarm_type.value), self.config.hold_ceiling_seconds)
        due = alarm.ts + hold
        deadline = min(due + self.config.hold_grace_seconds, alarm.ts + self.config.hold_ceiling_seconds)
        tracked = TrackedAlarm(alarm, alarm_type, due, max(due, deadline))
        self.alarms[alarm.alarm_id] = self._pending[alarm.alarm_id] = tracked
        return []

    def _decide_due(self, final: bool) -> list[Output]:
        out: list[Output] = []
        wave_end = self.waveforms.end_ts if not self.waveforms.empty else float("-inf")
        vitals_end = self.vitals.last_ts if self.vitals.last_ts is not None else float("-inf")
        for alarm_id, tracked in list(self._pending.items()):  # not every tracked alarm: a day of them per bed
            if tracked.state is not AlarmState.PENDING:
                del self._pending[alarm_id]
                continue
            numerics_due = vitals_end >= tracked.due_ts and not (tracked.alarm_type and tracked.alarm_type.is_arrhythmia)
            if final or wave_end >= tracked.due_ts or numerics_due or self.clock >= tracked.deadline_ts:
                out += self._decide_or_forward(tracked)
                self._pending.pop(alarm_id, None)
            elif self._due_early(tracked, vitals_end):
                out += self._decide_or_forward(tracked, until_ts=vitals_end, early=True)
                self._pending.pop(alarm_id, None)
        if out:
            self._forget_old()  # what was held, and blocked nothing from leaving, is decided now
        return out

    def _due_early(self, tracked: TrackedAlarm, vitals_end: float) -> bool:
        """A held threshold alarm whose value turned critical or severe is decided at once (new numerics only)."""
        t = tracked.alarm_type
        if t is None or t.is_arrhythmia or t.is_technical or not isinstance(self.scorer, EarlyDecider):
            return False
        if vitals_end < tracked.alarm.ts or vitals_end <= float(tracked.extra.get("checked_until", float("-inf"))):
            return False
        tracked.extra["checked_until"] = vitals_end
        alarm, until = tracked.alarm, min(vitals_end, tracked.due_ts)
        try:
            window = self.waveforms.window(until, self.scorer.window_seconds, alarm.ts)
            context = self._context(t, alarm, until, tracked.due_ts - alarm.ts, early=True)
            return self.scorer.decides_early(t, window, self.vitals, alarm.ts, context)
        except Exception:  # noqa: BLE001 -- fail-open: decide now; the decision forwards if scoring fails too
            return True

    def _decide_or_forward(self, tracked: TrackedAlarm, until_ts: float | None = None,
                           early: bool = False) -> list[Output]:
        """`_decide_now`, fail-open: a defect while deciding forwards the alarm, so `tick` and `flush`
        never raise either (`feed` catches everything else)."""
        try:
            return self._decide_now(tracked, until_ts, early)
        except Exception as exc:  # noqa: BLE001 -- fail-open: the engine never raises into a driver
            return self._engine_error(tracked.alarm, exc)

    def _decide_now(self, tracked: TrackedAlarm, until_ts: float | None = None, early: bool = False) -> list[Output]:
        alarm = tracked.alarm
        merged = self._merge_target(alarm, tracked.alarm_type)
        until = tracked.due_ts if until_ts is None else min(until_ts, tracked.due_ts)
        if merged is not None and not self._critical(tracked.alarm_type, alarm.ts, until):
            # checked at decision time: alarms are decided in due order, whatever the arrival order
            return self._decide_merged(tracked, *merged)
        assessment: Assessment | None = None
        if tracked.alarm_type is None:
            verdict = Verdict(Decision.FORWARD, ReasonCode.UNKNOWN_TYPE, [f"unknown alarm type {alarm.type!r}: forwarded"])
        elif tracked.alarm_type.is_technical:
            verdict = Verdict(Decision.FORWARD, ReasonCode.TECHNICAL_ALARM, ["technical alarm: routed to the bedside nurse"])
        else:
            assessment, verdict = self._assess(tracked.alarm_type, alarm, until, tracked.due_ts - alarm.ts, early)
        if verdict.decision is Decision.SUPPRESS:
            self._count_suppression(tracked.alarm_type)
        if verdict.decision is Decision.SUPPRESS and self._audit_draw(tracked.alarm_type, alarm.alarm_id):
            tracked.audit_sample = True
            tracked.extra["propensity"] = self.config.audit_fraction
            self.stats["audit_samples"] += 1
            verdict = Verdict(
                Decision.FORWARD,
                ReasonCode.AUDIT_SAMPLE,
                ["audit sample: would have been suppressed; forwarded so its label keeps the filter honest", *verdict.reasons],
            )
        decided_ts = max(self.clock, alarm.ts) if self.clock else alarm.ts
        tracked.move(Move.DECIDE)
        tracked.decision = verdict.decision
        tracked.decided_ts = decided_ts
        tracked.features = assessment.features if assessment else None
        if verdict.decision is Decision.FORWARD and tracked.alarm_type is not None:
            self._forwarded[tracked.alarm_type.value] = (alarm.alarm_id, alarm.ts)
        if verdict.reason_code.is_fail_open:
            self.stats[f"fail_open:{verdict.reason_code.value}"] += 1
        score = assessment.p_true if assessment else None
        version = assessment.model_version if assessment else (self.scorer.model_version if self.scorer else NO_EVIDENCE_VERSION)
        tracked.extra["model_version"] = version
        record = DecisionRecord(
            alarm_id=alarm.alarm_id, bed=self.bed, type=alarm.type, priority=alarm.priority, alarm_ts=alarm.ts,
            decision=verdict.decision, score=score, reason_code=verdict.reason_code, reasons=verdict.reasons,
            decided_ts=decided_ts, model_version=version, audit_sample=tracked.audit_sample,
            features=_wire_features(tracked.features),
        )
        out: list[Output] = [record]
        if tracked.alarm_type is not None and tracked.alarm_type.is_technical:
            out.append(TechnicalAlarm(alarm_id=alarm.alarm_id, bed=self.bed, ts=alarm.ts, type=alarm.type,
                                      priority=alarm.priority, channel=alarm.channel))
        elif verdict.decision is Decision.FORWARD:
            out.append(Alert(alarm_id=alarm.alarm_id, bed=self.bed, ts=alarm.ts, type=alarm.type,
                             priority=alarm.priority, channel=alarm.channel, score=score,
                             reason_code=verdict.reason_code, reasons=verdict.reasons, decided_ts=decided_ts,
                             model_version=version, audit_sample=tracked.audit_sample))
        return out

    def _assess(self, alarm_type: AlarmType, alarm: Alarm, until_ts: float, hold_seconds: float = 0.0,
                early: bool = False) -> tuple[Assessment | None, Verdict]:
        """Score and decide; every way this can fail forwards the alarm with the reason."""
        if self.scorer is None:
            return None, self.policy.decide(alarm_type, None)
        window = self.waveforms.window(until_ts, self.scorer.window_seconds, alarm.ts)
        fail = self._signal_problem(alarm_type, window, alarm.ts)
        if fail is not None:
            return None, fail
        context = self._context(alarm_type, alarm, until_ts, hold_seconds, early)
        try:
            if isinstance(self.scorer, ContextScorer):
                assessment = self.scorer.assess_in_context(alarm_type, window, self.vitals, alarm.ts, context)
            else:
                assessment = _with_context(self.scorer.assess(alarm_type, window, self.vitals, alarm.ts), context)
        except Exception as exc:  # noqa: BLE001 -- fail-open: a scorer bug must never drop an alarm
            return None, Verdict(Decision.FORWARD, ReasonCode.SCORER_ERROR, [f"scoring failed ({type(exc).__name__}): forwarded"])
        try:
            return assessment, self.policy.decide(alarm_type, assessment)
        except Exception as exc:  # noqa: BLE001 -- fail-open, as above
            return assessment, Verdict(Decision.FORWARD, ReasonCode.POLICY_ERROR, [f"policy failed ({type(exc).__name__}): forwarded"])

    def _signal_problem(self, alarm_type: AlarmType, window: Window, alarm_ts: float) -> Verdict | None:
        if not alarm_type.is_arrhythmia:
            return None  # threshold alarms are scored from numerics, with waveforms when present
        if self.waveforms.empty or not window.signals:
            return Verdict(Decision.FORWARD, ReasonCode.NO_SIGNAL, ["no waveform before the alarm: forwarded"])
        if self.waveforms.end_ts < alarm_ts - self.config.stale_seconds:
            lag = alarm_ts - self.waveforms.end_ts
            return Verdict(Decision.FORWARD, ReasonCode.STALE_SIGNAL, [f"waveform stopped {lag:.0f} s before the alarm: forwarded"])
        if window.seconds < self.config.warmup_seconds:
            return Verdict(Decision.FORWARD, ReasonCode.WARMING_UP, [f"only {window.seconds:.1f} s of waveform held so far: forwarded"])
        return None

    def _context(self, alarm_type: AlarmType, alarm: Alarm, until_ts: float, hold_seconds: float = 0.0,
                 early: bool = False) -> AlarmContext:
        """A technical fault on the alarm's source sensor (raised before the decision, still fresh)."""
        source = source_channel(alarm_type.value, alarm.channel)
        best: tuple[str, float] | None = None
        for sensor in (source, "any"):
            fault = self.faults.get(sensor)
            if fault and alarm.ts - self.config.technical_fault_seconds <= fault[1] <= until_ts:
                best = fault if best is None or fault[1] > best[1] else best
        raised = self._raised.get(alarm_type.value, [])
        reraises = sum(1 for t in raised if alarm.ts - self.config.merge_window_seconds <= t < alarm.ts)
        if best is None:
            return AlarmContext(reraise_count=reraises, until_ts=until_ts, hold_seconds=hold_seconds, early=early)
        if not early:  # an early check is asked again at the decision: count once
            self.stats["fault_on_source"] += 1
        return AlarmContext(best[0], max(0.0, alarm.ts - best[1]), reraises, until_ts, hold_seconds, early)

    def _critical(self, alarm_type: AlarmType | None, alarm_ts: float, until_ts: float) -> bool:
        """A threshold alarm beyond its critical bound is never merged into an earlier one: decided afresh."""
        if alarm_type is None or alarm_type.value not in THRESHOLD_TYPES:
            return False
        key = SOURCE[alarm_type.value][0]
        series = {key: self.vitals.series(key, until_ts, until_ts - alarm_ts + STALE_SECONDS)}
        return critical_crossing(alarm_type.value, series, alarm_ts, until_ts, self._prior) is not None

    def _note_raise(self, alarm: Alarm, alarm_type: AlarmType | None) -> None:
        """Recent raise times per type (bounded), for the re-raise count of later alarms."""
        if alarm_type is None or alarm_type.is_technical:
            return
        raised = self._raised.setdefault(alarm_type.value, [])
        raised[:] = [t for t in raised if t >= alarm.ts - self.config.merge_window_seconds][-32:]
        raised.append(alarm.ts)

    def _merge_target(self, alarm: Alarm, alarm_type: AlarmType | None) -> tuple[str, float] | None:
        """The forwarded alarm this one re-raises (same type, within the merge window), if any."""
        if alarm_type is None or alarm_type.is_technical or self.config.merge_window_seconds <= 0:
            return None
        if alarm_type.is_lethal and not self.config.merge_lethal:
            return None
        last = self._forwarded.get(alarm_type.value)
        if last is None or not 0 <= alarm.ts - last[1] <= self.config.merge_window_seconds:
            return None
        return last

    def _decide_merged(self, tracked: TrackedAlarm, into_id: str, into_ts: float) -> list[Output]:
        """A re-raise of an alarm clinicians already have: one decision line, no second alert."""
        alarm = tracked.alarm
        tracked.move(Move.DECIDE)
        tracked.decision = Decision.SUPPRESS
        tracked.decided_ts = max(self.clock, alarm.ts)
        tracked.extra["merged_into"] = into_id
        self.stats["merged"] += 1
        version = self.scorer.model_version if self.scorer else NO_EVIDENCE_VERSION
        reasons = [f"re-raised {alarm.ts - into_ts:.0f} s after alarm {into_id} was forwarded: merged into it"]
        return [DecisionRecord(
            alarm_id=alarm.alarm_id, bed=self.bed, type=alarm.type, priority=alarm.priority, alarm_ts=alarm.ts,
            decision=Decision.SUPPRESS, score=None, reason_code=ReasonCode.MERGED, reasons=reasons,
            decided_ts=tracked.decided_ts, model_version=version, audit_sample=False,
        )]

    def _count_suppression(self, alarm_type: AlarmType | None) -> None:
        """The audit population: every would-be-suppressed alarm that may be audit-sampled."""
        if alarm_type is not None and alarm_type.is_lethal:
            self.stats["suppressed_lethal"] += 1
        elif self.config.audit_fraction > 0:
            self.stats["audit_population"] += 1

    def _audit_draw(self, alarm_type: AlarmType | None, alarm_id: str) -> bool:
        """Keyed by (seed, bed, alarm id), not drawn in sequence: the same alarm is sampled (or not)
        whatever order the drivers interleaved the ward's streams in."""
        if alarm_type is None or alarm_type.is_lethal:
            return False
        return audit_draw(self.config.seed, self.bed, alarm_id, self.config.audit_fraction)

    # -- feedback ------------------------------------------------------------------------------

    def _on_feedback(self, fb: Feedback) -> None:
        tracked = self.alarms.get(fb.alarm_id)
        if tracked is None:
            self.stats["feedback_unknown_alarm"] += 1
            return
        if tracked.state is AlarmState.PENDING:
            self.stats["feedback_before_decision"] += 1
            return
        if tracked.state is AlarmState.LABELLED:
            self.stats["feedback_duplicate" if tracked.label == fb.actionable else "feedback_contradictory"] += 1
            return
        tracked.move(Move.LABEL)
        tracked.label = fb.actionable
        self.stats["feedback_learned"] += 1
        origin = "audit" if tracked.audit_sample else ("forwarded" if tracked.decision is Decision.FORWARD else "suppressed")
        self.stats[f"{origin}_labelled_{'true' if fb.actionable else 'false'}"] += 1
        if self.scorer is None or tracked.features is None or tracked.alarm_type is None:
            return
        if isinstance(self.scorer, FeedbackLearner):
            propensity = float(tracked.extra.get("propensity", 1.0)) if tracked.audit_sample else 1.0  # type: ignore[arg-type]
            self.scorer.learn_labelled(LabelledAlarm(
                tracked.alarm_type, tracked.features, fb.actionable,
                tracked.decision or Decision.FORWARD, tracked.audit_sample, propensity,
                bed=self.bed, alarm_id=fb.alarm_id, model_version=str(tracked.extra.get("model_version", "")),
                ts=fb.ts,
            ))
        else:
            self.scorer.learn(tracked.alarm_type, tracked.features, fb.actionable)

    def restore_decided(self, record: DecisionRecord) -> bool:
        """An alarm this bed's previous owner decided (read back from the decisions topic), so that a
        label given after a crash or rebalance still joins the features the model saw. True if kept."""
        alarm_type = AlarmType.parse(record.type)
        if record.alarm_id in self.alarms or record.features is None or alarm_type is None:
            return False
        alarm = Alarm(schema_version=1, kind="alarm", bed=self.bed, ts=record.alarm_ts, alarm_id=record.alarm_id,
                      type=record.type, priority=record.priority)
        tracked = TrackedAlarm(alarm, alarm_type, record.alarm_ts, record.alarm_ts)
        tracked.move(Move.DECIDE)
        tracked.decision = Decision(record.decision)
        tracked.decided_ts = record.decided_ts
        tracked.features = {k: float("nan") if v is None else float(v) for k, v in record.features.items()}
        tracked.audit_sample = record.audit_sample
        if record.audit_sample:
            tracked.extra["propensity"] = self.config.audit_fraction
        tracked.extra["model_version"] = record.model_version
        self.alarms[record.alarm_id] = tracked
        self.stats["restored_decisions"] += 1
        return True

    def _forget_old(self) -> None:
        """Bounded memory: decided alarms leave after the feedback retention or past the count cap."""
        horizon = self.clock - self.config.feedback_retention_seconds
        excess = len(self.alarms) - self.config.max_tracked_alarms
        stale = []
        for key, tracked in self.alarms.items():  # oldest first; a held alarm stays, those behind it may go
            if excess <= 0 and tracked.alarm.ts >= horizon:
                break
            if tracked.state is not AlarmState.PENDING:
                stale.append(key)
                excess -= 1
        for key in stale:
            del self.alarms[key]
            self._forgotten[key] = None
        while len(self._forgotten) > self.config.max_tracked_alarms:
            self._forgotten.popitem(last=False)


def _with_context(assessment: Assessment, context: AlarmContext) -> Assessment:
    """For a scorer that does not take context: keep the fault in the evidence (learned, and shown)."""
    if not context.fault_type:
        return assessment
    return Assessment(assessment.p_true, {**assessment.features, **context.features()},
                      {**assessment.findings, **context.findings()}, assessment.model_version)


def _wire_features(features: dict[str, float] | None) -> dict[str, float | None] | None:
    """Features as the decision record carries them: JSON has no NaN or infinity (null instead).

    >>> _wire_features({"a": 1.5, "b": float("nan")})
    {'a': 1.5, 'b': None}
    """
    if features is None:
        return None
    return {k: (float(v) if math.isfinite(v) else None) for k, v in features.items()}


def _summary(event: Event) -> str:
    """A short description of a rejected event (the samples themselves are not kept)."""
    if isinstance(event, Waveform):
        return f"waveform bed={event.bed} ts={event.ts} fs_hz={event.fs_hz} n_samples={event.n_samples} channels={sorted(event.signals)}"
    if isinstance(event, Vitals):
        return f"vitals bed={event.bed} ts={event.ts} values={event.values}"
    return f"{event.kind} bed={event.bed} ts={event.ts} alarm_id={event.alarm_id}"
