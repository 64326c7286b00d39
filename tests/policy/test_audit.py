"""The audit-sample estimate of missed true alarms: unbiased, and its interval covers the truth."""

from __future__ import annotations

import random

import pytest

from alarmfilter.policy.audit import AuditLedger, estimate_from_stats, wilson_interval


def simulate(rng: random.Random, n: int, true_rate: float, audit_fraction: float) -> tuple[dict[str, int], int]:
    """A would-be-suppressed population; audit samples are forwarded and labelled, the rest are missed."""
    stats = dict.fromkeys(["audit_population", "audit_samples", "audit_labelled_true", "audit_labelled_false"], 0)
    missed = 0
    for _ in range(n):
        true = rng.random() < true_rate
        stats["audit_population"] += 1
        if rng.random() < audit_fraction:
            stats["audit_samples"] += 1
            stats["audit_labelled_true" if true else "audit_labelled_false"] += 1
        else:
            missed += true
    return stats, missed


def test_confidence_interval_covers_the_true_missed_count_at_its_nominal_rate():
    rng = random.Random(7)
    runs, covered, errors = 400, 0, []
    for _ in range(runs):
        stats, missed = simulate(rng, n=2000, true_rate=0.04, audit_fraction=0.05)
        est = estimate_from_stats(stats)
        covered += est.missed_true_low <= missed <= est.missed_true_high
        errors.append(est.missed_true - missed)
    assert covered / runs >= 0.92  # nominal 95 %
    assert abs(sum(errors) / runs) < 8.0  # unbiased: mean error within 4 standard errors (~2 each)


def test_no_audit_labels_means_an_uninformative_interval():
    est = estimate_from_stats({"audit_population": 100, "audit_samples": 0})
    assert not est.informative
    assert (est.missed_true_low, est.missed_true_high) == (0.0, 100.0)


def test_missed_share_is_relative_to_the_true_alarms_forwarded():
    est = estimate_from_stats({"audit_population": 1020, "audit_samples": 20, "audit_labelled_true": 2,
                               "audit_labelled_false": 18, "forwarded_labelled_true": 898})
    assert est.true_fraction == pytest.approx(0.1)
    assert est.missed_true == pytest.approx(100.0)
    assert est.missed_share == pytest.approx(100 / 1000)
    assert est.missed_share_low < est.missed_share < est.missed_share_high


def test_ledger_weights_samples_by_inverse_propensity():
    # half the population audited at 10 % and half at 50 %: the 50 % stratum must not dominate
    led = AuditLedger()
    rng = random.Random(1)
    truth_true = 0
    for i in range(20000):
        p = 0.1 if i % 2 else 0.5
        true = rng.random() < (0.2 if i % 2 else 0.02)
        audited = rng.random() < p
        led.would_suppress(audited)
        truth_true += true
        if audited:
            led.audit_label(true, p)
    est = led.estimate()
    assert est.true_fraction == pytest.approx(truth_true / 20000, abs=0.01)
    with pytest.raises(ValueError, match="propensity"):
        led.audit_label(True, 0.0)


def test_wilson_interval_edges():
    assert wilson_interval(0.3, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(1.0, 10)
    assert hi == 1.0 and 0.6 < lo < 0.8
