"""Evidence for one alarm: flat numeric features plus sentences a clinician can read.

The engine calls :func:`extract_evidence` with the recent waveform buffer ending
at decision time.  Features are finite floats; ``NOT_AVAILABLE`` marks a feature
that has no channel to be measured on (the model treats it as missing, i.e.
neutral), never NaN.

Approach, following the 2015 PhysioNet/CinC Challenge entries: detect beats on
every ECG lead and every pulsatile channel, grade each channel's quality, and
ask per alarm type whether a trustworthy channel contradicts the alarm (regular
pulses through an "asystole", a normal rate through an "extreme brady", narrow
beats matching the patient's own template through a "VT").

References
----------
Clifford G.D. et al. False alarm reduction in critical care. Physiol. Meas.
2016;37:E5-E23.
Plesinger F. et al. Taming of the monitors: reducing false alarms in intensive
care units. Physiol. Meas. 2016;37:1313-1325.
Eerikainen L.M. et al. Reduction of false arrhythmia alarms using signal
selection and machine learning. Physiol. Meas. 2016;37:1204-1216.
Fallet S., Yazdani S., Vesin J.-M. False arrhythmia alarms reduction in the
intensive care unit: a multimodal approach. Physiol. Meas. 2016;37:1217-1232.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alarmfilter.signals.beats import hr_over_beats, max_gap_seconds, regularity
from alarmfilter.signals.channels import (
    Channel,
    agreement,
    analyse_channels,
    context_rate_agreement,
)
from alarmfilter.signals.preprocess import median, runs_of_true
from alarmfilter.signals.rhythm import (
    consecutive_correlation,
    longest_run,
    morphology_filter,
    narrow_beat_matches,
    pulse_amplitudes,
    qrs_widths_ms,
    spectral_organisation,
    template_correlation,
)
from alarmfilter.signals.sqi import flat_onset_fraction, unrecorded

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: seconds of waveform before the alarm the engine should hand over
EVIDENCE_WINDOW_SECONDS = 60.0
#: the part just before the alarm in which the alarmed event must lie
ANALYSIS_SECONDS = 16.0
#: the ventricular run must lie in this last part of the window (alarm onset <= 10 s earlier)
VT_TAIL_SECONDS = 10.0
#: correlation with the pre-alarm template above which a beat looks like the patient's usual beat
NORMAL_CORR = 0.75
#: value of a feature that could not be measured (no usable channel)
NOT_AVAILABLE = -999.0
#: the VT criterion: a run of at least this many ventricular beats (> 100 bpm)
VT_RUN_BEATS = 5
#: the asystole criterion: no QRS for at least this long
ASYSTOLE_PAUSE_SECONDS = 4.0

#: the safety floor's event window: the Challenge puts the event onset within 10 s of the alarm
FLOOR_WINDOW_SECONDS = 10.0
#: the floor reads nothing when the waveform stops more than this before the alarm (a lagging
#: chunk): its measurements would describe the rhythm before the event, not through it
FLOOR_MAX_UNCOVERED_SECONDS = 0.5
#: fastest rhythm a "usual beat" template may be learnt from: above 150 bpm a narrow-complex
#: rhythm is itself an arrhythmia and ventricular flutter runs at 150-300 bpm
USUAL_RHYTHM_MAX_BPM = 150.0
#: regularity (1 - robust CV of RR) below which a beat train is chaos: noise, not a rhythm
REGULAR_TRAIN = 0.5
#: a pulse whose pre-window rate was within this fraction of the ECG's is a trustworthy witness
TRUSTED_PULSE_RATE_DIFF = 0.15
#: share of a lead's beats another channel must confirm before its QRS train can vouch against asystole
CONFIRMED_FRACTION = 0.5
#: dominant-frequency band of ventricular fibrillation and flutter (180-540 per minute)
FIBRILLATION_HZ = (3.0, 9.0)
#: alarm types whose suppression needs affirmative evidence that the rhythm is absent
LETHAL_ALARMS = ("asystole", "ventricular_tachycardia", "ventricular_flutter_fib")

ALARM_TYPES = (
    "asystole",
    "extreme_bradycardia",
    "extreme_tachycardia",
    "ventricular_tachycardia",
    "ventricular_flutter_fib",
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Flat finite features and the human-readable findings behind them."""

    features: dict[str, float]
    findings: dict[str, str]


def _na(v: float | None) -> float:
    if v is None or not np.isfinite(v):
        return NOT_AVAILABLE
    return float(v)


def _names(chs: list[Channel]) -> str:
    return ", ".join(c.name for c in chs) if chs else "no channel"


