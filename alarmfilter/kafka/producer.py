"""Publish wire-format events to the input topics (the simulator's `--broker`, tests, benchmarks).

Each event goes to the topic of its kind, keyed by bed id, so one partition owns a bed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from ..events import InputEvent
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
    events: Iterable[InputEvent | tuple[str, str, str]] | AsyncIterator[Any],
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
        async for item in _aiter(events):
            if isinstance(item, tuple):
                kind, bed, raw = item
                ts = None
            else:
                kind, bed, raw, ts = item.kind, item.bed, item.model_dump_json(), item.ts
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


class BrokerUnavailable(ConnectionError):
    """The broker could not be reached or refused the messages; the message is one line for the CLI."""


async def _aiter(items: Iterable[Any] | AsyncIterator[Any]) -> AsyncIterator[Any]:
    if isinstance(items, AsyncIterator):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


def send_events(broker: str, events: Iterable[InputEvent], speed: float | None = None, **settings: Any) -> dict[str, int]:
    """Blocking: publish `events` to `broker` (`kafka://host:port[,host:port]`); other settings from env.

    The iterable may block (a paced simulator): it is read on a helper thread, so the producer's
    network loop keeps sending while the simulator sleeps.
    """
    from aiokafka.errors import KafkaError

    from ..settings import load_settings

    s = load_settings(broker=broker, **settings)
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())  # the CLI reports one line itself

    async def main() -> dict[str, int]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1000)
        done = object()

        def read() -> None:
            try:
                for e in events:
                    asyncio.run_coroutine_threadsafe(queue.put(e), loop).result()
            finally:
                asyncio.run_coroutine_threadsafe(queue.put(done), loop).result()

        async def items() -> AsyncIterator[Any]:
            while (item := await queue.get()) is not done:
                yield item

        reader = loop.run_in_executor(None, read)
        try:
            return await produce_events(s, items(), speed)
        finally:
            await reader

    try:
        return asyncio.run(main())
    except (KafkaError, OSError) as exc:
        raise BrokerUnavailable(f"broker {broker}: {exc}") from None
