"""Thresholds meet the sensitivity target on the scores they were chosen from."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alarmfilter.policy.thresholds import choose_threshold, decide, fit_thresholds


@settings(max_examples=200, deadline=None)
@given(
    scores=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=60),
    data=st.data(),
    target=st.sampled_from([0.8, 0.9, 0.95, 1.0]),
    margin=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_threshold_meets_sensitivity_target(scores, data, target, margin) -> None:
    labels = data.draw(st.lists(st.booleans(), min_size=len(scores), max_size=len(scores)))
    thr = choose_threshold(scores, labels, target, margin_logit=margin)
    pos = np.array([s for s, y in zip(scores, labels) if y])
    if pos.size:
        assert np.mean(pos >= thr) >= target - 1e-9


def test_threshold_is_as_strict_as_allowed_without_margin() -> None:
    scores = [0.95, 0.9, 0.7, 0.6, 0.2, 0.1]
    labels = [True, True, True, False, False, False]
    thr = choose_threshold(scores, labels, 1.0, margin_logit=0.0)
    assert thr == 0.7
    assert choose_threshold(scores, labels, 1.0, margin_logit=1.0) < 0.7


def test_fit_thresholds_per_type_and_unseen_type_forwards() -> None:
    rows = [("asystole", 0.9, True), ("asystole", 0.1, False), ("extreme_tachycardia", 0.8, False)]
    th = fit_thresholds(rows, margins={"asystole": 0.0})
    assert th["asystole"] == 0.9
    assert th["extreme_tachycardia"] == 0.0  # no true alarm seen: forward all
    assert decide("hr_high", 0.0, th).forward


def test_decide_reasons_follow_contributions() -> None:
    findings = {"a": "ABP regular 78 bpm", "b": "lead II noisy", "c": "unused"}
    d = decide("asystole", 0.05, {"asystole": 0.3}, findings, {"a": -3.0, "b": -1.0, "c": 2.0})
    assert not d.forward and d.reasons[:2] == ("ABP regular 78 bpm", "lead II noisy")
    d2 = decide("asystole", 0.9, {"asystole": 0.3}, findings, {"a": -3.0, "c": 2.0})
    assert d2.forward and d2.reasons[0] == "unused"