def _general(chs: list[Channel], ecg: list[Channel], pulse: list[Channel], f: dict[str, float], t: dict[str, str]) -> None:
    fs = chs[0].fs_hz if chs else 250.0
    f["n_ecg_usable"] = float(len(ecg))
    f["n_pulse_usable"] = float(len(pulse))
    hr_e = [60.0 * fs / median(np.diff(c.beats)) for c in ecg if c.beats.size >= 3]
    hr_p = [60.0 * fs / median(np.diff(c.beats)) for c in pulse if c.beats.size >= 3]
    f["hr_ecg_bpm"] = _na(median(hr_e) if hr_e else None)
    f["hr_pulse_bpm"] = _na(median(hr_p) if hr_p else None)
    f["ecg_ksqi_max"] = _na(max((c.quality.ksqi for c in ecg), default=None))
    f["ecg_agreement_max"] = _na(max((agreement(c, chs) for c in ecg), default=None))
    unusable = [c for c in chs if not c.usable]
    if unusable:
        t["n_ecg_usable"] = f"unusable (flat, missing or saturated): {_names(unusable)}"
    if hr_e and hr_p:
        t["hr_pulse_bpm"] = f"ECG {median(hr_e):.0f} bpm, pulse {median(hr_p):.0f} bpm"


def _trusted_pulses(pulse: list[Channel], ecg: list[Channel]) -> list[Channel]:
    """The pulse channels whose rate matched the ECG's before the window (see ``context_rate_agreement``)."""
    return [c for c in pulse if context_rate_agreement(c, ecg) <= TRUSTED_PULSE_RATE_DIFF]


def _asystole(chs: list[Channel], ecg: list[Channel], pulse: list[Channel], end: int, f: dict[str, float], t: dict[str, str]) -> None:
    if not chs:
        return
    start, fs = chs[0].start, chs[0].fs_hz
    gaps = {c.name: max_gap_seconds(c.peaks, start, end, fs) for c in ecg + pulse}
    trusted = _trusted_pulses(pulse, ecg)
    e = [gaps[c.name] for c in ecg]
    p = [gaps[c.name] for c in trusted]
    f["asy_pulse_trusted_n"] = float(len(trusted))
    leads = [c for c in chs if c.kind == "ecg"]
    froze = {c.name: flat_onset_fraction(c.x[start:], c.missing[start:], fs) for c in leads}
    f["asy_ecg_flat_frac_max"] = _na(max(froze.values(), default=None))
    if froze and max(froze.values()) >= 0.1:
        worst = max(froze, key=lambda k: froze[k])
        t["asy_ecg_flat_frac_max"] = (
            f"lead {worst} froze (exactly flat: came off?) for {100 * froze[worst]:.0f}% "
            f"of the last {ANALYSIS_SECONDS:.0f} s"
        )
    f["pulse_gap_any_min_s"] = _na(min((gaps[c.name] for c in pulse), default=None))
    f["asy_ecg_gap_min_s"] = _na(min(e, default=None))
    f["asy_ecg_gap_max_s"] = _na(max(e, default=None))
    f["asy_pulse_gap_min_s"] = _na(min(p, default=None))
    f["asy_gap_min_s"] = _na(min(e + p, default=None))  # ECG leads and trusted pulses
    if p:
        best = min(trusted, key=lambda c: gaps[c.name])
        n = best.beats.size
        t["asy_pulse_gap_min_s"] = (
            f"{best.name} shows {n} pulses in the last {ANALYSIS_SECONDS:.0f} s, longest pause {gaps[best.name]:.1f} s"
        )
    if e:
        best = min(ecg, key=lambda c: gaps[c.name])
        t["asy_ecg_gap_min_s"] = (
            f"lead {best.name}: {best.beats.size} QRS in the last {ANALYSIS_SECONDS:.0f} s, longest pause {gaps[best.name]:.1f} s"
        )


def _rate(chs: list[Channel], ecg: list[Channel], pulse: list[Channel], n_beats: int, prefix: str, worst: str, f: dict[str, float], t: dict[str, str]) -> None:
    """Extreme-rate evidence: per channel the most extreme rate over ``n_beats`` beats."""
    vals: dict[str, float] = {}
    for c in ecg + pulse:
        # include the last context beat so a run starting at the window edge counts
        p = c.peaks[c.peaks >= c.start - int(2 * c.fs_hz)]
        hr = hr_over_beats(p, c.fs_hz, n_beats)
        if hr.size:
            vals[c.name] = float(np.min(hr) if worst == "min" else np.max(hr))
        elif worst == "min":
            gap = max_gap_seconds(c.peaks, c.start, c.x.size, c.fs_hz)
            vals[c.name] = 60.0 / max(gap, 1e-3) * (p.size / max(n_beats - 1, 1))
    e = [vals[c.name] for c in ecg if c.name in vals]
    pv = [vals[c.name] for c in pulse if c.name in vals]
    allv = e + pv
    f[f"{prefix}_median_bpm"] = _na(median(allv) if allv else None)
    f[f"{prefix}_ecg_bpm"] = _na(median(e) if e else None)
    f[f"{prefix}_pulse_bpm"] = _na(median(pv) if pv else None)
    # the least alarming channel: the one that would contradict the alarm
    least = (max(allv) if worst == "min" else min(allv)) if allv else None
    f[f"{prefix}_least_bpm"] = _na(least)
    # the most alarming channel: when even it stays far from the criterion, no channel supports the alarm
    f[f"{prefix}_most_bpm"] = _na((min(allv) if worst == "min" else max(allv)) if allv else None)
    if vals:
        desc = "; ".join(f"{k} {v:.0f}" for k, v in vals.items())
        t[f"{prefix}_median_bpm"] = f"{'lowest' if worst == 'min' else 'highest'} {n_beats}-beat rate per channel (bpm): {desc}"


