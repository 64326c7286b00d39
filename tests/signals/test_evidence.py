"""Evidence contract, per-type physiology on synthetic scenarios, quality indices."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from alarmfilter.policy.floor import FloorCheck, check_floor
from alarmfilter.signals.evidence import (
    ALARM_TYPES,
    EVIDENCE_WINDOW_SECONDS,
    NOT_AVAILABLE,
    Evidence,
    extract_evidence,
)
from alarmfilter.signals.preprocess import fill_missing
from alarmfilter.signals.sqi import channel_quality
from tests.signals.synth import FS, beat_times, ecg, pulse

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "challenge2015-dev"
SEC = 40.0


def _bed(beats: np.ndarray, ecg_beats: np.ndarray | None = None, **kw: float) -> dict[str, np.ndarray]:
    eb = beats if ecg_beats is None else ecg_beats
    return {"II": ecg(SEC, eb, **kw), "V": ecg(SEC, eb, amp_mv=0.8, seed=3, **kw), "ABP": pulse(SEC, beats)}


UNITS = {"II": "mV", "V": "mV", "ABP": "mmHg", "PLETH": "NU"}


def _ev(kind: str, sig: dict[str, np.ndarray]) -> Evidence:
    n = len(sig["II"])
    return extract_evidence(kind, sig, UNITS, FS, n)


@pytest.mark.parametrize("alarm_type", [*ALARM_TYPES, "spo2_low"])
def test_features_are_finite_floats_with_findings(alarm_type: str) -> None:
    ev = _ev(alarm_type, _bed(beat_times(SEC, 80.0)))
    assert ev.features and all(isinstance(v, float) and math.isfinite(v) for v in ev.features.values())
    assert all(isinstance(s, str) and s for s in ev.findings.values())
    assert set(ev.findings) <= set(ev.features)


def test_never_reads_past_alarm_index() -> None:
    sig = _bed(beat_times(SEC, 80.0))
    cut = int(30 * FS)
    after = {k: np.r_[v[:cut], np.full(v.size - cut, np.nan)] for k, v in sig.items()}
    a = extract_evidence("asystole", sig, UNITS, FS, cut)
    b = extract_evidence("asystole", after, UNITS, FS, cut)
    assert a.features == b.features
    assert a.features["window_seconds"] == pytest.approx(min(EVIDENCE_WINDOW_SECONDS, 30.0))


def test_asystole_real_pause_vs_ecg_dropout_with_pulses() -> None:
    normal = beat_times(SEC, 75.0)
    paused = normal[(normal < 30.0) | (normal > 38.0)]
    true_asy = _ev("asystole", _bed(paused))
    assert true_asy.features["asy_ecg_gap_min_s"] > 6.0
    assert true_asy.features["asy_pulse_gap_min_s"] > 6.0
    # false alarm: ECG leads lose amplitude (monitor sees no QRS) while ABP keeps pulsing
    sig = _bed(normal)
    for k in ("II", "V"):
        sig[k][int(30 * FS):] = 0.01 * np.random.default_rng(0).standard_normal(sig[k].size - int(30 * FS))
    false_asy = _ev("asystole", sig)
    assert false_asy.features["asy_pulse_gap_min_s"] < 1.2
    assert "ABP" in false_asy.findings["asy_pulse_gap_min_s"]


def test_a_lead_pinned_at_its_rail_claims_no_asystole() -> None:
    """Leads that come off into saturation record nothing; a steady pulse then vouches. A real pause still claims."""
    normal = beat_times(SEC, 75.0)
    sig = _bed(normal)
    for k in ("II", "V"):  # both leads saturate at their rail for the last 6 s
        sig[k][int(34 * FS):] = sig[k].max() + 0.001 * np.random.default_rng(1).standard_normal(sig[k].size - int(34 * FS))
    off = _ev("asystole", sig)
    check = check_floor("asystole", off.features, off.findings)
    assert off.features["floor_ecg_qrs_gap_all_s"] < 4.0 and check.may_suppress, check.reason
    paused = normal[(normal < 30.0) | (normal > 38.0)]
    real = _ev("asystole", _bed(paused))
    assert real.features["floor_ecg_qrs_gap_all_s"] >= 4.0
    assert not check_floor("asystole", real.features, real.findings).may_suppress


def test_a_qrs_train_no_other_channel_confirms_does_not_vouch_against_asystole() -> None:
    """A beat shows on every lead: complexes on II that V, recording a flat line, does not show may be
    noise or agonal lumps (vfdb 427's true asystole with noise added), and cannot vouch alone."""
    before = beat_times(30.0, 75.0)
    lumps = np.r_[before, np.arange(30.5, SEC - 0.2, 1.0)]
    quiet = {"II": ecg(SEC, lumps), "V": ecg(SEC, before, amp_mv=0.8, seed=3)}
    quiet["V"][int(30 * FS):] = 0.02 * np.random.default_rng(2).standard_normal(quiet["V"].size - int(30 * FS))
    both = {"II": ecg(SEC, lumps), "V": ecg(SEC, lumps, amp_mv=0.8, seed=3)}
    units = {"II": "mV", "V": "mV"}
    alone, confirmed = (extract_evidence("asystole", sig, units, FS, int(SEC * FS)) for sig in (quiet, both))
    assert alone.features["floor_ecg_qrs_gap_s"] == NOT_AVAILABLE
    assert not check_floor("asystole", alone.features, alone.findings).may_suppress
    assert confirmed.features["floor_ecg_qrs_gap_s"] < 1.5
    assert check_floor("asystole", confirmed.features, confirmed.findings).may_suppress


def test_brady_and_tachy_rates() -> None:
    brady = _ev("extreme_bradycardia", _bed(beat_times(SEC, 35.0)))
    assert brady.features["brady_hr5_median_bpm"] == pytest.approx(35.0, abs=2.0)
    tachy = _ev("extreme_tachycardia", _bed(beat_times(SEC, 160.0)))
    assert tachy.features["tachy_hr17_median_bpm"] == pytest.approx(160.0, abs=3.0)


def test_vt_run_of_wide_fast_beats_is_found() -> None:
    sinus = beat_times(30.0, 70.0)
    vt = np.arange(30.0, SEC - 0.5, 60.0 / 170.0)
    sig = {
        "II": ecg(SEC, sinus) + ecg(SEC, vt, qrs_ms=200.0, amp_mv=1.5, noise_mv=0.0, seed=1),
        "V": ecg(SEC, sinus, seed=2) - ecg(SEC, vt, qrs_ms=200.0, amp_mv=1.0, noise_mv=0.0, seed=4),
    }
    ev = extract_evidence("ventricular_tachycardia", sig, {"II": "mV", "V": "mV"}, FS, sig["II"].size)
    assert ev.features["vt_chain_min_beats"] >= 10
    normal = extract_evidence("ventricular_tachycardia", {"II": ecg(SEC, beat_times(SEC, 70.0))}, {"II": "mV"}, FS, int(SEC * FS))
    assert normal.features["vt_chain_max_beats"] < 3


def test_wide_beats_that_ring_like_the_usual_qrs_do_not_vouch_against_their_own_vt() -> None:
    """A VT whose wide beats carry a sharp deflection like the patient's QRS (seen on real records,
    v803l) matches the 15-40 Hz template; inside the lead's own run those matches are the run's beats."""
    sinus = beat_times(33.0, 70.0)
    vt = np.arange(33.0, SEC - 0.3, 60.0 / 140.0)
    lead = ecg(SEC, sinus) + ecg(SEC, vt, qrs_ms=200.0, amp_mv=1.5, noise_mv=0.0, seed=1) \
        + ecg(SEC, vt, amp_mv=1.2, noise_mv=0.0, seed=2)
    ev = extract_evidence("ventricular_tachycardia", {"II": lead}, {"II": "mV"}, FS, lead.size)
    assert ev.features["floor_ecg_chain_beats"] >= 10
    assert ev.features["floor_ecg_usual_gap_s"] > 5.0
    assert not check_floor("ventricular_tachycardia", ev.features, ev.findings).may_suppress


def test_a_pulse_vouches_against_vt_only_when_every_pulse_came_on_time() -> None:
    """Under an ECG artifact, a steady pulse disproves the VT; a perfusing run (6 pulses at 170 bpm) does not.

    The pulse need not have matched the ECG's earlier rate: a train that came on time beat by beat is the
    circulation's own.
    """
    sinus = beat_times(SEC, 70.0)
    run = np.arange(34.0, 34.0 + 6 * 60.0 / 170.0, 60.0 / 170.0)
    with_run = np.sort(np.r_[sinus[(sinus < 33.9) | (sinus > run[-1] + 0.5)], run])
    rng = np.random.default_rng(7)

    def floor(pulse_beats: np.ndarray, ecg_beats: np.ndarray = sinus, artifact: bool = True) -> FloorCheck:
        sig = {k: ecg(SEC, ecg_beats, seed=i) for i, k in enumerate(("II", "V"))}
        for x in sig.values() if artifact else ():  # artifact buries the QRS over the event window
            x[int(31 * FS):] = 1.5 * rng.standard_normal(x.size - int(31 * FS))
        sig["ABP"] = pulse(SEC, pulse_beats)
        ev = _ev("ventricular_tachycardia", sig)
        return check_floor("ventricular_tachycardia", ev.features, ev.findings)

    steady = floor(sinus)
    assert steady.may_suppress and "ABP" in steady.reason and "every pulse came" in steady.reason
    perfusing = floor(with_run)
    assert not perfusing.may_suppress, perfusing.reason
    # usable leads counting 160 /min (a double count: too fast to learn a usual QRS from) disagree with the
    # pulse's 70 /min, so the pulse is not "trusted" by rate; its steady beats still vouch
    doubled = floor(sinus, ecg_beats=beat_times(SEC, 160.0), artifact=False)
    assert doubled.may_suppress and "ABP" in doubled.reason, doubled.reason


def test_missing_channels_give_sentinel_not_nan() -> None:
    sig = _bed(beat_times(SEC, 80.0))
    sig["ABP"][:] = np.nan
    ev = _ev("asystole", sig)
    assert ev.features["asy_pulse_gap_min_s"] == NOT_AVAILABLE
    assert ev.features["n_pulse_usable"] == 0.0


def test_quality_flags_flat_and_saturated_leads() -> None:
    x = ecg(16.0, beat_times(16.0, 80.0))
    good = channel_quality(*fill_missing(x), FS, "ecg")
    assert good.usable and good.ksqi > 5
    flat = channel_quality(*fill_missing(np.zeros_like(x)), FS, "ecg")
    assert not flat.usable
    clipped = channel_quality(*fill_missing(np.clip(x * 10, -0.5, 0.5)), FS, "ecg")
    assert clipped.saturated_frac > 0.2 and not clipped.usable


@pytest.mark.skipif(not DATA.exists(), reason="real data ../shared/data/challenge2015-dev absent")
def test_real_asystole_records() -> None:
    """a443l: true asystole (ECG pause > 10 s); a311l: false (regular pulses on ABP)."""
    from alarmfilter.datasets.challenge import load_record

    s, u, fs, t, _ = load_record(DATA / "a443l")
    assert extract_evidence(t, s, u, fs, len(s["II"])).features["asy_ecg_gap_min_s"] > 8.0
    s, u, fs, t, _ = load_record(DATA / "a311l")
    assert extract_evidence(t, s, u, fs, len(s["II"])).features["asy_gap_min_s"] < 1.0


@pytest.mark.parametrize("seconds", [0.5, 3.0, 12.0])
@pytest.mark.parametrize("alarm_type", ALARM_TYPES)
def test_short_windows_still_give_finite_features(seconds: float, alarm_type: str) -> None:
    """At stream start the engine may hold only a few seconds: no crash, no NaN."""
    n = int(seconds * FS)
    sig = {k: v[-n:] for k, v in _bed(beat_times(SEC, 90.0)).items()}
    ev = extract_evidence(alarm_type, sig, UNITS, FS, n)
    assert all(math.isfinite(v) for v in ev.features.values())
    if seconds < 2.0:
        assert ev.features["n_ecg_usable"] == 0.0 and ev.features["n_pulse_usable"] == 0.0


def test_all_missing_and_unknown_channels_are_tolerated() -> None:
    n = int(SEC * FS)
    sig = {"II": np.full(n, np.nan), "RESP": np.sin(np.arange(n) / 100.0), "XYZ": np.zeros(n)}
    ev = extract_evidence("ventricular_tachycardia", sig, {"II": "mV"}, FS, n)
    assert ev.features["n_ecg_usable"] == 0.0
    assert all(math.isfinite(v) for v in ev.features.values())
    assert extract_evidence("asystole", {}, {}, FS, 0).features["window_seconds"] == 0.0


@pytest.mark.parametrize("alarm_type", ALARM_TYPES)
def test_every_feature_is_documented(alarm_type: str) -> None:
    from alarmfilter.signals.catalog import FEATURE_DESCRIPTIONS

    ev = _ev(alarm_type, _bed(beat_times(SEC, 80.0)))
    assert set(ev.features) <= set(FEATURE_DESCRIPTIONS), set(ev.features) - set(FEATURE_DESCRIPTIONS)
