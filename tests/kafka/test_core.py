"""WorkerCore without a broker: ordering across topics, in-order acks, idempotent decisions, timers."""

from __future__ import annotations

from alarmfilter.engine import BedEngine, EngineConfig
from alarmfilter.kafka import BedOrderer, OffsetLedger, WorkerCore
from alarmfilter.settings import Settings

from ..helpers import T0, alarm, line, vitals, waveform

S = Settings(_env_file=None, partitions=4, reorder_max_wait_seconds=1.0)
TOPICS = S.topics


def core(config: EngineConfig | None = None, settings: Settings = S) -> WorkerCore:
    cfg = config or EngineConfig()
    return WorkerCore(lambda bed: BedEngine(bed, cfg), settings)


def send(c: WorkerCore, event, offset: int, wall: float = 0.0, partition: int = 1):
    return c.receive(TOPICS.for_kind(event.kind), partition, offset, line(event), f"{event.kind}@{offset}", wall)


def kinds(outgoing) -> list[str]:
    return [o.output.kind for o in outgoing]


def test_alarm_ahead_of_its_waveform_is_fed_after_it() -> None:
    c = core()
    assert send(c, waveform("B1", T0), 0) == []
    assert send(c, alarm("B1", T0 + 1.5, "a1"), 0) == []  # the waveform covering 1.5 s is not in yet
    assert c.beds["B1"].alarms == {}  # the engine has not seen the alarm
    out = send(c, waveform("B1", T0 + 1), 1)
    assert kinds(out) == ["decision", "alert"]
    assert out[0].topic == TOPICS.decisions and out[1].topic == TOPICS.alerts
    assert out[0].partition == 1 and out[0].key == b"B1"
    assert c.beds["B1"].waveforms.end_ts == T0 + 2  # both chunks were fed before the alarm


def test_a_stalled_stream_delays_an_alarm_only_for_the_wait_bound() -> None:
    c = core()
    send(c, waveform("B1", T0), 0, wall=0.0)
    send(c, alarm("B1", T0 + 3, "a1"), 0, wall=0.1)
    assert c.tick(0.5) == []
    out = c.tick(1.2)  # waited 1 s of wall time: fed anyway (fail-open beats silence)
    assert kinds(out)[:1] == ["decision"]


def test_ack_only_after_the_alarm_is_decided_and_in_offset_order() -> None:
    from alarmfilter.cli.engines import engine_factory

    c = WorkerCore(engine_factory(EngineConfig(hold_seconds={"hr_high": 3.0}), quiet=True), S)
    for s in range(3):
        send(c, waveform("B1", T0 + s), s)
    send(c, alarm("B1", T0 + 2.5, "a1", type="hr_high"), 0)
    send(c, vitals("B1", T0 + 2.6), 0)
    assert c.beds["B1"].pending == 1  # held for 3 s of evidence after the alarm
    assert sorted(c.take_acks()) == ["vitals@0", "waveform@0", "waveform@1", "waveform@2"]
    out = []
    for s in range(3, 6):
        out += send(c, waveform("B1", T0 + s), s)
        out += send(c, vitals("B1", T0 + s + 0.6), s - 2)
    assert "decision" in kinds(out)
    assert sorted(c.take_acks()) == ["alarm@0", "vitals@1", "vitals@2", "vitals@3", "waveform@3", "waveform@4",
                                     "waveform@5"]


def test_a_held_alarm_of_a_silent_bed_is_decided_by_the_timer() -> None:
    from alarmfilter.cli.engines import engine_factory

    c = WorkerCore(engine_factory(EngineConfig(hold_seconds={"hr_high": 3.0}), quiet=True), S)
    for s in range(3):
        send(c, waveform("B1", T0 + s), s, wall=100.0 + s)
    send(c, alarm("B1", T0 + 2.5, "a1", type="hr_high"), 0, wall=102.5)
    assert c.tick(103.0) == []
    out = c.tick(107.0)  # the monitor went silent; event time runs on at wall speed
    assert kinds(out)[:1] == ["decision"]
    assert c.take_acks()[-1] == "alarm@0"


