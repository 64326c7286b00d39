"""The label record (wire format v1) on `icu.labels`: one clinician label joined to the decision it labels.

A worker that joins a clinician's feedback to its decision publishes one of these, signed, keyed by
care unit; every worker applies the unit's records in log order to its copy of the unit's model
(`engine/shared.py`). The record carries what the model saw (the feature vector), so any worker can
learn it without the bed's buffers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .types import Decision


class LabelRecord(BaseModel):
    """One signed label; `hmac_sha256` covers the canonical JSON of every other field."""

    model_config = ConfigDict(frozen=True, use_enum_values=True, extra="forbid")

    schema_version: Literal[1] = 1
    kind: Literal["label"] = "label"
    unit: str = Field(min_length=1, max_length=64, description="care unit whose model learns this label")
    bed: str = Field(min_length=1, max_length=128)
    alarm_id: str = Field(min_length=1, max_length=256)
    alarm_type: str = Field(description="physiological alarm type (events.types.AlarmType)")
    features: dict[str, float | None] = Field(
        max_length=128, description="what the model saw when it decided; null = a non-finite value"
    )
    actionable: bool
    decision: Decision = Field(description="what was decided before the label")
    audit_sample: bool = False
    propensity: float = Field(1.0, gt=0, le=1, description="chance the alarm was shown to a clinician")
    model_version: str = Field(max_length=128, description="model that made the decision")
    ts: float = Field(description="event time of the clinician's feedback")
    recipe: str = Field(max_length=64, description="id of the prior (features and model layout) the label is for")
    hmac_sha256: str = Field(min_length=64, max_length=64)
