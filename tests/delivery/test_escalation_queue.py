"""Escalation timing in event time (pure) and the bounded on-disk queue."""

from __future__ import annotations

import json

import pytest

from alarmfilter.delivery import DeliveryConfig, DiskQueue, EscalationPolicy, Escalator, QueueFull

POLICY = EscalationPolicy(timeout_seconds={"high": 30.0, "medium": 120.0}, default_timeout_seconds=60.0)


def test_escalates_at_the_priority_timeout_in_event_time_not_before():
    esc = Escalator(POLICY, n_destinations=3)
    esc.start({"alarm_id": "h", "priority": "high"}, 1000.0)
    esc.start({"alarm_id": "m", "priority": "medium"}, 1000.0)
    esc.start({"alarm_id": "x", "priority": "odd"}, 1000.0)
    assert esc.advance(1029.999) == []
    steps = esc.advance(1030.0)
    assert [(s.alarm_id, s.attempt, s.destination, s.due_ts) for s in steps] == [("h", 1, 1, 1030.0)]
    steps = esc.advance(1060.0)  # h's second deadline and x's first fall on the same instant
    assert sorted((s.alarm_id, s.destination, s.due_ts) for s in steps) == [("h", 2, 1060.0), ("x", 1, 1060.0)]
    steps = esc.advance(1090.0)
    assert [(s.alarm_id, s.destination) for s in steps] == [("h", None)]  # exhausted, reported
    assert [(s.alarm_id, s.destination) for s in esc.advance(1120.0)] == [("m", 1), ("x", 2)]


def test_a_jump_in_event_time_escalates_in_deadline_order():
    esc = Escalator(POLICY, n_destinations=3)
    esc.start({"alarm_id": "h", "priority": "high"}, 0.0)
    steps = esc.advance(1000.0)
    assert [(s.destination, s.due_ts) for s in steps] == [(1, 30.0), (2, 60.0), (None, 90.0)]


def test_acknowledgement_stops_escalation_and_resubmission_keeps_the_clock():
    esc = Escalator(POLICY, n_destinations=2)
    esc.start({"alarm_id": "a", "priority": "high"}, 0.0)
    esc.start({"alarm_id": "a", "priority": "high"}, 20.0)  # Kafka redelivery: same clock
    assert esc.deadline("a") == 30.0
    assert esc.acknowledge("a") is True
    assert esc.advance(500.0) == []
    esc.start({"alarm_id": "a", "priority": "high"}, 600.0)  # already done: not restarted
    assert esc.advance(1000.0) == [] and esc.acknowledge("a") is False


def test_a_refusal_escalates_at_once():
    esc = Escalator(POLICY, n_destinations=2)
    esc.start({"alarm_id": "a", "priority": "medium"}, 0.0)
    esc.advance(5.0)
    step = esc.refused("a", attempt=0, reason="AR")
    assert step is not None and (step.attempt, step.destination, step.due_ts) == (1, 1, 5.0)
    assert esc.refused("a", attempt=0, reason="stale AR") is None  # already moved on
    assert esc.deadline("a") == 125.0


def test_queue_survives_reopen_is_bounded_and_idempotent(tmp_path):
    q = DiskQueue(tmp_path, max_items=2)
    a = q.put("a1", 0, 0, "C1", {"alarm_id": "a1"})
    assert q.put("a1", 0, 0, "C1", {"alarm_id": "a1"}) == a  # same message: not queued twice
    q.put("a2", 0, 1, "C2", {"alarm_id": "a2"})
    with pytest.raises(QueueFull):
        q.put("a3", 0, 0, "C3", {"alarm_id": "a3"})
    q.put("a1", 1, 1, "C1b", {"alarm_id": "a1"}, force=True)  # escalations are never refused
    q2 = DiskQueue(tmp_path, max_items=2)
    assert [(m.alarm_id, m.destination) for m in q2.pending()] == [("a1", 0), ("a2", 1), ("a1", 1)]
    assert q2.oldest(1).alarm_id == "a2"
    q2.done(q2.oldest(0))
    q2.fail(q2.oldest(1), "AR from d1: unsupported")
    q3 = DiskQueue(tmp_path, max_items=2)
    assert [(m.alarm_id, m.attempt) for m in q3.pending()] == [("a1", 1)]
    assert [p.name for p in q3.failed()] == ["000000000002.json"]
    assert "unsupported" in (tmp_path / "failed" / "000000000002.reason").read_text()
    assert q3.put("a9", 0, 0, "C9", {"alarm_id": "a9"}).seq == 4  # after every seq on disk


def test_unreadable_queue_file_is_quarantined_not_lost(tmp_path):
    DiskQueue(tmp_path).put("a1", 0, 0, "C1", {"alarm_id": "a1"})
    (tmp_path / "pending" / "000000000007.json").write_text("{not json")
    (tmp_path / "pending" / "000000000008.tmp").write_text(json.dumps({"half": "written"}))
    q = DiskQueue(tmp_path)
    assert [m.alarm_id for m in q.pending()] == ["a1"]
    assert (tmp_path / "failed" / "000000000007.json").exists()
    assert not (tmp_path / "pending" / "000000000008.tmp").exists()


def test_shipped_config_loads_and_bad_config_names_the_problem(tmp_path):
    cfg = DeliveryConfig.from_yaml("config/delivery.yaml")
    assert len(cfg.destinations) >= 2 and cfg.escalation.timeout_for("high") <= cfg.escalation.timeout_for("low")
    bad = tmp_path / "d.yaml"
    bad.write_text("destinations:\n  - {name: x, url: 'http://127.0.0.1:1'}\n")
    with pytest.raises(ValueError, match="mllp://HOST:PORT"):
        DeliveryConfig.from_yaml(bad)
    bad.write_text("destinations: []\n")
    with pytest.raises(ValueError, match="destinations"):
        DeliveryConfig.from_yaml(bad)
