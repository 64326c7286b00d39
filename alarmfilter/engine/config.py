"""Engine settings: plain, validated, immutable; passed in, never read from globals."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
        for name, hold in {**self.hold_seconds, "default": self.default_hold_seconds}.items():
            if not 0 <= hold <= self.hold_ceiling_seconds:
                raise ValueError(
                    f"hold for {name} is {hold} s; it must be within [0, {self.hold_ceiling_seconds}] s"
                )
        return self

    def hold_for(self, alarm_type: str) -> float:
        return self.hold_seconds.get(alarm_type, self.default_hold_seconds)

    @property
    def buffer_seconds(self) -> float:
        return self.buffer_seconds_for(self.window_seconds)

    def buffer_seconds_for(self, scorer_window_seconds: float) -> float:
        """Waveform a bed keeps: the longer of our window and the scorer's, plus the longest hold."""
        return min(max(self.window_seconds, scorer_window_seconds), MAX_WINDOW_SECONDS) + self.hold_ceiling_seconds + 2.0
