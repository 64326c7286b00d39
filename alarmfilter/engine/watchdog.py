"""A wall-time watchdog around evidence extraction: past its budget the alarm is forwarded.

Used by `engine.learning.LearningScorer`; model loading lives in `model.loading`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Wall time evidence extraction may take per alarm before the alarm is forwarded without it.
EVIDENCE_BUDGET_SECONDS = 5.0


class EvidenceTimeout(TimeoutError):
    """Evidence extraction overran its budget (or an earlier overrun is still running): fail open."""


class ExtractionWatchdog:
    """Bounds the wall time a decision waits for evidence; the engine forwards when it is exceeded.

    Extraction runs on a short-lived daemon thread joined with a timeout, so a pathological window
    cannot stall the driver: past `budget_seconds` the alarm fails open (reason names the timeout)
    and the overrunning thread is left to finish; until it has, later alarms fail open at once
    rather than queue behind it. This measures a duration, never reads event time, so the
    decision data stay event-time; `budget_seconds=None` runs inline (no thread).
    """

    def __init__(self, budget_seconds: float | None = EVIDENCE_BUDGET_SECONDS) -> None:
        if budget_seconds is not None and not budget_seconds > 0:
            raise ValueError(f"evidence budget must be > 0 s, got {budget_seconds}")
        self.budget_seconds = budget_seconds
        self.stats: Counter[str] = Counter()
        self._overrun: threading.Thread | None = None

    def run(self, fn: Callable[[], T]) -> T:
        if self.budget_seconds is None:
            return fn()
        if self._overrun is not None:
            if self._overrun.is_alive():
                self.stats["evidence_busy"] += 1
                raise EvidenceTimeout("an earlier evidence extraction is still running past its budget")
            self._overrun = None
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:  # noqa: BLE001 -- handed back to the caller's thread
                box["error"] = exc

        thread = threading.Thread(target=work, name="evidence-extraction", daemon=True)
        thread.start()
        thread.join(self.budget_seconds)
        if thread.is_alive():
            self._overrun = thread
            self.stats["evidence_timeouts"] += 1
            raise EvidenceTimeout(f"evidence extraction took longer than its {self.budget_seconds:g} s budget")
        if "error" in box:
            raise box["error"]
        return box["value"]  # type: ignore[no-any-return]
