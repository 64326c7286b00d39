"""MIT-BIH Malignant Ventricular Ectopy Database (vfdb) -> labelled alarm records.

vfdb has no monitor alarms, only rhythm annotations, so alarms are built from them by the
protocol in ``../shared/data/README.md`` (the one the independent evaluation on the held-back
half uses):

- every VF/VFL/VFIB episode is a true ``ventricular_flutter_fib`` alarm and every asystole
  episode a true ``asystole`` alarm, raised 6 s after the onset; every VT episode a true
  ``ventricular_tachycardia`` alarm raised 5 s after the onset;
- a noise episode over a ``(N`` rhythm is a false alarm raised 4 s after its onset, typed in
  turn VF, asystole, VT (the turn restarts with each record, so a record's alarms do not
  depend on which other records sit in the folder);
- an episode must last at least 1 s past its alarm; an alarm needs 60 s of record before it;
  at most 4 alarms per record, type and truth, each 60 s after the previous one kept.

A ``(NOISE`` mark does not end the rhythm: the rhythm before it goes on under the noise, so
``(VT (NOISE (VT`` is one VT episode, and a noise episode's rhythm is the one before it.
Labels whose alarm type is the same (``(VF``, ``(VFL``, ``(VFIB``) are one episode when they
follow each other.  Each alarm becomes a :class:`~alarmfilter.datasets.challenge.ChallengeRecord`
holding the 300 s (or less) before the alarm and nothing after: the record ends at its alarm.
The two leads, both named ``ECG`` in the headers, are named ``II`` and ``V`` (``monitor``) or
``ECG1`` and ``ECG2`` (``ecg``): decisions must not depend on which.

References
----------
Greenwald S.D. The development and analysis of a ventricular fibrillation detector.
M.S. thesis, MIT Dept. of Electrical Engineering and Computer Science, 1986.
Goldberger A.L. et al. PhysioBank, PhysioToolkit, and PhysioNet. Circulation
2000;101(23):e215-e220.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .challenge import ChallengeRecord, RecordError, record_names

VF = "ventricular_flutter_fib"
ASYSTOLE = "asystole"
VT = "ventricular_tachycardia"

#: rhythm label (``aux_note`` without its NUL) -> alarm type of a true alarm
RHYTHM_ALARM: dict[str, str] = {"(VF": VF, "(VFL": VF, "(VFIB": VF, "(ASYS": ASYSTOLE, "(VT": VT}
NOISE = "(NOISE"
NORMAL = "(N"
#: seconds from the onset of an episode to its alarm
ALARM_DELAY_SECONDS: dict[str, float] = {VF: 6.0, ASYSTOLE: 6.0, VT: 5.0}
NOISE_DELAY_SECONDS = 4.0
#: false alarms over noise are typed in this turn
NOISE_TYPES = (VF, ASYSTOLE, VT)
MIN_PAST_ALARM_SECONDS = 1.0
MIN_HISTORY_SECONDS = 60.0
MIN_SPACING_SECONDS = 60.0
MAX_PER_GROUP = 4
RECORD_SECONDS = 300.0

#: lead naming -> names of the file's two ECG channels, in file order
LEAD_NAMES: dict[str, tuple[str, str]] = {"monitor": ("II", "V"), "ecg": ("ECG1", "ECG2")}
#: short type names used in alarm record names
TYPE_ABBREV: dict[str, str] = {VF: "vf", ASYSTOLE: "asys", VT: "vt"}


@dataclass(frozen=True, slots=True)
class Episode:
    """A stretch of one annotation: a rhythm (``(VT``), or noise over ``under`` (the rhythm going on)."""

    label: str
    onset: int  # sample
    end: int  # sample (exclusive): the next mark that ends it, or the end of the record
    under: str = ""  # noise episodes: the rhythm under the noise


@dataclass(frozen=True, slots=True)
class VfdbAlarm:
    """One built alarm: which record, when, what type, and whether it is true."""

    record: str
    alarm_type: str
    label: bool
    onset_sample: int
    alarm_sample: int
    end_sample: int  # end of the episode that raised it
    fs_hz: float
    source: str  # the annotation that raised it: ``(VFL``, ``(NOISE``, ...

    @property
    def start_sample(self) -> int:
        """First sample of the alarm's record: 300 s before the alarm, or the start of the recording."""
        return max(0, self.alarm_sample - round(RECORD_SECONDS * self.fs_hz))

    @property
    def alarm_seconds(self) -> float:
        return self.alarm_sample / self.fs_hz

    @property
    def name(self) -> str:
        """``RECORD-TYPE-SECONDs``, e.g. ``418-vf-404s``: the alarm second within the recording."""
        return f"{self.record}-{TYPE_ABBREV[self.alarm_type]}-{int(self.alarm_seconds)}s"


def clean_label(note: str) -> str:
    """The rhythm label of an ``aux_note`` (vfdb's carry a trailing NUL).

    >>> clean_label("(VFL\\x00"), clean_label(" (N ")
    ('(VFL', '(N')
    """
    return note.replace("\x00", "").strip()


def episodes(samples: Sequence[int], notes: Sequence[str], n_samples: int) -> list[Episode]:
    """Rhythm and noise episodes of one record, in time order.

    A rhythm episode runs from its mark to the next mark of another rhythm (noise marks and
    restatements of the same alarm type do not end it); a noise episode runs to the next mark.

    >>> [(e.label, e.onset, e.end, e.under) for e in episodes([0, 10, 20, 30, 40],
    ...     ["(N", "(NOISE", "(N", "(VT", "(NOISE"], 100)]
    [('(N', 0, 30, ''), ('(NOISE', 10, 20, '(N'), ('(VT', 30, 100, ''), ('(NOISE', 40, 100, '(VT')]
    """
    marks = [(int(s), clean_label(n)) for s, n in zip(samples, notes) if clean_label(n).startswith("(")]
    marks.sort(key=lambda m: m[0])
    out: list[Episode] = []
    rhythm: tuple[str, int] | None = None  # current rhythm label and its onset

    def same(a: str, b: str) -> bool:
        return a == b or (a in RHYTHM_ALARM and RHYTHM_ALARM.get(a) == RHYTHM_ALARM.get(b))

    for i, (sample, label) in enumerate(marks):
        if label == NOISE:
            end = marks[i + 1][0] if i + 1 < len(marks) else n_samples
            out.append(Episode(NOISE, sample, end, rhythm[0] if rhythm else ""))
            continue
        if rhythm is not None and same(rhythm[0], label):
            continue
        if rhythm is not None:
            out.append(Episode(rhythm[0], rhythm[1], sample))
        rhythm = (label, sample)
    if rhythm is not None:
        out.append(Episode(rhythm[0], rhythm[1], n_samples))
    out.sort(key=lambda e: (e.onset, e.label == NOISE))
    return out


def plan_alarms(record: str, samples: Sequence[int], notes: Sequence[str], n_samples: int,
                fs_hz: float) -> list[VfdbAlarm]:
    """Every alarm the protocol builds from one record's annotations, in time order.

    >>> fs = 250.0
    >>> marks = [0, 100 * 250, 130 * 250, 200 * 250, 210 * 250]
    >>> notes = ["(N", "(VT", "(N", "(NOISE", "(N"]
    >>> [(a.name, a.label) for a in plan_alarms("9", marks, notes, 400 * 250, fs)]
    [('9-vt-105s', True), ('9-vf-204s', False)]
    """
    candidates: list[VfdbAlarm] = []
    turn = 0
    for ep in episodes(samples, notes, n_samples):
        if ep.label == NOISE:
            if ep.under != NORMAL:
                continue
            alarm_type, label, delay = NOISE_TYPES[turn % len(NOISE_TYPES)], False, NOISE_DELAY_SECONDS
        elif ep.label in RHYTHM_ALARM:
            alarm_type, label = RHYTHM_ALARM[ep.label], True
            delay = ALARM_DELAY_SECONDS[alarm_type]
        else:
            continue
        alarm = ep.onset + round(delay * fs_hz)
        if ep.end - alarm < round(MIN_PAST_ALARM_SECONDS * fs_hz) or alarm < round(MIN_HISTORY_SECONDS * fs_hz):
            continue
        if not label:
            turn += 1  # the turn counts the noise alarms that qualify, before the spacing and the cap
        candidates.append(VfdbAlarm(record, alarm_type, label, ep.onset, alarm, ep.end, fs_hz, ep.label))
    kept: list[VfdbAlarm] = []
    last: dict[tuple[str, bool], list[int]] = {}
    spacing = round(MIN_SPACING_SECONDS * fs_hz)
    for a in sorted(candidates, key=lambda a: a.alarm_sample):
        group = last.setdefault((a.alarm_type, a.label), [])
        if len(group) >= MAX_PER_GROUP or (group and a.alarm_sample - group[-1] < spacing):
            continue
        group.append(a.alarm_sample)
        kept.append(a)
    return kept


def read_alarms(path: str | Path) -> list[VfdbAlarm]:
    """The alarms of one vfdb record (``path`` without extension): its header and ``.atr`` only."""
    import wfdb  # local: signals/ and model/ must not need wfdb

    name = Path(path).name
    try:
        header = wfdb.rdheader(str(path))
        ann = wfdb.rdann(str(path), "atr")
    except Exception as exc:  # wfdb raises many kinds
        raise RecordError(f"record {name}: annotations cannot be read ({type(exc).__name__}: {exc})") from exc
    if not header.fs or not header.sig_len:
        raise RecordError(f"record {name}: no sampling frequency or length in the header")
    notes = [n or "" for n in (ann.aux_note or [""] * len(ann.sample))]
    return plan_alarms(name, list(ann.sample), notes, int(header.sig_len), float(header.fs))


def is_vfdb_folder(data_dir: str | Path) -> bool:
    """A folder laid out as vfdb: ``RECORDS`` and an ``.atr`` for every record, no ``ALARMS``."""
    d = Path(data_dir)
    if not (d / "RECORDS").is_file() or (d / "ALARMS").exists():
        return False
    names = record_names(d)
    return bool(names) and all((d / f"{n}.atr").is_file() for n in names)


def folder_alarms(data_dir: str | Path, records: Sequence[str] | None = None) -> list[VfdbAlarm]:
    """Every alarm of the folder's records (``RECORDS`` order, then time order)."""
    d = Path(data_dir)
    return [a for r in (records if records is not None else record_names(d)) for a in read_alarms(d / r)]


def source_record(alarm_name: str) -> str:
    """The vfdb record an alarm record was cut from.

    >>> source_record("418-vf-404s")
    '418'
    """
    return alarm_name.rsplit("-", 2)[0]


def alarm_records(path: str | Path, alarms: Sequence[VfdbAlarm], leads: str = "monitor") -> list[ChallengeRecord]:
    """The alarms' records, read from one vfdb record (``path``) in a single pass and sliced.

    Each holds the samples [alarm - 300 s, alarm) of both leads, in physical units (mV),
    named by ``leads`` (see :data:`LEAD_NAMES`); the record ends at its alarm.
    """
    import wfdb

    if not alarms:
        return []
    name = Path(path).name
    if leads not in LEAD_NAMES:
        raise ValueError(f"unknown lead naming {leads!r}: use one of {sorted(LEAD_NAMES)}")
    if any(a.record != name for a in alarms):
        raise ValueError(f"alarms of other records than {name}")
    first = min(a.start_sample for a in alarms)
    stop = max(a.alarm_sample for a in alarms)
    try:
        rec = wfdb.rdrecord(str(path), sampfrom=first, sampto=stop)
    except Exception as exc:
        raise RecordError(f"record {name}: cannot be read ({type(exc).__name__}: {exc})") from exc
    if rec.p_signal is None or rec.n_sig < 2:
        raise RecordError(f"record {name}: expected two ECG channels, found {rec.n_sig}")
    if float(rec.fs) != alarms[0].fs_hz:
        raise RecordError(f"record {name}: sampling frequency {rec.fs} differs from the header read first")
    data = np.asarray(rec.p_signal, dtype=np.float64)
    names = LEAD_NAMES[leads]
    out = []
    for a in alarms:
        seg = data[a.start_sample - first: a.alarm_sample - first]
        signals = {names[j]: np.ascontiguousarray(seg[:, j]) for j in range(2)}
        units = {names[j]: str(rec.units[j] or "mV") for j in range(2)}
        out.append(ChallengeRecord(a.name, signals, units, float(rec.fs), a.alarm_type, a.label))
    return out
