"""Kafka client plumbing shared by the worker, the simulator's producer and the tests.

Settings -> aiokafka keyword arguments / faust credentials (TLS, SASL), topic creation, and the
read-back of decisions that keeps decisions idempotent across crashes and rebalances.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..events.codec import nested_deeper_than
from ..settings import SecurityProtocol, Settings

log = logging.getLogger(__name__)


class TopicLayoutError(ValueError):
    """The topics exist but cannot work together (one line, for the CLI)."""


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.security_protocol not in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL):
        return None
    from aiokafka.helpers import create_ssl_context

    ctx: ssl.SSLContext = create_ssl_context(
        cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None,
        certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
        keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
    )
    return ctx


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client: bootstrap servers plus TLS/SASL as configured."""
    opts: dict[str, Any] = {
        "bootstrap_servers": settings.broker_hosts,
        "security_protocol": settings.security_protocol.value,
    }
    ctx = ssl_context(settings)
    if ctx is not None:
        opts["ssl_context"] = ctx
    if settings.security_protocol in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL):
        opts["sasl_mechanism"] = settings.sasl_mechanism.value
        opts["sasl_plain_username"] = settings.sasl_username
        opts["sasl_plain_password"] = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    return opts


def faust_credentials(settings: Settings) -> Any:
    """`broker_credentials` for the faust app (None for PLAINTEXT)."""
    import faust

    proto = settings.security_protocol
    if proto is SecurityProtocol.PLAINTEXT:
        return None
    ctx = ssl_context(settings)
    if proto is SecurityProtocol.SSL:
        return faust.SSLCredentials(ctx)
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    return faust.SASLCredentials(
        username=settings.sasl_username, password=password, ssl_context=ctx, mechanism=settings.sasl_mechanism.value
    )


async def ensure_topics(settings: Settings, timeout_seconds: float = 30.0) -> list[str]:
    """Create any missing topic of `settings.topics` with `settings.partitions`. Returns those created.

    Every topic gets the same partition count: outputs go to the partition number of their input.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    topics = settings.topics
    wanted = [*topics.inputs, *topics.outputs]
    admin = AIOKafkaAdminClient(**aiokafka_options(settings), request_timeout_ms=int(timeout_seconds * 1000))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(t, settings.partitions, settings.replication_factor) for t in missing]
                )
            except TopicAlreadyExistsError:
                pass  # another worker won the race
        counts = {d["topic"]: len(d["partitions"]) for d in await admin.describe_topics(wanted)}
        if len(set(counts.values())) > 1:
            detail = ", ".join(f"{t} {n}" for t, n in sorted(counts.items()))
            raise TopicLayoutError(f"every topic needs the same partition count (a bed's outputs go to "
                                   f"its input partition); found {detail}")
        return missing
    finally:
        await admin.close()


async def wait_for_broker(settings: Settings, timeout_seconds: float,
                          report: Callable[[str], None] | None = None) -> None:
    """Poll until a broker answers metadata requests (compose start-up, broker restarts).

    `report` is told about every failed attempt as it happens (the worker logs them), with the time
    left; retries back off from 0.5 s to 5 s.
    """
    from aiokafka.admin import AIOKafkaAdminClient

    deadline = time.monotonic() + timeout_seconds
    last: Exception | None = None
    pause = 0.5
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(**aiokafka_options(settings), request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except Exception as exc:  # noqa: BLE001 -- broker not up yet: retry until the deadline
            last = exc
            left = deadline - time.monotonic()
            if report is not None and left > 0:
                report(f"broker {settings.broker} not reachable ({_one_line(exc)}); retrying in {min(pause, left):.1f} s, "
                       f"giving up in {left:.0f} s")
            await asyncio.sleep(max(0.0, min(pause, left)))
            pause = min(pause * 2, 5.0)
        finally:
            await admin.close()
    raise TimeoutError(f"no broker at {settings.broker} after {timeout_seconds:g} s ({_one_line(last)})")


def _one_line(exc: BaseException | None) -> str:
    """An exception as `Type: message` on one line."""
    if exc is None:
        return "no attempt finished"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _decisions_in(values: list[bytes | None]) -> Iterator[tuple[str, str, str]]:
    """(bed, alarm id, decision) of every decision record among `values`; anything else is skipped.

    >>> list(_decisions_in([b'{"bed": "B1", "alarm_id": "a1", "decision": "forward"}', None, b"[" * 5000, b"\\xff"]))
    [('B1', 'a1', 'forward')]
    """
    for value in values:
        if not value or nested_deeper_than(value):
            continue
        try:
            obj = json.loads(value)
            yield str(obj["bed"]), str(obj["alarm_id"]), str(obj["decision"])
        except (ValueError, KeyError, TypeError, RecursionError):
            continue  # not ours; a decisions topic may carry foreign records


async def read_decisions(
    settings: Settings, partitions: set[int], lookback_seconds: float, timeout_seconds: float = 10.0,
    with_features: dict[int, list[bytes]] | None = None,
) -> dict[int, list[tuple[str, str, str]]]:
    """(bed, alarm id, decision) already on the decisions topic for these partitions, newest `lookback_seconds`.

    Read on partition assignment, so an alarm replayed after a crash or rebalance is not decided again.
    `with_features`, if given, also gets the raw decision records that carry features (per partition),
    so a label given later still joins what the model saw.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    out: dict[int, list[tuple[str, str, str]]] = {p: [] for p in partitions}
    if not partitions:
        return out
    topic = settings.topics.decisions
    consumer = AIOKafkaConsumer(**aiokafka_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        since_ms = int((time.time() - lookback_seconds) * 1000)
        try:
            starts = await consumer.offsets_for_times({tp: since_ms for tp in tps})
        except Exception:  # noqa: BLE001 -- broker without timestamp lookup: read the whole partition
            starts = {}
        for tp in tps:
            found = starts.get(tp)
            if found is not None:
                consumer.seek(tp, found.offset)
            else:
                await consumer.seek_to_beginning(tp)
        remaining = {tp for tp in tps if ends[tp] > 0 and await consumer.position(tp) < ends[tp]}
        deadline = time.monotonic() + timeout_seconds
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} partitions {sorted(tp.partition for tp in remaining)} timed out")
            batch = await consumer.getmany(*remaining, timeout_ms=200)
            for tp, records in batch.items():
                out[tp.partition].extend(_decisions_in([r.value for r in records]))
                if with_features is not None:
                    with_features.setdefault(tp.partition, []).extend(
                        r.value for r in records if r.value is not None and b'"features":{' in r.value)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return out
    finally:
        await consumer.stop()


