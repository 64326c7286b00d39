"""Ventricular-rhythm and fibrillation features: QRS width, template change, spectra.

Ventricular beats are wide and look unlike the patient's own supraventricular
beats; ventricular flutter/fibrillation concentrates ECG power in one band around
3-7 Hz with no narrow QRS left.  Artifacts that trigger VT/VF alarms (motion,
tremor, electrode rubbing) usually leave the other leads and the pulse channels
untouched, which is why these features are computed per channel and compared.

References
----------
Fallet S., Yazdani S., Vesin J.-M. A multimodal approach to reduce false
arrhythmia alarms in the intensive care unit. Computing in Cardiology 2015;42:277-280.
Kalidas V., Tamil L.S. Enhancing accuracy of arrhythmia classification by
combining logical and machine learning techniques. Computing in Cardiology 2015;42:733-736.
Barro S. et al. Algorithmic sequential decision-making in the frequency domain
for life threatening ventricular arrhythmias. J. Biomed. Eng. 1989;11:320-328.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import signal as sps

from alarmfilter.signals.preprocess import bandpass, hann, moving_mean, runs_of_true

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _beat_matrix(x: FloatArray, peaks: IntArray, before: int, after: int) -> FloatArray:
    """Rows = beats, columns = samples around each peak (edges clipped)."""
    offs = np.arange(-before, after + 1)
    win = np.clip(peaks[:, None] + offs[None, :], 0, x.size - 1)
    return np.asarray(x[win])


def morphology_filter(ecg_mv: FloatArray, fs_hz: float) -> FloatArray:
    """1-30 Hz band: keeps QRS shape and width, drops wander and mains/muscle noise."""
    return bandpass(ecg_mv, fs_hz, 1.0, 30.0, order=2)


def qrs_widths_ms(ecg_mv: FloatArray, peaks: IntArray, fs_hz: float, *, prefiltered: bool = False) -> FloatArray:
    """Approximate QRS duration per beat (ms) from the slope envelope.

    Width = time the smoothed absolute slope stays above 30 % of its peak within
    +-200 ms of the R peak.  Crude, but monotonic in true QRS width, which is all
    a wide-vs-narrow comparison needs.

    >>> fs = 250.0
    >>> narrow = np.zeros(1000); narrow[500] = 1
    >>> wide = np.zeros(1000); wide[500] = 1
    >>> n = np.convolve(narrow, np.hanning(20), "same"); w = np.convolve(wide, np.hanning(60), "same")
    >>> a, b = qrs_widths_ms(n, np.array([500]), fs)[0], qrs_widths_ms(w, np.array([500]), fs)[0]
    >>> bool(b > a)
    True
    """
    if peaks.size == 0:
        return np.zeros(0)
    f = ecg_mv if prefiltered else morphology_filter(ecg_mv, fs_hz)
    slope = moving_mean(np.abs(np.diff(f, prepend=f[0])), max(int(0.02 * fs_hz), 1))
    half = int(0.2 * fs_hz)
    m = _beat_matrix(slope, peaks, half, half)
    base = np.percentile(m, 10, axis=1, keepdims=True)
    top = np.max(m, axis=1, keepdims=True)
    above = m > base + 0.3 * (top - base)
    return np.asarray(np.sum(above, axis=1) / fs_hz * 1000.0)


def template_correlation(
    ecg_mv: FloatArray, peaks: IntArray, ref_peaks: IntArray, fs_hz: float, *, prefiltered: bool = False
) -> FloatArray:
    """Pearson correlation of each beat with the median template of ``ref_peaks``.

    ``ref_peaks`` are the patient's beats before the alarm window, so a sudden
    change of morphology (a ventricular focus) shows as low correlation.

    >>> x = np.tile(np.r_[np.zeros(100), np.hanning(50), np.zeros(100)], 6)
    >>> c = template_correlation(x, np.array([875, 1125]), np.array([125, 375, 625]), 250.0)
    >>> bool(np.all(c > 0.99))
    True
    """
    if peaks.size == 0 or ref_peaks.size < 3:
        return np.full(peaks.size, np.nan)
    f = ecg_mv if prefiltered else morphology_filter(ecg_mv, fs_hz)
    b, a = int(0.15 * fs_hz), int(0.20 * fs_hz)
    refs = _beat_matrix(f, ref_peaks, b, a)
    tmpl = np.median(refs, axis=0)
    # purify: rebuild the template from the reference beats that resemble it
    c0 = _corr_rows(refs, tmpl)
    if int(np.sum(c0 > 0.8)) >= 3:
        tmpl = np.median(refs[c0 > 0.8], axis=0)
    return _corr_rows(_beat_matrix(f, peaks, b, a), tmpl)


def consecutive_correlation(
    ecg_mv: FloatArray, peaks: IntArray, fs_hz: float, *, prefiltered: bool = False
) -> FloatArray:
    """Correlation of each beat with the beat before it (first beat: NaN).

    A ventricular run repeats one (or slowly changing) wide shape; motion and
    cable artifacts produce a new random shape every "beat".

    >>> x = np.tile(np.r_[np.zeros(40), np.hanning(30), np.zeros(40)], 5)
    >>> c = consecutive_correlation(x, np.array([55, 165, 275, 385]), 250.0)
    >>> bool(np.isnan(c[0])) and bool(np.all(c[1:] > 0.99))
    True
    """
    if peaks.size == 0:
        return np.zeros(0)
    f = ecg_mv if prefiltered else morphology_filter(ecg_mv, fs_hz)
    m = _beat_matrix(f, peaks, int(0.12 * fs_hz), int(0.16 * fs_hz))
    mc = m - m.mean(axis=1, keepdims=True)
    num = np.sum(mc[1:] * mc[:-1], axis=1)
    den = np.sqrt(np.sum(mc[1:] ** 2, axis=1) * np.sum(mc[:-1] ** 2, axis=1)) + 1e-12
    return np.asarray(np.r_[np.nan, num / den], dtype=np.float64)


def _corr_rows(beats: FloatArray, tmpl: FloatArray) -> FloatArray:
    tc = tmpl - tmpl.mean()
    bc = beats - beats.mean(axis=1, keepdims=True)
    den = np.sqrt(np.sum(bc * bc, axis=1) * np.sum(tc * tc)) + 1e-12
    return np.asarray(bc @ tc / den)


def longest_run(mask: npt.NDArray[np.bool_]) -> int:
    """Length of the longest run of True.

    >>> longest_run(np.array([1, 1, 0, 1, 1, 1, 0], dtype=bool))
    3
    """
    starts, ends = runs_of_true(mask)
    return int(np.max(ends - starts)) if starts.size else 0


def spectral_organisation(x: FloatArray, fs_hz: float) -> tuple[float, float, float]:
    """(dominant frequency Hz, power fraction within +-0.6 Hz of it, low-band ratio).

    The fraction is measured against 1-30 Hz; flutter/fibrillation puts most
    power in one peak between 2 and 9 Hz, sinus rhythm spreads it over many
    harmonics of a narrow QRS.  Low-band ratio = power 1-7 Hz / 1-30 Hz.

    >>> t = np.arange(0, 8, 1 / 250.0)
    >>> f0, conc, low = spectral_organisation(np.sin(2 * np.pi * 5 * t), 250.0)
    >>> round(f0, 1), conc > 0.9, low > 0.9
    (5.0, True, True)
    """
    if x.size < int(2 * fs_hz):
        return 0.0, 0.0, 0.0
    xc = x - np.mean(x)
    spec = np.abs(np.fft.rfft(xc * hann(xc.size))) ** 2
    f = np.fft.rfftfreq(xc.size, 1.0 / fs_hz)
    band = (f >= 1.0) & (f <= 30.0)
    total = float(np.sum(spec[band])) + 1e-12
    search = (f >= 1.0) & (f <= 10.0)
    i0 = int(np.flatnonzero(search)[np.argmax(spec[search])])
    f0 = float(f[i0])
    conc = float(np.sum(spec[band & (f >= f0 - 0.6) & (f <= f0 + 0.6)]) / total)
    low = float(np.sum(spec[(f >= 1.0) & (f <= 7.0)]) / total)
    return f0, conc, low


def pulse_amplitudes(x: FloatArray, onsets: IntArray, fs_hz: float) -> FloatArray:
    """Upstroke-to-peak rise of each pulse (signal units) within 300 ms of onset.

    >>> t = np.arange(0, 4, 1 / 125.0)
    >>> abp = 80 + 20 * np.clip(np.sin(2 * np.pi * t), 0, None)
    >>> pulse_amplitudes(abp, np.array([0, 125]), 125.0).round(0).tolist()
    [20.0, 20.0]
    """
    if onsets.size == 0:
        return np.zeros(0)
    n = int(0.35 * fs_hz)
    b = int(0.1 * fs_hz)
    m = _beat_matrix(x, onsets, b, n)
    return np.asarray(np.max(m, axis=1) - np.min(m[:, : 2 * b + 1], axis=1))


#: band in which a narrow (supraventricular) QRS still has energy and a wide
#: ventricular beat, motion or baseline artifact has little
NARROW_QRS_BAND_HZ = (15.0, 40.0)
#: normalised correlation with the patient's own high-band QRS template needed for a match
NARROW_MATCH_CORR = 0.9
#: accepted amplitude of a match relative to the template (a rescaled copy is still the beat)
NARROW_MATCH_GAIN = (0.6, 1.6)


def narrow_beat_matches(
    ecg_mv: FloatArray, ref_peaks: IntArray, fs_hz: float, from_sample: int
) -> IntArray:
    """Sample indices after ``from_sample`` where the patient's own narrow QRS recurs.

    A second, detector-free look for normal beats: a matched filter with the
    15-40 Hz template of the context beats, slid over the signal.  Slow artifacts
    (motion, rubbing) and wide ventricular beats barely show in that band, so a
    normal rhythm hidden under an artifact still matches, while during a true
    VT/VF run the patient's usual QRS is gone.  Empty if there is no template.

    >>> fs = 250.0
    >>> beat = np.r_[np.zeros(115), np.hanning(20), np.zeros(115)]  # narrow QRS every 1 s
    >>> x = np.tile(beat, 12)
    >>> m = narrow_beat_matches(x, np.arange(125, 1500, 250), fs, 1500)
    >>> (m - 125) % 250  # every later beat found, at the R peak
    array([0, 0, 0, 0, 0, 0])
    """
    half = int(0.06 * fs_hz)
    ref = ref_peaks[(ref_peaks >= half) & (ref_peaks < ecg_mv.size - half)]
    if ref.size < 4 or ecg_mv.size - from_sample < 2 * half + 1:
        return np.zeros(0, dtype=np.int64)
    h = bandpass(ecg_mv, fs_hz, *NARROW_QRS_BAND_HZ, order=2)
    tmpl = np.median(_beat_matrix(h, ref, half, half), axis=0)
    tmpl = tmpl - tmpl.mean()
    energy = float(np.sum(tmpl * tmpl))
    if energy <= 1e-12:
        return np.zeros(0, dtype=np.int64)
    n = tmpl.size
    a0 = max(from_sample - half, 0)
    seg = h[a0:]
    num = np.correlate(seg, tmpl, mode="valid")
    cs = np.cumsum(np.r_[0.0, seg])
    cs2 = np.cumsum(np.r_[0.0, seg * seg])
    s1, s2 = cs[n:] - cs[:-n], cs2[n:] - cs2[:-n]
    ncc = num / (np.sqrt(np.maximum(s2 - s1 * s1 / n, 1e-12)) * np.sqrt(energy))
    gain = num / energy
    pk, _ = sps.find_peaks(ncc, height=NARROW_MATCH_CORR, distance=max(int(0.2 * fs_hz), 1))
    ok = (gain[pk] >= NARROW_MATCH_GAIN[0]) & (gain[pk] <= NARROW_MATCH_GAIN[1])
    centres = pk[ok] + a0 + half
    return np.asarray(centres[centres >= from_sample], dtype=np.int64)
