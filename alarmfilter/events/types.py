"""Closed sets of the wire format as Enums, so a typo is an error, not a new category."""

from __future__ import annotations

from enum import Enum


class AlarmType(str, Enum):
    ASYSTOLE = "asystole"
    EXTREME_BRADYCARDIA = "extreme_bradycardia"
    EXTREME_TACHYCARDIA = "extreme_tachycardia"
    VENTRICULAR_TACHYCARDIA = "ventricular_tachycardia"
    VENTRICULAR_FLUTTER_FIB = "ventricular_flutter_fib"
    SPO2_LOW = "spo2_low"
    HR_HIGH = "hr_high"
    HR_LOW = "hr_low"
    ABP_HIGH = "abp_high"
    ABP_LOW = "abp_low"
    RR_HIGH = "rr_high"
    RR_LOW = "rr_low"
    APNEA = "apnea"
    LEADS_OFF = "leads_off"
    SPO2_PROBE_OFF = "spo2_probe_off"
    ABP_LINE_FAULT = "abp_line_fault"
    SIGNAL_ARTIFACT = "signal_artifact"

    @classmethod
    def parse(cls, name: str) -> AlarmType | None:
        """The type named `name`, or None when it is not one we know (it is then forwarded)."""
        try:
            return cls(name)
        except ValueError:
            return None

    @property
    def is_technical(self) -> bool:
        return self in TECHNICAL_TYPES

    @property
    def is_lethal(self) -> bool:
        return self in LETHAL_TYPES

    @property
    def is_arrhythmia(self) -> bool:
        return self in ARRHYTHMIA_TYPES


TECHNICAL_TYPES = frozenset(
    {AlarmType.LEADS_OFF, AlarmType.SPO2_PROBE_OFF, AlarmType.ABP_LINE_FAULT, AlarmType.SIGNAL_ARTIFACT}
)
LETHAL_TYPES = frozenset(
    {AlarmType.ASYSTOLE, AlarmType.VENTRICULAR_FLUTTER_FIB, AlarmType.VENTRICULAR_TACHYCARDIA}
)
#: The arrhythmia types, in the order every table lists them (the challenge's own order).
ARRHYTHMIA_ORDER = (
    AlarmType.ASYSTOLE.value,
    AlarmType.EXTREME_BRADYCARDIA.value,
    AlarmType.EXTREME_TACHYCARDIA.value,
    AlarmType.VENTRICULAR_TACHYCARDIA.value,
    AlarmType.VENTRICULAR_FLUTTER_FIB.value,
)
ARRHYTHMIA_TYPES = frozenset(AlarmType(t) for t in ARRHYTHMIA_ORDER)

#: A missed true alarm costs this many false ones in the PhysioNet/CinC 2015 challenge score.
MISSED_TRUE_ALARM_WEIGHT = 5


def challenge_score(tp: int, fn: int, tn: int, fp: int) -> float | None:
    """(TP + TN) / (TP + TN + FP + 5 FN), positive = a true alarm forwarded (Clifford et al. 2015).

    >>> challenge_score(tp=9, fn=1, tn=5, fp=5)  # 14 / (14 + 5 + 5)
    0.5833333333333334
    >>> challenge_score(0, 0, 0, 0) is None
    True
    """
    d = tp + tn + fp + MISSED_TRUE_ALARM_WEIGHT * fn
    return (tp + tn) / d if d else None


class Priority(str, Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    TECHNICAL = "technical"


class Decision(str, Enum):
    FORWARD = "forward"
    SUPPRESS = "suppress"


class ReasonCode(str, Enum):
    """Why a decision went the way it did; a bounded set, safe as a metric label."""

    EVIDENCE_SUPPORTS = "evidence_supports"
    EVIDENCE_AGAINST = "evidence_against"
    SAFETY_FLOOR = "safety_floor"
    NO_EVIDENCE_POLICY = "no_evidence_policy"
    AUDIT_SAMPLE = "audit_sample"
    TECHNICAL_ALARM = "technical_alarm"
    UNKNOWN_TYPE = "unknown_type"
    NO_SIGNAL = "no_signal"
    STALE_SIGNAL = "stale_signal"
    WARMING_UP = "warming_up"
    SCORER_ERROR = "scorer_error"
    POLICY_ERROR = "policy_error"
    ENGINE_ERROR = "engine_error"
    MERGED = "merged"
    CRITICAL_BOUND = "critical_bound"  # a threshold alarm beyond its critical bound: forwarded at once

    @property
    def is_fail_open(self) -> bool:
        return self in FAIL_OPEN_CODES


FAIL_OPEN_CODES = frozenset(
    {
        ReasonCode.UNKNOWN_TYPE,
        ReasonCode.NO_SIGNAL,
        ReasonCode.STALE_SIGNAL,
        ReasonCode.WARMING_UP,
        ReasonCode.SCORER_ERROR,
        ReasonCode.POLICY_ERROR,
        ReasonCode.ENGINE_ERROR,
    }
)
