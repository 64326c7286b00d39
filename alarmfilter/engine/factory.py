"""The one way every driver builds a bed's engine: Ward, Kafka worker, evaluator, demo, tests.

All beds of a driver share one scorer and one policy over one model lifecycle, so every bed's
feedback teaches the ward's model (when `learning`). Without a model the engines run the
evidence-free policy: every alarm forwarded (fail-open).
"""

from __future__ import annotations

from collections.abc import Callable

from ..model.classifier import AlarmModel
from ..model.lifecycle import ModelLifecycle
from ..model.loading import ward_model_lifecycle
from ..policy.threshold_prior import THRESHOLD_TYPES
from .bed import BedEngine
from .config import EngineConfig
from .learning import LearningPolicy, LearningScorer
from .watchdog import EVIDENCE_BUDGET_SECONDS

EngineFactory = Callable[[str], BedEngine]


def engine_factory(config: EngineConfig | None = None, model: AlarmModel | ModelLifecycle | None = None, *,
                   learning: bool = False,
                   budget_seconds: float | None = EVIDENCE_BUDGET_SECONDS) -> EngineFactory:
    """Engines for a ward. `model`: an arrhythmia model (wrapped with the threshold-alarm prior in a
    fresh lifecycle), a whole lifecycle (shared, e.g. restored from snapshots), or None (evidence-free).

    >>> make = engine_factory()
    >>> make("ICU1-07").bed, type(make("ICU1-07").policy).__name__
    ('ICU1-07', 'ForwardAllPolicy')
    """
    cfg = config or EngineConfig()
    if model is None:
        return lambda bed: BedEngine(bed, cfg)
    lifecycle = model if isinstance(model, ModelLifecycle) else ward_model_lifecycle(model=model)
    max_hold = max([cfg.default_hold_seconds, *cfg.hold_seconds.values(), *(cfg.hold_for(t) for t in THRESHOLD_TYPES)])
    scorer = LearningScorer(lifecycle, hold_seconds=min(max_hold, cfg.hold_ceiling_seconds), learning=learning,
                            budget_seconds=budget_seconds, prior=cfg.prior_config())
    policy = LearningPolicy(lifecycle)
    return lambda bed: BedEngine(bed, cfg, scorer, policy)