def test_offsets_wait_for_earlier_messages_of_their_partition() -> None:
    led = OffsetLedger[str]()
    entries = [led.add(o, f"m{o}") for o in range(5)]
    for e in entries[1:]:
        led.finish(e)
    assert led.pop_done() == []
    led.finish(entries[0])
    assert led.pop_done() == ["m0", "m1", "m2", "m3", "m4"]


def test_decisions_read_back_are_not_made_again_after_a_crash() -> None:
    c = core()
    assert c.on_assignment({1, 2}) == {1, 2}
    c.remember_decisions(1, [("B1", "a1", "suppress")])
    assert send(c, alarm("B1", T0, "a1"), 7) == []  # replayed after the crash: the decision stands
    assert c.take_acks() == ["alarm@7"]
    assert c.stats["replayed_decided_alarms"] == 1
    assert send(c, alarm("B1", T0 + 1, "a2"), 8) == []  # a new bed's waveforms may be behind: held
    out = c.tick(1.0)  # for at most the wait bound
    assert kinds(out) == ["decision", "alert"]
    assert send(c, alarm("B1", T0 + 1, "a2"), 9, wall=3.0) == []  # a duplicate of an alarm decided here
    assert c.take_acks()[-1] == "alarm@9"


def test_rebalance_drops_uncommitted_state_but_keeps_decisions_of_kept_partitions() -> None:
    c = core()
    c.on_assignment({1, 2})
    send(c, alarm("B1", T0, "a1"), 3, partition=1)
    send(c, waveform("B2", T0), 0, partition=2)
    c.tick(1.0)
    assert set(c.beds) == {"B1", "B2"}
    assert c.on_assignment({1, 3}) == {3}  # partition 3 is new: its decisions must be re-read
    assert c.beds == {} and c.pending_messages == 0
    assert send(c, alarm("B1", T0, "a1"), 3, partition=1) == []  # decided before the rebalance


def test_redelivered_offsets_are_taken_once() -> None:
    c = core()
    send(c, vitals("B1", T0), 5)
    assert send(c, vitals("B1", T0), 5) == []
    assert c.stats["redelivered_skipped"] == 1


def test_invalid_message_is_dead_lettered_on_its_partition_and_acked() -> None:
    c = core()
    out = c.receive(TOPICS.alarms, 3, 0, b"{oops", "t0", 0.0)
    assert kinds(out) == ["deadletter"] and out[0].partition == 3 and out[0].topic == TOPICS.deadletter
    assert out[0].output.error.startswith("malformed JSON")
    assert c.take_acks() == ["t0"]


POISON = {
    "null": (None, "null value"),
    "not UTF-8": (b'{"schema_version": 1, "kind": "alarm", "bed": "B1\xff"}', "not UTF-8"),
    "nested": (b"[" * 2000 + b"]" * 2000, "nested deeper"),
    "nested object": (b'{"a":' * 3000 + b"1" + b"}" * 3000, "nested deeper"),
    "oversized": (b" " * (3 * 1024 * 1024), "exceeds"),
    "not bytes": (12345, "must be bytes or text"),
    "empty": (b"", "malformed JSON"),
}


def test_every_poison_value_is_one_dead_letter_and_its_neighbours_are_decided_and_acked() -> None:
    c = core()
    out, offset = [], 0
    for name, (raw, _why) in POISON.items():
        out += send(c, alarm("B1", T0 + offset, f"a{offset}"), offset, wall=offset)
        offset += 1
        out += c.receive(TOPICS.alarms, 1, offset, raw, name, float(offset))
        offset += 1
    out += send(c, alarm("B1", T0 + offset, f"a{offset}"), offset, wall=offset)
    out += c.tick(offset + 2.0)
    dead = [o.output for o in out if o.output.kind == "deadletter"]
    for d, (name, (_raw, why)) in zip(dead, POISON.items(), strict=True):
        assert why in d.error, (name, d.error)
    decided = [o.output.alarm_id for o in out if o.output.kind == "decision"]
    assert decided == [f"a{i}" for i in range(0, offset + 1, 2)]  # every valid alarm, once, in order
    assert c.stats["invalid_messages"] == len(POISON)
    acks = c.take_acks()
    assert len(acks) == offset + 1 and acks[-1] == f"alarm@{offset}"  # nothing holds the partition
    assert c.pending_messages == 0


