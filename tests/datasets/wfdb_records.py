"""Small WFDB records written with wfdb.wrsamp (format 16 .dat) for loader and evaluator tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FS_HZ = 250
ALARM_S = 300


def ecg_like(seconds: float, bpm: float, fs: float = FS_HZ, seed: int = 0) -> np.ndarray:
    """Narrow QRS-like spikes at `bpm` on a little noise, in mV."""
    n = int(seconds * fs)
    t = np.arange(n) / fs
    x = 0.02 * np.random.default_rng(seed).standard_normal(n)
    for beat in np.arange(0.3, seconds, 60.0 / bpm):
        x += 1.2 * np.exp(-0.5 * ((t - beat) / 0.012) ** 2)
    return x


def pulse_like(seconds: float, bpm: float, fs: float = FS_HZ) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    return 80.0 + 20.0 * np.clip(np.sin(2 * np.pi * bpm / 60.0 * t), 0, None) ** 2


def write_record(folder: Path, name: str, *, seconds: float = 330.0, bpm: float = 75.0,
                 comments: list[str] | None = None, missing: slice | None = None) -> Path:
    """ECG lead II + ABP, format 16; `missing` samples are written as the invalid value (NaN back)."""
    import wfdb

    ecg = ecg_like(seconds, bpm)
    abp = pulse_like(seconds, bpm)
    sig = np.column_stack([ecg, abp])
    if missing is not None:
        sig[missing, 0] = np.nan
    d = np.round(sig * np.array([1000.0, 100.0])).astype(np.float64)
    d[np.isnan(d)] = -32768
    wfdb.wrsamp(name, fs=FS_HZ, units=["mV", "mmHg"], sig_name=["II", "ABP"], d_signal=d.astype(np.int16),
                fmt=["16", "16"], adc_gain=[1000.0, 100.0], baseline=[0, 0], comments=comments or [],
                write_dir=str(folder))
    return folder / name


def write_folder(folder: Path, records: dict[str, dict], alarms: dict[str, str] | None = None) -> Path:
    """Records (name -> write_record kwargs), a RECORDS file and optionally an ALARMS file."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, kw in records.items():
        write_record(folder, name, **kw)
    (folder / "RECORDS").write_text("".join(f"{n}\n" for n in records))
    if alarms is not None:
        (folder / "ALARMS").write_text("".join(f"{n},{v}\n" for n, v in alarms.items()))
    return folder
