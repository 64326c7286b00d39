"""Which evidence features each alarm type's model looks at.

Few, physiologically motivated features per type: the dev set has 9 true
asystoles and 2 true VF alarms, so anything more would learn the records, not
the physiology.  Unknown types have no model and are forwarded (fail-open).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from alarmfilter.signals.evidence import NOT_AVAILABLE

#: per type: (feature, low clip, high clip).  Clipping encodes physiology: a
#: 6-s pause is already asystole, a rate below 20 or above 250 bpm is already
#: extreme; beyond that, larger numbers carry no more evidence, only leverage.
MODEL_SPEC: dict[str, tuple[tuple[str, float, float], ...]] = {
    # longest beat-free pause on the trustworthy ECG leads and pulse channels
    # (a lead that froze flat, asy_ecg_flat_frac_max, is reported but not scored:
    # one disconnected lead must never argue a true asystole on another lead away)
    "asystole": (("asy_ecg_gap_min_s", 0.0, 6.0), ("asy_pulse_gap_min_s", 0.0, 6.0)),
    # slowest 5-beat rate, median across every usable channel (one bad channel cannot decide)
    "extreme_bradycardia": (("brady_hr5_median_bpm", 20.0, 100.0),),
    # fastest 17-beat rate, median across channels
    "extreme_tachycardia": (("tachy_hr17_median_bpm", 60.0, 250.0),),
    "ventricular_tachycardia": (
        # no lead shows the patient's usual beat for this long (a VT run has none),
        # by either look: detected beats matching the template, or the 15-40 Hz
        # matched filter that still sees a narrow QRS under a motion artifact.
        # Clipped at 4 s: 5 ventricular beats > 100 bpm plus the coupling on either
        # side fit in ~3-4 s; a longer blank stretch is no more VT, as likely lost signal
        ("vt_usual_gap_min_s", 0.0, 4.0),
        # meanwhile the pulse kept its count and strength (artifact) or not (VT)
        ("vt_pulse_during_disturbance", 0.02, 1.5),
        # a monomorphic VT run beats regularly; motion artifacts give erratic
        # "beats" (below 0.5, i.e. RR spread > half the median, all is chaos)
        ("vt_stretch_regularity_max", 0.5, 1.0),
    ),
    # no usual beat left on any lead, no pulse, ECG power moved to the 1-7 Hz band,
    # and the patient's own narrow QRS gone from the 15-40 Hz band (clip = the
    # whole 10-s VT tail: gone for all of it is the strongest evidence there is)
    "ventricular_flutter_fib": (
        ("vt_normal_gap_min_s", 0.0, 10.0),
        ("pulse_gap_any_min_s", 0.0, 6.0),
        ("vf_lowband_max", 0.0, 1.0),
        ("vt_narrow_gap_min_s", 0.0, 10.0),
    ),
}
#: physiological direction of each feature: +1 = larger value, more likely a true
#: alarm.  The fit is constrained to these signs (monotone in physiology), so a
#: handful of odd records cannot teach that a faster rate argues against tachycardia.
FEATURE_SIGNS: dict[str, int] = {
    "asy_ecg_gap_min_s": 1,
    "asy_pulse_gap_min_s": 1,
    "brady_hr5_median_bpm": -1,
    "tachy_hr17_median_bpm": 1,
    "vt_normal_gap_min_s": 1,
    "vt_usual_gap_min_s": 1,
    "vt_pulse_during_disturbance": 1,
    "vt_stretch_regularity_max": 1,
    "pulse_gap_any_min_s": 1,
    "vf_lowband_max": 1,
    "vt_narrow_gap_min_s": 1,
}
#: features entered as log(clipped value): ratios and disturbances, where 0.03
#: versus 0.2 (an untouched versus a slightly changed pulse) is the big step
LOG_FEATURES = frozenset({"vt_pulse_during_disturbance", "vt_pulse_disturbance_min"})
MODEL_FEATURES: dict[str, tuple[str, ...]] = {t: tuple(k for k, _, _ in v) for t, v in MODEL_SPEC.items()}


#: one model input: (feature key, low clip, high clip, enter as log, sign)
InputSpec = tuple[str, float, float, bool, int]


def input_spec(alarm_type: str) -> tuple[InputSpec, ...]:
    """The full input recipe for a type, as stored in model snapshots.

    >>> input_spec("extreme_bradycardia")
    (('brady_hr5_median_bpm', 20.0, 100.0, False, -1),)
    """
    return tuple(
        (k, float(lo), float(hi), k in LOG_FEATURES, FEATURE_SIGNS.get(k, 0))
        for k, lo, hi in MODEL_SPEC.get(alarm_type, ())
    )


def select_features(
    features: Mapping[str, float], alarm_type: str, spec: tuple[InputSpec, ...] | None = None
) -> dict[str, float]:
    """The model's inputs for this type, clipped; unavailable values are left out (= neutral).

    ``spec`` (from a snapshot) overrides the current code's recipe, so a stored
    model keeps reading its inputs the way it was trained.

    >>> select_features({"vf_lowband_max": 0.5, "vt_normal_gap_min_s": -999.0, "x": 1.0}, "ventricular_flutter_fib")
    {'vf_lowband_max': 0.5}
    >>> select_features({"asy_ecg_gap_min_s": 14.0}, "asystole")
    {'asy_ecg_gap_min_s': 6.0}
    """
    out: dict[str, float] = {}
    for k, lo, hi, use_log, _ in spec if spec is not None else input_spec(alarm_type):
        v = features.get(k)
        if v is None:
            continue
        v = float(v)
        if v == NOT_AVAILABLE or not math.isfinite(v):
            continue
        v = min(max(v, lo), hi)
        out[k] = math.log(v) if use_log else v
    return out
