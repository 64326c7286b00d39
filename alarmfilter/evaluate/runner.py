"""Replay labelled records through real engines and collect one outcome per record and variant.

Every record becomes wire-format events (waveform chunks, the alarm at t = 300 s or at the end
of a shorter record, the rest of the record) fed to a fresh `BedEngine`; the outcome is read
from the engine's DecisionRecord. A record that cannot be read is forwarded (fail-open), with
its error, and the run goes on. Records come from a `Source`: a challenge folder (a file per
alarm) or a vfdb folder (alarm records cut from long recordings, each recording read once).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..datasets import vfdb
from ..datasets.challenge import (
    ALARM_TIME_SECONDS,
    ChallengeRecord,
    RecordError,
    load_record,
    read_alarms,
    record_names,
)
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


#: what the runner replays: one named record, as the challenge loader and the vfdb builder make it
LoadedRecord = ChallengeRecord


def alarm_seconds(rec: LoadedRecord) -> float:
    """Where the alarm sits: at 300 s, or at the end of a record that stops sooner (vfdb alarm records)."""
    n = len(next(iter(rec.signals.values()))) if rec.signals else 0
    return min(ALARM_TIME_SECONDS, n / rec.fs_hz) if n else ALARM_TIME_SECONDS


@dataclass(frozen=True)
class Source:
    """Where a folder's records come from; picklable, so it crosses to `--jobs` workers.

    `vfdb_leads` set: a vfdb folder, whose records are alarms built by `datasets.vfdb` with the
    leads named so; records cut from one recording are read together (`group`).
    """

    data_dir: Path
    vfdb_leads: str | None = None

    def names(self, records: Sequence[str] | None = None) -> list[str]:
        """Record names; for vfdb, alarm names (a recording's name among `records` stands for all its alarms)."""
        if self.vfdb_leads is None:
            return list(records) if records is not None else record_names(self.data_dir)
        if records is None:
            return [a.name for a in vfdb.folder_alarms(self.data_dir)]
        out: list[str] = []
        for r in records:
            if (self.data_dir / f"{r}.atr").is_file():
                out += [a.name for a in vfdb.read_alarms(self.data_dir / r)]
            else:
                out.append(r)
        return out

    def group_key(self, name: str) -> str:
        return name if self.vfdb_leads is None else vfdb.source_record(name)

    def load_group(self, names: Sequence[str], truncate: float | None) -> list[LoadedRecord | Outcome]:
        """The records `names` (one file's), each loaded or, when unreadable, its fail-open outcome."""
        if self.vfdb_leads is None:
            out: list[LoadedRecord | Outcome] = []
            for n in names:
                try:
                    out.append(load(self.data_dir / n, truncate))
                except RecordError as exc:
                    out.append(failed(self.data_dir / n, str(exc)))
            return out
        record = self.group_key(names[0])
        plan: dict[str, vfdb.VfdbAlarm] = {}
        try:
            plan = {a.name: a for a in vfdb.read_alarms(self.data_dir / record)}
            unknown = [n for n in names if n not in plan]
            if unknown:
                raise RecordError(f"record {record}: builds no alarm named {', '.join(unknown)}")
            return list(vfdb.alarm_records(self.data_dir / record, [plan[n] for n in names], self.vfdb_leads))
        except RecordError as exc:
            return [_failed_alarm(n, plan.get(n), str(exc)) for n in names]


def _failed_alarm(name: str, alarm: vfdb.VfdbAlarm | None, error: str) -> Outcome:
    return Outcome(name, alarm.alarm_type if alarm else "unknown", alarm.label if alarm else None, True, None,
                   "record_error", [f"record could not be read: forwarded ({error})"], "", False, error)


def groups(source: Source, names: Sequence[str]) -> list[list[str]]:
    """Consecutive names read from the same file, in order."""
    out: list[list[str]] = []
    for n in names:
        if out and source.group_key(out[-1][-1]) == source.group_key(n):
            out[-1].append(n)
        else:
            out.append([n])
    return out


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
    at = alarm_seconds(rec)
    alarm_ts = EVAL_EPOCH_TS + at
    alarm_sample = round(at * rec.fs_hz)
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


def _task(args: tuple[Source, list[str], tuple[Variant, ...], float | None]) -> list[list[Outcome]]:
    """One file's records through every variant (worker side: builds its own engines)."""
    source, names, variants, truncate = args
    out = []
    for rec in source.load_group(names, truncate):
        if isinstance(rec, Outcome):
            out.append([rec for _ in variants])
        else:
            out.append([decide(rec, v.factory(), v.context_seconds) for v in variants])
    return out


def _as_source(paths: Sequence[Path], source: Source | None) -> tuple[Source, list[str]]:
    """Without a source, each path is read as a challenge record; with one, paths name its records."""
    if source is None:
        return Source(Path("")), [str(p) for p in paths]
    return source, [p.name for p in paths]


def run_frozen(paths: Sequence[Path], variants: Sequence[Variant], *, truncate: float | None = None,
               jobs: int = 1, progress: Progress | None = None, source: Source | None = None) -> dict[str, list[Outcome]]:
    """Every record through every (non-learning) variant, in `jobs` processes; order kept.

    Records read from one file (vfdb alarms) go to one worker together, so each file is read once.
    """
    src, names = _as_source(paths, source)
    tasks = [(src, g, tuple(variants), truncate) for g in groups(src, names)]
    results: list[list[Outcome]] = []
    if jobs > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(jobs) as pool:
            for r in pool.map(_task, tasks, chunksize=max(1, min(8, len(tasks) // (4 * jobs)))):
                results += r
                if progress:
                    progress(len(r))
    else:
        for t in tasks:
            r = _task(t)
            results += r
            if progress:
                progress(len(r))
    return {v.name: [r[i] for r in results] for i, v in enumerate(variants)}


def run_prequential(paths: Iterable[Path], variant: Variant, model: AlarmModel | ModelLifecycle, *, truncate: float | None = None,
                    progress: Progress | None = None, source: Source | None = None) -> list[Outcome]:
    """Decide each record, then give its label as feedback; one shared model learns as it goes.

    Sequential by nature: each decision depends on every label before it.
    """
    factory = variant.factory(model=model, learning=True)
    src, names = _as_source(list(paths), source)
    out: list[Outcome] = []
    for name in names:
        rec = src.load_group([name], truncate)[0]
        out.append(rec if isinstance(rec, Outcome) else decide(rec, factory, variant.context_seconds, learn=True))
        if progress:
            progress(1)
    return out
