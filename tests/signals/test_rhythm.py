"""The narrow-QRS matched filter: sees the patient's own beats through slow artifact, not through VT."""

from __future__ import annotations

import numpy as np

from alarmfilter.signals.evidence import extract_evidence
from alarmfilter.signals.rhythm import narrow_beat_matches
from tests.signals.synth import FS, beat_times, ecg

SEC = 40.0


def test_normal_beats_are_matched_through_a_slow_motion_artifact() -> None:
    beats = beat_times(SEC, 75.0)
    x = ecg(SEC, beats)
    t = np.arange(x.size) / FS
    start = int(30 * FS)
    x[start:] += 2.0 * np.sin(2 * np.pi * 1.7 * t[start:]) ** 3  # large 1.7 Hz wobble, like rubbing
    ref = (beats[beats < 28.0] * FS).astype(int)
    m = narrow_beat_matches(x, ref, FS, start)
    expected = beats[(beats >= 30.0) & (beats < SEC - 0.1)]
    assert m.size >= expected.size - 1
    assert np.max(np.diff(np.r_[start, m, x.size])) / FS < 1.5


def test_a_wide_fast_run_leaves_no_narrow_match() -> None:
    sinus = beat_times(30.0, 70.0)
    vt = np.arange(30.0, SEC - 0.2, 60.0 / 170.0)
    x = ecg(SEC, sinus) + ecg(SEC, vt, qrs_ms=200.0, amp_mv=1.5, noise_mv=0.0, seed=1)
    ref = (sinus[sinus < 28.0] * FS).astype(int)
    assert narrow_beat_matches(x, ref, FS, int(30.5 * FS)).size == 0
    assert narrow_beat_matches(x, ref[:3], FS, int(30.5 * FS)).size == 0  # no template, no claim


def test_vt_evidence_reports_the_narrow_qrs_gap() -> None:
    sinus = beat_times(30.0, 70.0)
    vt = np.arange(30.0, SEC - 0.2, 60.0 / 170.0)
    sig = {"II": ecg(SEC, sinus) + ecg(SEC, vt, qrs_ms=200.0, amp_mv=1.5, noise_mv=0.0, seed=1)}
    ev = extract_evidence("ventricular_tachycardia", sig, {"II": "mV"}, FS, sig["II"].size)
    assert ev.features["vt_narrow_gap_min_s"] >= 8.0
    assert ev.features["vt_usual_gap_min_s"] >= 8.0
    assert "absent" in ev.findings["vt_narrow_gap_min_s"]
    assert "no lead shows" in ev.findings["vt_usual_gap_min_s"]
    calm = {"II": ecg(SEC, beat_times(SEC, 70.0))}
    ev = extract_evidence("ventricular_flutter_fib", calm, {"II": "mV"}, FS, calm["II"].size)
    assert ev.features["vt_narrow_gap_min_s"] < 1.5
    assert ev.features["vt_usual_gap_min_s"] < 1.5
    assert "recurs" in ev.findings["vt_narrow_gap_min_s"]


def test_a_lead_coming_off_is_flagged_a_real_asystole_is_not() -> None:
    beats = beat_times(SEC, 75.0)
    paused = beats[beats < 32.0]
    units = {"II": "mV", "V": "mV"}
    true_asy = {"II": ecg(SEC, paused), "V": ecg(SEC, paused, amp_mv=0.8, seed=3)}  # baseline noise remains
    ev = extract_evidence("asystole", true_asy, units, FS, int(SEC * FS))
    assert ev.features["asy_ecg_flat_frac_max"] == 0.0
    assert "asy_ecg_flat_frac_max" not in ev.findings
    lead_off = {"II": ecg(SEC, beats), "V": ecg(SEC, beats, amp_mv=0.8, seed=3)}
    lead_off["V"][int(32 * FS):] = lead_off["V"][int(32 * FS)]  # the trace freezes: a disconnected lead
    ev = extract_evidence("asystole", lead_off, units, FS, int(SEC * FS))
    assert ev.features["asy_ecg_flat_frac_max"] >= 0.45
    assert "lead V" in ev.findings["asy_ecg_flat_frac_max"]
    # a lead flat all along was already off: it says nothing about this alarm
    long_off = {"II": ecg(SEC, paused), "V": np.zeros(int(SEC * FS))}
    ev = extract_evidence("asystole", long_off, units, FS, int(SEC * FS))
    assert ev.features["asy_ecg_flat_frac_max"] == 0.0


def test_vt_run_is_regular_an_artifact_is_not() -> None:
    sinus = beat_times(30.0, 70.0)
    vt = np.arange(30.0, SEC - 0.2, 60.0 / 170.0)
    run = {"II": ecg(SEC, sinus) + ecg(SEC, vt, qrs_ms=200.0, amp_mv=1.5, noise_mv=0.0, seed=1)}
    ev = extract_evidence("ventricular_tachycardia", run, {"II": "mV"}, FS, run["II"].size)
    assert ev.features["vt_stretch_regularity_max"] > 0.9
    assert "regular" in ev.findings["vt_stretch_regularity_max"]
    rng = np.random.default_rng(7)
    junk = np.sort(rng.uniform(30.0, SEC - 0.2, 25))  # erratic wide "beats", like a motion artifact
    art = {"II": ecg(SEC, sinus) + ecg(SEC, junk, qrs_ms=200.0, amp_mv=1.5, noise_mv=0.0, seed=1)}
    ev = extract_evidence("ventricular_tachycardia", art, {"II": "mV"}, FS, art["II"].size)
    assert ev.features["vt_stretch_regularity_max"] < 0.6
    assert "VT run" in ev.findings["vt_stretch_regularity_max"]
