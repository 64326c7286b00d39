"""QRS and pulse detection on synthetic signals with known beats, and on real records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alarmfilter.signals.beats import (
    hr_over_beats,
    match_fraction,
    max_gap_seconds,
    pulse_detect,
    qrs_detect,
    regularity,
)
from tests.signals.synth import FS, beat_times, ecg, pulse

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "challenge2015-dev"


def _f1(found: np.ndarray, truth_s: np.ndarray, tol_s: float = 0.08, lag_s: float = 0.0) -> float:
    truth = (truth_s + lag_s) * FS
    tp = match_fraction(truth.astype(np.int64), found, tol=int(tol_s * FS))
    prec = match_fraction(found, truth.astype(np.int64), tol=int(tol_s * FS))
    return 2 * tp * prec / max(tp + prec, 1e-9)


@pytest.mark.parametrize("bpm", [35.0, 60.0, 100.0, 180.0, 230.0])
def test_qrs_detect_finds_every_beat_at_any_rate(bpm: float) -> None:
    b = beat_times(20.0, bpm)
    found = qrs_detect(ecg(20.0, b), FS)
    assert _f1(found, b) > 0.97


def test_qrs_detect_handles_amplitude_changes_and_noise() -> None:
    b = beat_times(20.0, 80.0)
    x = ecg(20.0, b, noise_mv=0.05)
    x[: x.size // 2] *= 0.3  # low-amplitude first half
    assert _f1(qrs_detect(x, FS), b) > 0.95


def test_qrs_detect_does_not_invent_beats_in_a_pause() -> None:
    b = np.r_[beat_times(10.0, 75.0), beat_times(6.0, 75.0) + 16.0]  # 6 s with no beat at 10-16 s
    found = qrs_detect(ecg(22.0, b, noise_mv=0.03), FS) / FS
    assert not np.any((found > 10.3) & (found < 15.9))
    assert max_gap_seconds((found * FS).astype(np.int64), int(8 * FS), int(20 * FS), FS) > 5.0


def test_qrs_detect_on_flat_line_finds_nothing() -> None:
    assert qrs_detect(np.zeros(int(10 * FS)), FS).size == 0


def test_pulse_detect_abp_and_ppg() -> None:
    b = beat_times(20.0, 90.0)
    abp = pulse(20.0, b)
    ppg = pulse(20.0, b, base=0.0, amp=1.5, delay_s=0.3)
    assert _f1(pulse_detect(abp, FS, is_abp=True), b, tol_s=0.15, lag_s=0.2) > 0.95
    assert _f1(pulse_detect(ppg, FS, is_abp=False), b, tol_s=0.15, lag_s=0.3) > 0.95


def test_pulse_detect_ignores_flat_abp() -> None:
    rng = np.random.default_rng(1)
    flat = 40.0 + 0.3 * rng.standard_normal(int(12 * FS))  # no pulse pressure
    assert pulse_detect(flat, FS, is_abp=True).size == 0


def test_rate_helpers() -> None:
    p = (beat_times(30.0, 150.0) * FS).astype(np.int64)
    hr = hr_over_beats(p, FS, 17)
    assert np.allclose(hr, 150.0, atol=1.0)
    assert regularity(p, FS) > 0.95


@pytest.mark.skipif(not DATA.exists(), reason="real data ../shared/data/challenge2015-dev absent")
def test_real_records_ecg_and_pulse_rates_agree() -> None:
    """On clean real records the ECG and pulse detectors must count the same rhythm."""
    from alarmfilter.datasets.challenge import load_record
    from alarmfilter.signals.preprocess import fill_missing

    for name in ("a301l", "a311l", "t434s"):
        signals, _, fs, _, _ = load_record(DATA / name)
        seg = {k: fill_missing(v[-int(16 * fs):])[0] for k, v in signals.items()}
        e = qrs_detect(seg["II"], fs)
        pul = "ABP" if "ABP" in seg else "PLETH"
        p = pulse_detect(seg[pul], fs, is_abp=pul == "ABP")
        hr_e = 60 * fs / np.median(np.diff(e))
        hr_p = 60 * fs / np.median(np.diff(p))
        assert abs(hr_e - hr_p) < 5.0, (name, hr_e, hr_p)
