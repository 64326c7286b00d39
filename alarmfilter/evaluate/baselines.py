"""Baselines the filter is measured against, run through the same engine.

- forward-all: the evidence-free policy (what the ward hears today).
- monitor delay: many bedside monitors can delay annunciation and drop an alarm whose
  condition has cleared by the end of the delay. Görges et al. found that most ignored or
  ineffective ICU alarms are short (median 17 s) and that a 14-19 s delay would remove half
  to two thirds of them. We emulate it: the monitor re-checks its own ECG criterion on its
  primary lead (the first ECG channel in the header) over the `delay_seconds` after the alarm
  and suppresses the alarm if the condition is gone. ECG only, rate criteria only (no QRS
  morphology), as a simple monitor would; the delay is an engine hold, so at most 10 s.
  Records that end at the alarm give the monitor nothing to re-check: it keeps the alarm.

References
----------
Görges M., Markewitz B.A., Westenskow D.R. Improving alarm performance in the medical
intensive care unit using delays and clinical context. Anesth Analg 2009;108(5):1546-1552.
Clifford G.D. et al. The PhysioNet/Computing in Cardiology Challenge 2015: reducing false
arrhythmia alarms in the ICU. Computing in Cardiology 2015;42:273-276 (alarm criteria).
"""

from __future__ import annotations

import numpy as np

from ..engine.buffers import VitalsLog, Window
from ..engine.scoring import Assessment, Verdict
from ..events.types import AlarmType, Decision, ReasonCode
from ..signals.beats import max_gap_seconds, qrs_detect
from ..signals.preprocess import channel_kind, fill_missing, to_millivolts

MONITOR_VERSION = "monitor-delay"
#: the challenge's asystole criterion: no QRS for at least this long
ASYSTOLE_PAUSE_SECONDS = 4.0


def mean_rate_bpm(peaks: np.ndarray, fs_hz: float) -> float:
    """Average rate over the detected beats; fewer than two beats reads as 0 bpm.

    >>> mean_rate_bpm(np.array([0, 250, 500]), 250.0), mean_rate_bpm(np.array([7]), 250.0)
    (60.0, 0.0)
    """
    if peaks.size < 2:
        return 0.0
    return float(60.0 * (peaks.size - 1) * fs_hz / (peaks[-1] - peaks[0]))


def condition_persists(alarm_type: AlarmType, peaks: np.ndarray, n_samples: int, fs_hz: float) -> tuple[bool, str]:
    """Does the monitor's criterion still hold over the samples after the alarm? And what it saw.

    >>> condition_persists(AlarmType.EXTREME_TACHYCARDIA, np.arange(0, 2500, 250), 2500, 250.0)
    (False, '60 bpm after the alarm, not above 140 bpm')
    """
    seconds = n_samples / fs_hz
    rate = mean_rate_bpm(peaks, fs_hz)
    if alarm_type is AlarmType.ASYSTOLE:
        pause = max_gap_seconds(peaks, 0, n_samples, fs_hz)
        need = min(ASYSTOLE_PAUSE_SECONDS, seconds)
        return pause >= need, f"longest pause {pause:.1f} s in the {seconds:.0f} s after the alarm"
    if alarm_type is AlarmType.EXTREME_BRADYCARDIA:
        return rate < 40.0, f"{rate:.0f} bpm after the alarm, {'still' if rate < 40 else 'not'} below 40 bpm"
    if alarm_type is AlarmType.EXTREME_TACHYCARDIA:
        return rate > 140.0, f"{rate:.0f} bpm after the alarm, {'still' if rate > 140 else 'not'} above 140 bpm"
    if alarm_type is AlarmType.VENTRICULAR_TACHYCARDIA:
        return rate > 100.0, f"{rate:.0f} bpm after the alarm, {'still' if rate > 100 else 'not'} above 100 bpm"
    if alarm_type is AlarmType.VENTRICULAR_FLUTTER_FIB:
        organised = peaks.size >= 3 and rate <= 150.0
        return not organised, f"{'organised' if organised else 'no organised'} QRS after the alarm ({rate:.0f} bpm)"
    return True, "no rule for this alarm type: kept"


class MonitorDelayScorer:
    """Scores 1 if the alarm condition persists over the delay after the alarm, else 0."""

    def __init__(self, delay_seconds: float) -> None:
        self.delay_seconds = delay_seconds

    @property
    def model_version(self) -> str:
        return f"{MONITOR_VERSION}-{self.delay_seconds:g}s"

    @property
    def window_seconds(self) -> float:
        return self.delay_seconds + 2.0

    def assess(self, alarm_type: AlarmType, window: Window, vitals: VitalsLog, alarm_ts: float) -> Assessment:
        fs = window.fs_hz
        lead = next((k for k in window.signals if channel_kind(k) == "ecg"), None)
        after = window.signals[lead][window.alarm_index :] if lead else np.zeros(0)
        if lead is None or after.size < 0.9 * self.delay_seconds * fs or np.isnan(after).all():
            finding = "no ECG after the alarm to re-check: the monitor keeps the alarm"
            return Assessment(1.0, {}, {"monitor": finding}, self.model_version)
        x, _ = fill_missing(after)
        x = to_millivolts(x, window.units.get(lead, "mV"))
        peaks = qrs_detect(x, fs) if x.size >= fs else np.zeros(0, dtype=np.int64)
        persists, seen = condition_persists(alarm_type, peaks, x.size, fs)
        return Assessment(1.0 if persists else 0.0, {"monitor_persists": float(persists)},
                          {"monitor": f"lead {lead}: {seen}"}, self.model_version)

    def learn(self, alarm_type: AlarmType, features: dict[str, float], actionable: bool) -> None:
        return None


class MonitorDelayPolicy:
    """Keep the alarm if its condition persisted through the delay."""

    def __init__(self, delay_seconds: float) -> None:
        self.delay_seconds = delay_seconds

    def decide(self, alarm_type: AlarmType, assessment: Assessment | None) -> Verdict:
        if assessment is None or assessment.p_true >= 0.5:
            reasons = list(assessment.findings.values()) if assessment else ["no evidence: kept"]
            return Verdict(Decision.FORWARD, ReasonCode.EVIDENCE_SUPPORTS, reasons)
        return Verdict(Decision.SUPPRESS, ReasonCode.EVIDENCE_AGAINST,
                       [f"condition cleared within the {self.delay_seconds:g} s delay", *assessment.findings.values()])
