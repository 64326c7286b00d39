"""Which evidence features each alarm type's model looks at.

Few, physiologically motivated features per type: the dev set has 9 true
asystoles and 2 true VF alarms, so anything more would learn the records, not
the physiology.  Unknown types have no model and are forwarded (fail-open).
"""

from __future__ import annotations

from collections.abc import Mapping

NOT_AVAILABLE = -999.0  # same sentinel as alarmfilter.signals.evidence.NOT_AVAILABLE

MODEL_FEATURES: dict[str, tuple[str, ...]] = {
    # longest beat-free pause on the trustworthy channels
    "asystole": ("asy_ecg_gap_min_s", "asy_pulse_gap_min_s", "asy_gap_min_s"),
    # slowest 5-beat rate, across channels and on the pulse
    "extreme_bradycardia": ("brady_hr5_median_bpm", "brady_hr5_pulse_bpm", "asy_gap_min_s"),
    # fastest 17-beat rate; the least tachycardic channel contradicts the alarm
    "extreme_tachycardia": ("tachy_hr17_median_bpm", "tachy_hr17_least_bpm"),
    # run of fast abnormal beats on every lead, spectral shift, pulse collapse
    "ventricular_tachycardia": (
        "vt_run_min_beats",
        "vt_run_max_beats",
        "vt_lowband_max",
        "vt_pulse_amp_ratio",
    ),
    # organised single-peak spectrum, no regular beats left
    "ventricular_flutter_fib": ("vf_conc_max", "vf_lowband_max", "vf_ecg_regularity_max"),
}


def select_features(features: Mapping[str, float], alarm_type: str) -> dict[str, float]:
    """The model's inputs for this type; unavailable values are left out (= neutral).

    >>> select_features({"vf_conc_max": 0.5, "vf_lowband_max": -999.0, "x": 1.0}, "ventricular_flutter_fib")
    {'vf_conc_max': 0.5}
    """
    keys = MODEL_FEATURES.get(alarm_type, ())
    out: dict[str, float] = {}
    for k in keys:
        v = features.get(k)
        if v is None:
            continue
        v = float(v)
        if v == NOT_AVAILABLE or v != v or v in (float("inf"), float("-inf")):
            continue
        out[k] = v
    return out
