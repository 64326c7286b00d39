"""The cold-start physiological prior for threshold alarms (SpO2, HR, ABP, RR, apnea).

A unit's learned model needs weeks of clinician labels; this prior decides from the first hour,
the way the monitors' own "smart" delays do, with the waveforms as a second opinion:

1. **Critical bound.** A value beyond its critical bound (SpO2 < 80 %, HR < 35 or > 180 bpm,
   MAP < 50 mmHg, ...; every apnea alarm) is forwarded at once, whatever else is known: at the
   alarm, or the second the value crosses it during the hold.  No learned update touches this
   rule (`engine.learning.LearningPolicy` applies it outside the model).
2. **Severity within the hold.** Depth beyond the limit, as a fraction of the distance from the
   limit to the critical bound, integrated over the seconds after the alarm (Philips' Smart
   Alarm Delay weighs magnitude and duration; Masimo's SatSeconds integrates depth x time).
   Reaching `severity_budget` forwards at once; a violation still present when the hold runs out
   is forwarded then.
3. **Suppression**, only for a violation that resolved within the hold (the latest value is
   back within the limit) or one the signals show to be artefact: a technical fault on the
   source sensor; SpO2 falling while the pleth lost its pulses; an ECG heart rate that the
   pulse oximeter (and the arterial line, when there is one) contradict while the ECG itself is
   noise or shows the pulse's rate; an arterial trace that is flushed, zeroed, damped or
   pulseless while the pleth keeps pulsing.

Everything here is a documented, monotone constant; a unit overrides the limits, critical
bounds, budget and holds through `EngineConfig` (settings ``ALARMFILTER_THRESHOLD_*``).

References
----------
Lansdowne K., Strauss D.G., Scully C.G. Retrospective analysis of pulse oximeter alarm settings
in an intensive care unit patient population. BMC Nursing 2016;15:36.
Rheineck-Leyssius A.T., Kalkman C.J. Influence of pulse oximeter lower alarm limit on the
incidence of hypoxaemia in the recovery room. Br. J. Anaesth. 1997;79:460-464.
Welch J. An evidence-based approach to reduce nuisance alarms and alarm fatigue. Biomed. Instrum.
Technol. 2011;45(s1):46-52 (Masimo SatSeconds).
Royal College of Physicians. National Early Warning Score (NEWS) 2. London: RCP, 2017.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: the numeric each threshold type is judged on, its direction (+1 too high), its name and unit
SOURCE: dict[str, tuple[str, int, str, str]] = {
    "spo2_low": ("spo2_pct", -1, "SpO2", "%"),
    "hr_high": ("hr_bpm", 1, "HR", "bpm"),
    "hr_low": ("hr_bpm", -1, "HR", "bpm"),
    "abp_high": ("abp_sys_mmhg", 1, "systolic ABP", "mmHg"),
    "abp_low": ("abp_mean_mmhg", -1, "MAP", "mmHg"),
    "rr_high": ("rr_per_min", 1, "RR", "/min"),
    "rr_low": ("rr_per_min", -1, "RR", "/min"),
    "apnea": ("rr_per_min", -1, "RR", "/min"),
}
THRESHOLD_TYPES = frozenset(SOURCE)
#: the monitor limits assumed when the alarm does not carry one (common adult defaults)
LIMITS: dict[str, float] = {
    "spo2_low": 90.0, "hr_high": 120.0, "hr_low": 50.0, "abp_high": 160.0, "abp_low": 65.0,
    "rr_high": 30.0, "rr_low": 8.0, "apnea": 4.0,
}
#: beyond these, forward at once. SpO2 < 80 % is severe hypoxaemia; HR < 35 / > 180 bpm and
#: MAP < 50 mmHg threaten perfusion; systolic > 200 mmHg and RR < 5 / > 40 /min lie beyond the
#: worst band of the NEWS2 score (RR <= 8, >= 25). Apnea is critical whenever the monitor calls it.
CRITICAL: dict[str, float] = {
    "spo2_low": 80.0, "hr_high": 180.0, "hr_low": 35.0, "abp_high": 200.0, "abp_low": 50.0,
    "rr_high": 40.0, "rr_low": 5.0,
}
ALWAYS_CRITICAL = frozenset({"apnea"})
#: seconds at the critical bound (depth fraction x seconds) after the alarm that forward at once:
#: 2.0 = 2 s at the critical bound, 4 s halfway to it, 10 s a fifth of the way.
SEVERITY_BUDGET_SECONDS = 2.0
#: hold per type when the unit sets none (hard ceiling 10 s in the engine); apnea is never held
HOLD_SECONDS: dict[str, float] = {t: 10.0 for t in SOURCE} | {"apnea": 0.0}
#: a value older than this at the alarm is no value at the alarm
STALE_SECONDS = 5.0
#: pulse-likeness (normalised autocorrelation at the pulse lag, `signals.numerics.periodicity`).
#: For a periodic pulse plus noise it is the pulse's share of the power: at >= 0.8 the pulse
#: carries four times the noise (a trustworthy witness); below 0.5 there is more noise than pulse
#: (the trace has lost its pulses).
PULSES_PRESENT = 0.8
PULSES_LOST = 0.5
#: an ECG rate contradicted by the pulse: at least this far from the pulse rate
RATE_CONTRADICTION_BPM = 20.0
#: two pulse rates that agree: within this
RATE_AGREEMENT_BPM = 10.0
#: arterial waveform: a flush reads above, a damped or zeroed line swings less than, these
ABP_FLUSH_MMHG = 250.0
ABP_DAMPED_SWING_MMHG = 12.0
ABP_FLAT_FRACTION = 0.3
#: p(true) the prior reports for each verdict (the model's threshold is 0.2)
P_FORWARD, P_SUPPRESS = 0.95, 0.05


@dataclass(frozen=True, slots=True)
class PriorConfig:
    """A unit's limits, critical bounds and severity budget (defaults above; overrides merge in)."""

    limits: Mapping[str, float] = field(default_factory=dict)
    critical: Mapping[str, float] = field(default_factory=dict)
    severity_budget_seconds: float = SEVERITY_BUDGET_SECONDS

    def limit(self, alarm_type: str) -> float:
        return float(self.limits.get(alarm_type, LIMITS[alarm_type]))

    def critical_bound(self, alarm_type: str) -> float | None:
        if alarm_type in ALWAYS_CRITICAL:
            return None
        return float(self.critical.get(alarm_type, CRITICAL[alarm_type]))


