"""Synthetic ECG, PPG and ABP from a heart-rate trajectory: whole arrays, no per-sample loops.

A beat train (from integrating the heart rate) is convolved with a beat template per channel,
in the spirit of McSharry's dynamical model but far cheaper: the filter only needs believable
QRS complexes, pulses and rhythms, not a perfect morphology. Rhythms the alarms are about
(asystole, VT, VF) change which beats exist, which template they use, and whether they perfuse.

References
----------
McSharry P.E. et al. A dynamical model for generating synthetic electrocardiogram signals.
IEEE Trans Biomed Eng 2003;50(3):289-294.
"""

from __future__ import annotations

from enum import Enum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Pulse transit time from R wave to the arterial upstroke (ABP) and the finger (PLETH).
ABP_DELAY_SECONDS = 0.12
PLETH_DELAY_SECONDS = 0.25


class Rhythm(str, Enum):
    SINUS = "sinus"  # includes sinus brady/tachycardia: the rate comes from the trajectory
    ASYSTOLE = "asystole"
    VT = "vt"
    VF = "vf"


def _gauss(t: FloatArray, centre: float, amp: float, width: float) -> FloatArray:
    return amp * np.exp(-0.5 * ((t - centre) / width) ** 2)


def ecg_template(fs_hz: float, lead: str, ventricular: bool = False) -> tuple[FloatArray, int]:
    """One beat (mV) and the index of its R peak; leads differ in axis, VT beats are wide.

    >>> x, r = ecg_template(250.0, "II")
    >>> int(np.argmax(x)) == r, round(float(x.max()), 2)
    (True, 0.98)
    """
    t = np.arange(int(0.7 * fs_hz)) / fs_hz
    r_t = 0.2
    if ventricular:
        x = _gauss(t, r_t, 1.4, 0.035) + _gauss(t, r_t + 0.08, -0.6, 0.04) + _gauss(t, 0.42, -0.35, 0.06)
        if lead != "II":
            x = -0.8 * x
    else:
        x = (
            _gauss(t, 0.10, 0.12, 0.022) + _gauss(t, r_t - 0.02, -0.10, 0.008) + _gauss(t, r_t, 1.0, 0.011)
            + _gauss(t, r_t + 0.025, -0.25, 0.010) + _gauss(t, 0.45, 0.30, 0.045)
        )
        if lead != "II":
            x = 0.6 * x - _gauss(t, r_t + 0.02, 0.5, 0.012)
    return x, round(r_t * fs_hz)


def pulse_template(fs_hz: float, rr_seconds: float) -> FloatArray:
    """A pressure/pleth pulse normalised to [0, 1]: upstroke, systolic peak, dicrotic notch, decay.

    Squeezed to the beat interval so fast rhythms do not pile pulses on top of each other.

    >>> p = pulse_template(250.0, 1.0)
    >>> round(float(p.max()), 3), round(float(p[0]), 3)
    (1.0, 0.0)
    """
    length_seconds = min(0.8, 0.95 * rr_seconds)
    t = np.arange(max(2, int(length_seconds * fs_hz))) / fs_hz / length_seconds  # 0..1
    x = _gauss(t, 0.22, 1.0, 0.09) + _gauss(t, 0.5, 0.45, 0.12)
    x *= np.clip(t / 0.05, 0, 1) * np.clip((1.0 - t) / 0.2, 0, 1)
    x -= x[0]
    out: FloatArray = x / x.max()
    return out


def beat_samples(hr_bpm: FloatArray, fs_hz: float, phase0: float) -> npt.NDArray[np.int64]:
    """Sample indices of beats for a per-sample heart rate, by integrating the beat phase.

    >>> beat_samples(np.full(500, 60.0), 250.0, phase0=0.5).tolist()
    [124, 374]
    """
    phase = phase0 + np.cumsum(hr_bpm / 60.0 / fs_hz)
    return np.flatnonzero(np.diff(np.floor(phase), prepend=np.floor(phase0))).astype(np.int64)


def _train(n: int, idx: npt.NDArray[np.int64], weights: FloatArray, template: FloatArray, peak: int) -> FloatArray:
    """Sum of `template` placed with its sample `peak` at each beat index."""
    impulses = np.zeros(n, dtype=np.float64)
    np.add.at(impulses, idx, weights)
    return np.convolve(impulses, template)[peak : peak + n]


