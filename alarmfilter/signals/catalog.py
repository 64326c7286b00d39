"""What every evidence feature means, in one place (units in the names, -999.0 = not measurable).

Window terms: the *analysis window* is the last ``ANALYSIS_SECONDS`` (16 s) before
the alarm; *context* is the rest of the ``EVIDENCE_WINDOW_SECONDS`` buffer before
it (the patient's own baseline); the *VT tail* is the last ``VT_TAIL_SECONDS`` (10 s).
A channel is *usable* when it is not mostly missing, flat, clipped or noise.
"""

from __future__ import annotations

FEATURE_DESCRIPTIONS: dict[str, str] = {
    "window_seconds": "seconds of waveform actually analysed (<= EVIDENCE_WINDOW_SECONDS)",
    "n_ecg_usable": "number of usable ECG leads",
    "n_pulse_usable": "number of usable pulsatile channels (ABP, PLETH)",
    "hr_ecg_bpm": "median heart rate over the usable ECG leads, analysis window",
    "hr_pulse_bpm": "median pulse rate over the usable pulsatile channels, analysis window",
    "ecg_ksqi_max": "best ECG kurtosis (kSQI; clean QRS trains > 5)",
    "ecg_agreement_max": "best fraction of an ECG lead's beats confirmed by another channel (bSQI-like)",
    "asy_ecg_gap_min_s": "longest beat-free pause, least-paused usable ECG lead (analysis window)",
    "asy_ecg_gap_max_s": "longest beat-free pause, most-paused usable ECG lead",
    "asy_pulse_gap_min_s": "longest pulse-free pause on trusted pulse channels (rate matched the ECG in context)",
    "asy_ecg_flat_frac_max": "largest fraction of the analysis window an ECG lead (usable or not) froze exactly constant after having moved (>= 0.4 s runs: lead came off)",
    "asy_pulse_trusted_n": "number of trusted pulse channels",
    "asy_gap_min_s": "longest pause on the least-paused channel among ECG leads and trusted pulses",
    "pulse_gap_any_min_s": "longest pulse-free pause, least-paused usable pulse channel (trusted or not)",
    "brady_hr5_median_bpm": "slowest 5-beat rate per channel, median over usable channels",
    "brady_hr5_ecg_bpm": "slowest 5-beat rate, median over usable ECG leads",
    "brady_hr5_pulse_bpm": "slowest 5-beat rate, median over usable pulse channels",
    "brady_hr5_least_bpm": "slowest 5-beat rate of the least bradycardic channel",
    "tachy_hr17_median_bpm": "fastest 17-beat rate per channel, median over usable channels",
    "tachy_hr17_ecg_bpm": "fastest 17-beat rate, median over usable ECG leads",
    "tachy_hr17_pulse_bpm": "fastest 17-beat rate, median over usable pulse channels",
    "tachy_hr17_least_bpm": "fastest 17-beat rate of the least tachycardic channel",
    "tachy_hr17_most_bpm": "fastest 17-beat rate of the most tachycardic usable channel",
    "brady_hr5_most_bpm": "slowest 5-beat rate of the most bradycardic usable channel",
    "floor_ecg_usual_gap_s": "safety floor: longest break in the patient's usual QRS over the last 10 s, best usable lead",
    "floor_ecg_qrs_gap_s": "safety floor: longest QRS-free stretch over the last 10 s, best usable lead with a regular QRS train",
    "floor_ecg_qrs_gap_all_s": "safety floor: longest QRS-free stretch over the last 10 s, best usable lead",
    "floor_ecg_fibrillation_conc": "safety floor: spectral concentration at a 3-9 Hz dominant frequency over the last 8 s, any usable lead",
    "floor_ecg_chain_beats": "safety floor: longest run of fast, wide, alike beats, any usable lead",
    "floor_pulse_disturbance": "safety floor: largest |log change| of pulse rate, amplitude or pause over the last 10 s, steadiest trusted pulse",
    "vt_normal_gap_min_s": "longest stretch of the VT tail without a beat like the patient's usual one, best lead",
    "vt_usual_gap_min_s": "as vt_normal_gap_min_s, counting 15-40 Hz narrow-QRS template matches as usual beats too",
    "vt_narrow_gap_min_s": "longest stretch of the VT tail without a 15-40 Hz match of the patient's own narrow QRS, best lead",
    "vt_pulse_during_disturbance": "largest |log change| of pulse count / amplitude during that stretch, least disturbed pulse channel",
    "vt_stretch_regularity_max": "RR regularity of beats inside that stretch, best lead (1 = metronome)",
    "vt_stretch_rail_max": "fraction of samples at the amplifier rails inside that stretch, worst lead",
    "vt_run_max_beats": "longest run of fast (> 100 bpm) abnormal beats, any lead",
    "vt_run_min_beats": "longest run of fast abnormal beats, on the lead with the shortest such run",
    "vt_chain_max_beats": "longest run of fast, abnormal, mutually alike beats (monomorphic VT), any lead",
    "vt_chain_min_beats": "the same, on the lead with the shortest such chain",
    "vt_width_ratio_max": "widest QRS in the analysis window / the patient's usual QRS width",
    "vt_lowband_max": "ECG power fraction in 1-7 Hz over the last 5 s, any lead",
    "vt_hr5_max_bpm": "fastest 5-beat ECG rate, median over leads",
    "vt_pulse_disturbance_min": "largest |log change| of pulse rate, amplitude or pause over the last 8 s vs context",
    "vt_pulse_amp_ratio": "median pulse amplitude over the last 8 s / context amplitude",
    "vt_pulse_regularity": "pulse RR regularity in the analysis window, best pulse channel",
    "vf_conc_max": "ECG spectral concentration around its dominant 1-10 Hz peak, last 8 s, any lead",
    "vf_lowband_max": "ECG power fraction in 1-7 Hz over the last 8 s, any lead",
    "vf_ecg_regularity_max": "ECG RR regularity over the last 8 s, best lead",
    "vf_pulse_disturbance_min": "as vt_pulse_disturbance_min, for a VF alarm",
    "vf_pulse_amp_ratio": "as vt_pulse_amp_ratio, for a VF alarm",
    "vf_pulse_regularity": "as vt_pulse_regularity, for a VF alarm",
}
