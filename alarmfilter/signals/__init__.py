"""Signal evidence for alarm decisions: pure numpy/scipy, arrays in, numbers out.

Public entry point: :func:`alarmfilter.signals.evidence.extract_evidence`, which
needs the last ``EVIDENCE_WINDOW_SECONDS`` of every ECG / ABP / PLETH channel
before the alarm.  Building blocks: ``preprocess`` (NaN bridging, filters),
``beats`` (QRS and pulse detection, rates), ``sqi`` (quality indices),
``rhythm`` (QRS width, templates, spectra), ``channels`` (per-channel analysis).
"""
