"""The prequential ward experiment: false alarms suppressed rise, sensitivity holds, the audit
estimate of missed true alarms covers the truth."""

from __future__ import annotations

from alarmfilter.sim.learning_experiment import run_feedback_experiment, summary


def test_prequential_ward_experiment():
    r = run_feedback_experiment(seed=0)
    print("\n" + summary(r))
    q = r.quarters
    # learning the beds' artefacts; bed 03's probe drops take SpO2 below the 80 % critical bound, and
    # those are forwarded whatever is learned
    assert q[0].false_suppressed_pct < 30 and q[-1].false_suppressed_pct > 55
    assert q[-1].false_suppressed_pct > q[0].false_suppressed_pct + 30
    assert all(x.sensitivity >= 0.95 for x in q) and r.sensitivity >= 0.98
    assert r.audit_samples > 0 and r.estimate.informative
    assert r.estimate.missed_true_low <= r.missed_true <= r.estimate.missed_true_high