@dataclass(frozen=True, slots=True)
class PriorJudgement:
    """What the prior makes of one threshold alarm with the data up to `until_ts`.

    `final` False means: not yet (wait for more of the hold); `forward` is then False too.
    """

    final: bool
    forward: bool
    verdict: str  # critical | severe | persisted | unjudged | recovered | artefact | pending
    reasons: tuple[str, ...]
    features: dict[str, float]

    @property
    def critical(self) -> bool:
        return self.verdict == "critical"

    @property
    def p_true(self) -> float:
        if self.verdict == "critical":
            return 1.0
        return P_FORWARD if self.forward or not self.final else P_SUPPRESS


def fmt(alarm_type: str, value: float) -> str:
    """A value as a nurse reads it.

    >>> fmt("spo2_low", 88.0), fmt("hr_high", 131.4), fmt("rr_low", 6.0)
    ('SpO2 88 %', 'HR 131 bpm', 'RR 6 /min')
    """
    _, _, name, unit = SOURCE[alarm_type]
    return f"{name} {value:.0f} {unit}" if unit != "%" else f"{name} {value:.0f} %"


def beyond(alarm_type: str, x: FloatArray | float, bound: float) -> npt.NDArray[np.bool_]:
    """Where `x` lies beyond `bound` on the alarm's side (strictly).

    >>> beyond("spo2_low", np.array([91.0, 90.0, 89.0]), 90.0).tolist()
    [False, False, True]
    """
    d = SOURCE[alarm_type][1]
    return np.asarray(d * (np.asarray(x, dtype=np.float64) - bound) > 0)


def severity_seconds(alarm_type: str, ts: FloatArray, x: FloatArray, alarm_ts: float, limit: float,
                     critical: float) -> float:
    """Depth beyond the limit as a fraction of the limit-to-critical distance, integrated over the
    seconds after the alarm (each sample counts until the next; 1 s for the last).

    >>> ts = np.array([101.0, 102.0, 103.0, 104.0])
    >>> severity_seconds("spo2_low", ts, np.array([85.0, 85.0, 88.0, 92.0]), 100.0, 90.0, 80.0)
    1.2
    """
    post = ts > alarm_ts
    t, v = ts[post], x[post]
    if len(t) == 0 or limit == critical:
        return 0.0
    dt = np.diff(np.r_[t, t[-1] + 1.0])
    depth = np.clip(SOURCE[alarm_type][1] * (v - limit) / abs(critical - limit), 0.0, 1.0)
    return round(float(np.sum(depth * np.minimum(dt, 2.0))), 6)