def test_two_beds_sharing_an_alarm_id_get_a_decision_each_also_after_a_rebalance() -> None:
    c = core()
    c.on_assignment({1})
    out = send(c, alarm("B1", T0, "same-id"), 0, wall=0.0) + send(c, alarm("B2", T0 + 1, "same-id"), 1, wall=0.0)
    out += c.tick(2.0)
    assert sorted((o.output.bed, o.output.alarm_id) for o in out if o.output.kind == "decision") == [
        ("B1", "same-id"), ("B2", "same-id")]
    assert len(c.take_acks()) == 2
    c2 = core()
    c2.on_assignment({1})
    c2.remember_decisions(1, [("B1", "same-id", "forward")])  # what the decisions topic holds for B1 only
    assert send(c2, alarm("B1", T0, "same-id"), 0, wall=0.0) == []  # replayed: decided already
    out = send(c2, alarm("B2", T0 + 1, "same-id"), 1, wall=0.0) + c2.tick(2.0)
    assert [(o.output.bed, o.output.kind) for o in out][:1] == [("B2", "decision")]


def test_orderer_is_bounded() -> None:
    o = BedOrderer[int](max_wait_seconds=60.0, max_events=3, stream_idle_seconds=5.0)
    o.push(0, "waveform", T0, T0 + 1, 0.0)
    for i in range(1, 6):
        o.push(i, "alarm", T0 + 10 + i, None, 0.0)
    assert o.pop_ready(0.0) == [0, 1, 2]  # over the cap the oldest go, even ahead of the watermark
    assert len(o) == 3 and o.stats["released_over_cap"] == 2


def test_a_silent_stream_stops_holding_the_watermark() -> None:
    o = BedOrderer[str](max_wait_seconds=60.0, max_events=100, stream_idle_seconds=5.0)
    o.push("v", "vitals", T0, T0 + 1, 0.0)  # numerics stopped after this one
    for s in range(8):
        o.push(f"w{s}", "waveform", T0 + s, T0 + s + 1, 0.0)
    o.push("alarm", "alarm", T0 + 7.5, None, 0.0)
    assert o.pop_ready(0.0)[-1] == "alarm"


def test_a_silent_bed_is_evicted_after_its_pending_alarms_are_decided() -> None:
    from alarmfilter.cli.engines import engine_factory

    c = WorkerCore(engine_factory(EngineConfig(hold_seconds={"hr_high": 3.0}), quiet=True), S)
    c.idle_evict_seconds = 60.0
    send(c, waveform("B1", T0), 0, wall=0.0)
    send(c, alarm("B1", T0 + 1.0, "a1", type="hr_high"), 0, wall=0.0)
    send(c, waveform("B2", T0), 1, wall=50.0)
    out = c.tick(61.0)
    assert set(c.beds) == {"B2"} and c.evicted == 1
    assert [o.output.alarm_id for o in out if o.output.kind == "decision"] == ["a1"]  # decided, not lost


def test_a_bed_that_sends_only_alarms_waits_only_while_its_buffer_is_young() -> None:
    c = core()
    assert send(c, alarm("B1", T0, "a1"), 0, wall=0.0) == []
    assert kinds(c.tick(1.0)) == ["decision", "alert"]
    assert kinds(send(c, alarm("B1", T0 + 5, "a2"), 1, wall=2.5)) == ["decision", "alert"]  # no streams: at once


def test_warm_up_fills_buffers_and_live_alarms_wait_for_live_waveforms() -> None:
    c = core()
    c.on_assignment({1})
    history = [line(waveform("B1", T0 + s)).encode() for s in range(10)] + [line(alarm("B1", T0 + 5, "old")).encode()]
    assert c.warm_up(1, history, wall_now=0.0) == 10  # alarms are not history: their decisions exist
    assert c.beds["B1"].waveforms.end_ts == T0 + 10 and c.beds["B1"].alarms == {}
    assert send(c, alarm("B1", T0 + 10.5, "a1"), 20, wall=0.1) == []  # waits for the live chunk
    out = send(c, waveform("B1", T0 + 10), 11, wall=0.2)
    assert kinds(out) == ["decision", "alert"]
    assert c.beds["B1"].waveforms.end_ts == T0 + 11
