"""How the command-line drivers build a bed's engine: shipped model + policy, default config.

Fail-open: if the shipped prior is missing or invalid, the engines run the evidence-free
policy (every alarm forwarded) and `engine_factory` says so on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..engine import BedEngine, EngineConfig
from ..engine.evidence import (
    EvidencePolicy,
    EvidenceScorer,
    ModelError,
    config_for_evidence,
    load_model,
)
from ..model import PRIOR_PATH
from ..model.classifier import AlarmModel
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
    model: AlarmModel | None = None,
    learning: bool = False,
    prior_path: str | Path = PRIOR_PATH,
    quiet: bool = False,
) -> EngineFactory:
    """Engines sharing one scorer and policy (one model for the ward, learning from all beds)."""
    cfg = config or EngineConfig()
    if model is None:
        model, problem = shipped_model(prior_path)
        if problem and not quiet:
            print(f"alarmfilter: {problem}; using the evidence-free policy (every alarm forwarded)", file=sys.stderr)
    if model is None:
        return lambda bed: BedEngine(bed, cfg)
    cfg = config_for_evidence(cfg)
    max_hold = max([cfg.default_hold_seconds, *cfg.hold_seconds.values()])
    scorer = EvidenceScorer(model, learning=learning, hold_seconds=min(max_hold, cfg.hold_ceiling_seconds))
    policy = EvidencePolicy(model)

    def make(bed: str) -> BedEngine:
        return BedEngine(bed, cfg, scorer, policy)

    return make
