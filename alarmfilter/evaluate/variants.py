"""What can be evaluated: the filter and the baselines, as picklable specs that build engines.

A spec crosses process boundaries (`--jobs`), so it carries the model as its JSON state and
each worker builds its own engines from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..engine import BedEngine, EngineConfig
from ..engine.factory import EngineFactory, engine_factory
from ..engine.learning import LearningScorer
from ..model.classifier import AlarmModel
from ..model.lifecycle import ModelLifecycle
from ..model.loading import model_from_dict
from .baselines import MonitorDelayPolicy, MonitorDelayScorer

#: default annunciation delay of the monitor baseline: the engine's hold ceiling
MONITOR_DELAY_SECONDS = 10.0
#: seconds of waveform sent before the alarm beyond what the scorer looks at
CONTEXT_MARGIN_SECONDS = 2.0


class Kind(str, Enum):
    FILTER = "filter"
    FORWARD_ALL = "forward_all"
    MONITOR_DELAY = "monitor_delay"


@dataclass(frozen=True)
class Variant:
    """One way of deciding alarms; `name` is its row label in tables and JSON."""

    name: str
    kind: Kind
    hold_seconds: float = 0.0
    seed: int = 0
    model_state: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    delay_seconds: float = MONITOR_DELAY_SECONDS

    def config(self) -> EngineConfig:
        if self.kind is Kind.MONITOR_DELAY:  # a monitor has no audit sampling
            return EngineConfig(default_hold_seconds=self.delay_seconds, seed=self.seed, audit_fraction=0.0)
        return EngineConfig(default_hold_seconds=self.hold_seconds, seed=self.seed)

    def model(self) -> AlarmModel | None:
        return model_from_dict(self.model_state, f"{self.name} model") if self.model_state is not None else None

    def factory(self, model: AlarmModel | ModelLifecycle | None = None, learning: bool = False) -> EngineFactory:
        """Engines for this variant; `model` (shared, e.g. learning) overrides `model_state`."""
        cfg = self.config()
        if self.kind is Kind.MONITOR_DELAY:
            scorer, policy = MonitorDelayScorer(self.delay_seconds), MonitorDelayPolicy(self.delay_seconds)
            return lambda bed: BedEngine(bed, cfg, scorer, policy)
        model = model if model is not None else (self.model() if self.kind is Kind.FILTER else None)
        return engine_factory(cfg, model, learning=learning)  # no model (forward-all): evidence-free

    @property
    def context_seconds(self) -> float:
        """Waveform the engine needs before the alarm for this variant."""
        if self.kind is Kind.FORWARD_ALL:
            return 0.0
        if self.kind is Kind.MONITOR_DELAY:  # enough to pass the engine's warm-up check
            return self.config().warmup_seconds + CONTEXT_MARGIN_SECONDS
        return LearningScorer.window_seconds_for(self.hold_seconds) + CONTEXT_MARGIN_SECONDS
