"""Evidence for threshold alarms (SpO2, HR, ABP, RR, apnea) from the numerics and, where held, waveforms.

A monitor raises a threshold alarm the moment one number crosses a limit.  Whether that is
the patient or the sensor shows in what surrounds the number: a real desaturation falls over
tens of seconds and stays down; a probe slipping drops it in one step while the pleth turns to
noise.  An ABP "spike" during a line flush or zeroing has no pulse pressure.  A heart rate the
pulse oximeter does not see is counted on noise.  Every feature here is one of those questions,
as a finite float (``NOT_AVAILABLE`` when it cannot be asked), so a per-type model can weigh them.

Pure numpy: the engine hands over ``(ts, value)`` series from its ``VitalsLog`` and the waveform
window; nothing here knows about events or buffers.

References
----------
Drew B.J. et al. Insights into the problem of alarm fatigue with physiologic monitor devices:
a comprehensive observational study of consecutive intensive care unit patients. PLoS One
2014;9:e110274.
Imhoff M., Kuhls S. Alarm algorithms in critical care monitoring. Anesth. Analg.
2006;102:1525-1537.
Sendelbach S., Funk M. Alarm fatigue: a patient safety concern. AACN Adv. Crit. Care
2013;24:378-386.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alarmfilter.signals.evidence import NOT_AVAILABLE, Evidence
from alarmfilter.signals.preprocess import channel_kind

FloatArray = npt.NDArray[np.float64]

#: the numeric each threshold alarm is raised on
SOURCE_KEY: dict[str, str] = {
    "spo2_low": "spo2_pct",
    "hr_high": "hr_bpm",
    "hr_low": "hr_bpm",
    "abp_high": "abp_sys_mmhg",
    "abp_low": "abp_mean_mmhg",
    "rr_high": "rr_per_min",
    "rr_low": "rr_per_min",
    "apnea": "rr_per_min",
}
#: +1 when the alarm is about a value too high, -1 too low
DIRECTION: dict[str, int] = {
    "spo2_low": -1, "hr_high": 1, "hr_low": -1, "abp_high": 1, "abp_low": -1,
    "rr_high": 1, "rr_low": -1, "apnea": -1,
}
#: limits used to measure persistence when the monitor does not send its own (common adult defaults)
DEFAULT_LIMITS: dict[str, float] = {
    "spo2_low": 90.0, "hr_high": 120.0, "hr_low": 50.0, "abp_high": 160.0, "abp_low": 65.0,
    "rr_high": 30.0, "rr_low": 8.0, "apnea": 4.0,
}
#: the sensor an alarm's number comes from; a technical fault on it makes the number suspect
SOURCE_CHANNEL: dict[str, str] = {
    "spo2_low": "ppg", "hr_high": "ecg", "hr_low": "ecg", "abp_high": "abp", "abp_low": "abp",
    "rr_high": "resp", "rr_low": "resp", "apnea": "resp",
    "asystole": "ecg", "extreme_bradycardia": "ecg", "extreme_tachycardia": "ecg",
    "ventricular_tachycardia": "ecg", "ventricular_flutter_fib": "ecg",
}
#: the sensor a technical alarm is about
FAULT_CHANNEL: dict[str, str] = {
    "leads_off": "ecg", "spo2_probe_off": "ppg", "abp_line_fault": "abp", "signal_artifact": "any",
}

PERSIST_WINDOW_SECONDS = 30.0
TREND_WINDOW_SECONDS = 60.0
BASELINE_WINDOW_SECONDS = 300.0
WAVE_WINDOW_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class FaultContext:
    """A technical fault active on the alarm's source sensor at the alarm time (or none)."""

    fault_type: str = ""
    age_seconds: float = 0.0

    @property
    def active(self) -> bool:
        return bool(self.fault_type)


