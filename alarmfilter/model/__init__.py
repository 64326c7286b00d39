"""Alarm scoring: p(true alarm | evidence, type) with a JSON-serialisable river model."""

from __future__ import annotations

from alarmfilter.model.classifier import AlarmModel, fit_prior
from alarmfilter.model.loading import (
           PRIOR_PATH,
           ModelError,
           load_model,
           shipped_model,
           ward_model_lifecycle,
)

#: the shipped prior, checked (`load_model` with its default path)
load_prior = load_model

__all__ = ["PRIOR_PATH", "AlarmModel", "ModelError", "fit_prior", "load_model", "load_prior", "shipped_model",
           "ward_model_lifecycle"]