def _gap_between(beats: IntArray, t0: int, end: int, fs_hz: float) -> tuple[float, int, int]:
    """Longest stretch of samples t0..end without one of ``beats``: (seconds, first, last)."""
    nb = beats[(beats >= t0) & (beats < end)]
    edges = np.r_[t0, nb, end]
    i = int(np.argmax(np.diff(edges)))
    return float(edges[i + 1] - edges[i]) / fs_hz, int(edges[i]), int(edges[i + 1])


def _normal_beats(c: Channel, w: FloatArray, corr: FloatArray, base_w: float) -> IntArray:
    """The detected beats that look like this patient's normal beat.

    Normal = matches the pre-alarm template (r >= NORMAL_CORR), not wider than before,
    and not premature (RR >= 75 % of the pre-alarm median RR).  A ventricular run
    has no normal beat on *any* lead for its whole length; an artifact on one
    lead leaves the normal beats visible on another.
    """
    b = c.beats
    ref = c.context_beats
    rr_ref = median(np.diff(ref)) if ref.size >= 3 else 0.8 * c.fs_hz
    rr_prev = np.diff(np.r_[ref[-1:] if ref.size else b[:1] - int(rr_ref), b]) if b.size else np.zeros(0)
    # any early detection (an ectopic beat or a noise spike) breaks the normal run:
    # that is what keeps a noisy lead from vouching for a normal rhythm
    normal = (corr >= NORMAL_CORR) & (w <= max(1.2 * base_w, base_w + 20.0)) & (rr_prev >= 0.75 * rr_ref)
    return np.asarray(b[normal], dtype=np.int64)


@dataclass(frozen=True, slots=True)
class _LeadVT:
    """One lead's ventricular-run evidence over the VT tail."""

    run: int  # longest run of fast abnormal beats
    chain: int  # longest monomorphic fast abnormal chain
    width_ratio: float  # widest QRS / usual QRS width
    lowband: float  # spectral 1-7 Hz power fraction, last 5 s
    gap: tuple[float, int, int]  # longest stretch without a detected normal beat (s, first, last)
    usual_gap_s: float  # the same, counting narrow-QRS template matches as normal beats too
    narrow_gap_s: float | None  # longest stretch without a narrow-QRS match (None: no template)
    context_bpm: float = 0.0  # the rate of the rhythm the usual beat was learnt from
    spectrum: tuple[float, float] = (0.0, 0.0)  # (dominant Hz, concentration) over the last 8 s


def _vt_lead(c: Channel) -> _LeadVT:
    """Runs, chains, widths and normal-beat gaps of one lead.

    A beat is abnormal when it is wide for this patient or unlike the patient's
    template from before the alarm window; a chain link needs two abnormal beats
    less than 600 ms apart (> 100 bpm) that look like each other.  Normal beats
    come from two independent looks: the detector's beats that match the
    template, and the 15-40 Hz matched filter (:func:`narrow_beat_matches`), which
    still sees the patient's narrow QRS under a slow artifact.  A run of >= 5
    ventricular beats leaves a gap of ~2 s or more in both.
    """
    b = c.beats
    end = c.x.size
    t0 = max(c.start, end - int(VT_TAIL_SECONDS * c.fs_hz))
    _, _, lb = spectral_organisation(c.x[-int(5 * c.fs_hz):], c.fs_hz)
    matches = narrow_beat_matches(c.x, c.context_beats, c.fs_hz, t0)
    narrow = _gap_between(matches, t0, end, c.fs_hz)[0] if c.context_beats.size >= 4 else None
    ctx = c.context_beats
    ctx_bpm = 60.0 * c.fs_hz / median(np.diff(ctx)) if ctx.size >= 4 else 0.0
    f0, conc, _ = spectral_organisation(c.x[-int(8 * c.fs_hz):], c.fs_hz)
    xf = morphology_filter(c.x, c.fs_hz)
    if b.size < 3:
        usual = _gap_between(matches, t0, end, c.fs_hz)[0]
        return _LeadVT(0, 0, 1.0, lb, ((end - t0) / c.fs_hz, t0, end), usual, narrow, ctx_bpm, (f0, conc))
    ref = c.context_beats
    widths = qrs_widths_ms(xf, np.r_[b, ref], c.fs_hz, prefiltered=True)  # one slope envelope for both
    w, wref = widths[:b.size], (widths[b.size:] if ref.size >= 3 else np.zeros(0))
    base_w = median(wref) if wref.size else 80.0
    corr = np.nan_to_num(template_correlation(xf, b, ref, c.fs_hz, prefiltered=True), nan=1.0)
    abnormal = (w > np.maximum(1.3 * base_w, 100.0)) | (corr < 0.6)
    fast_link = np.diff(b) < 0.6 * c.fs_hz
    fast = np.r_[False, fast_link] | np.r_[fast_link, False]
    run = longest_run(abnormal & fast)
    cc = np.nan_to_num(consecutive_correlation(xf, b, c.fs_hz, prefiltered=True), nan=0.0)
    link = abnormal[1:] & abnormal[:-1] & fast_link & (cc[1:] > 0.6)
    chain = longest_run(link) + 1 if link.any() else 0
    nb = _normal_beats(c, w, corr, base_w)
    gap = _gap_between(nb, t0, end, c.fs_hz)
    # where this lead itself meets the VT criterion, the beats of that run are the run's: a wide beat
    # can ring like the usual QRS in the 15-40 Hz band, so the filter's matches there are void
    pad = int(0.1 * c.fs_hz)
    for first, after in zip(*runs_of_true(link)):  # links first..after-1 join beats first..after
        if after - first + 1 >= VT_RUN_BEATS:
            matches = matches[(matches < b[first] - pad) | (matches > b[after] + pad)]
    usual = _gap_between(np.union1d(nb, matches), t0, end, c.fs_hz)[0]
    return _LeadVT(run, chain, float(np.max(w) / max(base_w, 1.0)), lb, gap, usual, narrow, ctx_bpm, (f0, conc))


