"""Per-type decision thresholds that meet a sensitivity target, and the decision itself.

A missed true alarm can kill; a forwarded false one costs attention.  So each
type's threshold, chosen on out-of-fold development scores, must forward at
least a minimum fraction of the true alarms (all of them for asystole and VF),
and within that constraint minimises FP + 5 x FN (the challenge's cost of a miss).
It is then moved down by a safety margin in logit space, because a handful of
true asystoles cannot pin a threshold precisely.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: minimum sensitivity per alarm type (lethal rhythms: every true alarm forwarded)
SENSITIVITY_TARGETS: dict[str, float] = {
    "asystole": 1.0,
    "ventricular_flutter_fib": 1.0,
    "ventricular_tachycardia": 0.9,
    "extreme_bradycardia": 1.0,
    "extreme_tachycardia": 1.0,
}
#: minimum sensitivity of every other type (threshold alarms: SpO2, HR, ABP, RR, apnea)
DEFAULT_SENSITIVITY_TARGET = 0.95
#: cost of a missed true alarm relative to a forwarded false one (the challenge's 5)
MISS_COST = 5.0
#: logit-space safety margin below the chosen threshold
MARGIN_LOGIT: dict[str, float] = {
    "asystole": 1.0,
    "ventricular_flutter_fib": 1.0,
    "ventricular_tachycardia": 0.25,
    "extreme_bradycardia": 0.25,
    "extreme_tachycardia": 0.25,
}
DEFAULT_MARGIN_LOGIT = 0.5
#: threshold used for a type with no development scores: forward everything
FORWARD_ALL = 0.0


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def choose_threshold(scores: Sequence[float], labels: Sequence[bool], target_sensitivity: float,
                     margin_logit: float = DEFAULT_MARGIN_LOGIT, miss_cost: float = MISS_COST) -> float:
    """Threshold with TPR >= target that minimises FP + miss_cost * FN, lowered by ``margin_logit``.

    Forward when ``score >= threshold``.  Candidates are the positives' scores;
    among those meeting the target, the cheapest wins (ties: the lower one).
    No positives -> forward everything.

    >>> choose_threshold([0.9, 0.8, 0.3, 0.1], [True, True, False, False], 1.0, margin_logit=0.0)
    0.8
    >>> choose_threshold([0.9, 0.8, 0.3, 0.1], [True, True, False, False], 0.5, margin_logit=0.0)
    0.8
    >>> s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    >>> choose_threshold(s, [True, True] + [False] * 6 + [True], 0.5, 0.0)  # 6 FP cost more than 1 FN
    0.8
    >>> choose_threshold(s[:6] + [0.1], [True, True] + [False] * 4 + [True], 0.5, 0.0)  # 4 FP cost less
    0.1
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    pos = np.sort(s[y])[::-1]
    if pos.size == 0:
        return FORWARD_ALL
    k_min = max(1, math.ceil(target_sensitivity * pos.size - 1e-9))
    cands = pos[k_min - 1:]  # thresholds that keep at least k_min positives
    fn = np.array([np.sum(pos < c) for c in cands])
    fp = np.array([np.sum(s[~y] >= c) for c in cands])
    cost = fp + miss_cost * fn
    t = float(cands[int(np.flatnonzero(cost == cost.min())[-1])])
    if margin_logit > 0:
        t = min(t, _sigmoid(_logit(t) - margin_logit))  # min: logit clipping near 0
    return float(t)


def fit_thresholds(rows: Iterable[tuple[str, float, bool]],
                   targets: Mapping[str, float] = SENSITIVITY_TARGETS,
                   margins: Mapping[str, float] = MARGIN_LOGIT) -> dict[str, float]:
    """Thresholds per type from ``(alarm_type, out-of-fold score, label)`` rows."""
    by: dict[str, tuple[list[float], list[bool]]] = {}
    for t, s, y in rows:
        by.setdefault(t, ([], []))
        by[t][0].append(float(s))
        by[t][1].append(bool(y))
    return {
        t: choose_threshold(s, y, targets.get(t, DEFAULT_SENSITIVITY_TARGET), margins.get(t, DEFAULT_MARGIN_LOGIT))
        for t, (s, y) in sorted(by.items())
    }


@dataclass(frozen=True, slots=True)
class ThresholdDecision:
    """Forward or suppress, the numbers behind it, and reasons a clinician can read."""

    forward: bool
    score: float
    threshold: float
    reasons: tuple[str, ...]


def decide(alarm_type: str, score: float, thresholds: Mapping[str, float],
           findings: Mapping[str, str] | None = None,
           contributions: Mapping[str, float] | None = None, max_reasons: int = 3) -> ThresholdDecision:
    """Forward if ``score >= threshold(type)`` (unknown type -> forward), with reasons that agree.

    Reasons are the findings of the features that pushed the score the way the decision
    went (largest logit contributions first); a finding that argued the other way is never
    given as a reason.  With none, the reason says so plainly.

    >>> d = decide("asystole", 0.01, {"asystole": 0.2},
    ...            {"asy_pulse_gap_min_s": "ABP pulses every 0.8 s", "asy_ecg_gap_min_s": "lead II paused 5 s"},
    ...            {"asy_pulse_gap_min_s": -2.0, "asy_ecg_gap_min_s": 0.5})
    >>> d.forward, d.reasons
    (False, ('ABP pulses every 0.8 s',))
    >>> decide("asystole", 0.9, {"asystole": 0.2}, {"asy_pulse_gap_min_s": "ABP pulses every 0.8 s"},
    ...        {"asy_pulse_gap_min_s": -2.0}).reasons
    ('no trustworthy evidence against the alarm (probability 0.90 >= 0.20)',)
    """
    thr = float(thresholds.get(alarm_type, FORWARD_ALL))
    forward = bool(score >= thr)
    findings = dict(findings or {})
    contributions = dict(contributions or {})
    sign = 1.0 if forward else -1.0
    ranked = sorted((k for k in contributions if sign * contributions[k] > 0 and k in findings),
                    key=lambda k: -abs(contributions[k]))
    reasons = tuple(findings[k] for k in ranked[:max_reasons])
    if not reasons:
        reasons = ((f"no trustworthy evidence against the alarm (probability {score:.2f} >= {thr:.2f})",)
                   if forward else (f"probability {score:.2f} < threshold {thr:.2f} for {alarm_type}",))
    return ThresholdDecision(forward, float(score), thr, reasons)
