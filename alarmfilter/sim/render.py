"""A planned bed -> its wire-format events, waveforms drawn lazily window by window.

Why waveforms only around alarms: the engine decides an alarm from the evidence window before
it (60 s today; `EngineConfig.window_seconds` is at most 120 s) plus a hold of at most 10 s,
and keeps no more than that in its ring buffer. Streaming every bed's 250 Hz channels all hour
would be ~1 M samples per bed-hour per channel, almost all of which no decision can read, and
would make 100 beds x 1 h take minutes to generate and gigabytes to write. So each bed streams
numerics every second, all the time, and full-rate waveforms from `context_seconds` (70 s: the
60 s evidence window and some warm-up) before to `after_seconds` (10 s, the hold ceiling) after
every alarm; overlapping windows merge. That is ~15 % of a bed's hour at the claimed alarm rate. Between windows
the waveform topic is silent, as it is when a gateway forwards waveforms on alarm only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from ..events.types import AlarmType
from ..events.wire import Alarm, Vitals, Waveform
from .config import Fault, SimConfig
from .numerics import FloatArray
from .physiology import Rhythm, band_noise, synthesize
from .plan import BedPlan, Cause, Item, bed_rng
from .realdata import RealData

SYNTH_UNITS = {"II": "mV", "V": "mV", "PLETH": "NU", "ABP": "mmHg"}
ECG_RAIL_MV = 5.0
RHYTHM_OF = {AlarmType.ASYSTOLE: Rhythm.ASYSTOLE, AlarmType.VENTRICULAR_FLUTTER_FIB: Rhythm.VF,
             AlarmType.VENTRICULAR_TACHYCARDIA: Rhythm.VT}
Event = Vitals | Waveform | Alarm


def windows(plan: BedPlan, config: SimConfig) -> list[tuple[int, int]]:
    """Merged [start, stop) bed seconds of waveform: around every alarm."""
    before, after = int(np.ceil(config.context_seconds)), int(np.ceil(config.after_seconds))
    spans = sorted((max(0, a.second - before), min(plan.seconds, a.second + after)) for a in plan.alarms)
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        elif e > s:
            merged.append((s, e))
    return merged


def bed_events(plan: BedPlan, config: SimConfig, real: RealData) -> Iterator[Event]:
    """The bed's events in event-time order: per second, waveform chunk, vitals, alarms."""
    wins = windows(plan, config)
    period = config.vitals_period_seconds
    vit = {k: np.where(np.isfinite(v), np.round(v), np.nan).tolist() for k, v in plan.measured.items()}
    alarms_at: dict[int, list[Alarm]] = {}
    for a in plan.alarms:
        alarms_at.setdefault(a.second, []).append(Alarm.model_construct(
            schema_version=1, kind="alarm", bed=plan.bed, ts=a.truth.ts, alarm_id=a.truth.alarm_id,
            type=a.alarm_type.value, priority=a.priority, channel=None))
    w = 0
    chunks: dict[int, Waveform] = {}
    for k in range(plan.seconds):
        while w < len(wins) and wins[w][1] <= k:
            w += 1
        if w < len(wins) and wins[w][0] == k:
            chunks = render_window(plan, config, real, *wins[w])
        chunk = chunks.pop(k, None)
        if chunk is not None:
            yield chunk
        if k % period == 0:
            values = {key: (None if math.isnan(col[k]) else col[k]) for key, col in vit.items()}
            yield Vitals.model_construct(schema_version=1, kind="vitals", bed=plan.bed, ts=plan.t0 + k, values=values)
        yield from alarms_at.get(k, ())


def render_window(plan: BedPlan, config: SimConfig, real: RealData, w0: int, w1: int) -> dict[int, Waveform]:
    """One-second chunks of bed seconds [w0, w1): synthetic, with real records spliced in."""
    fs = config.fs_hz
    rng = bed_rng(config, plan.index, 1, w0)
    m = round((w1 - w0) * fs)
    tt = w0 + np.arange(m) / fs
    sec = np.arange(plan.seconds)
    hr = np.interp(tt, sec, plan.phys["hr_bpm"])
    sys_ = np.interp(tt, sec, plan.phys["abp_sys_mmhg"]) if plan.abp else np.zeros(m)
    dia = np.interp(tt, sec, plan.phys["abp_dia_mmhg"]) if plan.abp else np.zeros(m)
    rr = float(np.median(plan.phys["rr_per_min"][w0:w1]))
    overlapping = [it for it in plan.items if it.start < w1 and it.start + it.length + it.tail > w0 - 1]
    rhythm = []
    for it in overlapping:
        if it.category == "arrhythmia" and it.record is None and it.cause is Cause.EVENT and it.alarm_type in RHYTHM_OF:
            a, b = _span(it, w0, fs, m)
            rhythm.append((a, b, RHYTHM_OF[it.alarm_type]))
    sig = synthesize(hr, rhythm, fs, sys_, dia, rr, rng, abp=plan.abp)
    for it in overlapping:
        _artefact(it, sig, w0, fs, m, rng)
    lists = {ch: _to_list(x, 2 if ch in ("ABP",) else 4) for ch, x in sig.items()}
    units = {ch: SYNTH_UNITS[ch] for ch in sig}
    step = round(fs)
    out: dict[int, Waveform] = {}
    for j, k in enumerate(range(w0, w1)):
        out[k] = Waveform.model_construct(
            schema_version=1, kind="waveform", bed=plan.bed, ts=plan.t0 + k, fs_hz=fs,
            signals={ch: v[j * step : (j + 1) * step] for ch, v in lists.items()}, units=units)
    for it in overlapping:
        if it.record is not None and real.records is not None:
            _splice_record(plan, config, real, it, w0, w1, out)
    return out


