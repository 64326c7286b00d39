"""The sans-IO core: one BedEngine per bed, fed events, returning outputs."""

from .bed import BedEngine
from .buffers import VitalsLog, WaveformBuffer, Window
from .config import HOLD_CEILING_SECONDS, EngineConfig
from .scoring import Assessment, ForwardAllPolicy, Policy, Scorer, Verdict

__all__ = [
    "HOLD_CEILING_SECONDS",
    "Assessment",
    "BedEngine",
    "EngineConfig",
    "ForwardAllPolicy",
    "Policy",
    "Scorer",
    "Verdict",
    "VitalsLog",
    "WaveformBuffer",
    "Window",
]
