"""Kafka driver: the faust worker (thin agents around `WorkerCore`) and a producer for input events.

Only this package knows Kafka; it never touches numpy or signal code (that lives in the engine).
"""

from .core import Outgoing, WorkerCore
from .ordering import BedOrderer, OffsetLedger, stream_progress

__all__ = ["BedOrderer", "OffsetLedger", "Outgoing", "WorkerCore", "stream_progress"]
