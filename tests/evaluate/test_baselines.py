"""The monitor-delay baseline's persistence rules (ECG criteria of the 2015 challenge)."""

from __future__ import annotations

import numpy as np
import pytest

from alarmfilter.evaluate.baselines import condition_persists
from alarmfilter.events.types import AlarmType

FS = 250.0
N = int(10 * FS)  # a 10-s delay


def beats(bpm: float) -> np.ndarray:
    return np.arange(0, N, int(FS * 60 / bpm))


@pytest.mark.parametrize("alarm_type, peaks, persists", [
    (AlarmType.ASYSTOLE, np.zeros(0, dtype=np.int64), True),
    (AlarmType.ASYSTOLE, np.array([100, 2300]), True),  # an 8.8-s pause
    (AlarmType.ASYSTOLE, beats(60), False),
    (AlarmType.EXTREME_BRADYCARDIA, beats(30), True),
    (AlarmType.EXTREME_BRADYCARDIA, beats(70), False),
    (AlarmType.EXTREME_TACHYCARDIA, beats(170), True),
    (AlarmType.EXTREME_TACHYCARDIA, beats(120), False),
    (AlarmType.VENTRICULAR_TACHYCARDIA, beats(150), True),
    (AlarmType.VENTRICULAR_TACHYCARDIA, beats(80), False),
    (AlarmType.VENTRICULAR_FLUTTER_FIB, np.array([10, 900]), True),  # no organised QRS
    (AlarmType.VENTRICULAR_FLUTTER_FIB, beats(80), False),
])
def test_condition_persists(alarm_type: AlarmType, peaks: np.ndarray, persists: bool) -> None:
    got, finding = condition_persists(alarm_type, peaks, N, FS)
    assert got is persists and finding
