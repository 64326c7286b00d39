"""Engine settings: plain, validated, immutable; passed in, never read from globals."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..policy.threshold_prior import (
    CRITICAL,
    HOLD_SECONDS,
    LIMITS,
    SEVERITY_BUDGET_SECONDS,
    SOURCE,
    PriorConfig,
)

#: No alarm waits longer than this for evidence, whatever the configuration says.
HOLD_CEILING_SECONDS = 10.0
#: No bed keeps more waveform than this before an alarm, whatever a scorer asks for.
MAX_WINDOW_SECONDS = 120.0


class EngineConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    window_seconds: float = Field(
        60.0, gt=0, le=MAX_WINDOW_SECONDS, description="waveform kept before the alarm (at least the scorer's window)"
    )
    hold_seconds: dict[str, float] = Field(
        default_factory=dict, description="per alarm type: how long after the alarm data may be used"
    )
    default_hold_seconds: float = Field(0.0, ge=0)
    threshold_hold_seconds: float = Field(
        10.0, ge=0, description="hold of threshold alarms (SpO2, HR, ABP, RR) the unit sets no per-type hold for; "
        "apnea is never held. The prior forwards before it runs out when a value turns critical or severe",
    )
    threshold_limits: dict[str, float] = Field(
        default_factory=dict, description="per threshold type: the monitor limit assumed (default: common adult limits)"
    )
    critical_bounds: dict[str, float] = Field(
        default_factory=dict, description="per threshold type: beyond this value the alarm is forwarded at once"
    )
    severity_budget_seconds: float = Field(
        SEVERITY_BUDGET_SECONDS, gt=0, le=10,
        description="seconds at the critical bound (depth x time after the alarm) that forward before the hold ends",
    )
    hold_ceiling_seconds: float = Field(HOLD_CEILING_SECONDS, gt=0, le=HOLD_CEILING_SECONDS)
    hold_grace_seconds: float = Field(
        1.0, ge=0, le=5, description="extra event time to wait for a lagging waveform chunk"
    )
    stale_seconds: float = Field(5.0, gt=0, description="signal older than this at the alarm is stale")
    warmup_seconds: float = Field(8.0, ge=0, description="minimum signal held before scoring")
    vitals_seconds: float = Field(900.0, gt=0, description="numerics history kept per bed")
    feedback_retention_seconds: float = Field(86_400.0, gt=0)
    max_tracked_alarms: int = Field(
        1000, gt=0, le=5000, description="decided alarms kept per bed for dedup/feedback (a day is ~190)"
    )
    max_samples_per_second: int = Field(
        4000, gt=0, le=8000, description="waveform channels x fs_hz one bed may carry; a chunk past it is dead-lettered"
    )
    audit_fraction: float = Field(0.05, ge=0, le=1, description="share of would-be-suppressed alarms forwarded")
    technical_fault_seconds: float = Field(
        60.0, ge=0, description="how long a technical alarm keeps its sensor suspect for alarms raised on it"
    )
    merge_window_seconds: float = Field(
        60.0, ge=0, description="a re-raise of a forwarded alarm (same type, same bed) within this is merged"
    )
    merge_lethal: bool = Field(False, description="also merge re-raised asystole/VT/VF (off: each is decided)")
    seed: int = 0

    @model_validator(mode="after")
    def _holds_within_ceiling(self) -> EngineConfig:
        for name, hold in {**self.hold_seconds, "default": self.default_hold_seconds,
                           "threshold": self.threshold_hold_seconds}.items():
            if not 0 <= hold <= self.hold_ceiling_seconds:
                raise ValueError(
                    f"hold for {name} is {hold} s; it must be within [0, {self.hold_ceiling_seconds}] s"
                )
        for name, table in (("threshold_limits", self.threshold_limits), ("critical_bounds", self.critical_bounds)):
            unknown = sorted(set(table) - set(CRITICAL if name == "critical_bounds" else LIMITS))
            if unknown:
                raise ValueError(f"{name}: {unknown} are not threshold alarm types with a bound")
        prior = self.prior_config()
        for t in CRITICAL:
            limit, crit, d = prior.limit(t), prior.critical_bound(t), SOURCE[t][1]
            if crit is None or d * (crit - limit) <= 0:
                raise ValueError(f"critical bound of {t} ({crit}) must lie beyond its limit ({limit})")
        return self

    def hold_for(self, alarm_type: str) -> float:
        if alarm_type in self.hold_seconds:
            return self.hold_seconds[alarm_type]
        if alarm_type in HOLD_SECONDS:
            return min(HOLD_SECONDS[alarm_type], self.threshold_hold_seconds)
        return self.default_hold_seconds

    def prior_config(self) -> PriorConfig:
        """The threshold-alarm prior's limits, critical bounds and budget for this unit."""
        return PriorConfig(dict(self.threshold_limits), dict(self.critical_bounds), self.severity_budget_seconds)

    @property
    def buffer_seconds(self) -> float:
        return self.buffer_seconds_for(self.window_seconds)

    def buffer_seconds_for(self, scorer_window_seconds: float) -> float:
        """Waveform a bed keeps: the longer of our window and the scorer's, plus the longest hold."""
        return min(max(self.window_seconds, scorer_window_seconds), MAX_WINDOW_SECONDS) + self.hold_ceiling_seconds + 2.0