def _violation_seconds(alarm_type: str, ts: FloatArray, x: FloatArray, alarm_ts: float, limit: float) -> float:
    """How long the value stayed beyond the limit around the alarm (back within at the end)."""
    out = ~beyond(alarm_type, x, limit)
    before = np.flatnonzero(out & (ts <= alarm_ts))
    start = ts[min(before[-1] + 1, len(ts) - 1)] if len(before) else ts[0]  # first second beyond
    after = np.flatnonzero(out & (ts > alarm_ts))
    stop = ts[after[0]] if len(after) else ts[-1]
    return float(max(0.0, stop - start))


def _f(features: Mapping[str, float], key: str) -> float | None:
    v = features.get(key)
    if v is None or not math.isfinite(float(v)) or float(v) <= -900.0:  # NOT_AVAILABLE is -999
        return None
    return float(v)


def artefact_findings(alarm_type: str, features: Mapping[str, float], limit: float, fault_type: str = "") -> list[str]:
    """Why the signals say this alarm is not the patient (empty when they do not).

    >>> artefact_findings("spo2_low", {"ppg_quality": 0.2}, 90.0)
    ['the pleth lost its pulses (pulse-likeness 0.20)']
    >>> artefact_findings("spo2_low", {"ppg_quality": 0.9}, 90.0)
    []
    >>> artefact_findings("hr_high", {"hr_now_bpm": 150.0, "pulse_now_bpm": 84.0, "ppg_quality": 0.9,
    ...                               "ecg_quality": 0.2}, 120.0)
    ['HR 150 bpm on the ECG contradicted by the pulse oximeter (84 bpm, clean pleth); the ECG is noise (pulse-likeness 0.20)']
    """
    out: list[str] = []
    if (_f(features, "fault_on_source") or 0.0) > 0:
        age = _f(features, "fault_age_seconds")
        when = f" {age:.0f} s before" if age is not None else " shortly before"
        out.append(f"technical alarm {fault_type or 'on the same sensor'}{when} (the sensor is suspect)")
    ppg_q, ecg_q, abp_q = _f(features, "ppg_quality"), _f(features, "ecg_quality"), _f(features, "abp_quality")
    if alarm_type == "spo2_low" and ppg_q is not None and ppg_q < PULSES_LOST:
        out.append(f"the pleth lost its pulses (pulse-likeness {ppg_q:.2f})")
    if alarm_type in ("hr_high", "hr_low"):
        hr, pulse = _f(features, "hr_now_bpm"), _f(features, "pulse_now_bpm")
        abp_rate = _f(features, "abp_rate_bpm") if (abp_q or 0.0) >= PULSES_PRESENT else None
        ecg_rate = _f(features, "ecg_rate_bpm") if (ecg_q or 0.0) >= PULSES_PRESENT else None
        pulse_ok = pulse is not None and ppg_q is not None and ppg_q >= PULSES_PRESENT
        if hr is not None and pulse is not None and pulse_ok and abs(hr - pulse) >= RATE_CONTRADICTION_BPM \
                and not bool(beyond(alarm_type, pulse, limit)) \
                and (abp_rate is None or abs(abp_rate - pulse) <= RATE_AGREEMENT_BPM) \
                and (_f(features, "abp_quality") is None or abp_rate is not None):
            line = f" and the arterial line ({abp_rate:.0f} bpm)" if abp_rate is not None else ""
            ecg_says = ""
            if alarm_type == "hr_high" and ecg_q is not None and ecg_q < PULSES_LOST:
                ecg_says = f"the ECG is noise (pulse-likeness {ecg_q:.2f})"
            elif ecg_rate is not None and abs(ecg_rate - pulse) <= RATE_AGREEMENT_BPM:
                ecg_says = f"the ECG's own rhythm runs at {ecg_rate:.0f} bpm (beats missed or double-counted)"
            if ecg_says:
                out.append(f"{fmt(alarm_type, hr)} on the ECG contradicted by the pulse oximeter "
                           f"({pulse:.0f} bpm, clean pleth){line}; {ecg_says}")
    if alarm_type in ("abp_high", "abp_low"):
        wmax, swing = _f(features, "abp_wave_max_mmhg"), _f(features, "abp_wave_pulsatility_mmhg")
        flat = _f(features, "abp_wave_flat_frac")
        pleth_pulsing = ppg_q is not None and ppg_q >= PULSES_PRESENT
        if wmax is not None and wmax >= ABP_FLUSH_MMHG:
            out.append(f"the arterial trace reached {wmax:.0f} mmHg (line flush)")
        elif flat is not None and flat >= ABP_FLAT_FRACTION:
            out.append(f"the arterial trace was flat in {100 * flat:.0f} % of the last seconds (flush or zeroing)")
        elif pleth_pulsing and swing is not None and swing < ABP_DAMPED_SWING_MMHG:
            out.append(f"the arterial trace swings only {swing:.0f} mmHg while the pleth keeps pulsing (damped line)")
        elif pleth_pulsing and abp_q is not None and abp_q < PULSES_LOST:
            out.append(f"the arterial trace has no regular pulse (pulse-likeness {abp_q:.2f}) while the pleth "
                       "keeps pulsing (line whip or motion)")
    return out


