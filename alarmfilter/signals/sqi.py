"""Signal-quality indices per channel: can this channel's beats be trusted?

A false alarm is usually one bad channel (lead off, motion, saturation) that a
monitor believed.  These indices let the evidence stage trust a channel only
when its waveform looks physiological.

References
----------
Li Q., Mark R.G., Clifford G.D. Robust heart rate estimation from multiple
asynchronous noisy sources using signal quality indices and a Kalman filter.
Physiol. Meas. 2008;29:15-32.
Clifford G.D. et al. Signal quality indices and data fusion for determining
clinical acceptability of electrocardiograms. Physiol. Meas. 2012;33:1419-1433.
Behar J. et al. ECG signal quality during arrhythmia and its application to false
alarm reduction. IEEE TBME 2013;60:1660-1666.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alarmfilter.signals.preprocess import hann, runs_of_true

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class ChannelQuality:
    """Quality indices of one channel over one window (fractions in [0, 1])."""

    missing_frac: float
    flat_frac: float
    saturated_frac: float
    hf_noise_ratio: float
    ksqi: float
    psqi: float

    @property
    def usable(self) -> bool:
        """Enough real, moving, unclipped signal to count beats on."""
        return (
            self.missing_frac < 0.25
            and self.flat_frac < 0.4
            and self.saturated_frac < 0.2
            and self.hf_noise_ratio < 0.5
        )


def unrecorded(x: FloatArray, missing: BoolArray, fs_hz: float, min_seconds: float = 0.4) -> BoolArray:
    """Samples that show nothing of the heart: missing, or in a run of at least ``min_seconds``
    frozen exactly still or pinned at the trace's own rail (a lead off, a saturated amplifier).

    >>> x = np.r_[np.sin(np.arange(500)), np.full(300, 1.0), np.sin(np.arange(200))]
    >>> m = unrecorded(x, np.zeros(1000, bool), 250.0)
    >>> int(m.sum()), bool(m[600]), bool(m[100])
    (300, True, False)
    """
    if x.size < 2:
        return np.ones(x.size, dtype=bool)
    lo, hi = float(np.min(x)), float(np.max(x))
    tol = 0.01 * (hi - lo)
    still = np.r_[np.abs(np.diff(x)) < 1e-9, False] | (x >= hi - tol) | (x <= lo + tol)
    starts, ends = runs_of_true(still)
    out = missing.copy()
    for a, b in zip(starts, ends):
        if b - a >= int(min_seconds * fs_hz):
            out[a:b] = True
    return out


def flat_fraction(x: FloatArray, missing: BoolArray, fs_hz: float, min_seconds: float = 0.4) -> float:
    """Fraction of samples inside runs where the signal does not move at all.

    An exactly constant trace is a disconnected lead or probe, not asystole:
    a real asystolic ECG still shows baseline noise.

    >>> x = np.r_[np.zeros(500), np.sin(np.arange(500))]
    >>> flat_fraction(x, np.zeros(1000, bool), 250.0)
    0.5
    """
    if x.size < 2:
        return 1.0
    still = np.r_[np.abs(np.diff(x)) < 1e-9, False] | missing
    starts, ends = runs_of_true(still)
    long_runs = (ends - starts) >= int(min_seconds * fs_hz)
    return float(np.sum((ends - starts)[long_runs]) / x.size)


def saturated_fraction(x: FloatArray) -> float:
    """Fraction of samples pinned at the window's extreme values (ADC clipping).

    >>> saturated_fraction(np.r_[np.full(30, 5.0), np.linspace(-1, 1, 70)])
    0.3
    """
    if x.size == 0:
        return 1.0
    hi, lo = float(np.max(x)), float(np.min(x))
    if hi == lo:
        return 1.0
    tol = 1e-6 * (hi - lo)
    n_hi = int(np.sum(x >= hi - tol))
    n_lo = int(np.sum(x <= lo + tol))
    frac = 0.0
    if n_hi > 0.01 * x.size:
        frac += n_hi / x.size
    if n_lo > 0.01 * x.size:
        frac += n_lo / x.size
    return float(frac)


def band_powers(x: FloatArray, fs_hz: float, bands: list[tuple[float, float]]) -> FloatArray:
    """Power in each band from one Hann-windowed FFT (the window is short, one FFT is enough)."""
    if x.size < 8:
        return np.zeros(len(bands))
    xc = x - np.mean(x)
    spec = np.abs(np.fft.rfft(xc * hann(x.size))) ** 2
    f = np.fft.rfftfreq(x.size, 1.0 / fs_hz)
    c = np.concatenate(([0.0], np.cumsum(spec)))
    lo = np.searchsorted(f, [b[0] for b in bands])
    hi = np.searchsorted(f, [b[1] for b in bands])
    return np.asarray(c[hi] - c[lo])


def kurtosis_sqi(x: FloatArray) -> float:
    """Pearson kurtosis: a peaky QRS train scores > 5, Gaussian noise about 3.

    >>> round(kurtosis_sqi(np.r_[np.zeros(99), 1.0]), 1)
    98.0
    """
    xc = x - np.mean(x)
    x2 = xc * xc  # squared twice, not xc**4: numpy's general power is ~50x slower
    v = float(np.mean(x2))
    if v <= 0:
        return 0.0
    return float(np.mean(x2 * x2) / (v * v))


def flat_onset_fraction(x: FloatArray, missing: BoolArray, fs_hz: float, min_seconds: float = 0.4) -> float:
    """As :func:`flat_fraction`, but only runs that begin after the window's first sample.

    A trace that freezes *during* the window is a lead coming off at the moment
    of the alarm, the classic technical asystole; one flat from the start was
    already disconnected, and the monitor was reading the other leads.

    >>> x = np.r_[np.sin(np.arange(500)), np.zeros(500)]
    >>> round(flat_onset_fraction(x, np.zeros(1000, bool), 250.0), 2)
    0.5
    >>> flat_onset_fraction(x[::-1].copy(), np.zeros(1000, bool), 250.0)
    0.0
    """
    if x.size < 2:
        return 0.0
    still = np.r_[np.abs(np.diff(x)) < 1e-9, False] | missing
    starts, ends = runs_of_true(still)
    keep = ((ends - starts) >= int(min_seconds * fs_hz)) & (starts > 0)
    return float(np.sum((ends - starts)[keep]) / x.size)


def channel_quality(x: FloatArray, missing: BoolArray, fs_hz: float, kind: str) -> ChannelQuality:
    """All indices for one (NaN-filled) channel window; ``kind`` is ecg/abp/ppg."""
    missing_frac = float(np.mean(missing)) if missing.size else 1.0
    flat = flat_fraction(x, missing, fs_hz)
    sat = saturated_fraction(x[~missing]) if (~missing).any() else 1.0
    if kind == "ecg":
        p = band_powers(x, fs_hz, [(0.5, 40.0), (5.0, 15.0), (5.0, 40.0), (40.0, fs_hz / 2)])
        total = float(p[0] + p[3]) + 1e-12
        hf = float(p[3] / total)
        psqi = float(p[1] / (p[2] + 1e-12))
    else:
        p = band_powers(x, fs_hz, [(0.5, 10.0), (10.0, fs_hz / 2)])
        hf = float(p[1] / (p[0] + p[1] + 1e-12))
        psqi = 0.0
    return ChannelQuality(
        missing_frac=missing_frac,
        flat_frac=flat,
        saturated_frac=sat,
        hf_noise_ratio=hf,
        ksqi=kurtosis_sqi(x) if kind == "ecg" else 0.0,
        psqi=psqi,
    )
