"""How the command-line drivers build a bed's engine: shipped model + policy, default config."""

from __future__ import annotations

from ..engine import BedEngine, EngineConfig
from ..replay import EngineFactory


def engine_factory(config: EngineConfig | None = None) -> EngineFactory:
    cfg = config or EngineConfig()

    def make(bed: str) -> BedEngine:
        return BedEngine(bed, cfg)

    return make
