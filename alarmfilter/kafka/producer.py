"""Publish wire-format events to the input topics (the simulator's `--broker`, tests, benchmarks).

Each event goes to the topic of its kind, keyed by bed id, so one partition owns a bed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from ..events import InputEvent, encode
from ..settings import Settings
from .client import aiokafka_options, ensure_topics


@asynccontextmanager
async def event_producer(settings: Settings, create_topics: bool = True) -> AsyncIterator[Any]:
    """A started aiokafka producer (acks=all, idempotent ordering per partition)."""
    from aiokafka import AIOKafkaProducer

    if create_topics:
        await ensure_topics(settings)
    producer = AIOKafkaProducer(**aiokafka_options(settings), acks="all", linger_ms=2)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def produce_events(
    settings: Settings,
    events: Iterable[InputEvent | tuple[str, str, str]],
    speed: float | None = None,
) -> dict[str, int]:
    """Send events in the given order; returns a count per topic.

    An item is an event, or `(kind, bed, raw_json)` for text that is sent unvalidated (invalid
    input for tests). `speed` paces by event time (1.0 = real time); None sends as fast as possible.
    """
    topics = settings.topics
    counts: dict[str, int] = {}
    first_ts: float | None = None
    start = time.monotonic()
    async with event_producer(settings) as producer:
        for item in events:
            if isinstance(item, tuple):
                kind, bed, raw = item
                ts = None
            else:
                kind, bed, raw, ts = item.kind, item.bed, encode(item), item.ts
            if speed and ts is not None:
                first_ts = ts if first_ts is None else first_ts
                delay = (ts - first_ts) / speed - (time.monotonic() - start)
                if delay > 0:
                    await asyncio.sleep(delay)
            topic = topics.for_kind(kind) if kind in ("vitals", "waveform", "alarm", "feedback") else kind
            await producer.send(topic, raw.encode(), key=bed.encode())
            counts[topic] = counts.get(topic, 0) + 1
        await producer.flush()
    return counts


def send_events(broker: str, events: Iterable[InputEvent], speed: float | None = None, **settings: Any) -> dict[str, int]:
    """Blocking wrapper for the CLI: `broker` is `kafka://host:port[,host:port]`; other settings from env."""
    from ..settings import load_settings

    s = load_settings(broker=broker, **settings)
    return asyncio.run(produce_events(s, events, speed))