def _span(it: Item, w0: int, fs: float, m: int) -> tuple[int, int]:
    a = round((it.start - w0) * fs)
    b = round((it.start + it.length - w0) * fs)
    return max(0, a), min(m, b)


def _to_list(x: FloatArray, decimals: int) -> list[float | None]:
    vals: list[float | None] = np.round(x, decimals).tolist()
    if np.isnan(x).any():
        vals = [None if math.isnan(v) else v for v in vals]  # type: ignore[arg-type]
    return vals


def _artefact(it: Item, sig: dict[str, FloatArray], w0: int, fs: float, m: int, rng: np.random.Generator) -> None:
    """Draw what made a false alarm or a technical alarm into the synthetic signals."""
    a, b = _span(it, w0, fs, m)
    if b <= a:
        return
    n = b - a
    ecg = [ch for ch in ("II", "V") if ch in sig]
    t = it.alarm_type
    if it.category == "fault":
        f = it.fault
        if f is Fault.LEADS_OFF:
            for ch in ecg:
                sig[ch][a:b] = np.nan
        elif f is Fault.PROBE_OFF:
            sig["PLETH"][a:b] = 0.002 * rng.standard_normal(n)
        elif f is Fault.ABP_FLUSH and "ABP" in sig:
            sig["ABP"][a:b] = 300.0 + rng.standard_normal(n)
        elif f is Fault.ABP_ZEROING and "ABP" in sig:
            sig["ABP"][a:b] = rng.standard_normal(n) * 0.5
        elif f is Fault.MOTION:
            for ch in ecg:
                sig[ch][a:b] += 1.2 * band_noise(n, fs, 0.5, 8.0, rng)
            sig["PLETH"][a:b] += 0.8 * band_noise(n, fs, 0.3, 5.0, rng)
        elif f is Fault.SATURATION:
            for ch in ecg:
                sig[ch][a:b] = np.clip(sig[ch][a:b] + 8.0, -ECG_RAIL_MV, ECG_RAIL_MV)
        elif f is Fault.MISSING_SAMPLES:
            for x in sig.values():
                x[a:b] = np.nan
    elif it.cause is Cause.ARTEFACT and it.record is None:
        if t is AlarmType.ASYSTOLE or t is AlarmType.HR_LOW or t is AlarmType.EXTREME_BRADYCARDIA:
            sig["II"][a:b] *= 0.05 if t is AlarmType.ASYSTOLE else 0.25  # low amplitude: undercounting
        elif t in (AlarmType.VENTRICULAR_TACHYCARDIA, AlarmType.EXTREME_TACHYCARDIA, AlarmType.HR_HIGH):
            for ch in ecg:
                sig[ch][a:b] += 0.9 * band_noise(n, fs, 1.0, 12.0, rng)
        elif t is AlarmType.VENTRICULAR_FLUTTER_FIB:
            for ch in ecg:
                sig[ch][a:b] += 0.7 * np.sin(2 * np.pi * rng.uniform(4, 7) * np.arange(n) / fs)
        elif t is AlarmType.SPO2_LOW:
            sig["PLETH"][a:b] += 0.9 * band_noise(n, fs, 0.3, 4.0, rng)
        elif t is AlarmType.ABP_HIGH and "ABP" in sig:
            sig["ABP"][a:b] += 25.0 * band_noise(n, fs, 2.0, 15.0, rng)  # line whip
        elif t is AlarmType.ABP_LOW and "ABP" in sig:
            x = sig["ABP"][a:b]
            sig["ABP"][a:b] = x.mean() - 25.0 + 0.2 * (x - x.mean())  # damped line


def _splice_record(plan: BedPlan, config: SimConfig, real: RealData, it: Item, w0: int, w1: int,
                   out: dict[int, Waveform]) -> None:
    """Replace the chunks the real record covers with the record's own samples and channels."""
    assert real.records is not None and it.record is not None
    signals, units, fs, before = real.records.segment(it.record.name, config.context_seconds,
                                                      min(it.record.tail_seconds, config.after_seconds))
    n_rec = len(next(iter(signals.values())))
    step = round(fs)
    first = it.start + it.alarm_offset - before // step
    lists = {ch: _to_list(x, 4) for ch, x in signals.items()}
    for j in range(n_rec // step):
        k = first + j
        if w0 <= k < w1:
            out[k] = Waveform.model_construct(
                schema_version=1, kind="waveform", bed=plan.bed, ts=plan.t0 + k, fs_hz=fs,
                signals={ch: v[j * step : (j + 1) * step] for ch, v in lists.items()}, units=dict(units))
