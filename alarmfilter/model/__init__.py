"""Alarm scoring: p(true alarm | evidence, type) with a JSON-serialisable river model."""

from __future__ import annotations

import json
from pathlib import Path

from alarmfilter.model.classifier import AlarmModel, fit_prior

PRIOR_PATH = Path(__file__).with_name("prior.json")


def load_prior(path: str | Path = PRIOR_PATH) -> AlarmModel:
    """The shipped prior (thresholds included)."""
    return AlarmModel.from_dict(json.loads(Path(path).read_text()))


__all__ = ["PRIOR_PATH", "AlarmModel", "fit_prior", "load_prior"]