def _stretch_quality(c: Channel, g0: int, g1: int) -> tuple[float, float]:
    """(RR regularity, fraction of samples pinned at the rails) inside samples g0..g1.

    A ventricular run is regular and stays inside the amplifier's range; motion
    artifacts give erratic "beats" and clip at the rails.
    """
    p = c.peaks[(c.peaks >= g0) & (c.peaks < g1)]
    reg = regularity(p, c.fs_hz) if p.size >= 4 else 0.0
    seg = c.x[g0:g1]
    lo, hi = float(np.min(c.x)), float(np.max(c.x))
    tol = 0.01 * (hi - lo)
    rail = float(np.mean((seg >= hi - tol) | (seg <= lo + tol))) if seg.size else 0.0
    return reg, rail


def _vt(per: dict[str, _LeadVT], ecg: list[Channel], pulse: list[Channel], f: dict[str, float], t: dict[str, str]) -> None:
    runs = [v.run for v in per.values()]
    chains = [v.chain for v in per.values()]
    f["vt_run_max_beats"] = _na(float(max(runs)) if runs else None)
    f["vt_run_min_beats"] = _na(float(min(runs)) if runs else None)
    f["vt_chain_max_beats"] = _na(float(max(chains)) if chains else None)
    f["vt_chain_min_beats"] = _na(float(min(chains)) if chains else None)
    f["vt_width_ratio_max"] = _na(max((v.width_ratio for v in per.values()), default=None))
    f["vt_lowband_max"] = _na(max((v.lowband for v in per.values()), default=None))
    f["vt_normal_gap_min_s"] = _na(min((v.gap[0] for v in per.values()), default=None))
    f["vt_usual_gap_min_s"] = _na(min((v.usual_gap_s for v in per.values()), default=None))
    if per:
        lead = min(per, key=lambda k: per[k].usual_gap_s)
        g = per[lead].usual_gap_s
        t["vt_usual_gap_min_s"] = (
            f"lead {lead} keeps showing the patient's usual QRS (by shape or by its 15-40 Hz signature), "
            f"no break longer than {g:.1f} s in the last {VT_TAIL_SECONDS:.0f} s"
            if g < 2.0
            else f"no lead shows the patient's usual QRS for {g:.1f} s (best lead {lead}, last {VT_TAIL_SECONDS:.0f} s)"
        )
    narrow = {k: v.narrow_gap_s for k, v in per.items() if v.narrow_gap_s is not None}
    f["vt_narrow_gap_min_s"] = _na(min(narrow.values(), default=None))
    if narrow:
        lead = min(narrow, key=lambda k: narrow[k])
        t["vt_narrow_gap_min_s"] = (
            f"the patient's own narrow QRS (15-40 Hz template match) recurs on lead {lead} "
            f"with no break longer than {narrow[lead]:.1f} s in the last {VT_TAIL_SECONDS:.0f} s"
            if narrow[lead] < 2.0
            else f"the patient's own narrow QRS is absent for {narrow[lead]:.1f} s on every lead "
            f"(best lead {lead}, last {VT_TAIL_SECONDS:.0f} s)"
        )
    if per:
        best = min(per, key=lambda k: per[k].gap[0])
        gap_s, g0, g1 = per[best].gap
        if gap_s < 2.0:
            t["vt_normal_gap_min_s"] = (
                f"lead {best} keeps showing the patient's usual beats through the last "
                f"{VT_TAIL_SECONDS:.0f} s (longest break {gap_s:.1f} s)"
            )
        else:
            t["vt_normal_gap_min_s"] = (
                f"no lead shows the patient's usual beat for {gap_s:.1f} s "
                f"(best lead {best}, last {VT_TAIL_SECONDS:.0f} s)"
            )
        _pulse_during(pulse, g0, g1, "vt", f, t)
        sq = [_stretch_quality(c, g0, g1) for c in ecg]
        f["vt_stretch_regularity_max"] = max(v[0] for v in sq)
        f["vt_stretch_rail_max"] = max(v[1] for v in sq)
        reg = f["vt_stretch_regularity_max"]
        if reg >= 0.75:
            t["vt_stretch_regularity_max"] = (
                f"beats during those {gap_s:.1f} s were regular (regularity {reg:.2f}, 1 = metronome), as in a VT run"
            )
        elif reg > 0.0:
            t["vt_stretch_regularity_max"] = (
                f"beats during those {gap_s:.1f} s were erratic (regularity {reg:.2f}, 1 = metronome), "
                "as from an artifact, not a VT run"
            )
        else:
            t["vt_stretch_regularity_max"] = f"too few or chaotic beats in those {gap_s:.1f} s to form a regular VT run"
    else:
        f["vt_pulse_during_disturbance"] = NOT_AVAILABLE
    hr5 = [float(np.max(h)) for c in ecg if (h := hr_over_beats(c.beats, c.fs_hz, 5)).size]
    f["vt_hr5_max_bpm"] = _na(median(hr5) if hr5 else None)
    _pulse_change(pulse, "vt", f, t)
    if per:
        desc = "; ".join(f"{k} {v.chain}" for k, v in per.items())
        t["vt_chain_max_beats"] = f"longest run of fast, wide, alike beats per lead: {desc}"