def critical_crossing(alarm_type: str, series: Mapping[str, FloatArray], alarm_ts: float, until_ts: float,
                      config: PriorConfig | None = None) -> tuple[float, float] | None:
    """(ts, value) of the first value beyond the critical bound from the alarm (its latest value)
    up to `until_ts`, or None; every apnea alarm is critical at the alarm.

    >>> ts = np.arange(0.0, 20.0)
    >>> critical_crossing("hr_low", {"hr_bpm": np.c_[ts, np.where(ts > 12, 30.0, 45.0)]}, 10.0, 15.0)
    (13.0, 30.0)
    >>> critical_crossing("hr_low", {"hr_bpm": np.c_[ts, np.full(20, 45.0)]}, 10.0, 15.0) is None
    True
    """
    cfg = config or PriorConfig()
    if alarm_type in ALWAYS_CRITICAL:
        return alarm_ts, float("nan")
    crit = cfg.critical_bound(alarm_type)
    s = np.asarray(series.get(SOURCE[alarm_type][0], np.empty((0, 2))), dtype=np.float64).reshape(-1, 2)
    s = s[np.isfinite(s[:, 1]) & (s[:, 0] <= until_ts)]
    at = np.flatnonzero((s[:, 0] <= alarm_ts) & (s[:, 0] >= alarm_ts - STALE_SECONDS))
    since = s[:, 0] >= (s[at[-1], 0] if len(at) else alarm_ts)
    assert crit is not None
    hit = np.flatnonzero(since & beyond(alarm_type, s[:, 1], crit))
    return (float(s[hit[0], 0]), float(s[hit[0], 1])) if len(hit) else None


