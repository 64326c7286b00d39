"""Threshold-alarm evidence: each cross-signal question tells the artefact from the patient."""

from __future__ import annotations

import numpy as np
import pytest

from alarmfilter.signals.evidence import NOT_AVAILABLE
from alarmfilter.signals.numerics import (
    FaultContext,
    numerics_evidence,
    periodicity,
    source_channel,
)
from tests.signals.synth import FS, beat_times, pulse

TS = np.arange(0.0, 300.0)
ALARM_TS = 299.0


def series(**values: np.ndarray) -> dict[str, np.ndarray]:
    return {k: np.c_[TS, v] for k, v in values.items()}


def desaturation() -> np.ndarray:
    """Real: SpO2 falls from 97 % to 84 % over 40 s and stays down."""
    return np.clip(97 - np.maximum(0, TS - 250) * 0.33, 84, 97)


def probe_drop() -> np.ndarray:
    """Artefact: SpO2 drops in one step at the alarm."""
    return np.where(TS < 298, 97.0, 72.0)


def test_real_desaturation_is_persistent_and_gradual_a_probe_drop_is_not():
    real = numerics_evidence("spo2_low", series(spo2_pct=desaturation()), ALARM_TS).features
    art = numerics_evidence("spo2_low", series(spo2_pct=probe_drop()), ALARM_TS).features
    assert real["num_persist_seconds"] > 20 > art["num_persist_seconds"]
    assert real["num_max_step_per_s"] < 2
    assert art["num_max_step_per_s"] > 20
    assert real["num_slope_per_min"] > 5  # towards the alarm (down, for a low alarm)
    assert real["num_baseline_delta"] > 10 and art["num_baseline_delta"] > 20
    assert real["fault_on_source"] == 0.0 and real["fault_age_seconds"] == NOT_AVAILABLE


def test_only_data_up_to_the_alarm_is_used():
    spo2 = desaturation()
    later = np.where(TS > ALARM_TS, 40.0, spo2)  # anything after the alarm must not matter
    a = numerics_evidence("spo2_low", series(spo2_pct=spo2), ALARM_TS).features
    b = numerics_evidence("spo2_low", series(spo2_pct=later), ALARM_TS).features
    assert a == b


def test_hr_disagreeing_with_pulse_rate_is_measured():
    hr = np.where(TS < 297, 80.0, 160.0)  # double-counted T waves on the ECG
    ev = numerics_evidence("hr_high", series(hr_bpm=hr, pulse_bpm=np.full_like(TS, 80.0)), ALARM_TS)
    assert ev.features["hr_pulse_gap_bpm"] == pytest.approx(80.0)
    assert "pulse rate 80" in ev.findings["hr_pulse_gap_bpm"]


def test_abp_flush_has_no_pulse_pressure_and_a_flat_waveform():
    sys_ = np.where(TS < 296, 120.0, 300.0)
    dia = np.where(TS < 296, 70.0, 290.0)
    t = np.arange(int(10 * FS)) / FS
    flush = np.r_[pulse(4.0, beat_times(4.0, 75)), np.full(int(6 * FS), 300.0)] + 0 * t
    normal = pulse(10.0, beat_times(10.0, 75))
    ev_flush = numerics_evidence("abp_high", series(abp_sys_mmhg=sys_, abp_dia_mmhg=dia), ALARM_TS,
                                 signals={"ABP": flush}, fs_hz=FS, alarm_index=len(flush))
    ev_real = numerics_evidence("abp_high", series(abp_sys_mmhg=sys_, abp_dia_mmhg=dia - 200), ALARM_TS,
                                signals={"ABP": normal}, fs_hz=FS, alarm_index=len(normal))
    assert ev_flush.features["abp_pulse_pressure_mmhg"] == pytest.approx(10.0)
    assert ev_flush.features["abp_wave_flat_frac"] >= 0.5 > ev_real.features["abp_wave_flat_frac"]
    assert ev_real.features["abp_wave_pulsatility_mmhg"] > 20


def test_ppg_quality_separates_a_pleth_from_noise():
    clean = pulse(10.0, beat_times(10.0, 72), base=0.0, amp=1.0)
    noise = np.random.default_rng(3).normal(size=int(10 * FS))
    hr = np.full_like(TS, 72.0)
    good = numerics_evidence("spo2_low", series(spo2_pct=probe_drop(), hr_bpm=hr), ALARM_TS,
                             signals={"PLETH": clean}, fs_hz=FS, alarm_index=len(clean)).features
    bad = numerics_evidence("spo2_low", series(spo2_pct=probe_drop(), hr_bpm=hr), ALARM_TS,
                            signals={"PLETH": noise}, fs_hz=FS, alarm_index=len(noise)).features
    assert good["ppg_quality"] > 0.7
    assert bad["ppg_quality"] < 0.3
    assert good["ppg_rate_gap_bpm"] < 5
    _, bpm = periodicity(clean, FS)
    assert bpm == pytest.approx(72, abs=3)


def test_fault_context_and_missing_numerics_are_features_not_errors():
    ev = numerics_evidence("spo2_low", {}, ALARM_TS, fault=FaultContext("spo2_probe_off", 4.0))
    assert ev.features["fault_on_source"] == 1.0 and ev.features["fault_age_seconds"] == 4.0
    assert ev.features["num_missing_frac"] == 1.0
    assert "spo2_probe_off" in ev.findings["fault_on_source"]
    assert all(np.isfinite(v) for v in ev.features.values())


def test_waveform_with_gaps_and_unknown_types_stay_finite():
    x = pulse(10.0, beat_times(10.0, 72))
    x[::3] = np.nan
    ev = numerics_evidence("spo2_low", series(spo2_pct=probe_drop()), ALARM_TS,
                           signals={"PLETH": x}, fs_hz=FS, alarm_index=len(x))
    assert ev.features["ppg_quality"] == 0.0  # too much missing to judge: no credit
    assert numerics_evidence("made_up", series(spo2_pct=probe_drop()), ALARM_TS).features == {
        "fault_on_source": 0.0, "fault_age_seconds": NOT_AVAILABLE}
    assert source_channel("abp_low") == "abp" and source_channel("asystole") == "ecg"


def test_within_the_hold_a_recovering_artefact_and_a_lasting_desaturation_differ():
    ts = np.arange(0.0, 320.0)
    lasting = np.clip(97 - np.maximum(0, ts - 250) * 0.33, 84, 97)
    recovers = np.where((ts >= 298) & (ts < 302), 72.0, 97.0)
    a = numerics_evidence("spo2_low", {"spo2_pct": np.c_[ts, lasting]}, ALARM_TS, until_ts=ALARM_TS + 10)
    b = numerics_evidence("spo2_low", {"spo2_pct": np.c_[ts, recovers]}, ALARM_TS, until_ts=ALARM_TS + 10)
    assert a.features["num_post_beyond_frac"] == 1.0
    assert b.features["num_post_beyond_frac"] == pytest.approx(0.2)
    assert "after the alarm" in b.findings["num_post_beyond_frac"]
    no_hold = numerics_evidence("spo2_low", {"spo2_pct": np.c_[ts, lasting]}, ALARM_TS).features
    assert "num_post_beyond_frac" not in no_hold
