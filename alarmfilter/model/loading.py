"""Loading models: the shipped prior (checked), a model from its JSON state, the ward's lifecycle.

Every driver gets its model here; a missing or invalid file is a `ModelError` saying what is
wrong, and the drivers then run the evidence-free policy (fail-open).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from alarmfilter.model.classifier import AlarmModel
from alarmfilter.model.lifecycle import ModelLifecycle, SensitivityGuard
from alarmfilter.model.numerics_model import WardModel

PRIOR_PATH = Path(__file__).with_name("prior.json")


class ModelError(ValueError):
    """A model snapshot that must not be used (missing, unreadable, malformed)."""


def load_model(path: str | Path = PRIOR_PATH) -> AlarmModel:
    """Load and check a model snapshot (by default the shipped prior); any problem is a `ModelError`."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"model file {p} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"model file {p} is unreadable ({type(exc).__name__})") from None
    return model_from_dict(data, str(p))


def model_from_dict(data: Any, origin: str = "model") -> AlarmModel:
    """Build and check a model from its JSON state.

    >>> model_from_dict({"format": "nope"})
    Traceback (most recent call last):
    ...
    alarmfilter.model.loading.ModelError: model is invalid (ValueError: unsupported model format 'nope')
    """
    try:
        model = AlarmModel.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelError(f"{origin} is invalid ({type(exc).__name__}: {exc})") from None
    bad = [t for t, thr in model.thresholds.items() if not (isinstance(thr, float) and 0.0 <= thr <= 1.0)]
    if bad or not model.types:
        raise ModelError(f"{origin} is invalid (no per-type models or thresholds outside [0, 1]: {bad})")
    return model


def shipped_model(path: str | Path = PRIOR_PATH) -> tuple[AlarmModel | None, str | None]:
    """The shipped prior, or None and the reason it cannot be used."""
    try:
        return load_model(path), None
    except ModelError as exc:
        return None, str(exc)


def ward_model_lifecycle(key: bytes | None = None, *, prior_path: str | Path = PRIOR_PATH,
                         model: AlarmModel | None = None, guard: SensitivityGuard | None = None,
                         snapshot_every_labels: int = 200,
                         snapshot_interval_seconds: float = 3600.0) -> ModelLifecycle:
    """An arrhythmia prior (`model`, else the shipped one) plus the uninformative-but-safe threshold-alarm prior.

    ``key`` signs snapshots (from settings, e.g. ``ALARMFILTER_SNAPSHOT_KEY``); without one a
    random key is used, so this process's snapshots cannot be restored by any other.
    """
    prior = WardModel(model if model is not None else load_model(prior_path))
    return ModelLifecycle(prior.to_dict(), WardModel.from_dict, key or secrets.token_bytes(32), guard=guard,
                          snapshot_every_labels=snapshot_every_labels,
                          snapshot_interval_seconds=snapshot_interval_seconds)