def synthesize(
    hr_bpm: FloatArray,
    rhythm: list[tuple[int, int, Rhythm]],
    fs_hz: float,
    sys_mmhg: FloatArray,
    dia_mmhg: FloatArray,
    rr_per_min: float,
    rng: np.random.Generator,
    leads: tuple[str, ...] = ("II", "V"),
    abp: bool = True,
) -> dict[str, FloatArray]:
    """ECG leads, PLETH and (optionally) ABP for one stretch of samples.

    `hr_bpm`, `sys_mmhg`, `dia_mmhg` are per sample; `rhythm` lists (start, stop, Rhythm) sample
    ranges that are not sinus.
    """
    n = len(hr_bpm)
    t = np.arange(n) / fs_hz
    beats = beat_samples(hr_bpm, fs_hz, phase0=rng.random())
    kind = np.zeros(len(beats), dtype=np.int8)  # 0 sinus, 1 ventricular, 2 none
    vf_mask = np.zeros(n, dtype=bool)
    for start, stop, r in rhythm:
        in_seg = (beats >= start) & (beats < stop)
        if r is Rhythm.VT:
            kind[in_seg] = 1
        elif r in (Rhythm.ASYSTOLE, Rhythm.VF):
            kind[in_seg] = 2
            if r is Rhythm.VF:
                vf_mask[start:stop] = True
    sinus, vent = beats[kind == 0], beats[kind == 1]
    amp_jitter = 1.0 + 0.03 * rng.standard_normal(len(beats))
    resp_hz = max(rr_per_min, 4.0) / 60.0
    wander = 0.08 * np.sin(2 * np.pi * resp_hz * t + rng.random() * 6.3)
    out: dict[str, FloatArray] = {}
    vf = _vf_wave(n, fs_hz, rng) if vf_mask.any() else None
    for lead in leads:
        tmpl, peak = ecg_template(fs_hz, lead)
        vtmpl, vpeak = ecg_template(fs_hz, lead, ventricular=True)
        x = _train(n, sinus, amp_jitter[kind == 0], tmpl, peak) + _train(n, vent, amp_jitter[kind == 1], vtmpl, vpeak)
        if vf is not None:
            x = np.where(vf_mask, vf * (0.7 if lead == "II" else -0.5), x)
        out[lead] = x + wander + 0.015 * rng.standard_normal(n)
    rr = 60.0 / max(float(np.median(hr_bpm)), 20.0)
    pulse = pulse_template(fs_hz, rr)
    perfusing = beats[kind != 2]
    weights = np.where(kind[kind != 2] == 1, 0.35, 1.0) * amp_jitter[kind != 2]
    shape = _train(n, perfusing, weights, pulse, 0)
    pleth_shift = int(PLETH_DELAY_SECONDS * fs_hz)
    out["PLETH"] = np.concatenate([np.zeros(pleth_shift), shape[: n - pleth_shift]]) * (1.0 + 0.1 * np.sin(2 * np.pi * resp_hz * t)) + 0.005 * rng.standard_normal(n)
    if abp:
        shift = int(ABP_DELAY_SECONDS * fs_hz)
        s = np.concatenate([np.zeros(shift), shape[: n - shift]])
        out["ABP"] = dia_mmhg + (sys_mmhg - dia_mmhg) * s + 0.3 * rng.standard_normal(n)
    return out


def _vf_wave(n: int, fs_hz: float, rng: np.random.Generator) -> FloatArray:
    """Coarse fibrillation: a 4-6 Hz oscillation with wandering frequency and amplitude."""
    t = np.arange(n) / fs_hz
    f = 5.0 + 0.8 * np.sin(2 * np.pi * 0.3 * t + rng.random() * 6.3)
    phase = 2 * np.pi * np.cumsum(f) / fs_hz
    amp = 0.6 + 0.3 * np.sin(2 * np.pi * 0.5 * t + rng.random() * 6.3)
    return amp * np.sin(phase)


def band_noise(n: int, fs_hz: float, low_hz: float, high_hz: float, rng: np.random.Generator) -> FloatArray:
    """Unit-variance noise limited to [low_hz, high_hz]: motion artefact, tremor, line whip.

    >>> x = band_noise(2500, 250.0, 1.0, 8.0, np.random.default_rng(0))
    >>> round(float(x.std()), 2)
    1.0
    """
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / fs_hz)
    spec[(f < low_hz) | (f > high_hz)] = 0
    x = np.fft.irfft(spec, n)
    sd = x.std()
    return x / sd if sd > 0 else x
