"""Fuzzing the Kafka path: `WorkerCore.receive` with any values (null, bytes, text, nested JSON,
valid events of beds sharing alarm ids), on any topic and partition, redelivered or not.

Properties: nothing raises; every message is acked once everything is handled (no ledger entry is
left open, so no partition stalls); every invalid value is exactly one dead letter; every valid
alarm, named by (bed, alarm id), is decided exactly once. The worker reads only the value: keys
and headers are the producer's routing and never reach `receive`.
"""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from alarmfilter.events import Alarm, DecodeError, decode_event
from alarmfilter.events.codec import MAX_JSON_DEPTH, nested_deeper_than
from alarmfilter.kafka import WorkerCore
from alarmfilter.settings import Settings

from .budget import count, fuzz_settings, outcome
from .strategies import dumps, raw_messages, valid_event_dicts

S = Settings(_env_file=None, partitions=3)


@st.composite
def nested(draw: st.DrawFn) -> str:
    """JSON (or almost JSON) nested 0 to 3000 deep, arrays and objects mixed, brackets in strings."""
    depth = draw(st.one_of(st.integers(0, 40), st.integers(0, 3000)))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))  # the shape: hypothesis draws only its seed
    opens = [rng.choice(['[', '{"k": ', '["[[{", ']) for _ in range(depth)]
    closes = ["]" if o.startswith("[") else "}" for o in reversed(opens)]
    if rng.random() < 0.2:  # cut short, or not closed at all
        closes = closes[: rng.randrange(len(closes) + 1)]
    text = "".join(opens) + rng.choice(["1", '"]]}}"', "null", ""]) + "".join(closes)
    if rng.random() < 0.5:  # inside an otherwise valid event, as an unknown field
        event = dumps(draw(valid_event_dicts()))
        text = event[:-1] + f', "zz_nested": {text}}}'
    return text


values = st.one_of(
    st.none(),
    raw_messages(),
    nested(),
    valid_event_dicts().map(dumps),
    valid_event_dicts().map(lambda d: dumps(d).encode()),
)


@st.composite
def message_streams(draw: st.DrawFn) -> list[tuple[str, int, int, object]]:
    """(topic, partition, offset, value); offsets rise per partition, now and then one is redelivered."""
    topics = S.topics
    n = draw(st.integers(1, 16))
    offsets: dict[tuple[str, int], int] = {}
    out = []
    for _ in range(n):
        topic = draw(st.sampled_from([topics.vitals, topics.waveforms, topics.alarms, topics.feedback]))
        partition = draw(st.integers(0, S.partitions - 1))
        key = (topic, partition)
        redeliver = key in offsets and draw(st.integers(0, 9)) == 0
        offset = offsets[key] if redeliver else offsets.get(key, -1) + draw(st.integers(1, 3))
        offsets[key] = offset
        out.append((topic, partition, offset, draw(values)))
    return out


@fuzz_settings(120)
@given(message_streams())
def test_no_value_raises_stalls_a_partition_or_loses_an_alarm(stream):
    from alarmfilter.engine import BedEngine

    count("WorkerCore.receive: messages", len(stream))
    core = WorkerCore(BedEngine, S)
    core.on_assignment(range(S.partitions))
    taken, invalid, alarms = 0, 0, set()
    seen: set[tuple[str, int, int]] = set()
    out = []
    for wall, (topic, partition, offset, value) in enumerate(stream):
        fresh = (topic, partition, offset) not in seen
        seen.add((topic, partition, offset))
        out += core.receive(topic, partition, offset, value, (topic, partition, offset), float(wall))
        if not fresh:
            continue
        taken += 1
        event = decode_event(value)
        if isinstance(event, DecodeError):
            invalid += 1
        elif isinstance(event, Alarm):
            alarms.add((event.bed, event.alarm_id))
    out += core.tick(len(stream) + 10.0) + core.tick(len(stream) + 20.0)
    acks = core.take_acks()
    assert len(acks) == taken and len(set(acks)) == taken, "a message was never acked: its partition would stall"
    assert core.pending_messages == 0
    dead = [o.output for o in out if o.output.kind == "deadletter"]
    assert len([d for d in dead if d.error.split(":")[0] not in ("engine error",)]) >= invalid
    decided = [(o.output.bed, o.output.alarm_id) for o in out if o.output.kind == "decision"]
    assert len(decided) == len(set(decided)), "an alarm decided twice"
    assert set(decided) == alarms, "a valid alarm got no decision"
    outcome("kafka fuzz: dead letters", len(dead))
    outcome("kafka fuzz: decisions", len(decided))


@fuzz_settings(300)
@given(nested())
def test_any_nesting_is_an_event_or_a_one_line_dead_letter_never_a_recursion_error(text):
    count("decode_event: nested JSON")
    for raw in (text, text.encode()):
        result = decode_event(raw)
        if isinstance(result, DecodeError):
            assert "\n" not in result.reason and len(result.reason) < 2000
            if nested_deeper_than(text):
                assert result.reason == f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
                outcome("nested: refused as too deep")
        else:
            assert not nested_deeper_than(text)
            outcome("nested: accepted")
