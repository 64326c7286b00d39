"""The learning scorer and policy: every physiological alarm type, one lifecycle-managed ward model.

Arrhythmias are scored from waveform evidence (``signals.evidence``), threshold alarms from the
numerics around them (``signals.numerics``); both through a ``ModelLifecycle`` that learns from
clinician feedback, versions every decision and falls back to the prior when learning costs
sensitivity.  The engine adds what only it knows — a technical fault active on the alarm's
source sensor, how often the alarm was re-raised — as an `AlarmContext` (``engine.scoring``).
Engines are built by ``engine.factory.engine_factory``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..events.types import AlarmType, Decision, ReasonCode
from ..model.lifecycle import ModelLifecycle
from ..policy.floor import FLOOR_TYPES, check_floor, forwards
from ..policy.threshold_prior import THRESHOLD_TYPES, PriorConfig, PriorJudgement, judge
from ..policy.thresholds import decide
from ..signals.evidence import EVIDENCE_WINDOW_SECONDS, extract_evidence
from ..signals.numerics import BASELINE_WINDOW_SECONDS, SOURCE_KEY, numerics_evidence
from .buffers import FloatArray, VitalsLog, Window
from .scoring import CONTEXT_FINDINGS, AlarmContext, Assessment, LabelledAlarm, Verdict
from .watchdog import EVIDENCE_BUDGET_SECONDS, ExtractionWatchdog

#: numerics each threshold alarm's evidence reads besides its own source
_CROSS_KEYS = ("hr_bpm", "pulse_bpm", "abp_sys_mmhg", "abp_dia_mmhg")


class LearningScorer:
    """p(actionable) for every physiological type from the lifecycle's active model.

    One instance is shared by all beds of a ward, so every bed's feedback teaches the model
    (unless `learning` is off: a frozen model, as in `alarmfilter evaluate --mode frozen`).
    Waveform evidence runs under an `ExtractionWatchdog` (`budget_seconds`, None = inline).
    The evidence uses the samples before the alarm only; a hold delays the decision but is not
    read by the evidence (measured on the dev records, 5-fold CV: ending the evidence at
    alarm + 5 s / 10 s instead lowered the score from 0.79 to 0.67 / 0.63).
    """

    def __init__(self, lifecycle: ModelLifecycle, *, hold_seconds: float = 0.0, learning: bool = True,
                 budget_seconds: float | None = EVIDENCE_BUDGET_SECONDS, prior: PriorConfig | None = None) -> None:
        self.lifecycle = lifecycle
        self.hold_seconds = hold_seconds
        self.prior = prior or PriorConfig()
        self.learning = learning
        self.watchdog = ExtractionWatchdog(budget_seconds)
        #: when set, a clinician label is handed here instead of being learned at once: a shared model
        #: (`engine/shared.py`) publishes it and learns it, like every other worker, from the log
        self.publish: Callable[[LabelledAlarm], None] | None = None

    @property
    def model(self) -> ModelLifecycle:
        """The lifecycle, under the name drivers look for (its `stats` and `fallen_back` are exported)."""
        return self.lifecycle

    @property
    def model_version(self) -> str:
        return self.lifecycle.version

    @property
    def window_seconds(self) -> float:
        return self.window_seconds_for(self.hold_seconds)

    @staticmethod
    def window_seconds_for(hold_seconds: float) -> float:
        """Window the engine must hand over so the evidence sees its full span before the alarm."""
        return EVIDENCE_WINDOW_SECONDS + hold_seconds

    def assess(self, alarm_type: AlarmType, window: Window, vitals: VitalsLog, alarm_ts: float) -> Assessment:
        return self.assess_in_context(alarm_type, window, vitals, alarm_ts, AlarmContext())

    def assess_in_context(self, alarm_type: AlarmType, window: Window, vitals: VitalsLog, alarm_ts: float,
                          context: AlarmContext) -> Assessment:
        return self._assess(alarm_type, window, vitals, alarm_ts, context)[0]

    def decides_early(self, alarm_type: AlarmType, window: Window, vitals: VitalsLog, alarm_ts: float,
                      context: AlarmContext) -> bool:
        """Before the hold runs out: has the value turned critical, or severe with no sign of artefact?"""
        if alarm_type.value not in THRESHOLD_TYPES:
            return False
        prior = self._assess(alarm_type, window, vitals, alarm_ts, context, score=False)[1]
        return prior is not None and prior.final and prior.forward and prior.verdict in ("critical", "severe")

    def _assess(self, alarm_type: AlarmType, window: Window, vitals: VitalsLog, alarm_ts: float,
                context: AlarmContext, score: bool = True) -> tuple[Assessment, PriorJudgement | None]:
        if alarm_type.is_arrhythmia:
            fs_hz = window.fs_hz or 1.0  # no waveform yet (fs unknown): the evidence of an empty window
            ev = self.watchdog.run(
                lambda: extract_evidence(alarm_type.value, window.signals, window.units, fs_hz, window.alarm_index,
                                         uncovered_seconds=window.uncovered_seconds)
            )
            features, findings = dict(ev.features), dict(ev.findings)
        else:
            key = SOURCE_KEY.get(alarm_type.value)
            until = max(alarm_ts, context.until_ts or alarm_ts)
            series = self._series(key, vitals, alarm_ts, until)
            if key in ("abp_sys_mmhg", "abp_mean_mmhg"):  # ABP alarms judge the other pressure too
                series |= self._series("abp_mean_mmhg" if key == "abp_sys_mmhg" else "abp_sys_mmhg",
                                       vitals, alarm_ts, until)
            if key is None or len(series[key]) == 0:
                what = key or alarm_type.value
                if alarm_type.value in THRESHOLD_TYPES:  # nothing to judge: the prior forwards, and says so
                    verdict = judge(alarm_type.value, series, alarm_ts, until, context.hold_seconds,
                                    context.features(), self.prior, complete=True)
                    return Assessment(verdict.p_true, {**context.features(), **verdict.features},
                                      {"num_missing": f"no {what} numerics held"}, self.lifecycle.version,
                                      verdict.reasons, verdict.critical, True), verdict
                return Assessment(1.0, context.features(), {"num_missing": f"no {what} numerics held: forwarded"},
                                  self.lifecycle.version), None
            ev = numerics_evidence(alarm_type.value, series, alarm_ts, signals=window.signals, fs_hz=window.fs_hz,
                                   alarm_index=window.alarm_index, fault=context.fault, until_ts=until)
            features, findings = dict(ev.features), dict(ev.findings)
        features.update(context.features())
        findings.update(context.findings())
        prior: PriorJudgement | None = None
        if alarm_type.value in THRESHOLD_TYPES:
            prior = judge(alarm_type.value, series, alarm_ts, until, context.hold_seconds,
                          {**features, "fault_age_seconds": context.fault_age_seconds}, self.prior,
                          complete=not context.early, fault_type=context.fault_type)
            features.update(prior.features)
            features["thr_prior_logit"] = prior_logit(prior)
        p_true = float(self.lifecycle.predict_proba_one(features, alarm_type.value)[True]) if score else 1.0
        if not math.isfinite(p_true):
            raise ValueError("model returned a non-finite probability")
        if prior is None:
            return Assessment(p_true, features, findings, self.lifecycle.version), None
        return Assessment(p_true, features, findings, self.lifecycle.version, prior.reasons, prior.critical,
                          prior.forward or not prior.final), prior

    @staticmethod
    def _series(key: str | None, vitals: VitalsLog, alarm_ts: float, until: float) -> dict[str, FloatArray]:
        return {k: vitals.series(k, until, BASELINE_WINDOW_SECONDS + until - alarm_ts)
                for k in {key, *_CROSS_KEYS} if k}

    def learn(self, alarm_type: AlarmType, features: dict[str, float], actionable: bool) -> None:
        if self.learning:
            self.lifecycle.learn_one(features, actionable, alarm_type.value)

    def learn_labelled(self, label: LabelledAlarm) -> None:
        """Audit samples stand for the unsampled suppressed alarms in the guard-rail's sensitivity."""
        if not self.learning:
            return
        if self.publish is not None:
            self.publish(label)
            return
        self.apply_label(label)

    def apply_label(self, label: LabelledAlarm) -> None:
        """Learn one label through the lifecycle (its guard-rail sees it first)."""
        weight = 1.0 / label.propensity if label.audit_sample and label.propensity > 0 else 1.0
        self.lifecycle.learn_one(label.features, label.actionable, label.alarm_type.value, weight=weight)


