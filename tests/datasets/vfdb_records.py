"""vfdb helpers for tests: the real dev half (skipping when absent) and small synthetic vfdb folders.

Pin the safety property with `vfdb_alarm_records` and `suppressed`, e.g.::

    recs = vfdb_alarm_records(types=(VF, ASYSTOLE), label=True)
    assert suppressed(recs) == []  # every true VF and asystole forwarded

and again with ``leads="ecg"`` (the same signals named ECG1/ECG2).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pytest

from alarmfilter.datasets import vfdb
from alarmfilter.datasets.challenge import ChallengeRecord, record_names
from alarmfilter.datasets.location import VFDB, find_dataset
from alarmfilter.model.classifier import AlarmModel

VF, ASYSTOLE, VT = vfdb.VF, vfdb.ASYSTOLE, vfdb.VT


def vfdb_dev() -> Path:
    """``../shared/data/vfdb-dev`` (by the data location rules); skips the test when it is absent."""
    loc = find_dataset(VFDB)
    if loc is None:
        pytest.skip("../shared/data/vfdb-dev is absent: vfdb real-data tests skipped")
    return loc.dataset(VFDB)


def vfdb_alarm_records(
    types: Iterable[str] | None = None,
    label: bool | None = None,
    leads: str = "monitor",
    records: Sequence[str] | None = None,
    data_dir: Path | None = None,
) -> list[ChallengeRecord]:
    """The vfdb dev alarms (built per the data README), as records the evaluator replays.

    `types` (wire names) and `label` (True = true alarm) select; `leads` names the two leads
    ``II``/``V`` (``monitor``) or ``ECG1``/``ECG2`` (``ecg``); `records` picks recordings.
    Each recording is read once. Skips the test when the data is absent.
    """
    d = data_dir if data_dir is not None else vfdb_dev()
    wanted = set(types) if types is not None else None
    out: list[ChallengeRecord] = []
    for rec in records if records is not None else record_names(d):
        alarms = [a for a in vfdb.read_alarms(d / rec)
                  if (wanted is None or a.alarm_type in wanted) and (label is None or a.label == label)]
        out += vfdb.alarm_records(d / rec, alarms, leads)
    return out


def suppressed(records: Sequence[ChallengeRecord], model: AlarmModel | None = None) -> list[str]:
    """Names of the records the filter (the shipped prior unless `model`) suppresses, in real time (hold 0)."""
    from alarmfilter.cli.engines import shipped_model
    from alarmfilter.evaluate.runner import decide
    from alarmfilter.evaluate.variants import Kind, Variant

    if model is None:
        model, problem = shipped_model()
        assert model is not None, problem
    filt = Variant("filter", Kind.FILTER, model_state=model.to_dict())
    factory = filt.factory()
    return [r.name for r in records if not decide(r, factory, filt.context_seconds).forwarded]


FS_HZ = 250


def beat_train(seconds: float, bpm: float, seed: int = 0) -> np.ndarray:
    """Narrow QRS-like spikes at `bpm` on a little noise, in mV (one kernel placed per beat: fast)."""
    n = round(seconds * FS_HZ)
    impulses = np.zeros(n)
    impulses[np.round(np.arange(0.3, seconds, 60.0 / bpm) * FS_HZ).astype(int)] = 1.0
    t = np.arange(-15, 16) / FS_HZ
    kernel = 1.2 * np.exp(-0.5 * (t / 0.012) ** 2)
    return np.convolve(impulses, kernel, mode="same") + 0.02 * np.random.default_rng(seed).standard_normal(n)


def write_vfdb_record(folder: Path, name: str, marks: Sequence[tuple[float, str]], seconds: float) -> Path:
    """Two leads both named ``ECG`` (format 212, as vfdb) and ``NAME.atr`` rhythm marks ``(seconds, "(VT")``.

    The signal is a 75 bpm beat train, 180 bpm during ``(VT``, flat during ``(ASYS``; good enough for
    the builder and the evaluator's plumbing, not a physiological test.
    """
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    x = beat_train(seconds, 75.0)
    fast = beat_train(seconds, 180.0, seed=1)
    bounds = [*(round(s * FS_HZ) for s, _ in marks), round(seconds * FS_HZ)]
    for (_, label), a, b in zip(marks, bounds, bounds[1:]):
        if label == "(VT":
            x[a:b] = fast[a:b]
        elif label == "(ASYS":
            x[a:b] = 0.01 * np.sin(np.arange(b - a) / FS_HZ)
    sig = np.column_stack([x, 0.8 * x])
    d = np.clip(np.round(sig * 200.0), -2047, 2047).astype(np.int16)
    wfdb.wrsamp(name, fs=FS_HZ, units=["mV", "mV"], sig_name=["ECGA", "ECGB"], d_signal=d, fmt=["212", "212"],
                adc_gain=[200.0, 200.0], baseline=[0, 0], write_dir=str(folder))
    hea = folder / f"{name}.hea"  # wfdb will not write two channels of one name; vfdb's headers have them
    hea.write_text(hea.read_text().replace(" ECGA", " ECG").replace(" ECGB", " ECG"))
    samples = np.array([round(s * FS_HZ) for s, _ in marks], dtype=np.int64)
    wfdb.wrann(name, "atr", samples, symbol=["+"] * len(marks), aux_note=[f"{m}\x00" for _, m in marks],
               write_dir=str(folder))
    return folder / name


def write_vfdb_folder(folder: Path, records: dict[str, tuple[Sequence[tuple[float, str]], float]]) -> Path:
    """Records (name -> (marks, seconds)) and a RECORDS file; no ALARMS, as vfdb."""
    for name, (marks, seconds) in records.items():
        write_vfdb_record(folder, name, marks, seconds)
    (folder / "RECORDS").write_text("".join(f"{n}\n" for n in records))
    return folder
