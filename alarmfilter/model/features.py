"""Which evidence features each alarm type's model looks at.

Few, physiologically motivated features per type: the dev set has 9 true
asystoles and 2 true VF alarms, so anything more would learn the records, not
the physiology.  Unknown types have no model and are forwarded (fail-open).
"""

from __future__ import annotations

from collections.abc import Mapping

NOT_AVAILABLE = -999.0  # same sentinel as alarmfilter.signals.evidence.NOT_AVAILABLE

#: per type: (feature, low clip, high clip).  Clipping encodes physiology: a
#: 6-s pause is already asystole, a rate below 20 or above 250 bpm is already
#: extreme; beyond that, larger numbers carry no more evidence, only leverage.
MODEL_SPEC: dict[str, tuple[tuple[str, float, float], ...]] = {
    # longest beat-free pause on the trustworthy channels
    "asystole": (("asy_ecg_gap_min_s", 0.0, 6.0), ("asy_pulse_gap_min_s", 0.0, 6.0)),
    # slowest 5-beat rate across channels
    "extreme_bradycardia": (("brady_hr5_median_bpm", 20.0, 100.0), ("brady_hr5_least_bpm", 20.0, 120.0)),
    # fastest 17-beat rate; the least tachycardic channel contradicts the alarm
    "extreme_tachycardia": (("tachy_hr17_median_bpm", 60.0, 250.0), ("tachy_hr17_least_bpm", 40.0, 250.0)),
    # run of fast abnormal beats on every lead, spectral shift, pulse collapse
    "ventricular_tachycardia": (
        ("vt_chain_max_beats", 0.0, 12.0),
        ("vt_chain_min_beats", 0.0, 12.0),
        ("vt_run_min_beats", 0.0, 12.0),
        ("vt_lowband_max", 0.4, 1.0),
    ),
    # organised single-peak spectrum, no regular beats left
    "ventricular_flutter_fib": (
        ("vf_conc_max", 0.0, 1.0),
        ("vf_lowband_max", 0.0, 1.0),
        ("vf_ecg_regularity_max", -1.0, 1.0),
    ),
}
MODEL_FEATURES: dict[str, tuple[str, ...]] = {t: tuple(k for k, _, _ in v) for t, v in MODEL_SPEC.items()}


def select_features(features: Mapping[str, float], alarm_type: str) -> dict[str, float]:
    """The model's inputs for this type, clipped; unavailable values are left out (= neutral).

    >>> select_features({"vf_conc_max": 0.5, "vf_lowband_max": -999.0, "x": 1.0}, "ventricular_flutter_fib")
    {'vf_conc_max': 0.5}
    >>> select_features({"asy_ecg_gap_min_s": 14.0}, "asystole")
    {'asy_ecg_gap_min_s': 6.0}
    """
    out: dict[str, float] = {}
    for k, lo, hi in MODEL_SPEC.get(alarm_type, ()):
        v = features.get(k)
        if v is None:
            continue
        v = float(v)
        if v == NOT_AVAILABLE or v != v or v in (float("inf"), float("-inf")):
            continue
        out[k] = min(max(v, lo), hi)
    return out