def source_channel(alarm_type: str, channel: str | None = None) -> str:
    """Sensor class (``ecg``, ``ppg``, ``abp``, ``resp``) an alarm's number comes from.

    An explicit waveform channel on the alarm wins over the type's usual source.

    >>> source_channel("spo2_low"), source_channel("hr_high", "PLETH"), source_channel("apnea")
    ('ppg', 'ppg', 'resp')
    """
    if channel:
        kind = channel_kind(channel)
        if kind != "other":
            return kind
        if channel.upper().startswith("RESP"):
            return "resp"
    return SOURCE_CHANNEL.get(alarm_type, "")


def fault_channel(fault_type: str, channel: str | None = None) -> str:
    """Sensor class a technical alarm disables (``any`` for a generic artefact without a channel).

    >>> fault_channel("leads_off"), fault_channel("signal_artifact"), fault_channel("signal_artifact", "ABP")
    ('ecg', 'any', 'abp')
    """
    if channel:
        kind = channel_kind(channel)
        if kind != "other":
            return kind
    return FAULT_CHANNEL.get(fault_type, "any")


def _na(v: float | None) -> float:
    return NOT_AVAILABLE if v is None or not np.isfinite(v) else float(v)


def persistence_seconds(ts: FloatArray, beyond: npt.NDArray[np.bool_], alarm_ts: float) -> float:
    """How long the value has been beyond the limit without a break, up to the alarm.

    >>> persistence_seconds(np.arange(10.0), np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 1], bool), 9.0)
    7.0
    >>> persistence_seconds(np.arange(3.0), np.array([1, 1, 0], bool), 2.0)
    0.0
    """
    if len(ts) == 0 or not beyond[-1]:
        return 0.0
    inside = np.flatnonzero(~beyond)
    start = ts[inside[-1]] if len(inside) else ts[0]  # last sample still within the limit
    return float(alarm_ts - start)


def slope_per_minute(ts: FloatArray, x: FloatArray) -> float:
    """Least-squares slope in units per minute (NaN with fewer than 3 points).

    >>> round(slope_per_minute(np.arange(0.0, 60.0), np.arange(0.0, 60.0) * 0.5), 3)
    30.0
    """
    if len(ts) < 3 or np.ptp(ts) <= 0:
        return float("nan")
    t = ts - ts.mean()
    return float(60.0 * (t @ (x - x.mean())) / (t @ t))


def max_step_per_second(ts: FloatArray, x: FloatArray, direction: int) -> float:
    """Largest change between neighbouring samples in the alarm's direction, per second.

    A sensor artefact moves a number in one step; physiology takes several seconds.

    >>> max_step_per_second(np.array([0.0, 1.0, 2.0, 4.0]), np.array([97.0, 97.0, 80.0, 78.0]), -1)
    17.0
    """
    if len(ts) < 2:
        return 0.0
    dt = np.maximum(np.diff(ts), 1.0)
    return float(max(0.0, np.max(direction * np.diff(x) / dt)))


