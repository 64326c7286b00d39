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
ARRHYTHMIA_TYPES = frozenset(
    {
        AlarmType.ASYSTOLE,
        AlarmType.EXTREME_BRADYCARDIA,
        AlarmType.EXTREME_TACHYCARDIA,
        AlarmType.VENTRICULAR_TACHYCARDIA,
        AlarmType.VENTRICULAR_FLUTTER_FIB,
    }
)


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