async def read_history(
    settings: Settings, partitions: set[int], lookback_seconds: float, max_messages: int = 20_000,
    timeout_seconds: float = 10.0,
) -> dict[int, list[bytes]]:
    """Waveforms and numerics of these partitions that the group already committed, newest `lookback_seconds`.

    A new owner of a partition (failover, scale-out) feeds them to its engines so their buffers are
    warm at once; alarms are not re-read (their decisions are on the decisions topic). Best effort:
    whatever was read when the timeout hits is returned.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    out: dict[int, list[bytes]] = {p: [] for p in partitions}
    if not partitions:
        return out
    topics = settings.topics
    tps = [TopicPartition(t, p) for t in (topics.waveforms, topics.vitals) for p in sorted(partitions)]
    reader = AIOKafkaConsumer(**aiokafka_options(settings), group_id=None, enable_auto_commit=False)
    group = AIOKafkaConsumer(**aiokafka_options(settings), group_id=settings.consumer_group, enable_auto_commit=False)
    await reader.start()
    await group.start()
    try:
        stops = {tp: (await group.committed(tp)) or 0 for tp in tps}
        tps = [tp for tp in tps if stops[tp] > 0]
        if not tps:
            return out
        reader.assign(tps)
        since_ms = int((time.time() - lookback_seconds) * 1000)
        try:
            found = await reader.offsets_for_times({tp: since_ms for tp in tps})
        except Exception:  # noqa: BLE001 -- broker without timestamp lookup: count back instead
            found = {}
        firsts = await reader.beginning_offsets(tps)
        for tp in tps:
            hit = found.get(tp)
            start = hit.offset if hit is not None else stops[tp] - max_messages
            reader.seek(tp, max(firsts[tp], start, stops[tp] - max_messages))
        remaining = {tp for tp in tps if await reader.position(tp) < stops[tp]}
        deadline = time.monotonic() + timeout_seconds
        while remaining and time.monotonic() < deadline:
            batch = await reader.getmany(*remaining, timeout_ms=200)
            for tp, records in batch.items():
                out[tp.partition].extend(r.value for r in records if r.offset < stops[tp] and r.value is not None)
            for tp in list(remaining):
                if await reader.position(tp) >= stops[tp]:
                    remaining.discard(tp)
        if remaining:
            log.warning("warm-up history of %d partitions incomplete after %g s", len(remaining), timeout_seconds)
        return out
    finally:
        await reader.stop()
        await group.stop()