def periodicity(x: FloatArray, fs_hz: float, min_bpm: float = 30.0, max_bpm: float = 200.0) -> tuple[float, float]:
    """Pulse-likeness of a waveform: peak normalised autocorrelation in the heart-rate lag range
    and the rate it implies (bpm).  A clean pleth or arterial trace scores near 1, noise near 0.

    >>> t = np.arange(0, 10, 1 / 125)
    >>> q, bpm = periodicity(np.sin(2 * np.pi * 1.25 * t), 125.0)
    >>> round(q, 1), round(bpm)
    (1.0, 75)
    >>> beats = np.zeros(1250); beats[::100] = 1.0                    # identical beats at 75 bpm
    >>> round(periodicity(beats, 125.0)[1])
    75
    >>> q, _ = periodicity(np.random.default_rng(0).normal(size=1250), 125.0)
    >>> q < 0.3
    True
    """
    ok = np.isfinite(x)
    if ok.mean() < 0.8 or fs_hz <= 0:
        return 0.0, float("nan")
    y = np.where(ok, x, np.nanmean(x[ok]) if ok.any() else 0.0)
    y = y - y.mean()
    n = len(y)
    if n < int(3 * fs_hz) or not np.any(y):
        return 0.0, float("nan")
    spec = np.fft.rfft(y, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    ac = ac / ac[0] * n / np.maximum(n - np.arange(n), 1)  # unbiased: long lags are not shrunk
    lo, hi = int(fs_hz * 60.0 / max_bpm), min(n - 1, int(fs_hz * 60.0 / min_bpm))
    if hi <= lo:
        return 0.0, float("nan")
    seg = ac[lo:hi]
    best = float(seg.max())
    # the first peak nearly as high as the highest: a regular pulse also peaks at 2, 3... beats,
    # and those sub-harmonics must not halve the rate
    peaks = np.flatnonzero((seg[1:-1] >= seg[:-2]) & (seg[1:-1] >= seg[2:]) & (seg[1:-1] >= 0.9 * best)) + 1
    k = lo + (int(peaks[0]) if len(peaks) else int(np.argmax(seg)))
    return float(np.clip(ac[k], 0.0, 1.0)), 60.0 * fs_hz / k


def flat_fraction_1s(x: FloatArray, fs_hz: float, max_std: float = 1.0) -> float:
    """Fraction of 1-s blocks that barely move (std < max_std): a flushed or zeroed arterial line.

    >>> flat_fraction_1s(np.r_[np.full(250, 300.0), 80 + 40 * np.sin(np.arange(750) / 20)], 250.0)
    0.25
    """
    n = max(1, int(fs_hz))
    k = len(x) // n
    if k == 0:
        return float("nan")
    blocks = x[len(x) - k * n:].reshape(k, n)
    good = np.isfinite(blocks).all(axis=1)
    if not good.any():
        return float("nan")
    return float(np.mean(np.std(blocks[good], axis=1) < max_std))


def _at(series: Mapping[str, FloatArray], key: str, alarm_ts: float) -> float | None:
    s = series.get(key)
    if s is None or len(s) == 0:
        return None
    s = s[s[:, 0] <= alarm_ts]
    return float(s[-1, 1]) if len(s) else None


def _numeric_features(alarm_type: str, s: FloatArray, alarm_ts: float, limit: float,
                      f: dict[str, float], t: dict[str, str]) -> None:
    key, d = SOURCE_KEY[alarm_type], DIRECTION[alarm_type]
    s = s[s[:, 0] <= alarm_ts]
    recent = s[s[:, 0] > alarm_ts - PERSIST_WINDOW_SECONDS]
    f["num_missing_frac"] = float(np.clip(1.0 - len(recent) / PERSIST_WINDOW_SECONDS, 0.0, 1.0))
    if len(recent) == 0:
        t["num_missing_frac"] = f"no {key} numerics in the {PERSIST_WINDOW_SECONDS:.0f} s before the alarm"
        return
    ts, x = recent[:, 0], recent[:, 1]
    beyond = d * (x - limit) > 0
    value = float(x[-1])
    f["num_beyond_limit"] = d * (value - limit)
    f["num_beyond_frac_30s"] = float(beyond.mean())
    f["num_persist_seconds"] = persistence_seconds(ts, beyond, alarm_ts)
    f["num_max_step_per_s"] = max_step_per_second(ts, x, d)
    trend = s[s[:, 0] > alarm_ts - TREND_WINDOW_SECONDS]
    f["num_slope_per_min"] = d * slope_per_minute(trend[:, 0], trend[:, 1])
    base = s[s[:, 0] <= alarm_ts - PERSIST_WINDOW_SECONDS]
    f["num_baseline_delta"] = d * (value - float(np.median(base[:, 1]))) if len(base) else float("nan")
    side = "above" if d > 0 else "below"
    if beyond[-1]:
        t["num_persist_seconds"] = (
            f"{key} {value:g} {side} {limit:g} for {f['num_persist_seconds']:.0f} s "
            f"({100 * f['num_beyond_frac_30s']:.0f} % of the last {PERSIST_WINDOW_SECONDS:.0f} s)"
        )
    else:
        t["num_persist_seconds"] = (
            f"{key} {value:g} at the alarm, not {side} the assumed limit {limit:g} "
            f"({100 * f['num_beyond_frac_30s']:.0f} % of the last {PERSIST_WINDOW_SECONDS:.0f} s {side} it)"
        )
    t["num_max_step_per_s"] = f"largest one-step move of {key} towards the alarm: {f['num_max_step_per_s']:.1f}/s"
    if np.isfinite(f["num_slope_per_min"]):
        t["num_slope_per_min"] = f"{key} trend towards the alarm {f['num_slope_per_min']:+.1f}/min over the last minute"


def _post_features(alarm_type: str, s: FloatArray, alarm_ts: float, until_ts: float, limit: float,
                   f: dict[str, float], t: dict[str, str]) -> None:
    """Within the configured hold: does the value stay beyond the limit after the alarm?"""
    post = s[(s[:, 0] > alarm_ts) & (s[:, 0] <= until_ts)]
    if len(post) == 0:
        return
    frac = float(np.mean(DIRECTION[alarm_type] * (post[:, 1] - limit) > 0))
    f["num_post_beyond_frac"] = frac
    t["num_post_beyond_frac"] = (
        f"{SOURCE_KEY[alarm_type]} still beyond {limit:g} in {100 * frac:.0f} % of the "
        f"{until_ts - alarm_ts:.0f} s after the alarm"
    )


def _cross_features(alarm_type: str, series: Mapping[str, FloatArray], alarm_ts: float,
                    f: dict[str, float], t: dict[str, str]) -> None:
    if alarm_type in ("spo2_low", "hr_high", "hr_low"):
        hr, pulse = _at(series, "hr_bpm", alarm_ts), _at(series, "pulse_bpm", alarm_ts)
        if hr is not None:
            f["hr_now_bpm"] = hr
        if pulse is not None:
            f["pulse_now_bpm"] = pulse
        if hr is not None and pulse is not None:
            f["hr_pulse_gap_bpm"] = abs(hr - pulse)
            t["hr_pulse_gap_bpm"] = f"ECG heart rate {hr:g} bpm vs pulse rate {pulse:g} bpm"
    if alarm_type in ("abp_high", "abp_low"):
        sys_, dia = _at(series, "abp_sys_mmhg", alarm_ts), _at(series, "abp_dia_mmhg", alarm_ts)
        if sys_ is not None and dia is not None:
            f["abp_pulse_pressure_mmhg"] = sys_ - dia
            t["abp_pulse_pressure_mmhg"] = f"arterial pulse pressure {sys_ - dia:g} mmHg at the alarm"


def _wave_features(alarm_type: str, signals: Mapping[str, FloatArray], fs_hz: float, alarm_index: int,
                   series: Mapping[str, FloatArray], alarm_ts: float, f: dict[str, float], t: dict[str, str]) -> None:
    n = int(WAVE_WINDOW_SECONDS * fs_hz)
    start = max(0, alarm_index - n)
    by_kind: dict[str, FloatArray] = {}
    for name, x in signals.items():
        kind = channel_kind(name)
        if kind not in by_kind and alarm_index - start > 0:
            by_kind[kind] = np.asarray(x[start:alarm_index], dtype=np.float64)
    want = {"spo2_low": "ppg", "hr_high": "ecg", "hr_low": "ecg", "abp_high": "abp", "abp_low": "abp"}.get(alarm_type)
    hr = _at(series, "hr_bpm", alarm_ts)
    # every pulsatile channel held is a witness (the prior asks whether they contradict the alarm)
    for kind in ("ecg", "ppg", "abp"):
        if want is None or kind not in by_kind:
            continue
        q, bpm = periodicity(by_kind[kind], fs_hz)
        f[f"{kind}_quality"] = q
        if np.isfinite(bpm):
            f[f"{kind}_rate_bpm"] = bpm
        if kind == want or (kind == "ppg" and want == "abp"):
            t[f"{kind}_quality"] = (f"{'PPG' if kind == 'ppg' else kind.upper()} waveform pulse-likeness {q:.2f} "
                                    f"over the last {WAVE_WINDOW_SECONDS:.0f} s")
        if kind == "ppg" and want == "ppg" and hr is not None and np.isfinite(bpm):
            f["ppg_rate_gap_bpm"] = abs(bpm - hr)
    if want == "abp" and "abp" in by_kind:
        x = by_kind["abp"]
        f["abp_wave_flat_frac"] = flat_fraction_1s(x, fs_hz)
        fin = x[np.isfinite(x)]
        if len(fin):
            f["abp_wave_pulsatility_mmhg"] = float(np.percentile(fin, 95) - np.percentile(fin, 5))
            f["abp_wave_max_mmhg"] = float(fin.max())
            t["abp_wave_flat_frac"] = (
                f"arterial waveform flat in {100 * _na0(f['abp_wave_flat_frac']):.0f} % of the last "
                f"{WAVE_WINDOW_SECONDS:.0f} s, swing {f['abp_wave_pulsatility_mmhg']:.0f} mmHg"
            )


def _na0(v: float) -> float:
    return v if np.isfinite(v) else 0.0


def numerics_evidence(
    alarm_type: str,
    series: Mapping[str, FloatArray],
    alarm_ts: float,
    *,
    signals: Mapping[str, FloatArray] | None = None,
    fs_hz: float = 0.0,
    alarm_index: int = 0,
    fault: FaultContext | None = None,
    limit: float | None = None,
    until_ts: float | None = None,
) -> Evidence:
    """Features and findings for one threshold alarm, from data up to ``alarm_ts`` only, or up to
    ``until_ts`` (the alarm plus the configured hold) for whether the value stayed beyond the limit.

    ``series`` maps numerics keys (``spo2_pct``, ``hr_bpm``, ...) to ``(n, 2)`` arrays of
    ``(ts, value)``; ``signals`` (optional) are waveform samples at ``fs_hz`` with the alarm at
    ``alarm_index``.  Unknown types get only the fault context.

    >>> ts = np.arange(0.0, 120.0)
    >>> spo2 = np.where(ts < 118, 97.0, 70.0)           # one-step drop: probe artefact
    >>> ev = numerics_evidence("spo2_low", {"spo2_pct": np.c_[ts, spo2]}, 119.0)
    >>> ev.features["num_max_step_per_s"], ev.features["num_persist_seconds"]
    (27.0, 2.0)
    """
    f: dict[str, float] = {}
    t: dict[str, str] = {}
    fault = fault or FaultContext()
    f["fault_on_source"] = 1.0 if fault.active else 0.0
    f["fault_age_seconds"] = fault.age_seconds if fault.active else NOT_AVAILABLE
    if fault.active:
        t["fault_on_source"] = (
            f"technical fault {fault.fault_type} active on the source sensor for {fault.age_seconds:.0f} s"
        )
    if alarm_type in SOURCE_KEY:
        s = series.get(SOURCE_KEY[alarm_type])
        lim = DEFAULT_LIMITS[alarm_type] if limit is None else limit
        if s is not None and len(s):
            arr = np.asarray(s, dtype=np.float64).reshape(-1, 2)
            _numeric_features(alarm_type, arr, alarm_ts, lim, f, t)
            if until_ts is not None and until_ts > alarm_ts:
                _post_features(alarm_type, arr, alarm_ts, until_ts, lim, f, t)
        else:
            f["num_missing_frac"] = 1.0
            t["num_missing_frac"] = f"no {SOURCE_KEY[alarm_type]} numerics held before the alarm"
        _cross_features(alarm_type, series, alarm_ts, f, t)
        if signals and fs_hz > 0:
            _wave_features(alarm_type, signals, fs_hz, alarm_index, series, alarm_ts, f, t)
    return Evidence(features={k: _na(v) for k, v in f.items()}, findings=t)