def _usual_pulse(c: Channel) -> tuple[float, float] | None:
    """The pulse's usual interval (samples) and amplitude before the analysis window; None with < 4 beats."""
    ctx = c.context_beats
    if ctx.size < 4:
        return None
    return median(np.diff(ctx)), median(pulse_amplitudes(c.x, ctx, c.fs_hz))


def _pulse_disturbance(c: Channel, tail_seconds: float) -> tuple[float, float, float, float] | None:
    """How much the pulse changed over the last ``tail_seconds`` against the pre-alarm context.

    Returns (disturbance, amplitude ratio, rate ratio, longest RR / usual RR).
    Disturbance is the largest absolute log-change among rate, median amplitude,
    weakest-beat amplitude and longest pause: 0 for a circulation the
    "arrhythmia" left untouched, >= 0.5 when pulses slow, shrink or drop out.
    """
    usual = _usual_pulse(c)
    if usual is None:
        return None
    rr_ctx, amp_ctx = usual
    t0 = c.x.size - int(tail_seconds * c.fs_hz)
    tail = c.peaks[c.peaks >= t0]
    if tail.size < 2 or amp_ctx <= 0:
        return 3.0, 0.0, 0.0, tail_seconds * c.fs_hz / max(rr_ctx, 1.0)
    amps = pulse_amplitudes(c.x, tail, c.fs_hz) / amp_ctx
    rr_tail = median(np.diff(tail))
    gap = max_gap_seconds(c.peaks, t0, c.x.size, c.fs_hz) * c.fs_hz / rr_ctx
    amp_ratio = median(amps)
    rate_ratio = rr_ctx / max(rr_tail, 1.0)
    d = max(
        abs(np.log(max(rate_ratio, 1e-3))),
        abs(np.log(max(amp_ratio, 1e-3))),
        -np.log(max(float(np.min(amps)), 1e-3)) / 2.0,
        np.log(max(gap, 1.0)),
    )
    return float(d), amp_ratio, rate_ratio, float(gap)


def _pulse_beats(c: Channel, tail_seconds: float) -> tuple[float, float, float, float] | None:
    """Every pulse interval and strength over the last ``tail_seconds``, against the context's usual.

    Returns (shortest interval s, shortest / usual interval, longest / usual interval, weakest /
    usual amplitude); the stretch from the last pulse to the alarm counts as an interval.  A VT run
    shows beat by beat: fast pulses (> 100 bpm) if it perfuses, a dropped or weak pulse if not.
    """
    fs = c.fs_hz
    t0 = c.x.size - int(tail_seconds * fs)
    usual = _usual_pulse(c)
    if usual is None or t0 <= 0:
        return None
    rr0, amp0 = usual
    inside = c.peaks[c.peaks >= t0]
    before = c.peaks[c.peaks < t0]
    if amp0 <= 0 or rr0 <= 0 or inside.size < 2 or before.size == 0:
        return None
    rr = np.diff(np.r_[before[-1], inside])
    longest = max(float(np.max(rr)), float(c.x.size - inside[-1]))
    weakest = float(np.min(pulse_amplitudes(c.x, inside, fs))) / amp0
    return float(np.min(rr)) / fs, float(np.min(rr)) / rr0, longest / rr0, weakest


def _pulse_on_time(pulse: list[Channel], w: float, f: dict[str, float], t: dict[str, str]) -> None:
    """The usable pulse whose beats strayed least from their usual timing and strength (last ``w`` s)."""
    per = {c.name: v for c in pulse if (v := _pulse_beats(c, w)) is not None}
    if not per:
        return
    name = min(per, key=lambda k: max(-np.log(per[k][1]), np.log(per[k][2]), -np.log(max(per[k][3], 1e-3))))
    shortest_s, early, late, weakest = per[name]
    f["floor_pulse_shortest_s"] = shortest_s
    f["floor_pulse_early_ratio"] = early
    f["floor_pulse_late_ratio"] = late
    f["floor_pulse_weakest_ratio"] = weakest
    t["floor_pulse_shortest_s"] = (
        f"{name} through the last {w:.0f} s: every pulse came "
        f"{shortest_s:.2f} s or more after the last ({100 * early:.0f}-{100 * late:.0f}% of its usual interval), "
        f"none weaker than {100 * weakest:.0f}% of its usual strength"
    )