class LearningPolicy:
    """The safety floor first, then forward when p >= the active model's threshold for the type.

    A lethal alarm the floor holds is forwarded whatever the model (prior or learned) says;
    the model decides only among the alarms a trustworthy channel vouched against, and for
    those learning can only make suppression harder: one the shipped prior forwards stays forwarded.
    """

    def __init__(self, lifecycle: ModelLifecycle) -> None:
        self.lifecycle = lifecycle

    def decide(self, alarm_type: AlarmType, assessment: Assessment | None) -> Verdict:
        if assessment is None:
            return Verdict(Decision.FORWARD, ReasonCode.NO_SIGNAL, ["no evidence could be computed: forwarded"])
        if assessment.prior_reasons:
            return self._decide_threshold(alarm_type, assessment)
        floor = check_floor(alarm_type.value, assessment.features, assessment.findings)
        context = [assessment.findings[k] for k in CONTEXT_FINDINGS if k in assessment.findings]
        if not floor.may_suppress:
            return Verdict(Decision.FORWARD, ReasonCode.SAFETY_FLOOR, [floor.reason, *context])
        contributions = self.lifecycle.contributions_one(assessment.features, alarm_type.value)
        d = decide(alarm_type.value, assessment.p_true, self.lifecycle.thresholds, assessment.findings,
                   contributions)
        if floor.refuted:  # the evidence alone answers; the model knows nothing the rule does not
            return Verdict(Decision.SUPPRESS, ReasonCode.EVIDENCE_AGAINST, [floor.reason, *context])
        reasons = list(d.reasons)
        if self.lifecycle.fallen_back:
            reasons.append(f"learned model set aside, prior in use ({self.lifecycle.fallback_reason})")
        reasons += [c for c in context if c not in reasons]
        if forwards(floor, assessment.p_true, d.threshold):
            return Verdict(Decision.FORWARD, ReasonCode.EVIDENCE_SUPPORTS, reasons)
        if alarm_type.value in FLOOR_TYPES and self.lifecycle.prior_forwards(assessment.features, alarm_type.value):
            # learning may raise a lethal alarm's bar for suppression, never lower it below the prior's
            held = (f"learned from this unit's labels: would suppress (score {assessment.p_true:.2f} < "
                    f"{d.threshold:.2f}), but the shipped prior forwards it and learning may not lower the bar "
                    f"for a lethal alarm")
            return Verdict(Decision.FORWARD, ReasonCode.EVIDENCE_SUPPORTS, [held, *context])
        if floor.reason and floor.reason not in reasons:
            reasons.insert(0, floor.reason)
        return Verdict(Decision.SUPPRESS, ReasonCode.EVIDENCE_AGAINST, reasons)

    def _decide_threshold(self, alarm_type: AlarmType, assessment: Assessment) -> Verdict:
        """The prior's verdict, or the learned model's where it has taken over; the critical rule
        comes first and no model, threshold or learned update can lower it."""
        prior = list(assessment.prior_reasons)
        if assessment.critical or assessment.features.get("thr_critical", 0.0) >= 1.0:
            return Verdict(Decision.FORWARD, ReasonCode.CRITICAL_BOUND, prior)
        thr = float(self.lifecycle.thresholds.get(alarm_type.value, 0.0))
        forward = bool(assessment.p_true >= thr)
        if forward == assessment.prior_forward:
            reasons = prior
        elif forward:
            reasons = [(f"learned from this unit's labels: forwarded (score {assessment.p_true:.2f} >= {thr:.2f}); "
                       f"the physiological prior alone would have held it"), *prior]
        else:
            reasons = [(f"learned from this unit's labels: suppressed (score {assessment.p_true:.2f} < {thr:.2f}); "
                       f"the physiological prior alone would have forwarded it"), *prior]
        if self.lifecycle.fallen_back:
            reasons.append(f"learned model set aside, prior in use ({self.lifecycle.fallback_reason})")
        if forward:
            return Verdict(Decision.FORWARD, ReasonCode.EVIDENCE_SUPPORTS, reasons)
        return Verdict(Decision.SUPPRESS, ReasonCode.EVIDENCE_AGAINST, reasons)


def prior_logit(judgement: PriorJudgement) -> float:
    """The prior's verdict as a logit: the learned threshold model adds its correction to this.

    >>> from alarmfilter.policy.threshold_prior import PriorJudgement
    >>> round(prior_logit(PriorJudgement(True, False, "recovered", (), {})), 2)
    -2.94
    """
    p = min(max(judgement.p_true, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))

