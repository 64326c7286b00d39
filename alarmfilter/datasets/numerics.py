"""1-Hz numerics a bedside monitor would have shown, derived from the waveforms of a record.

The challenge records carry waveforms only; a live feed also carries numerics (DESIGN: vitals
~1 Hz). Rates are averaged over the preceding `AVERAGE_SECONDS`, pressures over
`PRESSURE_SECONDS`, as monitors do; a value that cannot be measured is None (missing), never
a guess. SpO2 and respiration rate cannot be derived from these channels and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from ..events.wire import Vitals
from ..signals.beats import pulse_detect, qrs_detect
from ..signals.preprocess import channel_kind, fill_missing, to_millivolts

FloatArray = npt.NDArray[np.float64]

AVERAGE_SECONDS = 8.0
PRESSURE_SECONDS = 2.0
#: a window with more missing samples than this gives no value
MAX_MISSING_FRACTION = 0.5


def _first(signals: Mapping[str, FloatArray], kinds: tuple[str, ...]) -> str | None:
    return next((k for k in signals if channel_kind(k) in kinds and np.isfinite(signals[k]).any()), None)


def derived_vitals(
    bed: str,
    signals: Mapping[str, FloatArray],
    units: Mapping[str, str],
    fs_hz: float,
    start_ts: float,
    first_sample: int,
    stop_sample: int,
) -> list[Vitals]:
    """One vitals event per whole second in (first_sample, stop_sample], from the samples before it.

    `start_ts` is the time of sample 0; each event's values use only samples before its `ts`.
    """
    n = min(stop_sample, min((len(v) for v in signals.values()), default=0))
    if n <= first_sample:
        return []
    ecg, pulse, abp = _first(signals, ("ecg",)), _first(signals, ("abp", "ppg")), _first(signals, ("abp",))
    peaks: dict[str, npt.NDArray[np.int64]] = {}
    filled: dict[str, tuple[FloatArray, npt.NDArray[np.bool_]]] = {}
    for name in {c for c in (ecg, pulse, abp) if c}:
        x, missing = fill_missing(np.asarray(signals[name][first_sample:n], dtype=np.float64))
        filled[name] = (x, missing)
        if name == ecg:
            peaks[name] = qrs_detect(to_millivolts(x, units.get(name, "mV")), fs_hz)
        if name == pulse:
            peaks[name] = pulse_detect(x, fs_hz, is_abp=channel_kind(name) == "abp")
    step = round(fs_hz)
    avg, prs = round(AVERAGE_SECONDS * fs_hz), round(PRESSURE_SECONDS * fs_hz)
    his = np.arange(step, n - first_sample + 1, step)
    columns: dict[str, list[float | None]] = {}
    if ecg:
        columns["hr_bpm"] = _rates(filled[ecg][1], peaks[ecg], his, avg, fs_hz)
    if pulse:
        columns["pulse_bpm"] = _rates(filled[pulse][1], peaks[pulse], his, avg, fs_hz)
    if abp:
        columns |= _pressures(*filled[abp], his, prs)
    out: list[Vitals] = []
    for j, hi in enumerate(his.tolist()):
        values = {k: col[j] for k, col in columns.items()}
        if any(v is not None for v in values.values()):
            out.append(Vitals(schema_version=1, kind="vitals", bed=bed,
                              ts=start_ts + (first_sample + hi) / fs_hz, values=values))
    return out


def _missing_fraction(missing: npt.NDArray[np.bool_], lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]) -> FloatArray:
    c = np.concatenate(([0], np.cumsum(missing)))
    return np.asarray((c[hi] - c[lo]) / np.maximum(hi - lo, 1), dtype=np.float64)


def _rates(missing: npt.NDArray[np.bool_], peaks: npt.NDArray[np.int64], his: npt.NDArray[np.int64],
           window: int, fs_hz: float) -> list[float | None]:
    """Median-interval rate (bpm) of the beats in [hi - window, hi) for every hi.

    None for windows that are incomplete, mostly missing, or hold fewer than three beats.

    >>> _rates(np.zeros(2000, bool), np.arange(0, 2000, 250), np.array([500, 1000, 2000]), 1000, 250.0)
    [None, 60.0, 60.0]
    """
    los = his - window
    ok = (los >= 0) & (_missing_fraction(missing, np.maximum(los, 0), his) <= MAX_MISSING_FRACTION)
    a, b = np.searchsorted(peaks, los), np.searchsorted(peaks, his)
    rr = np.diff(peaks).tolist()
    out: list[float | None] = []
    for good, i, k in zip(ok.tolist(), a.tolist(), b.tolist()):
        if not good or k - i < 3:
            out.append(None)
            continue
        d = sorted(rr[i : k - 1])
        m = len(d) // 2
        med = d[m] if len(d) % 2 else (d[m - 1] + d[m]) / 2
        out.append(round(60.0 * fs_hz / med, 1))
    return out


def _pressures(x: FloatArray, missing: npt.NDArray[np.bool_], his: npt.NDArray[np.int64],
               window: int) -> dict[str, list[float | None]]:
    """Systolic (max), diastolic (min) and mean pressure over [hi - window, hi) for every hi."""
    sys_, dia, mean = [], [], []
    frac = _missing_fraction(missing, np.maximum(his - window, 0), his)
    for hi, f in zip(his.tolist(), frac.tolist()):
        lo = hi - window
        seg = x[lo:hi][~missing[lo:hi]] if lo >= 0 and f <= MAX_MISSING_FRACTION else x[:0]
        ok = seg.size > 0
        sys_.append(round(float(seg.max()), 1) if ok else None)
        dia.append(round(float(seg.min()), 1) if ok else None)
        mean.append(round(float(seg.mean()), 1) if ok else None)
    return {"abp_sys_mmhg": sys_, "abp_dia_mmhg": dia, "abp_mean_mmhg": mean}


