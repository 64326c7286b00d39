"""Poison messages on a real broker: a null value (tombstone), JSON nested 2000 deep, bytes that are
not UTF-8 and a value past the size limit, each between valid alarms on one partition, are one dead
letter each; every valid alarm is decided exactly once, also when two beds share an alarm id; and
the partition's committed offset moves past the last message (nothing stalls it).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from alarmfilter.events import encode
from alarmfilter.events.codec import MAX_MESSAGE_BYTES
from alarmfilter.kafka.client import aiokafka_options
from alarmfilter.settings import Settings

from ..helpers import T0, alarm
from .conftest import read_outputs, run

pytestmark = pytest.mark.slow

PARTITION = 2
POISON: list[tuple[str, bytes | None, str]] = [
    ("null", None, "null value"),
    ("nested", b"[" * 2000 + b"]" * 2000, "nested deeper"),
    ("not UTF-8", b'{"schema_version": 1, "kind": "alarm", "bed": "ICU1-01\xff\xfe"}', "not UTF-8"),
    ("oversized", b'{"pad": "' + b"x" * (MAX_MESSAGE_BYTES + 10) + b'"}', "exceeds"),
]


def valid(n: int, bed: str = "ICU1-01") -> bytes:
    return encode(alarm(bed, T0 + n, f"p{n}", "hr_high", "medium")).encode()


async def produce(settings: Settings) -> tuple[int, list[tuple[str, str]]]:
    """Everything on one partition of the alarms topic; returns the end offset and the valid alarms."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(**aiokafka_options(settings), acks="all", max_request_size=4 * MAX_MESSAGE_BYTES)
    await producer.start()
    sent: list[tuple[str, str]] = []
    try:
        topic = settings.topics.alarms
        last = None
        for n, (_name, value, _why) in enumerate(POISON):
            await producer.send_and_wait(topic, valid(n), key=b"ICU1-01", partition=PARTITION)
            sent.append(("ICU1-01", f"p{n}"))
            await producer.send_and_wait(topic, value, key=b"ICU1-01", partition=PARTITION)
        # the id of an alarm already decided, on another bed of the same partition; then a null key
        await producer.send_and_wait(topic, valid(0, bed="ICU1-05"), key=b"ICU1-05", partition=PARTITION)
        sent.append(("ICU1-05", "p0"))
        last = await producer.send_and_wait(topic, valid(len(POISON)), key=None, partition=PARTITION)
        sent.append(("ICU1-01", f"p{len(POISON)}"))
        return last.offset + 1, sent
    finally:
        await producer.stop()


async def committed(settings: Settings, until: int, timeout_seconds: float) -> int | None:
    """The group's committed offset of the poisoned partition, polled until it reaches `until`."""
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**aiokafka_options(settings))
    await admin.start()
    tp = TopicPartition(settings.topics.alarms, PARTITION)
    offset = None
    try:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            found = await admin.list_consumer_group_offsets(settings.consumer_group, partitions=[tp])
            meta = found.get(tp)
            offset = meta.offset if meta is not None else None
            if offset is not None and offset >= until:
                return offset
            await asyncio.sleep(0.2)
        return offset
    finally:
        await admin.close()


def test_poison_between_valid_alarms_is_dead_lettered_and_the_partition_commits_past_it(
    settings: Settings, workers: Any
) -> None:
    w = workers("w1")
    w.wait_assigned()
    end, sent = run(produce(settings))

    def done(o: dict[str, list[dict[str, Any]]]) -> bool:
        return len(o["deadletter"]) >= len(POISON) and {(d["bed"], d["alarm_id"]) for d in o["decision"]} >= set(sent)

    out = run(read_outputs(settings, done, 40))
    decided = [(d["bed"], d["alarm_id"]) for d in out["decision"]]
    assert sorted(decided) == sorted(sent), "every valid alarm decided exactly once, both beds' p0 included"
    errors = [d["error"] for d in out["deadletter"]]
    assert len(errors) == len(POISON)
    for (name, _value, why), error in zip(POISON, errors, strict=True):
        assert why in error, (name, error)
    assert all(d["_partition"] == PARTITION for d in out["deadletter"])
    assert run(committed(settings, end, 30)) == end, f"committed offset stuck before {end}:\n{w.text()[-2000:]}"
    assert w.alive