def _pulse_during(pulse: list[Channel], g0: int, g1: int, prefix: str, f: dict[str, float], t: dict[str, str]) -> None:
    """Did the pulse keep its rhythm and strength while the ECG looked abnormal (samples g0..g1)?

    The ECG's suspect stretch is shifted by the pulse transit (~0.1-0.5 s).  An
    untouched pulse train (expected count, usual amplitude) means the heart kept
    pumping normally: the "VT" was an artifact.
    """
    best: tuple[float, str, float, float] | None = None
    for c in pulse:
        usual = _usual_pulse(c)
        if usual is None or g1 <= g0:
            continue
        rr_ctx, amp_ctx = usual
        fs = c.fs_hz
        a0, a1 = g0 + int(0.1 * fs), min(g1 + int(0.5 * fs), c.x.size)
        a0 = max(0, min(a0, a1 - int(3.0 * fs)))  # judge at least 3 s of pulses
        inside = c.peaks[(c.peaks >= a0) & (c.peaks < a1)]
        expected = max((a1 - a0) / rr_ctx, 1.0)
        amps = pulse_amplitudes(c.x, inside, fs) / max(amp_ctx, 1e-9) if inside.size else np.zeros(1)
        d = max(
            abs(float(np.log(max(inside.size, 0.5) / expected))),
            -float(np.log(max(float(np.min(amps)), 1e-3))) / 2.0,
            abs(float(np.log(max(median(amps), 1e-3)))),
        )
        if best is None or d < best[0]:
            best = (d, c.name, inside.size / expected, median(amps))
    f[f"{prefix}_pulse_during_disturbance"] = _na(best[0] if best else None)
    if best:
        t[f"{prefix}_pulse_during_disturbance"] = (
            f"while the ECG looked abnormal, {best[1]} kept {100 * best[2]:.0f}% of the expected "
            f"pulses at {100 * best[3]:.0f}% of the usual amplitude"
        )


def _pulse_change(pulse: list[Channel], prefix: str, f: dict[str, float], t: dict[str, str]) -> None:
    """Did the circulation change at the end of the window, as a real VT/VF would make it?"""
    per = {c.name: pd for c in pulse if (pd := _pulse_disturbance(c, 8.0)) is not None}
    f[f"{prefix}_pulse_disturbance_min"] = _na(min((v[0] for v in per.values()), default=None))
    f[f"{prefix}_pulse_amp_ratio"] = _na(max((v[1] for v in per.values()), default=None))
    f[f"{prefix}_pulse_regularity"] = _na(
        max((regularity(c.beats, c.fs_hz) for c in pulse if c.beats.size >= 4), default=None)
    )
    if per:
        best = min(per, key=lambda k: per[k][0])
        _, a, r, g = per[best]
        t[f"{prefix}_pulse_disturbance_min"] = (
            f"{best} over the last 8 s: pulse rate {100 * r:.0f}% and amplitude {100 * a:.0f}% "
            f"of the earlier level, longest pause {g:.1f} usual beats"
        )


def _vf(chs: list[Channel], ecg: list[Channel], pulse: list[Channel], f: dict[str, float], t: dict[str, str]) -> None:
    conc, low, reg = [], [], []
    for c in ecg:
        tail = c.x[-int(8 * c.fs_hz):]
        _, cc, lb = spectral_organisation(tail, c.fs_hz)
        conc.append(cc)
        low.append(lb)
        tb = c.beats[c.beats >= c.x.size - int(8 * c.fs_hz)]
        reg.append(regularity(tb, c.fs_hz) if tb.size >= 4 else 0.0)
    f["vf_conc_max"] = _na(max(conc, default=None))
    f["vf_lowband_max"] = _na(max(low, default=None))
    f["vf_ecg_regularity_max"] = _na(max(reg, default=None))
    _pulse_change(pulse, "vf", f, t)
    if ecg:
        t["vf_conc_max"] = (
            f"ECG spectral concentration {max(conc):.2f}, beat regularity {max(reg):.2f} over the last 8 s"
        )


def _best_lead(gaps: dict[str, float], key: str, f: dict[str, float], t: dict[str, str],
               say: Callable[[str, float], str]) -> None:
    """Feature ``key`` = the shortest of the leads' gaps; its finding names that lead."""
    f[key] = _na(min(gaps.values(), default=None))
    if gaps:
        lead = min(gaps, key=lambda k: gaps[k])
        t[key] = say(lead, gaps[lead])


