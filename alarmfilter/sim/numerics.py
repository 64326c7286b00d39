"""Per-second numerics of one bed (baseline, episodes) and the monitor's threshold alarm logic.

Pure numpy on whole arrays: an hour of a bed is 3,600 rows of 7 numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..events.types import AlarmType
from .config import LIMITS, Limit

FloatArray = npt.NDArray[np.float64]
KEYS = ("hr_bpm", "pulse_bpm", "spo2_pct", "rr_per_min", "abp_sys_mmhg", "abp_dia_mmhg", "abp_mean_mmhg")
ABP_KEYS = ("abp_sys_mmhg", "abp_dia_mmhg", "abp_mean_mmhg")
#: How far inside its limits a bed's baseline is kept, per numeric: limits are set per patient,
#: so every parameter alarm in the simulation has a known cause (see `adapt_limits`).
MARGIN = {"hr_bpm": 8.0, "spo2_pct": 2.0, "rr_per_min": 3.0, "abp_sys_mmhg": 10.0}
#: A new threshold alarm of the same type needs the value back in range this long (re-arm).
REARM_SECONDS = 5


def ou(n: int, mean: float, sd: float, tau_seconds: float, rng: np.random.Generator) -> FloatArray:
    """Ornstein-Uhlenbeck path at 1 Hz: slow physiological drift around a set point.

    Exact AR(1) discretisation, computed with a linear filter rather than a Python loop.

    >>> x = ou(200_000, 80.0, 5.0, 60.0, np.random.default_rng(1))
    >>> round(float(x.mean())), round(float(x.std()))
    (80, 5)
    """
    from scipy.signal import lfilter

    a = float(np.exp(-1.0 / tau_seconds))
    e = rng.standard_normal(n) * sd * np.sqrt(1 - a * a)
    x0 = rng.standard_normal() * sd
    y, _ = lfilter([1.0], [1.0, -a], e, zi=np.array([a * x0]))
    out: FloatArray = mean + np.asarray(y, dtype=np.float64)
    return out


def synthetic_baseline(n: int, rng: np.random.Generator, abp: bool) -> dict[str, FloatArray]:
    """A patient's numerics from set points drawn per bed, drifting as OU processes."""
    hr0, spo2_0, rr0 = rng.uniform(62, 105), rng.uniform(94, 99), rng.uniform(12, 22)
    out = {
        "hr_bpm": ou(n, hr0, 4.0, 300.0, rng),
        "spo2_pct": np.minimum(ou(n, spo2_0, 0.8, 120.0, rng), 100.0),
        "rr_per_min": ou(n, rr0, 1.5, 120.0, rng),
    }
    if abp:
        sys0 = rng.uniform(105, 140)
        out["abp_sys_mmhg"] = ou(n, sys0, 6.0, 400.0, rng)
    return out


def tile_mirrored(x: FloatArray, n: int, start: int) -> FloatArray:
    """`n` values of `x` played forwards then backwards, repeatedly, from `start`: no jumps.

    >>> tile_mirrored(np.array([1.0, 2.0, 3.0]), 7, 1).tolist()
    [2.0, 3.0, 3.0, 2.0, 1.0, 1.0, 2.0]
    """
    period = np.concatenate([x, x[::-1]])
    idx = (start + np.arange(n)) % len(period)
    return period[idx]


def from_per_minute(x: FloatArray, n: int, start_minute: int) -> FloatArray:
    """1 Hz values linearly interpolated from per-minute values, from `start_minute` (mirrored).

    >>> from_per_minute(np.array([60.0, 120.0]), 3, 0)[[0, 1, 2]].round(1).tolist()
    [60.0, 61.0, 62.0]
    """
    minutes = int(np.ceil(n / 60.0)) + 2
    per_min = tile_mirrored(x, minutes, start_minute)
    return np.interp(np.arange(n) / 60.0, np.arange(minutes), per_min)


def derive(values: dict[str, FloatArray], rng: np.random.Generator) -> dict[str, FloatArray]:
    """Fill pulse from HR and diastolic/mean from systolic when the source lacks them."""
    n = len(values["hr_bpm"])
    out = dict(values)
    out.setdefault("pulse_bpm", out["hr_bpm"] + rng.normal(0, 0.8, n))
    if "abp_sys_mmhg" in out:
        ratio = rng.uniform(0.5, 0.6)
        out.setdefault("abp_dia_mmhg", out["abp_sys_mmhg"] * ratio + rng.normal(0, 1.0, n))
        out.setdefault("abp_mean_mmhg", (out["abp_sys_mmhg"] + 2 * out["abp_dia_mmhg"]) / 3)
    return out


