"""What the engine asks of a scorer and a policy; both are pluggable objects passed in.

The engine owns the state; a scorer turns a window of signals into p(actionable), a policy
turns that into forward/suppress with reasons a clinician can read.  What only the engine knows
about an alarm (a fault on its sensor, re-raises) reaches a scorer as an `AlarmContext`, and a
clinician's label as a `LabelledAlarm`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..events.types import AlarmType, Decision, ReasonCode
from ..signals.numerics import FaultContext
from .buffers import VitalsLog, Window


@dataclass(frozen=True, slots=True)
class Assessment:
    """A scorer's view of one alarm: probability it is actionable, the evidence, readable findings."""

    p_true: float
    features: dict[str, float]
    findings: dict[str, str] = field(default_factory=dict)
    model_version: str = ""
    prior_reasons: tuple[str, ...] = ()  # threshold alarms: what the physiological prior found
    critical: bool = False  # a value beyond its critical bound: forwarded whatever the model says
    prior_forward: bool = True  # the prior's own verdict


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    reason_code: ReasonCode
    reasons: list[str]


class Scorer(Protocol):
    """Scores alarms; learns from clinician feedback (`learn` may do nothing for a frozen model)."""

    @property
    def model_version(self) -> str: ...

    @property
    def window_seconds(self) -> float: ...

    def assess(self, alarm_type: AlarmType, window: Window, vitals: VitalsLog, alarm_ts: float) -> Assessment: ...

    def learn(self, alarm_type: AlarmType, features: dict[str, float], actionable: bool) -> None: ...


class Policy(Protocol):
    def decide(self, alarm_type: AlarmType, assessment: Assessment | None) -> Verdict: ...


NO_EVIDENCE_VERSION = "no-evidence"


#: findings that describe the alarm's circumstances rather than argue for or against it: every
#: verdict repeats them
CONTEXT_FINDINGS = ("fault_on_source", "reraise_count")


@dataclass(frozen=True, slots=True)
class AlarmContext:
    """What the engine knows about an alarm beyond the signals: faults and re-raises."""

    fault_type: str = ""
    fault_age_seconds: float = 0.0
    reraise_count: int = 0
    until_ts: float | None = None  # alarm + hold: the newest data the decision may use
    hold_seconds: float = 0.0  # the alarm's hold (threshold alarms: the prior judges within it)
    early: bool = False  # asked before the hold ran out (only a critical or severe value decides then)

    @property
    def fault(self) -> FaultContext:
        return FaultContext(self.fault_type, self.fault_age_seconds)

    def features(self) -> dict[str, float]:
        return {"fault_on_source": 1.0 if self.fault_type else 0.0, "reraise_count": float(self.reraise_count)}

    def findings(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.fault_type:
            out["fault_on_source"] = (
                f"technical fault {self.fault_type} active on the source sensor "
                f"(raised {self.fault_age_seconds:.0f} s before)"
            )
        if self.reraise_count:
            out["reraise_count"] = f"raised {self.reraise_count} time(s) before in the merge window"
        return out


@runtime_checkable
class EarlyDecider(Protocol):
    """A scorer that can say, before an alarm's hold runs out, that it must be decided now."""

    def decides_early(self, alarm_type: AlarmType, window: Window, vitals: VitalsLog, alarm_ts: float,
                      context: AlarmContext) -> bool: ...


@runtime_checkable
class ContextScorer(Protocol):
    """A scorer that takes the engine's `AlarmContext` into account (optional extension)."""

    def assess_in_context(self, alarm_type: AlarmType, window: Window, vitals: VitalsLog, alarm_ts: float,
                          context: AlarmContext) -> Assessment: ...


@dataclass(frozen=True, slots=True)
class LabelledAlarm:
    """A clinician label with what the engine decided, so learning can weigh audit samples."""

    alarm_type: AlarmType
    features: dict[str, float]
    actionable: bool
    decision: Decision
    audit_sample: bool
    propensity: float  # probability this alarm would have been labelled, given the decision


@runtime_checkable
class FeedbackLearner(Protocol):
    """A scorer that learns from the full labelled record (optional extension of `Scorer.learn`)."""

    def learn_labelled(self, label: LabelledAlarm) -> None: ...



class ForwardAllPolicy:
    """The evidence-free policy: forwards every alarm, and says so in its reasons.

    >>> ForwardAllPolicy().decide(AlarmType.ASYSTOLE, None).reasons
    ['no-evidence policy: every alarm is forwarded']
    """

    def decide(self, alarm_type: AlarmType, assessment: Assessment | None) -> Verdict:
        return Verdict(Decision.FORWARD, ReasonCode.NO_EVIDENCE_POLICY, ["no-evidence policy: every alarm is forwarded"])