def _floor_morphology(per: dict[str, _LeadVT], w: float, f: dict[str, float], t: dict[str, str]) -> None:
    """The floor's per-lead morphology: the usual QRS (vouches), a fibrillatory wave or a wide run (claims)."""
    # the usual beat must have been learnt from a rhythm that can be the patient's own
    learnt = {k: v for k, v in per.items() if 0.0 < v.context_bpm <= USUAL_RHYTHM_MAX_BPM}
    _best_lead({k: v.usual_gap_s for k, v in learnt.items()}, "floor_ecg_usual_gap_s", f, t,
               lambda lead, g: f"lead {lead}, the best usable lead, went at most {g:.1f} s without the patient's "
                               f"usual QRS in the last {w:.0f} s")
    # the same without the 15-40 Hz matched filter: only beats the detector found and the template confirmed
    _best_lead({k: v.gap[0] for k, v in learnt.items()}, "floor_ecg_template_gap_s", f, t,
               lambda lead, g: f"lead {lead} showed the patient's usual beat (detected, matching its template) "
                               f"with no break over {g:.1f} s in the last {w:.0f} s")
    fib = {k: v.spectrum[1] for k, v in per.items() if FIBRILLATION_HZ[0] <= v.spectrum[0] <= FIBRILLATION_HZ[1]}
    f["floor_ecg_fibrillation_conc"] = _na(max(fib.values(), default=0.0) if per else None)
    if fib:
        lead = max(fib, key=lambda k: fib[k])
        t["floor_ecg_fibrillation_conc"] = (
            f"lead {lead} oscillates at {per[lead].spectrum[0]:.1f} Hz with {100 * fib[lead]:.0f}% of its power "
            f"there over the last 8 s (a fibrillatory/flutter waveform)"
        )
    f["floor_ecg_chain_beats"] = _na(float(max((v.chain for v in per.values()), default=0)) if per else None)
    if per:
        lead = max(per, key=lambda k: per[k].chain)
        t["floor_ecg_chain_beats"] = f"lead {lead} shows a run of {per[lead].chain} fast, wide, alike beats"


def _recorded_qrs_gap(c: Channel, w: float) -> float | None:
    """Longest QRS-free stretch the lead actually recorded over the last ``w`` s (None: it recorded
    less than the asystole criterion's 4 s, so it can show neither a pause nor its absence)."""
    t0 = c.x.size - int(w * c.fs_hz)
    rec = ~unrecorded(c.x[t0:], c.missing[t0:], c.fs_hz)
    if rec.sum() < ASYSTOLE_PAUSE_SECONDS * c.fs_hz:
        return None
    rec[c.peaks[c.peaks >= t0] - t0] = False
    starts, ends = runs_of_true(rec)
    return float(np.max(ends - starts)) / c.fs_hz if starts.size else 0.0


def _confirmed(c: Channel, others: list[Channel], w: float) -> bool:
    """At least half of the channel's beats over the last ``w`` s recur on another usable channel (the
    pulse a pulse-transit later); a channel with no other to compare with stands alone."""
    return not others or agreement(c, others, since=c.x.size - int(w * c.fs_hz)) >= CONFIRMED_FRACTION


def _tail_regularity(c: Channel) -> float:
    """Regularity of the detected beats over the VT tail (0 with fewer than 4)."""
    tail = c.peaks[c.peaks >= max(c.start, c.x.size - int(VT_TAIL_SECONDS * c.fs_hz))]
    return regularity(tail, c.fs_hz) if tail.size >= 4 else 0.0


def _floor(alarm_type: str, per_lead: Callable[[], dict[str, _LeadVT]], ecg: list[Channel], pulse: list[Channel],
           end: int, f: dict[str, float], t: dict[str, str]) -> None:
    """What the lethal-alarm safety floor reads, over the last ``FLOOR_WINDOW_SECONDS`` only.

    Evidence *against* the alarm: a regular QRS train that another usable channel
    confirms (asystole), a usable lead on which the patient's usual QRS
    recurs (template-matched beats or the narrow-QRS matched filter), a trusted
    pulse (its rate agreed with the ECG before the window) that kept its rate,
    strength and rhythm through the window, or a pulse whose every beat came on time.
    Evidence *for* the alarm: QRS-free stretches on every usable lead, a run of fast
    wide alike beats.  The decision rule lives in ``policy.floor``; here only the
    measurements.  Asystole reads only QRS trains and pulses, so it skips the per-lead morphology.
    """
    if end <= 0:
        return
    w = FLOOR_WINDOW_SECONDS
    qrs = {c.name: max_gap_seconds(c.peaks, c.x.size - int(w * c.fs_hz), c.x.size, c.fs_hz) for c in ecg}
    # the claim counts only what a lead recorded: a lead frozen or pinned at its rail shows no heart at all
    _best_lead({c.name: g for c in ecg if (g := _recorded_qrs_gap(c, w)) is not None}, "floor_ecg_qrs_gap_all_s",
               f, t, lambda lead, g: f"every usable lead recorded {g:.1f} s or more without a QRS in the last {w:.0f} s")
    # noise and P waves mistaken for QRS come at random; a lead vouches with a regular QRS train only,
    # and one that another usable channel confirms: a beat shows on every lead and makes a pulse
    usable = ecg + pulse
    regular = {c.name: qrs[c.name] for c in ecg if _tail_regularity(c) >= REGULAR_TRAIN
               and _confirmed(c, [o for o in usable if o is not c], w)}
    _best_lead(regular, "floor_ecg_qrs_gap_s", f, t,
               lambda lead, g: f"lead {lead} shows a regular QRS train through the last {w:.0f} s (longest pause {g:.1f} s)")
    if alarm_type != "asystole":
        _floor_morphology(per_lead(), w, f, t)
    _pulse_on_time(pulse, w, f, t)
    trusted = _trusted_pulses(pulse, ecg)
    steady = {c.name: d for c in trusted if (d := _pulse_disturbance(c, w)) is not None}
    f["floor_pulse_disturbance"] = _na(min((v[0] for v in steady.values()), default=None))
    if steady:
        name = min(steady, key=lambda k: steady[k][0])
        _, a, r, g = steady[name]
        t["floor_pulse_disturbance"] = (
            f"{name} (its rate matched the ECG before) kept pulsing through the last {w:.0f} s: "
            f"rate {100 * r:.0f}% and amplitude {100 * a:.0f}% of the earlier level, longest pause "
            f"{g:.1f} usual beats"
        )


