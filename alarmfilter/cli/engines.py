"""How the command-line drivers build a bed's engine: shipped model + policy, default config.

Fail-open: if the shipped prior is missing or invalid, the engines run the evidence-free
policy (every alarm forwarded) and `engine_factory` says so on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..engine import BedEngine, EngineConfig
from ..engine.evidence import ModelError, load_model
from ..engine.learning import learning_engine_factory, ward_model_lifecycle
from ..model import PRIOR_PATH
from ..model.classifier import AlarmModel
from ..model.lifecycle import ModelLifecycle
from ..replay import EngineFactory


def shipped_model(path: str | Path = PRIOR_PATH) -> tuple[AlarmModel | None, str | None]:
    """The shipped prior, or None and the reason it cannot be used."""
    try:
        return load_model(path), None
    except ModelError as exc:
        return None, str(exc)


def engine_factory(
    config: EngineConfig | None = None,
    *,
    model: AlarmModel | ModelLifecycle | None = None,
    learning: bool = False,
    prior_path: str | Path = PRIOR_PATH,
    quiet: bool = False,
) -> EngineFactory:
    """Engines sharing one scorer and policy (one model for the ward, learning from all beds if `learning`).

    `model` is an arrhythmia model (wrapped with the threshold-alarm prior) or a whole lifecycle;
    by default the shipped prior.
    """
    cfg = config or EngineConfig()
    if model is None:
        model, problem = shipped_model(prior_path)
        if problem and not quiet:
            print(f"alarmfilter: {problem}; using the evidence-free policy (every alarm forwarded)", file=sys.stderr)
    if model is None:
        return lambda bed: BedEngine(bed, cfg)
    lifecycle = model if isinstance(model, ModelLifecycle) else ward_model_lifecycle(model=model)
    return learning_engine_factory(cfg, lifecycle, learning=learning)
