"""The lethal-alarm safety floor: an asystole, VT or VF alarm is suppressed only on affirmative evidence.

The learned score decides among the alarms the floor lets through; it can never let
through one the floor holds.  The floor reads a handful of physiological measurements
over the event window (``signals.evidence._floor``; the Challenge puts the onset within
10 s of the alarm) and nothing fitted: its constants follow from the alarm definitions,
not from any data set.  Missing, noisy or contradictory evidence forwards.

- Evidence against the alarm ("vouching"): a usable ECG lead whose beats recur through
  the window more often than the alarmed rhythm allows, or a pulse that kept pulsing: for
  asystole and VF a trusted pulse (its rate matched the ECG's before the window) that kept
  its rate, strength and rhythm; for VT any usable pulse whose every beat came on time and
  strong.  So regular a train is the circulation's own, and the ECG's earlier rate is no test
  of it when the ECG is the channel in doubt (a noisy or double-counted ECG raises most false
  VT alarms).
- Evidence for it ("the ECG shows it"): every usable lead without a QRS for the alarm's
  criterion, or a run of fast wide alike beats.  A pulse cannot outvote it: the two
  disagree, and disagreement forwards.

References
----------
Clifford G.D. et al. The PhysioNet/Computing in Cardiology Challenge 2015: reducing
false arrhythmia alarms in the ICU. Computing in Cardiology 2015;42:273-276 (alarm
definitions: asystole, no QRS for >= 4 s; VT, >= 5 ventricular beats > 100 bpm; VF,
fibrillatory waveform for >= 4 s).
Plesinger F. et al. Taming of the monitors: reducing false alarms in intensive care
units. Physiol. Meas. 2016;37:1313-1325 (rules before learning; pulse channels as witness).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from alarmfilter.signals.evidence import ASYSTOLE_PAUSE_SECONDS, NOT_AVAILABLE, VT_RUN_BEATS

#: alarm types under the floor
FLOOR_TYPES = ("asystole", "ventricular_tachycardia", "ventricular_flutter_fib")

#: longest break (s) in the beats of a usable lead that still vouches against the alarm.
#: Asystole needs 4 s without any QRS; VF 4 s without the usual QRS; a run of >= 5
#: ventricular beats even at 250 bpm displaces the usual QRS for >= 6 x 0.24 s = 1.44 s.
ECG_VOUCH_GAP_S: dict[str, float] = {
    "asystole": 2.5,
    "ventricular_flutter_fib": 2.5,
    "ventricular_tachycardia": 1.4,
}
#: which beats count: any QRS disproves asystole; only the patient's usual QRS disproves VT/VF
ECG_VOUCH_FEATURE: dict[str, str] = {
    "asystole": "floor_ecg_qrs_gap_s",
    "ventricular_flutter_fib": "floor_ecg_usual_gap_s",
    "ventricular_tachycardia": "floor_ecg_usual_gap_s",
}
#: The 15-40 Hz matched filter finds the usual QRS under a slow artifact, but a wide ventricular beat
#: can ring like it in that band.  With a usable pulse the learned score has a second witness to judge
#: a VT by; with none, a lead vouches against a VT only with beats the detector found and the template
#: confirmed: the two looks at the ECG must agree before the ECG alone lets a VT alarm go.
ECG_VOUCH_FEATURE_WITHOUT_PULSE: dict[str, str] = {"ventricular_tachycardia": "floor_ecg_template_gap_s"}
#: largest pulse disturbance (max |log change| of rate, amplitude, pause) that still vouches
#: against asystole and VF: they stop the pulse (a 4-s pause is ~5 usual beats, log 5 = 1.6),
#: so a pulse within a factor 1.65 (log = 0.5) of its earlier self disproves them.
PULSE_VOUCH_DISTURBANCE: dict[str, float] = {
    "asystole": 0.5,
    "ventricular_flutter_fib": 0.5,
}
#: A VT may perfuse, so the pulse is read beat by beat: a run of >= 5 beats > 100 bpm either
#: brings pulses sooner than 0.6 s apart (it perfuses) or drops or weakens them (it does not).
#: A usable pulse disproves a VT only when every pulse through the window came on time and
#: strong: (feature, bound, the value must be at least the bound).
VT_PULSE_ON_TIME: tuple[tuple[str, float, bool], ...] = (
    ("floor_pulse_shortest_s", 0.6, True),  # none faster than 100 bpm, the VT criterion
    ("floor_pulse_early_ratio", 0.85, True),  # none premature (an ectopic beat)
    ("floor_pulse_late_ratio", 1.2, False),  # none dropped
    ("floor_pulse_weakest_ratio", 0.5, True),  # none at less than half its usual strength
)
#: the alarm's own criterion on the ECG: no QRS (asystole) / no usual QRS (VF) for 4 s on every
#: usable lead, an organised 3-9 Hz oscillation carrying half the ECG's power (VF), a run of
#: >= 5 fast wide alike beats (VT)
ECG_CLAIMS: dict[str, tuple[tuple[str, float], ...]] = {
    "asystole": (("floor_ecg_qrs_gap_all_s", ASYSTOLE_PAUSE_SECONDS),),
    "ventricular_flutter_fib": (("floor_ecg_fibrillation_conc", 0.5), ("floor_ecg_usual_gap_s", 4.0)),
    "ventricular_tachycardia": (("floor_ecg_chain_beats", float(VT_RUN_BEATS)),),
}
#: where one lead's sign of the arrhythmia outweighs another lead's QRS.  A fibrillating lead
#: is not cancelled by a lead that looks normal; a run of "wide beats" on one lead while
#: another keeps the patient's usual QRS every < 1.4 s is an artifact (a VT replaces the
#: QRS on every lead at once), so for VT the vouching lead is read first.
CLAIM_FIRST = frozenset({"asystole", "ventricular_flutter_fib"})
#: extreme tachycardia (> 140 bpm over 17 beats) may be suppressed only when not one usable
#: channel reached even this rate over any 17 beats: nothing supports the alarm at all
TACHY_CONTRADICTED_BPM = 100.0


@dataclass(frozen=True, slots=True)
class FloorCheck:
    """Whether the floor lets the learned score suppress this alarm, and why, in plain words."""

    may_suppress: bool
    reason: str
    #: the evidence itself refutes the alarm (suppress whatever an uninformed model says)
    refuted: bool = False


def _value(features: Mapping[str, float], key: str) -> float | None:
    v = features.get(key)
    return None if v is None or v == NOT_AVAILABLE else float(v)


def check_floor(alarm_type: str, features: Mapping[str, float],
                findings: Mapping[str, str] | None = None) -> FloorCheck:
    """Decide whether a lethal alarm may be suppressed at all; other types always may.

    >>> check_floor("asystole", {"floor_ecg_qrs_gap_s": 0.9}, {"floor_ecg_qrs_gap_s": "lead II ..."})
    FloorCheck(may_suppress=True, reason='lead II ...', refuted=False)
    >>> check_floor("asystole", {"floor_ecg_qrs_gap_all_s": 6.0, "floor_pulse_disturbance": 0.1}).may_suppress
    False
    >>> check_floor("ventricular_flutter_fib", {}).reason
    'no trustworthy channel shows the rhythm absent (safety floor): forwarded'
    >>> check_floor("extreme_bradycardia", {}).may_suppress
    True
    >>> vt = {"floor_ecg_usual_gap_s": 1.0, "floor_ecg_template_gap_s": 3.0}  # matched filter only
    >>> check_floor("ventricular_tachycardia", vt | {"n_pulse_usable": 1.0}).may_suppress
    True
    >>> check_floor("ventricular_tachycardia", vt | {"n_pulse_usable": 0.0}).may_suppress  # no second witness
    False
    """
    findings = findings or {}
    if alarm_type == "extreme_tachycardia":
        most = _value(features, "tachy_hr17_most_bpm")
        if most is not None and most < TACHY_CONTRADICTED_BPM:
            return FloorCheck(True, f"no usable channel reached {TACHY_CONTRADICTED_BPM:.0f} bpm over any 17 beats "
                                    f"(fastest {most:.0f} bpm)", refuted=True)
        return FloorCheck(False, (f"fastest 17-beat rate {most:.0f} bpm: no channel refutes the alarm, forwarded"
                                  if most is not None else "no usable channel to count the rate on: forwarded"))
    if alarm_type not in FLOOR_TYPES:
        return FloorCheck(True, "")
    claim = _claim(alarm_type, features, findings)
    if claim is not None and alarm_type in CLAIM_FIRST:
        return claim
    gap_key = ECG_VOUCH_FEATURE[alarm_type]
    if _value(features, "n_pulse_usable") == 0.0:
        gap_key = ECG_VOUCH_FEATURE_WITHOUT_PULSE.get(alarm_type, gap_key)
    gap = _value(features, gap_key)
    if gap is not None and gap < ECG_VOUCH_GAP_S[alarm_type]:
        return FloorCheck(True, findings.get(gap_key, f"a usable ECG lead shows QRS every < {gap:.1f} s"))
    if claim is not None:
        return claim
    pulse_key = _pulse_vouches(alarm_type, features)
    if pulse_key is not None:
        return FloorCheck(True, findings.get(pulse_key, "a trustworthy pulse kept pulsing"))
    uncovered = findings.get("floor_uncovered_s")
    return FloorCheck(False, (f"{uncovered}; " if uncovered else "")
                      + "no trustworthy channel shows the rhythm absent (safety floor): forwarded")


def _pulse_vouches(alarm_type: str, features: Mapping[str, float]) -> str | None:
    """The feature by which a pulse disproves the alarm, or None.

    >>> _pulse_vouches("ventricular_tachycardia", {"floor_pulse_shortest_s": 0.8, "floor_pulse_early_ratio": 0.95,
    ...     "floor_pulse_late_ratio": 1.05, "floor_pulse_weakest_ratio": 0.7})
    'floor_pulse_shortest_s'
    >>> _pulse_vouches("ventricular_tachycardia", {"floor_pulse_shortest_s": 0.45, "floor_pulse_early_ratio": 0.95,
    ...     "floor_pulse_late_ratio": 1.05, "floor_pulse_weakest_ratio": 0.7}) is None  # 133 bpm: perfusing VT?
    True
    """
    if alarm_type == "ventricular_tachycardia":
        for key, bound, at_least in VT_PULSE_ON_TIME:
            v = _value(features, key)
            if v is None or (v < bound if at_least else v > bound):
                return None
        return VT_PULSE_ON_TIME[0][0]
    pulse = _value(features, "floor_pulse_disturbance")
    return "floor_pulse_disturbance" if pulse is not None and pulse < PULSE_VOUCH_DISTURBANCE[alarm_type] else None


def _claim(alarm_type: str, features: Mapping[str, float], findings: Mapping[str, str]) -> FloorCheck | None:
    """The ECG meets the alarm's own criterion: forward, whatever else vouches."""
    for key, at in ECG_CLAIMS[alarm_type]:
        v = _value(features, key)
        if v is not None and v >= at:
            return FloorCheck(False, (findings.get(key) or f"the ECG meets the {alarm_type} criterion")
                              + " (safety floor): forwarded")
    return None


def forwards(check: FloorCheck, p_true: float, threshold: float) -> bool:
    """The whole arrhythmia decision: the floor holds, a refutation suppresses, else the score decides.

    >>> forwards(FloorCheck(False, "ECG meets the criterion"), 0.0, 0.5)
    True
    >>> forwards(FloorCheck(True, "lead II shows QRS"), 0.2, 0.5), forwards(FloorCheck(True, "", refuted=True), 0.9, 0.5)
    (False, False)
    """
    if not check.may_suppress:
        return True
    if check.refuted:
        return False
    return p_true >= threshold