def _last_finite(v: FloatArray, end: int, first: int) -> int:
    """One past the last finite sample of ``v[:end]`` (0 if none), reading the window ``[first, end)``
    first: the whole record is scanned only when the window is all missing."""
    for lo in (first, 0):
        i = np.flatnonzero(np.isfinite(np.asarray(v[lo:end], dtype=np.float64)))
        if i.size:
            return lo + int(i[-1]) + 1
    return 0


def extract_evidence(
    alarm_type: str,
    signals: dict[str, FloatArray],
    units: dict[str, str],
    fs_hz: float,
    alarm_index: int,
    uncovered_seconds: float = 0.0,
) -> Evidence:
    """Features and findings for one alarm from waveforms ending at decision time.

    Only samples before ``alarm_index`` are used, and of those only the last
    ``EVIDENCE_WINDOW_SECONDS``.  Unknown alarm types get the general features.
    ``uncovered_seconds``: how far the alarm lies beyond the samples given (a lagging chunk); with
    the trailing samples missing on every channel, it keeps the safety floor from vouching.
    """
    end = max(0, min(int(alarm_index), min((len(v) for v in signals.values()), default=0)))
    first = max(0, end - round(EVIDENCE_WINDOW_SECONDS * fs_hz))
    win = {k: np.asarray(v[first:end], dtype=np.float64) for k, v in signals.items()}
    n = end - first
    start = max(0, n - round(ANALYSIS_SECONDS * fs_hz))
    chs = analyse_channels(win, units, fs_hz, start) if n >= int(2 * fs_hz) else []
    ecg = [c for c in chs if c.kind == "ecg" and c.usable]
    pulse = [c for c in chs if c.kind != "ecg" and c.usable]
    f: dict[str, float] = {"window_seconds": n / fs_hz}
    t: dict[str, str] = {}
    cache: dict[str, dict[str, _LeadVT]] = {}

    def per_lead() -> dict[str, _LeadVT]:
        if "per" not in cache:
            cache["per"] = {c.name: _vt_lead(c) for c in ecg}
        return cache["per"]

    _general(chs, ecg, pulse, f, t)
    if alarm_type == "asystole":
        _asystole(chs, ecg, pulse, n, f, t)
    elif alarm_type == "extreme_bradycardia":
        _rate(chs, ecg, pulse, 5, "brady_hr5", "min", f, t)
        _asystole(chs, ecg, pulse, n, f, t)
    elif alarm_type == "extreme_tachycardia":
        _rate(chs, ecg, pulse, 17, "tachy_hr17", "max", f, t)
    elif alarm_type == "ventricular_tachycardia":
        _vt(per_lead(), ecg, pulse, f, t)
    elif alarm_type == "ventricular_flutter_fib":
        _vf(chs, ecg, pulse, f, t)
        _vt(per_lead(), ecg, pulse, f, t)
        _asystole(chs, ecg, pulse, n, f, t)
    # seconds before the alarm the signals do not show: beyond the buffer, or missing on every channel
    last = max((_last_finite(v, end, first) for v in signals.values()), default=0)
    short_s = uncovered_seconds + ((int(alarm_index) - last) / fs_hz if fs_hz > 0 else 0.0)
    if alarm_type in LETHAL_ALARMS and short_s > FLOOR_MAX_UNCOVERED_SECONDS:
        # the waveform stops before the alarm: nothing can vouch for the rhythm through the event window
        t["floor_uncovered_s"] = f"the waveform stops {short_s:.1f} s before the alarm: its last seconds are unseen"
    elif alarm_type in LETHAL_ALARMS:
        _floor(alarm_type, per_lead, ecg, pulse, n, f, t)
    f = {k: (float(v) if np.isfinite(v) else NOT_AVAILABLE) for k, v in f.items()}
    return Evidence(features=f, findings=t)
