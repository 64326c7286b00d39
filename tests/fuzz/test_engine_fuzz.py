"""Fuzzing the engine through the Ward: adversarial sequences never crash it, never lose or repeat a
decision, and never leave an alarm waiting beyond the hold ceiling (event time)."""

from __future__ import annotations

import functools
import json

from hypothesis import given
from hypothesis import strategies as st

from alarmfilter.cli.engines import engine_factory, shipped_model
from alarmfilter.engine import EngineConfig
from alarmfilter.engine.config import HOLD_CEILING_SECONDS
from alarmfilter.engine.factory import engine_factory as shared_engine_factory
from alarmfilter.events import DecodeError, ReasonCode, decode_event, encode
from alarmfilter.model.loading import ward_model_lifecycle
from alarmfilter.replay import Ward

from .budget import count, fuzz_settings, outcome
from .ward_ops import build, ops


@functools.cache
def model():
    m, problem = shipped_model()
    assert m is not None, problem
    return m


configs = st.builds(
    lambda hold, merge, audit: EngineConfig(default_hold_seconds=hold, merge_window_seconds=merge, audit_fraction=audit),
    st.sampled_from([0.0, 0.0, 3.0, 10.0]), st.sampled_from([0.0, 60.0]), st.sampled_from([0.0, 0.05, 1.0]),
)


def make_ward(scorer: str, config: EngineConfig) -> Ward:
    if scorer == "evidence":
        return Ward(engine_factory(config, model=model(), learning=True))
    if scorer == "learning":
        return Ward(shared_engine_factory(config, ward_model_lifecycle(b"k" * 32), learning=True))
    return Ward(lambda bed: __import__("alarmfilter.engine", fromlist=["BedEngine"]).BedEngine(bed, config))


def run(ward: Ward, lines: list[str], end_ts: float) -> tuple[list, list]:
    """Feed every line; then let event time pass the hold ceiling, then end input."""
    out = []
    for raw in lines:
        out += ward.feed_raw(raw)
    out += ward.tick(end_ts + HOLD_CEILING_SECONDS + 1.0)
    assert all(eng.pending == 0 for eng in ward.beds.values()), "an alarm waited past the hold ceiling"
    late = ward.flush()
    return out, late


@fuzz_settings(250)
@given(st.lists(ops, min_size=15, max_size=50), st.sampled_from(["evidence", "learning", "none"]), configs)
def test_adversarial_sequences_decide_every_alarm_exactly_once(op_list, scorer, config):
    script = build(op_list)
    count("engine: events through the Ward", len(script.lines))
    ward = make_ward(scorer, config)
    out, late = run(ward, script.lines, script.max_ts)
    assert [o for o in late if o.kind == "decision"] == [], "decided only at flush, not within the ceiling"
    out += late

    invalid = sum(isinstance(decode_event(raw), DecodeError) for raw in script.lines)
    dead = [o for o in out if o.kind == "deadletter"]
    assert all(d.error.strip() and "\n" not in d.error for d in dead)
    assert not [d.error for d in dead if d.error.startswith("engine error")], "the engine raised"
    assert len(dead) >= invalid  # every invalid line, plus events the engine refused (out of order, ...)

    decisions = [o for o in out if o.kind == "decision"]
    keys = [(d.bed, d.alarm_id) for d in decisions]
    assert len(keys) == len(set(keys)), "an alarm was decided twice"
    assert set(keys) == script.valid_alarms, "a valid alarm was not decided"
    alerts = {(o.bed, o.alarm_id) for o in out if o.kind in ("alert", "technical")}
    for d in decisions:
        outcome(f"decision {d.decision} {d.reason_code}")
        assert d.reason_code != "scorer_error", d.reasons  # no input may make the real scorer raise
        assert d.reasons and all(r.strip() for r in d.reasons)
        assert d.decided_ts >= d.alarm_ts
        if ReasonCode(d.reason_code).is_fail_open:
            assert d.decision == "forward", d
        if d.decision == "forward" and d.reason_code != "merged":
            assert (d.bed, d.alarm_id) in alerts, "forwarded without an alert"
        if d.score is not None:
            assert 0.0 <= d.score <= 1.0
    for o in out:
        json.loads(encode(o))
