"""Wire format v1 input events (DESIGN.md), validated at decode so the engine never sees bad data.

Every model is frozen; unknown fields are ignored (producers may add optional ones).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

SCHEMA_VERSION = 1

#: Event time must fall in [2000-01-01, 2100-01-01): anything else is a unit or clock error.
MIN_TS = 946_684_800.0
MAX_TS = 4_102_444_800.0
MAX_FS_HZ = 2000.0
MAX_CHUNK_SECONDS = 10.0
MAX_CHANNELS = 16

EpochSeconds = Annotated[float, Field(ge=MIN_TS, lt=MAX_TS, allow_inf_nan=False)]
BedId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
AlarmId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
ChannelName = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.+\-]+$")]
Sample = Annotated[float, Field(allow_inf_nan=False)] | None
Numeric = Annotated[float, Field(allow_inf_nan=False, ge=-1e6, le=1e6)]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", strict=False)

    schema_version: Literal[1]
    bed: BedId
    ts: EpochSeconds


class Vitals(_Event):
    """Numerics (~1 Hz per bed): `hr_bpm`, `pulse_bpm`, `spo2_pct`, `rr_per_min`, `abp_*_mmhg`, ..."""

    kind: Literal["vitals"]
    values: dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], Numeric | None] = Field(
        max_length=64
    )


class Waveform(_Event):
    """A chunk of samples; `ts` is the time of the first sample; null = missing sample."""

    kind: Literal["waveform"]
    fs_hz: Annotated[float, Field(gt=0, le=MAX_FS_HZ, allow_inf_nan=False)]
    signals: dict[ChannelName, list[Sample]] = Field(min_length=1, max_length=MAX_CHANNELS)
    units: dict[ChannelName, Annotated[str, StringConstraints(max_length=16)]] = Field(
        default_factory=dict, max_length=MAX_CHANNELS
    )

    @model_validator(mode="after")
    def _same_length(self) -> Waveform:
        lengths = {len(v) for v in self.signals.values()}
        if len(lengths) != 1:
            raise ValueError(f"all signals must have the same length, got lengths {sorted(lengths)}")
        n = lengths.pop()
        if n == 0:
            raise ValueError("signals are empty")
        if n > self.fs_hz * MAX_CHUNK_SECONDS:
            raise ValueError(f"chunk of {n} samples is longer than {MAX_CHUNK_SECONDS:g} s at {self.fs_hz:g} Hz")
        return self

    @property
    def n_samples(self) -> int:
        return len(next(iter(self.signals.values())))

    @property
    def duration_seconds(self) -> float:
        return self.n_samples / self.fs_hz


class Alarm(_Event):
    """A monitor alarm. `type` stays a string: an unknown type is forwarded (fail-open), not rejected."""

    kind: Literal["alarm"]
    alarm_id: AlarmId
    type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    priority: Literal["high", "medium", "low", "technical"]
    channel: ChannelName | None = None


class Feedback(_Event):
    """A clinician's verdict on an alarm they saw."""

    kind: Literal["feedback"]
    alarm_id: AlarmId
    actionable: bool

    @field_validator("actionable", mode="before")
    @classmethod
    def _strict_bool(cls, v: object) -> object:
        if not isinstance(v, bool):
            raise ValueError("must be true or false")  # noqa: TRY004 -- pydantic reports ValueError as a field error
        return v


Event = Annotated[Vitals | Waveform | Alarm | Feedback, Field(discriminator="kind")]
EVENT_MODELS: tuple[type[_Event], ...] = (Vitals, Waveform, Alarm, Feedback)
