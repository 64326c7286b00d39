"""What the engine asks of a scorer and a policy; both are pluggable objects passed in.

The engine owns the state; a scorer turns a window of signals into p(actionable), a policy
turns that into forward/suppress with reasons a clinician can read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..events.types import AlarmType, Decision, ReasonCode
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


class ForwardAllPolicy:
    """The evidence-free policy: forwards every alarm, and says so in its reasons.

    >>> ForwardAllPolicy().decide(AlarmType.ASYSTOLE, None).reasons
    ['no-evidence policy: every alarm is forwarded']
    """

    def decide(self, alarm_type: AlarmType, assessment: Assessment | None) -> Verdict:
        return Verdict(Decision.FORWARD, ReasonCode.NO_EVIDENCE_POLICY, ["no-evidence policy: every alarm is forwarded"])
