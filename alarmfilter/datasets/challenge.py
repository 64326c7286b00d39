"""PhysioNet/CinC Challenge 2015 alarm records -> arrays in physical units.

The challenge records put the alarm at t = 300 s; records ending in ``l`` carry
30 s more.  A real-time decision may use data up to the alarm only, so
:func:`load_record` cuts at the alarm by default.

References
----------
Clifford G.D. et al. The PhysioNet/Computing in Cardiology Challenge 2015:
reducing false arrhythmia alarms in the ICU. Computing in Cardiology
2015;42:273-276.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ALARM_TIME_SECONDS = 300.0

#: header comment / ALARMS name -> wire name
ALARM_TYPE_WIRE: dict[str, str] = {
    "Asystole": "asystole",
    "Bradycardia": "extreme_bradycardia",
    "Extreme_Bradycardia": "extreme_bradycardia",
    "Tachycardia": "extreme_tachycardia",
    "Extreme_Tachycardia": "extreme_tachycardia",
    "Ventricular_Tachycardia": "ventricular_tachycardia",
    "Ventricular_Flutter_Fib": "ventricular_flutter_fib",
}


@dataclass(frozen=True, slots=True)
class ChallengeRecord:
    name: str
    signals: dict[str, npt.NDArray[np.float64]]
    units: dict[str, str]
    fs_hz: float
    alarm_type: str
    label: bool | None


def _parse_comments(comments: list[str]) -> tuple[str, bool | None]:
    alarm_type = "unknown"
    label: bool | None = None
    for line in comments:
        text = line.strip().lstrip("#").strip()
        if text in ALARM_TYPE_WIRE:
            alarm_type = ALARM_TYPE_WIRE[text]
        elif text.lower() == "true alarm":
            label = True
        elif text.lower() == "false alarm":
            label = False
    return alarm_type, label


def load_record(
    path: str | Path, *, until_alarm: bool = True
) -> tuple[dict[str, npt.NDArray[np.float64]], dict[str, str], float, str, bool | None]:
    """Read one record as ``(signals, units, fs_hz, alarm_type, label)``.

    ``path`` is the record path without extension.  Missing samples are NaN
    (wfdb maps the format's invalid value, -32768, to NaN).  With
    ``until_alarm`` the arrays stop at the alarm (sample ``300 * fs``), which
    is all a real-time decision may see.  Duplicate channel names get a
    ``_2`` suffix so no channel is silently dropped.
    """
    import wfdb  # local: signals/ and model/ must not need wfdb

    rec = wfdb.rdrecord(str(path))
    fs_hz = float(rec.fs)
    data = np.asarray(rec.p_signal, dtype=np.float64)
    if until_alarm:
        data = data[: int(round(ALARM_TIME_SECONDS * fs_hz))]
    signals: dict[str, npt.NDArray[np.float64]] = {}
    units: dict[str, str] = {}
    for j, name in enumerate(rec.sig_name):
        key = name
        k = 2
        while key in signals:
            key = f"{name}_{k}"
            k += 1
        signals[key] = np.ascontiguousarray(data[:, j])
        units[key] = str(rec.units[j])
    alarm_type, label = _parse_comments(list(rec.comments or []))
    return signals, units, fs_hz, alarm_type, label


def read_challenge(path: str | Path, *, until_alarm: bool = True) -> ChallengeRecord:
    """Same as :func:`load_record`, as a named record."""
    signals, units, fs_hz, alarm_type, label = load_record(path, until_alarm=until_alarm)
    return ChallengeRecord(Path(path).name, signals, units, fs_hz, alarm_type, label)


def record_names(data_dir: str | Path) -> list[str]:
    """Record names listed in ``DIR/RECORDS`` (or every ``.hea`` when absent)."""
    d = Path(data_dir)
    rec_file = d / "RECORDS"
    if rec_file.exists():
        return [ln.strip() for ln in rec_file.read_text().splitlines() if ln.strip()]
    return sorted(p.stem for p in d.glob("*.hea"))
