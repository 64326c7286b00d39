"""Decisions do not depend on how a driver interleaved the streams: `WorkerCore` (no broker) fed
20 shuffled arrival orders decides every alarm as the in-process `Ward` fed in event-time order.

Beds share alarm ids here (monitors number alarms per device): each (bed, alarm id) is one alarm.
"""

from __future__ import annotations

import random
from collections import Counter

from alarmfilter.cli.engines import engine_factory
from alarmfilter.engine import EngineConfig
from alarmfilter.events import Alarm, InputEvent, encode
from alarmfilter.kafka import WorkerCore
from alarmfilter.replay import Ward
from alarmfilter.settings import Settings

from ..helpers import alarm
from .streams import ward_stream

#: a worker that waits long enough for a bed's other streams that no shuffle below times it out
S = Settings(_env_file=None, partitions=4, reorder_max_wait_seconds=5.0)
#: high enough that audit sampling decides some alarms, so a draw that depends on order would show
CONFIG = EngineConfig(audit_fraction=0.5, warmup_seconds=4.0, threshold_hold_seconds=0.0)  # decided at the alarm
RUNS = 20
#: the two beds that share alarm ids are on one partition, as beds are on a real ward
PARTITION = {"ICU1-01": 1, "ICU1-02": 1, "ICU1-03": 2}


def ward_with_shared_ids() -> list[tuple[float, InputEvent]]:
    """(availability time, event): 3 beds x 24 s, plus alarms whose ids repeat on two beds."""
    events = ward_stream(beds=3, seconds=24, alarm_every_seconds=2.5, fs_hz=100.0, tag="mix")
    out = [(e.ts + (e.duration_seconds if e.kind == "waveform" else 0.0), e) for e in events]  # type: ignore[union-attr]
    t = events[0].ts
    for n, s in enumerate((9.3, 14.6, 19.2)):
        for bed in ("ICU1-01", "ICU1-02"):
            out.append((t + s, alarm(bed, t + s, f"shared-{n}", "extreme_bradycardia", "high")))
    return out


def decisions(outputs) -> dict[tuple[str, str], tuple[str, str, bool]]:
    got: dict[tuple[str, str], tuple[str, str, bool]] = {}
    for o in outputs:
        if o.kind == "decision":
            assert (o.bed, o.alarm_id) not in got, f"{o.bed}/{o.alarm_id} decided twice"
            got[(o.bed, o.alarm_id)] = (str(o.decision), str(o.reason_code), o.audit_sample)
    return got


def worker_decides(timed: list[tuple[float, InputEvent]], rng: random.Random, factory) -> dict:
    """Arrival order shuffled: each message late by up to 0.9 s of its own, so beds interleave
    differently and an alarm often arrives before the waveform that covers it."""
    arrivals = sorted(((t + rng.uniform(0.0, 0.9), rng.random(), e) for t, e in timed), key=lambda x: x[:2])
    core = WorkerCore(factory, S)
    core.on_assignment(range(S.partitions))
    offsets: Counter[tuple[str, int]] = Counter()
    out = []
    for wall, _, e in arrivals:
        topic, partition = S.topics.for_kind(e.kind), PARTITION[e.bed]
        out += core.receive(topic, partition, offsets[(topic, partition)], encode(e).encode(), None, wall)
        offsets[(topic, partition)] += 1
        out += core.tick(wall)
    end = arrivals[-1][0]
    out += core.tick(end + S.reorder_max_wait_seconds + 1.0)
    assert core.pending_messages == 0 or not any(eng.pending for eng in core.beds.values())
    return decisions(o.output for o in out)


def test_worker_and_ward_decide_every_alarm_alike_over_20_shuffled_interleavings() -> None:
    factory = engine_factory(CONFIG, quiet=True)
    timed = ward_with_shared_ids()
    ward = Ward(factory)
    expected = decisions(o for _, e in sorted(timed, key=lambda x: x[1].ts) for o in ward.feed(e))
    expected.update(decisions(ward.flush()))
    alarms = {(e.bed, e.alarm_id) for _, e in timed if isinstance(e, Alarm)}
    assert set(expected) == alarms  # the ward decides both beds' "shared-n"
    assert {("ICU1-01", "shared-0"), ("ICU1-02", "shared-0")} <= set(expected)
    outcomes = Counter(v[1] for v in expected.values())
    assert outcomes["audit_sample"] and len(outcomes) > 2, outcomes  # the draws and the scorer are exercised
    for run in range(RUNS):
        got = worker_decides(timed, random.Random(run), factory)
        diff = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
        assert not diff and set(got) == alarms, f"run {run}: worker vs ward {diff}"
