"""Beat detection on ECG (QRS) and pulsatile channels (ABP, PPG), plus rate helpers.

Both detectors share one idea: a band-limited energy envelope, candidate peaks
above a locally adaptive threshold (robust median of 1-s block maxima, so one
artifact spike cannot blind the detector for seconds), then a patient-relative
amplitude test that throws away candidates much smaller than this channel's
typical beat.  The relative test is what keeps noise on a flat line from being
counted as beats during a real asystole.

References
----------
Pan J., Tompkins W.J. A real-time QRS detection algorithm. IEEE TBME 1985;32:230-236.
Zong W., Heldt T., Moody G.B., Mark R.G. An open-source algorithm to detect onset
of arterial blood pressure pulses. Computers in Cardiology 2003;30:259-262.
Plesinger F. et al. Taming of the monitors: reducing false alarms in intensive
care units. Physiol. Meas. 2016;37:1313-1325.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy import signal as sps

from alarmfilter.signals.preprocess import bandpass, median, moving_mean

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: smallest band-passed QRS amplitude (mV) we accept as a beat
QRS_MIN_AMPLITUDE_MV = 0.06
#: smallest ABP pulse (mmHg) we accept as a beat
ABP_MIN_PULSE_MMHG = 4.0


def rr_seconds(peak_idx: IntArray, fs_hz: float) -> FloatArray:
    """Beat-to-beat intervals; every rate and rhythm feature starts here.

    >>> rr_seconds(np.array([0, 250, 500]), fs_hz=250.0)
    array([1., 1.])
    """
    return np.diff(peak_idx) / fs_hz


def _adaptive_threshold(env: FloatArray, fs_hz: float, frac: float, block_seconds: float) -> FloatArray:
    """Per-sample threshold: ``frac`` x median of neighbouring block maxima."""
    blk = max(int(block_seconds * fs_hz), 1)
    n_blk = int(np.ceil(env.size / blk))
    padded = np.full(n_blk * blk, np.nan)
    padded[: env.size] = env
    bmax = np.nanmax(padded.reshape(n_blk, blk), axis=1)
    local = ndimage.median_filter(bmax, size=5, mode="nearest")
    glob = median(bmax) if bmax.size else 0.0
    thr_blk = frac * np.maximum(local, 0.3 * glob)
    return np.asarray(np.repeat(thr_blk, blk)[: env.size])


def _local_extreme(x: FloatArray, idx: IntArray, half: int, absolute: bool = True) -> IntArray:
    """Move each index to the extreme of ``x`` within +-half samples (vectorised)."""
    if idx.size == 0:
        return idx
    offs = np.arange(-half, half + 1)
    win = np.clip(idx[:, None] + offs[None, :], 0, x.size - 1)
    vals = np.abs(x[win]) if absolute else x[win]
    return np.asarray(win[np.arange(idx.size), np.argmax(vals, axis=1)], dtype=np.int64)


def qrs_detect(ecg_mv: FloatArray, fs_hz: float, *, refractory_seconds: float = 0.22) -> IntArray:
    """R-peak sample indices of a finite ECG in mV.

    Band-pass 5-20 Hz, RMS envelope over 100 ms, peaks above 0.3 x the local
    block-maximum median, then candidates smaller than 0.25 x the channel's
    typical QRS amplitude (or the absolute floor) are dropped.

    >>> fs = 250.0
    >>> x = np.zeros(2500); x[125::250] = 1.5  # 1 spike per second
    >>> ecg = np.convolve(x, np.hanning(15), mode="same")
    >>> qrs_detect(ecg, fs).size
    10
    """
    if ecg_mv.size < int(fs_hz):
        return np.zeros(0, dtype=np.int64)
    bp = bandpass(ecg_mv, fs_hz, 5.0, 20.0, order=2)
    env = np.sqrt(moving_mean(bp * bp, int(0.10 * fs_hz)))
    thr = _adaptive_threshold(env, fs_hz, 0.3, 1.0)
    peaks, props = sps.find_peaks(env, height=thr, distance=max(int(refractory_seconds * fs_hz), 1))
    if peaks.size == 0:
        return np.zeros(0, dtype=np.int64)
    amp = props["peak_heights"]
    ref = float(np.percentile(amp, 75))
    keep = (amp >= 0.25 * ref) & (amp >= QRS_MIN_AMPLITUDE_MV * 0.35)
    peaks, amp = peaks[keep], amp[keep]
    peaks, amp = _drop_t_waves(peaks, amp, fs_hz)
    return _local_extreme(bp, peaks.astype(np.int64), int(0.06 * fs_hz))


def _drop_t_waves(peaks: IntArray, amp: FloatArray, fs_hz: float) -> tuple[IntArray, FloatArray]:
    """Drop a candidate that follows a beat within 360 ms at under half its energy.

    Such a candidate is almost always the T wave of the beat before (Pan-Tompkins'
    T-wave discrimination, vectorised: one comparison with the previous candidate).

    >>> _drop_t_waves(np.array([0, 70, 250]), np.array([1.0, 0.3, 1.0]), 250.0)[0].tolist()
    [0, 250]
    """
    if peaks.size < 2:
        return peaks, amp
    close = np.r_[False, np.diff(peaks) < int(0.36 * fs_hz)]
    weaker = np.r_[False, amp[1:] < 0.5 * amp[:-1]]
    keep = ~(close & weaker)
    return peaks[keep], amp[keep]


def pulse_detect(x: FloatArray, fs_hz: float, *, is_abp: bool, refractory_seconds: float = 0.27) -> IntArray:
    """Pulse onsets (upstroke) of an ABP or PPG signal, via the slope-sum function.

    The SSF sums positive slopes over 128 ms: large on every systolic upstroke,
    near zero on a flat or slowly drifting line.  ABP beats must also rise by
    ``ABP_MIN_PULSE_MMHG``; PPG, in arbitrary units, only relative to its own
    typical pulse.

    >>> fs = 125.0
    >>> t = np.arange(0, 10, 1 / fs)
    >>> abp = 80 + 20 * np.clip(np.sin(2 * np.pi * 1.2 * t), 0, None)
    >>> 11 <= pulse_detect(abp, fs, is_abp=True).size <= 12
    True
    """
    if x.size < int(2 * fs_hz):
        return np.zeros(0, dtype=np.int64)
    lp = bandpass(x, fs_hz, 0.5, 10.0, order=2)
    d = np.diff(lp, prepend=lp[0])
    ssf = moving_mean(np.clip(d, 0.0, None), int(0.128 * fs_hz)) * int(0.128 * fs_hz)
    thr = _adaptive_threshold(ssf, fs_hz, 0.35, 2.0)
    peaks, props = sps.find_peaks(ssf, height=thr, distance=max(int(refractory_seconds * fs_hz), 1))
    if peaks.size == 0:
        return np.zeros(0, dtype=np.int64)
    amp = props["peak_heights"]  # == rise over the window, in signal units
    ref = float(np.percentile(amp, 75))
    keep = amp >= 0.25 * ref
    if is_abp:
        keep &= amp >= ABP_MIN_PULSE_MMHG
    return np.asarray(peaks[keep], dtype=np.int64)


def max_gap_seconds(peaks: IntArray, start: int, stop: int, fs_hz: float) -> float:
    """Longest beat-free interval inside [start, stop), window edges included.

    >>> max_gap_seconds(np.array([250, 500, 1500]), 0, 2000, 250.0)
    4.0
    """
    inside = peaks[(peaks >= start) & (peaks < stop)]
    edges = np.concatenate(([start], inside, [stop]))
    return float(np.max(np.diff(edges)) / fs_hz)


def hr_over_beats(peaks: IntArray, fs_hz: float, n_beats: int) -> FloatArray:
    """Rate (bpm) over every run of ``n_beats`` consecutive beats, as a monitor counts it.

    >>> hr_over_beats(np.array([0, 250, 500, 750, 1000]), 250.0, 5)
    array([60.])
    """
    k = n_beats - 1
    if peaks.size < n_beats or k < 1:
        return np.zeros(0)
    span = (peaks[k:] - peaks[:-k]) / fs_hz
    return np.asarray(60.0 * k / np.maximum(span, 1e-6))


def regularity(peaks: IntArray, fs_hz: float) -> float:
    """1 - robust coefficient of variation of RR; 1 for a metronome, <=0 for chaos.

    >>> regularity(np.array([0, 250, 500, 750]), 250.0)
    1.0
    """
    rr = rr_seconds(peaks, fs_hz)
    if rr.size < 2:
        return 0.0
    med = median(rr)
    mad = median(np.abs(rr - med))
    return float(1.0 - 1.4826 * mad / max(med, 1e-6))


def match_fraction(a: IntArray, b: IntArray, tol: int, lag: int = 0) -> float:
    """Fraction of beats in ``a`` with a beat of ``b`` within ``tol`` samples after ``lag``.

    The bSQI idea applied across leads and across ECG -> pulse (with pulse
    transit time as ``lag``).

    >>> match_fraction(np.array([100, 300, 500]), np.array([102, 498]), tol=10)
    0.6666666666666666
    """
    if a.size == 0 or b.size == 0:
        return 0.0
    bs = np.sort(b) - lag
    pos = np.clip(np.searchsorted(bs, a), 1, bs.size - 1) if bs.size > 1 else np.zeros(a.size, dtype=np.int64)
    if bs.size > 1:
        d = np.minimum(np.abs(bs[pos] - a), np.abs(bs[pos - 1] - a))
    else:
        d = np.abs(bs[0] - a)
    return float(np.mean(d <= tol))