def judge(alarm_type: str, series: Mapping[str, FloatArray], alarm_ts: float, until_ts: float,
          hold_seconds: float, features: Mapping[str, float] | None = None,
          config: PriorConfig | None = None, *, complete: bool | None = None, fault_type: str = "") -> PriorJudgement:
    """The prior's verdict on one threshold alarm from the numerics up to `until_ts` (<= the
    alarm + `hold_seconds`) and the waveform findings in `features` (from before the alarm).
    `complete` says whether the hold is over (default: `until_ts` reached the alarm + hold); before
    it is, only a critical or severe value gives a final verdict.

    >>> ts = np.arange(0.0, 131.0)
    >>> dip = np.where((ts >= 115) & (ts < 126), 88.0, 96.0)     # 88 % for 11 s, back at 126
    >>> j = judge("spo2_low", {"spo2_pct": np.c_[ts, dip]}, 120.0, 130.0, 10.0, {"ppg_quality": 0.9})
    >>> j.final, j.forward, j.verdict
    (True, False, 'recovered')
    >>> j.reasons[0]
    'SpO2 dipped to 88 % for 11 s and recovered (96 % 10 s after the alarm); PPG pulses unchanged'
    >>> deep = np.where(ts >= 115, 78.0, 96.0)
    >>> judge("spo2_low", {"spo2_pct": np.c_[ts, deep]}, 120.0, 120.0, 10.0).reasons
    ('SpO2 78 % at the alarm is below the critical bound 80 %: forwarded at once',)
    """
    cfg = config or PriorConfig()
    feats = dict(features or {})
    key, d, name, unit = SOURCE[alarm_type]
    u = f" {unit}"  # every number a nurse reads carries its unit
    limit, crit = cfg.limit(alarm_type), cfg.critical_bound(alarm_type)
    s = np.asarray(series.get(key, np.empty((0, 2))), dtype=np.float64).reshape(-1, 2)
    s = s[np.isfinite(s[:, 1]) & (s[:, 0] <= until_ts)]
    ts, x = s[:, 0], s[:, 1]
    at = np.flatnonzero((ts <= alarm_ts) & (ts >= alarm_ts - STALE_SECONDS))
    out: dict[str, float] = {"thr_critical": 0.0, "thr_recovered": 0.0, "thr_artefact": 0.0, "thr_severity": 0.0}

    def done(forward: bool, verdict: str, *reasons: str) -> PriorJudgement:
        out["thr_critical"] = float(verdict == "critical")
        out["thr_recovered"] = float(verdict == "recovered")
        out["thr_artefact"] = float(verdict == "artefact")
        return PriorJudgement(True, forward, verdict, tuple(reasons), out)

    if alarm_type in ALWAYS_CRITICAL:
        return done(True, "critical", "apnea alarm: forwarded at once")
    assert crit is not None
    crossed = critical_crossing(alarm_type, series, alarm_ts, until_ts, cfg)
    if crossed is not None:
        t_c, v_c = crossed
        when = "at the alarm" if t_c <= alarm_ts else f"{t_c - alarm_ts:.0f} s after the alarm"
        side = "below" if d < 0 else "above"
        return done(True, "critical", f"{fmt(alarm_type, v_c)} {when} is {side} the critical bound "
                    f"{crit:g}{u}: forwarded at once")
    if len(at) == 0:
        return done(True, "unjudged", f"no {name} value at the alarm: forwarded")
    value = float(x[at[-1]])
    side = "below" if d < 0 else "above"
    if not bool(beyond(alarm_type, value, limit)):
        return done(True, "unjudged", f"{fmt(alarm_type, value)} at the alarm is within the assumed limit "
                    f"{limit:g}{u}; the unit's own limit is unknown: forwarded")
    if complete is None:
        complete = until_ts >= alarm_ts + hold_seconds - 1e-9
    sev = severity_seconds(alarm_type, ts, x, alarm_ts, limit, crit)
    out["thr_severity"] = sev
    post = ts > alarm_ts
    worst = value if not post.any() else float(d * max(d * value, float(np.max(d * x[post]))))
    artefact = artefact_findings(alarm_type, feats, limit, fault_type)
    latest = float(x[-1])
    still = bool(post.any()) and bool(beyond(alarm_type, latest, limit))
    if sev >= cfg.severity_budget_seconds and not artefact and not (complete and still):
        # (signals showing artefact: wait for the hold; at its end a lasting violation says so)
        secs = float(ts[post][-1] - alarm_ts) if post.any() else 0.0
        return done(True, "severe", f"{name} stayed {side} {limit:g}{u} after the alarm (reaching "
                    f"{fmt(alarm_type, worst)}) for {secs:.0f} s: too deep for too long, forwarded")
    if not complete:
        return PriorJudgement(False, False, "pending", (), out)
    if post.any() and not bool(beyond(alarm_type, latest, limit)):
        span = _violation_seconds(alarm_type, ts, x, alarm_ts, limit)
        pulses = ""
        if key == "spo2_pct" and (_f(feats, "ppg_quality") or 0.0) >= PULSES_PRESENT:
            pulses = "; PPG pulses unchanged"
        reason = (f"{name} {'dipped' if d < 0 else 'rose'} to {worst:.0f}{u} for {span:.0f} s and recovered "
                  f"({latest:.0f}{u} {ts[-1] - alarm_ts:.0f} s after the alarm){pulses}")
        return done(False, "recovered", reason, *artefact)
    if artefact:
        return done(False, "artefact", f"{fmt(alarm_type, value)} at the alarm, but " + "; ".join(artefact))
    if not post.any():
        if hold_seconds <= 0:
            return done(True, "persisted", f"{fmt(alarm_type, value)} at the alarm, {side} {limit:g}{u}; "
                        "no hold configured: forwarded")
        return done(True, "unjudged", f"{fmt(alarm_type, value)} at the alarm; no {name} value came in "
                    "during the hold: forwarded")
    return done(True, "persisted", f"{fmt(alarm_type, latest)} still {side} {limit:g}{u} "
                f"{ts[-1] - alarm_ts:.0f} s after the alarm: forwarded")