def adapt_limits(values: dict[str, FloatArray]) -> dict[AlarmType, Limit]:
    """Default limits, widened where this patient's baseline sits outside them (as nurses do).

    The baseline is then kept inside the limits (`confine`), so baseline noise raises no alarm.
    """
    out: dict[AlarmType, Limit] = {}
    for alarm_type, lim in LIMITS.items():
        x = values.get(lim.key)
        if x is None or alarm_type is AlarmType.APNEA:
            out[alarm_type] = lim
            continue
        m = MARGIN.get(lim.key, 2.0)
        if lim.high:
            level = max(lim.limit, float(np.percentile(x, 99.5)) + m)
        else:
            level = min(lim.limit, float(np.percentile(x, 0.5)) - m)
            if alarm_type is AlarmType.RR_LOW:
                level = max(level, 2.0)
        out[alarm_type] = Limit(lim.key, lim.high, round(level), lim.delay_seconds, lim.priority)
    return out


def confine(values: dict[str, FloatArray], limits: dict[AlarmType, Limit]) -> None:
    """Clip each baseline to [low limit + margin/2, high limit - margin/2], in place."""
    for key, x in values.items():
        m = MARGIN.get(key, 2.0) / 2
        los = [lim.limit for lim in limits.values() if lim.key == key and not lim.high]
        his = [lim.limit for lim in limits.values() if lim.key == key and lim.high]
        lo = max(los) + m if los else -np.inf
        hi = min(his) - m if his else np.inf
        if key == "spo2_pct":
            hi = 100.0
        np.clip(x, lo, hi, out=x)


def trapezoid(n: int, ramp_up: int, plateau: int, ramp_down: int) -> FloatArray:
    """Weights 0 -> 1 -> 0 of an episode, `n` samples long, starting at index 0.

    >>> trapezoid(8, 2, 3, 2).tolist()
    [0.5, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0]
    """
    w = np.concatenate([np.arange(1, ramp_up + 1) / ramp_up, np.ones(plateau), np.arange(ramp_down - 1, -1, -1) / ramp_down])
    return np.pad(w, (0, max(0, n - len(w))))[:n]


def blend(x: FloatArray, start: int, weights: FloatArray, level: float | FloatArray) -> None:
    """Pull `x[start:]` towards `level` by `weights`, in place (an episode on a baseline)."""
    stop = min(len(x), start + len(weights))
    w = weights[: stop - start]
    lv = np.broadcast_to(np.asarray(level, dtype=np.float64), (len(weights),))[: stop - start]
    x[start:stop] = (1 - w) * x[start:stop] + w * lv


@dataclass(frozen=True, slots=True)
class Run:
    """A stretch beyond a limit that lasted the delay: the monitor alarms at `alarm_second`."""

    alarm_type: AlarmType
    start_second: int
    alarm_second: int
    stop_second: int


def threshold_alarms(values: dict[str, FloatArray], limits: dict[AlarmType, Limit]) -> list[Run]:
    """The monitor's limit alarms: beyond the limit for the delay, then silent until back in range.

    >>> hr = np.array([80.0] * 5 + [130.0] * 12 + [80.0] * 5)
    >>> [(r.alarm_type.value, r.start_second, r.alarm_second) for r in threshold_alarms({"hr_bpm": hr}, LIMITS)]
    [('hr_high', 5, 15)]
    """
    runs: list[Run] = []
    for alarm_type, lim in limits.items():
        x = values.get(lim.key)
        if x is None:
            continue
        with np.errstate(invalid="ignore"):
            beyond = (x > lim.limit) if lim.high else (x < lim.limit)
        edges = np.diff(np.concatenate([[0], beyond.astype(np.int8), [0]]))
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        delay = int(np.ceil(lim.delay_seconds))
        last_stop = -10**9
        for s, e in zip(starts.tolist(), stops.tolist()):
            if e - s >= delay and s - last_stop >= REARM_SECONDS:
                runs.append(Run(alarm_type, s, s + delay, e))
                last_stop = e
            elif e - s >= delay:
                last_stop = e
    runs.sort(key=lambda r: (r.alarm_second, r.alarm_type.value))
    return runs
