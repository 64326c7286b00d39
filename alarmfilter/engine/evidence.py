"""What the scorer needs around the evidence: a wall-time watchdog, and checked model loading.

The scorer and policy themselves are `engine.learning.LearningScorer` / `LearningPolicy`.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..model.classifier import AlarmModel

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


class ModelError(ValueError):
    """A model snapshot that must not be used (missing, unreadable, malformed)."""


def load_model(path: str | Path) -> AlarmModel:
    """Load and check a model snapshot; any problem is a `ModelError` saying what is wrong."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"model file {p} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"model file {p} is unreadable ({type(exc).__name__})") from None
    return model_from_dict(data, str(p))


def model_from_dict(data: Any, origin: str = "model") -> AlarmModel:
    """Build and check a model from its JSON state.

    >>> model_from_dict({"format": "nope"})
    Traceback (most recent call last):
    ...
    alarmfilter.engine.evidence.ModelError: model is invalid (ValueError: unsupported model format 'nope')
    """
    try:
        model = AlarmModel.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelError(f"{origin} is invalid ({type(exc).__name__}: {exc})") from None
    bad = [t for t, thr in model.thresholds.items() if not (isinstance(thr, float) and 0.0 <= thr <= 1.0)]
    if bad or not model.types:
        raise ModelError(f"{origin} is invalid (no per-type models or thresholds outside [0, 1]: {bad})")
    return model
