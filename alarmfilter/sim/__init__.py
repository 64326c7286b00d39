"""Seeded synthetic ICU ward streams with ground truth: `simulate(SimConfig(...))`.

Beds are built from real recordings first (challenge alarm records, BIDMC and MIMIC II
numerics) and synthetic physiology fills the rest; see ward.py for the API.
"""

from .config import SimConfig
from .feedback import FeedbackConfig, FeedbackModel
from .plan import AlarmTruth, Cause, FaultTruth
from .ward import SimRun, read_truth, simulate, write_jsonl, write_truth

__all__ = [
    "AlarmTruth",
    "Cause",
    "FaultTruth",
    "FeedbackConfig",
    "FeedbackModel",
    "SimConfig",
    "SimRun",
    "read_truth",
    "simulate",
    "write_jsonl",
    "write_truth",
]
