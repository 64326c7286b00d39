"""Clinician feedback: only for alarms shown, late, sometimes missing, sometimes wrong; seeded."""

from __future__ import annotations

import math

from alarmfilter.events import DecisionRecord
from alarmfilter.replay import Ward
from alarmfilter.sim import FeedbackConfig, FeedbackModel, SimRun
from alarmfilter.sim.closedloop import open_loop_feedback, run_closed_loop
from alarmfilter.sim.ward import category


def _decision(truth, forward: bool) -> DecisionRecord:
    return DecisionRecord(alarm_id=truth.alarm_id, bed=truth.bed, type=truth.type, priority=truth.priority,
                          alarm_ts=truth.ts, decision="forward" if forward else "suppress", score=0.5,
                          reason_code="evidence_supports", reasons=[], decided_ts=truth.ts, model_version="t")


def test_no_label_for_a_suppressed_alarm_and_labels_for_shown_ones(big_synthetic: SimRun) -> None:
    truths = [t for t in big_synthetic.truth.values() if category(t.type) != "technical"]
    cfg = FeedbackConfig(response_share=0.6, label_noise=0.1, median_delay_seconds=120, seed=1)
    model = FeedbackModel(big_synthetic.truth, cfg)
    assert all(model.on_decision(_decision(t, forward=False)) == [] for t in truths)
    labels = {t.alarm_id: model.on_decision(_decision(t, forward=True)) for t in truths}
    given = {k: v[0] for k, v in labels.items() if v}
    n = len(truths)
    assert abs(len(given) / n - 0.6) < 4 * math.sqrt(0.24 / n)
    wrong = sum(fb.actionable != big_synthetic.truth[k].actionable for k, fb in given.items())
    assert abs(wrong / len(given) - 0.1) < 4 * math.sqrt(0.09 / len(given))
    delays = sorted(fb.ts - big_synthetic.truth[k].ts for k, fb in given.items())
    assert all(d > 0 for d in delays)
    assert 90 < delays[len(delays) // 2] < 160  # the median delay
    assert max(delays) <= cfg.max_delay_seconds


def test_technical_alarms_get_no_label(small_synthetic: SimRun) -> None:
    model = FeedbackModel(small_synthetic.truth, FeedbackConfig(response_share=1.0))
    tech = [t for t in small_synthetic.truth.values() if category(t.type) == "technical"]
    assert tech and all(model.on_decision(_decision(t, True)) == [] for t in tech)


def test_labels_do_not_depend_on_decision_order(small_synthetic: SimRun) -> None:
    truths = list(small_synthetic.truth.values())
    model = FeedbackModel(small_synthetic.truth, FeedbackConfig(seed=4))
    forward = [model.on_decision(_decision(t, True)) for t in truths]
    backward = [model.on_decision(_decision(t, True)) for t in reversed(truths)][::-1]
    assert forward == backward
    other = [FeedbackModel(small_synthetic.truth, FeedbackConfig(seed=5)).on_decision(_decision(t, True)) for t in truths]
    assert other != forward


def test_open_loop_feedback_is_merged_in_event_time_order(small_synthetic: SimRun) -> None:
    model = FeedbackModel(small_synthetic.truth, FeedbackConfig(response_share=1.0, label_noise=0.0))
    events = list(open_loop_feedback(small_synthetic.events(), model))
    fbs = [e for e in events if e.kind == "feedback"]
    clinical = [t for t in small_synthetic.truth.values() if category(t.type) != "technical"]
    assert len(fbs) == len(clinical)
    assert all(fb.actionable == small_synthetic.truth[fb.alarm_id].actionable for fb in fbs)
    ts = [e.ts for e in events]
    assert ts == sorted(ts)


def test_closed_loop_feeds_labels_only_for_forwarded_alarms(small_synthetic: SimRun) -> None:
    """Through the real engines: every label reaches an alarm its engine decided and forwarded."""
    from alarmfilter.cli.engines import engine_factory

    ward = Ward(engine_factory(quiet=True))
    model = FeedbackModel(small_synthetic.truth, FeedbackConfig(response_share=1.0))
    result = run_closed_loop(small_synthetic.events(), ward, model)
    assert {d.alarm_id for d in result.decisions} == set(small_synthetic.truth)
    forwarded_clinical = [d for d in result.decisions if d.decision == "forward" and category(d.type) != "technical"]
    assert result.feedback_fed == len(forwarded_clinical) > 0
    stats = sum((eng.stats for eng in ward.beds.values()), start=type(next(iter(ward.beds.values())).stats)())
    assert stats["feedback_learned"] == result.feedback_fed
    assert stats["feedback_unknown_alarm"] == 0 and stats["feedback_before_decision"] == 0
