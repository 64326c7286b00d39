"""Synthetic physiology: rhythms the alarms are about look like them in every channel."""

from __future__ import annotations

import numpy as np
import pytest

from alarmfilter.sim.physiology import Rhythm, synthesize

FS = 250.0


def _make(rhythm: Rhythm | None, hr: float = 75.0, seconds: int = 20) -> dict[str, np.ndarray]:
    n = int(seconds * FS)
    segs = [(int(8 * FS), n, rhythm)] if rhythm else []
    return synthesize(np.full(n, hr), segs, FS, np.full(n, 120.0), np.full(n, 70.0), 16.0,
                      np.random.default_rng(0))


def _beats(x: np.ndarray) -> int:
    from scipy.signal import find_peaks

    peaks, _ = find_peaks(x, height=0.5, distance=int(0.25 * FS))
    return len(peaks)


def test_sinus_rhythm_has_the_heart_rate_in_ecg_and_pulses() -> None:
    sig = _make(None, hr=90.0)
    assert _beats(sig["II"]) == pytest.approx(30, abs=1)
    assert _beats(sig["PLETH"]) == pytest.approx(30, abs=1)
    assert 60 < sig["ABP"].min() and sig["ABP"].max() < 130


@pytest.mark.parametrize("rhythm", [Rhythm.ASYSTOLE, Rhythm.VF])
def test_asystole_and_vf_stop_the_pulse(rhythm: Rhythm) -> None:
    sig = _make(rhythm)
    tail = slice(int(10 * FS), None)  # 2 s after onset: the last pulse has passed
    assert np.std(sig["PLETH"][tail]) < 0.02
    assert np.ptp(sig["ABP"][tail]) < 5
    ecg = sig["II"][tail]
    if rhythm is Rhythm.ASYSTOLE:
        assert np.ptp(ecg) < 0.4
    else:
        f = np.fft.rfftfreq(len(ecg), 1 / FS)
        p = np.abs(np.fft.rfft(ecg - ecg.mean()))
        assert 3.5 < f[np.argmax(p)] < 7.5  # coarse fibrillation


def test_vt_is_fast_wide_and_poorly_perfused() -> None:
    sig = _make(Rhythm.VT, hr=180.0)
    normal = _make(None, hr=180.0)
    tail = slice(int(10 * FS), None)
    assert np.ptp(sig["ABP"][tail]) < 0.5 * np.ptp(normal["ABP"][tail])
    assert _beats(sig["II"][tail]) == pytest.approx(30, abs=2)
