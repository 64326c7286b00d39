"""Synthetic ECG / ABP / PPG built with numpy, with known beat times."""

from __future__ import annotations

import numpy as np

FS = 250.0


def beat_times(seconds: float, bpm: float, start: float = 0.3) -> np.ndarray:
    return np.arange(start, seconds - 0.3, 60.0 / bpm)


def ecg(seconds: float, beats_s: np.ndarray, fs: float = FS, amp_mv: float = 1.2, qrs_ms: float = 90.0,
        noise_mv: float = 0.02, seed: int = 0) -> np.ndarray:
    """Gaussian QRS (width ~qrs_ms) + small T wave + baseline wander + white noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    x = 0.1 * np.sin(2 * np.pi * 0.25 * t) + noise_mv * rng.standard_normal(t.size)
    sd = qrs_ms / 1000.0 / 5.0
    for b in beats_s:
        x += amp_mv * np.exp(-0.5 * ((t - b) / sd) ** 2)
        x += 0.25 * amp_mv * np.exp(-0.5 * ((t - b - 0.25) / 0.04) ** 2)
    return x


def pulse(seconds: float, beats_s: np.ndarray, fs: float = FS, base: float = 80.0, amp: float = 40.0,
          delay_s: float = 0.2, seed: int = 5) -> np.ndarray:
    """ABP-like: fast upstroke, exponential run-off, starting ``delay_s`` after each beat."""
    t = np.arange(int(seconds * fs)) / fs
    x = base + 0.002 * amp * np.random.default_rng(seed).standard_normal(t.size)
    for b in beats_s:
        u = t - (b + delay_s)
        m = u >= 0
        x[m] += amp * (1 - np.exp(-u[m] / 0.04)) * np.exp(-u[m] / 0.35)
    return x
