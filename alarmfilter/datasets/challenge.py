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

from pathlib import Path
from typing import NamedTuple

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


class ChallengeRecord(NamedTuple):
    """A record with its name: the same fields, in the same order, as ``(name,) + load_record(...)``."""

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


class RecordError(ValueError):
    """A record that cannot be read; the message names the record and says why (one line)."""


def wire_alarm_type(name: str) -> str:
    """Wire name of a challenge alarm name (header comment or ``ALARMS`` file); wire names pass.

    >>> wire_alarm_type("Ventricular_Tachycardia"), wire_alarm_type("asystole"), wire_alarm_type("?")
    ('ventricular_tachycardia', 'asystole', 'unknown')
    """
    text = name.strip()
    if text in ALARM_TYPE_WIRE:
        return ALARM_TYPE_WIRE[text]
    if text in ALARM_TYPE_WIRE.values():
        return text
    return "unknown"


def parse_label(text: str) -> bool | None:
    """``1``/``true``/``True alarm`` -> True, ``0``/``false``/``False alarm`` -> False, else None.

    >>> parse_label("1"), parse_label("False alarm"), parse_label("")
    (True, False, None)
    """
    t = text.strip().lower()
    if t in ("1", "true", "true alarm"):
        return True
    if t in ("0", "false", "false alarm"):
        return False
    return None


def read_alarms(data_dir: str | Path) -> dict[str, tuple[str, bool | None]]:
    """``DIR/ALARMS`` (``record,alarm_type,label`` per line; label may be empty) as a dict.

    Missing file -> empty dict; malformed lines are skipped (the header then decides).
    """
    path = Path(data_dir) / "ALARMS"
    if not path.is_file():
        return {}
    out: dict[str, tuple[str, bool | None]] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 2 or not parts[0] or parts[0].lower() == "record":
            continue
        out[parts[0]] = (wire_alarm_type(parts[1]), parse_label(parts[2]) if len(parts) > 2 else None)
    return out


def load_record(
    path: str | Path, *, until_alarm: bool = True
) -> tuple[dict[str, npt.NDArray[np.float64]], dict[str, str], float, str, bool | None]:
    """Read one record as ``(signals, units, fs_hz, alarm_type, label)``.

    ``path`` is the record path without extension; the signal file may be
    ``.mat`` (format 16+24) or ``.dat`` (format 16).  Missing samples are NaN
    (wfdb maps the format's invalid value, -32768, to NaN).  With
    ``until_alarm`` the arrays stop at the alarm (sample ``300 * fs``), which
    is all a real-time decision may see.  Duplicate channel names get a
    ``_2`` suffix so no channel is silently dropped.  When the header comments
    lack the alarm type or label, the folder's ``ALARMS`` file gives them; a
    record with neither has type ``"unknown"`` / label ``None``.  A record that
    cannot be read raises :class:`RecordError` naming the record and the cause.
    """
    import wfdb  # local: signals/ and model/ must not need wfdb

    name = Path(path).name
    try:
        rec = wfdb.rdrecord(str(path))
    except Exception as exc:  # wfdb raises many kinds; the caller needs one, with the cause
        raise RecordError(f"record {name}: cannot be read ({type(exc).__name__}: {_one_line(exc)})") from exc
    if rec.p_signal is None or rec.n_sig == 0 or not rec.fs or rec.fs <= 0:
        raise RecordError(f"record {name}: no signals or no sampling frequency in the header")
    fs_hz = float(rec.fs)
    data = np.asarray(rec.p_signal, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] == 0:
        raise RecordError(f"record {name}: empty signal file")
    if until_alarm:
        data = data[: round(ALARM_TIME_SECONDS * fs_hz)]
    signals: dict[str, npt.NDArray[np.float64]] = {}
    units: dict[str, str] = {}
    for j, sig in enumerate(rec.sig_name):
        key = sig
        k = 2
        while key in signals:
            key = f"{sig}_{k}"
            k += 1
        signals[key] = np.ascontiguousarray(data[:, j])
        units[key] = str(rec.units[j])
    alarm_type, label = _parse_comments(list(rec.comments or []))
    if alarm_type == "unknown" or label is None:
        listed_type, listed_label = read_alarms(Path(path).parent).get(name, ("unknown", None))
        alarm_type = listed_type if alarm_type == "unknown" else alarm_type
        label = listed_label if label is None else label
    return signals, units, fs_hz, alarm_type, label


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] if text else "no detail"


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
