"""The command-line drivers' engines: `engine.factory.engine_factory` over the shipped prior.

Fail-open: if the shipped prior is missing or invalid, the engines run the evidence-free
policy (every alarm forwarded) and `engine_factory` says so on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..engine import EngineConfig, factory
from ..engine.factory import EngineFactory
from ..model.classifier import AlarmModel
from ..model.lifecycle import ModelLifecycle
from ..model.loading import PRIOR_PATH, shipped_model

__all__ = ["engine_factory", "shipped_model"]


def engine_factory(
    config: EngineConfig | None = None,
    *,
    model: AlarmModel | ModelLifecycle | None = None,
    learning: bool = False,
    prior_path: str | Path = PRIOR_PATH,
    quiet: bool = False,
) -> EngineFactory:
    """`engine.factory.engine_factory` with `model` defaulting to the shipped prior (a note on stderr if unusable)."""
    if model is None:
        model, problem = shipped_model(prior_path)
        if problem and not quiet:
            print(f"alarmfilter: {problem}; using the evidence-free policy (every alarm forwarded)", file=sys.stderr)
    return factory.engine_factory(config, model, learning=learning)
