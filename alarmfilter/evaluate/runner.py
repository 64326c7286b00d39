"""Replay labelled records through real engines and collect one outcome per record and variant.

Every record becomes wire-format events (waveform chunks, the alarm at t = 300 s, the rest of
the record) fed to a fresh `BedEngine`; the outcome is read from the engine's DecisionRecord.
A record that cannot be read is forwarded (fail-open), with its error, and the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..datasets.challenge import ALARM_TIME_SECONDS, RecordError, load_record, read_alarms
from ..datasets.events import alarm_event, feedback_event, record_events
from ..engine.config import HOLD_CEILING_SECONDS
from ..events.outputs import DecisionRecord
from ..model.classifier import AlarmModel
from ..model.lifecycle import ModelLifecycle
from ..replay import EngineFactory
from .variants import Variant

#: any fixed epoch keeps runs reproducible; each record gets its own bed and engine
EVAL_EPOCH_TS = 1_764_150_000.0
#: clinician feedback arrives this long after the alarm (prequential mode)
FEEDBACK_DELAY_SECONDS = 60.0

Progress = Callable[[int], None]


@dataclass
class Outcome:
    """What one variant decided for one record (`forwarded` is what the ward would hear)."""

    record: str
    alarm_type: str
    label: bool | None
    forwarded: bool
    score: float | None = None
    reason_code: str = ""
    reasons: list[str] = field(default_factory=list)
    model_version: str = ""
    audit_sample: bool = False
    error: str | None = None
    features: dict[str, float] | None = None

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


@dataclass(frozen=True)
class LoadedRecord:
    name: str
    signals: dict[str, Any]
    units: dict[str, str]
    fs_hz: float
    alarm_type: str
    label: bool | None


def load(path: Path, truncate: float | None = None) -> LoadedRecord:
    """Read a record; `truncate` = S cuts it S seconds after the alarm (0: at the alarm, as `s` records)."""
    signals, units, fs_hz, alarm_type, label = load_record(path, until_alarm=False)
    if truncate is not None:
        stop = round((ALARM_TIME_SECONDS + truncate) * fs_hz)
        signals = {k: v[:stop] for k, v in signals.items()}
    return LoadedRecord(path.name, signals, units, fs_hz, alarm_type, label)


def failed(path: Path, error: str) -> Outcome:
    """Fail-open outcome of an unreadable record; type and label from ALARMS when listed there."""
    alarm_type, label = read_alarms(path.parent).get(path.name, ("unknown", None))
    return Outcome(path.name, alarm_type, label, True, None, "record_error",
                   [f"record could not be read: forwarded ({error})"], "", False, error)


def decide(rec: LoadedRecord, factory: EngineFactory, context_seconds: float,
           learn: bool = False) -> Outcome:
    """Replay one record through a fresh engine; with `learn`, give it the label afterwards."""
    bed = f"EVAL-{rec.name}"
    engine = factory(bed)
    alarm_ts = EVAL_EPOCH_TS + ALARM_TIME_SECONDS
    alarm_sample = round(ALARM_TIME_SECONDS * rec.fs_hz)
    if rec.signals:
        events, alarm = record_events(rec.name, bed, rec.signals, rec.units, rec.fs_hz, rec.alarm_type,
                                      alarm_ts, alarm_sample, context_seconds)
    else:
        alarm = alarm_event(rec.name, bed, alarm_ts, rec.alarm_type)
        events = [alarm]
    outputs = [o for ev in events for o in engine.feed(ev)]
    outputs += engine.flush()
    record = next(o for o in outputs if isinstance(o, DecisionRecord) and o.alarm_id == alarm.alarm_id)
    features = engine.features_of(alarm.alarm_id)
    if learn and rec.label is not None:
        engine.feed(feedback_event(alarm, rec.label, HOLD_CEILING_SECONDS + FEEDBACK_DELAY_SECONDS))
    return Outcome(rec.name, rec.alarm_type, rec.label, record.decision == "forward", record.score,
                   str(record.reason_code), list(record.reasons), record.model_version,
                   record.audit_sample, None, features)


def _task(args: tuple[str, tuple[Variant, ...], float | None]) -> list[Outcome]:
    """One record through every variant (worker side: builds its own engines)."""
    path_s, variants, truncate = args
    path = Path(path_s)
    try:
        rec = load(path, truncate)
    except RecordError as exc:
        return [failed(path, str(exc)) for _ in variants]
    return [decide(rec, v.factory(), v.context_seconds) for v in variants]


def run_frozen(paths: Sequence[Path], variants: Sequence[Variant], *, truncate: float | None = None,
               jobs: int = 1, progress: Progress | None = None) -> dict[str, list[Outcome]]:
    """Every record through every (non-learning) variant, in `jobs` processes; order kept."""
    tasks = [(str(p), tuple(variants), truncate) for p in paths]
    results: list[list[Outcome]] = []
    if jobs > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(jobs) as pool:
            for r in pool.map(_task, tasks, chunksize=max(1, min(8, len(tasks) // (4 * jobs)))):
                results.append(r)
                if progress:
                    progress(1)
    else:
        for t in tasks:
            results.append(_task(t))
            if progress:
                progress(1)
    return {v.name: [r[i] for r in results] for i, v in enumerate(variants)}


def run_prequential(paths: Iterable[Path], variant: Variant, model: AlarmModel | ModelLifecycle, *, truncate: float | None = None,
                    progress: Progress | None = None) -> list[Outcome]:
    """Decide each record, then give its label as feedback; one shared model learns as it goes.

    Sequential by nature: each decision depends on every label before it.
    """
    factory = variant.factory(model=model, learning=True)
    out: list[Outcome] = []
    for path in paths:
        try:
            rec = load(path, truncate)
        except RecordError as exc:
            out.append(failed(path, str(exc)))
        else:
            out.append(decide(rec, factory, variant.context_seconds, learn=True))
        if progress:
            progress(1)
    return out
