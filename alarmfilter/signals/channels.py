"""Per-channel analysis: clean the window, detect beats, grade quality, once per channel.

Every alarm type reads the same per-channel summary, so beats and quality are
computed once per alarm and shared by all the type-specific evidence.

References
----------
Li Q., Mark R.G., Clifford G.D. Robust heart rate estimation from multiple
asynchronous noisy sources using signal quality indices and a Kalman filter.
Physiol. Meas. 2008;29:15-32 (bSQI: agreement of two beat detectors).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alarmfilter.signals.beats import match_fraction, pulse_detect, qrs_detect
from alarmfilter.signals.preprocess import channel_kind, fill_missing, median, to_millivolts
from alarmfilter.signals.sqi import ChannelQuality, channel_quality

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Channel:
    """One channel of one alarm window, analysed.

    ``start`` is the first sample of the analysis window (the part just before the
    alarm where the event must be); samples before it are patient context.
    """

    name: str
    kind: str  # ecg | abp | ppg
    x: FloatArray  # NaN-filled, ECG in mV
    missing: BoolArray
    peaks: IntArray  # all beats in the buffer
    start: int
    quality: ChannelQuality
    fs_hz: float

    @property
    def usable(self) -> bool:
        return self.quality.usable

    @property
    def beats(self) -> IntArray:
        """Beats inside the analysis window, minus those falling on missing samples."""
        p = self.peaks[self.peaks >= self.start]
        return p[~self.missing[p]] if p.size else p

    @property
    def context_beats(self) -> IntArray:
        return self.peaks[self.peaks < self.start]

    @property
    def label(self) -> str:
        return self.name


def analyse_channels(
    signals: dict[str, FloatArray], units: dict[str, str], fs_hz: float, start: int
) -> list[Channel]:
    """Beats + quality for every ECG and pulsatile channel (RESP and unknowns skipped)."""
    out: list[Channel] = []
    for name, raw in signals.items():
        kind = channel_kind(name, units.get(name, ""))
        if kind == "other" or raw.size == 0:
            continue
        x, missing = fill_missing(np.asarray(raw, dtype=np.float64))
        if kind == "ecg":
            x = to_millivolts(x, units.get(name, "mV"))
            peaks = qrs_detect(x, fs_hz)
        else:
            peaks = pulse_detect(x, fs_hz, is_abp=(kind == "abp"))
        q = channel_quality(x[start:], missing[start:], fs_hz, kind)
        out.append(Channel(name, kind, x, missing, peaks, start, q, fs_hz))
    return out


def pulse_transit_samples(ecg: Channel, pulse: Channel) -> int:
    """Typical ECG-to-pulse-onset delay (samples), from the median nearest-following lag.

    Needed to compare an ECG beat with the pulse it caused.
    """
    e, p = ecg.peaks, pulse.peaks
    if e.size < 3 or p.size < 3:
        return int(0.2 * ecg.fs_hz)
    pos = np.searchsorted(p, e)
    ok = pos < p.size
    lags = p[pos[ok]] - e[ok]
    lags = lags[lags < int(0.6 * ecg.fs_hz)]
    return int(median(lags)) if lags.size else int(0.2 * ecg.fs_hz)


def agreement(ch: Channel, others: list[Channel], since: int | None = None) -> float:
    """Best fraction of this channel's window beats (or its beats from sample ``since``) confirmed by
    another usable channel (bSQI-like); 0 when there is none."""

    def beats(c: Channel) -> IntArray:
        return c.beats if since is None else c.peaks[c.peaks >= since]

    best = 0.0
    tol = int(0.15 * ch.fs_hz)
    for o in others:
        if o is ch or not o.usable:
            continue
        if ch.kind == "ecg" and o.kind == "ecg":
            lag = 0
        elif ch.kind == "ecg":
            lag = pulse_transit_samples(ch, o)
        elif o.kind == "ecg":
            lag = -pulse_transit_samples(o, ch)
        else:
            lag = 0
        best = max(best, match_fraction(beats(ch), beats(o), tol=tol, lag=lag))
    return best



def context_rate_agreement(pulse: Channel, ecg: list[Channel]) -> float:
    """Relative difference between pulse rate and ECG rate before the alarm window (best lead).

    A pulse channel whose rate matched the ECG's before the alarm is a
    trustworthy witness of circulation during it; one that did not (probe off,
    artifact, double-counted pulses) is not.  Rates, not beat-by-beat matching,
    because pulse transit time varies by patient and site.  0.0 when there is
    no ECG rate to compare with (nothing contradicts the pulse).
    """
    pb = pulse.context_beats
    if pb.size < 4:
        return 1.0
    rr_p = median(np.diff(pb))
    diffs = [
        abs(median(np.diff(e.context_beats)) - rr_p) / rr_p
        for e in ecg
        if e.context_beats.size >= 4
    ]
    return min(diffs) if diffs else 0.0
