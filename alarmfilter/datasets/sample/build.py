"""Build the shipped sample from a challenge record folder, reproducibly (same input, same bytes).

Selection is a fixed rule, not a hand pick: for every alarm type, the first
true and the first false alarm (records sorted by name) that carry a pulsatile
channel, plus a second false asystole and false ventricular tachycardia (the
commonest false alarms).  Each record keeps its own int16 samples of the 60 s
before the alarm, channels x samples, with gain, baseline and units in a JSON
manifest; members are LZMA-compressed inside a standard ``.npz``.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ...events.types import ARRHYTHMIA_ORDER as ALARM_TYPES
from ..challenge import ALARM_TIME_SECONDS, ALARM_TYPE_WIRE, record_names
from . import ATTRIBUTION_FILE, SAMPLE_FILE, SAMPLE_SECONDS

#: (alarm type, label) picked a second time, so the sample's false alarms outnumber its true ones as on a ward.
EXTRA = (("asystole", False), ("ventricular_tachycardia", False))
PULSATILE = ("PLETH", "ABP")
MAX_BYTES = 1_000_000
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps keep the file byte-reproducible


class SampleError(Exception):
    """The source folder cannot give the sample (missing records, a type without a true or false alarm)."""


def _parse_comments(comments: list[str]) -> tuple[str, bool | None]:
    """Alarm type (wire name) and label from a challenge header's comment lines.

    >>> _parse_comments(["Ventricular_Tachycardia", "False alarm"])
    ('ventricular_tachycardia', False)
    """
    alarm_type, label = "unknown", None
    for line in comments:
        text = line.strip().lstrip("#").strip()
        if text in ALARM_TYPE_WIRE:
            alarm_type = ALARM_TYPE_WIRE[text]
        elif text.lower() in ("true alarm", "false alarm"):
            label = text.lower() == "true alarm"
    return alarm_type, label


def _sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _candidates(src: Path) -> list[tuple[str, str, bool, list[str]]]:
    import wfdb

    out = []
    for name in sorted(record_names(src)):
        hdr = wfdb.rdheader(str(src / name))
        alarm_type, label = _parse_comments(list(hdr.comments or []))
        if label is not None and alarm_type in ALARM_TYPES:
            out.append((name, alarm_type, label, list(hdr.sig_name)))
    return out


def select(src: Path) -> list[str]:
    """Record names for the sample, in a fixed order (type, then true before false, then extras)."""
    cands = _candidates(src)
    chosen: list[str] = []
    wanted = [(t, lab) for t in ALARM_TYPES for lab in (True, False)] + list(EXTRA)
    for alarm_type, label in wanted:
        pool = [c for c in cands if c[1] == alarm_type and c[2] == label and c[0] not in chosen]
        pool.sort(key=lambda c: (not any(ch in PULSATILE for ch in c[3]), c[0]))
        if not pool:
            raise SampleError(f"{src}: no {'true' if label else 'false'} {alarm_type} record")
        chosen.append(pool[0][0])
    return chosen


def _excerpt(src: Path, name: str) -> tuple[np.ndarray, dict[str, Any]]:
    import wfdb

    rec = wfdb.rdrecord(str(src / name), physical=False)
    fs_hz = float(rec.fs)
    stop = round(ALARM_TIME_SECONDS * fs_hz)
    start = stop - round(SAMPLE_SECONDS * fs_hz)
    d = np.asarray(rec.d_signal)[start:stop]
    if d.shape[0] != stop - start or d.min() < -32768 or d.max() > 32767:
        raise SampleError(f"{name}: not a 16-bit record with {ALARM_TIME_SECONDS:.0f} s before the alarm")
    alarm_type, label = _parse_comments(list(rec.comments or []))
    channels: list[str] = []
    for ch in rec.sig_name:  # duplicate names get _2, as load_record does
        key, k = ch, 2
        while key in channels:
            key, k = f"{ch}_{k}", k + 1
        channels.append(key)
    meta = {
        "name": name,
        "channels": channels,
        "units": [str(u) for u in rec.units],
        "gain": [float(g) for g in rec.adc_gain],
        "baseline": [int(b) for b in rec.baseline],
        "fs_hz": fs_hz,
        "alarm_type": alarm_type,
        "label": label,
        "first_sample": start,
        "source_sha256": {f"{name}{ext}": _sha256(src / f"{name}{ext}") for ext in (".hea", ".mat")},
    }
    return np.ascontiguousarray(d.T.astype(np.int16)), meta


def _member(zf: zipfile.ZipFile, key: str, arr: np.ndarray) -> None:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_LZMA
    zf.writestr(info, buf.getvalue())


def build(src: Path, out_dir: Path | None = None) -> tuple[Path, list[dict[str, Any]]]:
    """Write the sample file into `out_dir` (default: this package folder); returns its path and manifest."""
    if not (src / "RECORDS").is_file() and not any(src.glob("*.hea")):
        raise SampleError(f"{src}: not a challenge record folder (no RECORDS, no .hea)")
    out_dir = Path(__file__).parent if out_dir is None else out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays: list[tuple[str, np.ndarray]] = []
    meta: list[dict[str, Any]] = []
    for name in select(src):
        arr, m = _excerpt(src, name)
        arrays.append((name, arr))
        meta.append(m)
    out = out_dir / SAMPLE_FILE
    tmp = out.with_suffix(".npz.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        _member(zf, "manifest", np.array(json.dumps(meta, sort_keys=True)))
        for name, arr in arrays:
            _member(zf, name, arr)
    if tmp.stat().st_size > MAX_BYTES:
        tmp.unlink()
        raise SampleError(f"sample would be over {MAX_BYTES} bytes; not written")
    tmp.replace(out)
    attribution = Path(__file__).parent / ATTRIBUTION_FILE
    if out_dir != attribution.parent and attribution.is_file():
        (out_dir / ATTRIBUTION_FILE).write_text(attribution.read_text())
    return out, meta
