"""The label log on Kafka: every worker reads all of `icu.labels` into its `UnitModels` (engine/shared.py).

The topic is keyed by care unit and a unit's labels go to one partition (``crc32(unit) % n``, the
same on every producer), so each unit's labels have one order that every worker applies. It is
read outside the consumer group (each worker assigns itself every partition, from offset 0), so
every worker sees every label; it is kept forever (``retention.ms=-1``): the log is the model.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable

from ..engine.shared import Applied, UnitModels
from ..settings import Settings
from .client import aiokafka_options

log = logging.getLogger(__name__)

#: called with (what apply did, the record's producer timestamp in s, wall time applied)
OnApplied = Callable[[Applied, float, float], None]


def label_partition(unit: str, partitions: int) -> int:
    """The partition of a unit's labels: the same on every worker.

    >>> label_partition("ICU1", 1), label_partition("ICU1", 4) == label_partition("ICU1", 4)
    (0, True)
    """
    return zlib.crc32(unit.encode()) % partitions


async def ensure_labels_topic(settings: Settings, timeout_seconds: float = 30.0) -> bool:
    """Create the label log if missing (``label_partitions``, kept forever). True if created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    topic = settings.topics.labels
    admin = AIOKafkaAdminClient(**aiokafka_options(settings), request_timeout_ms=int(timeout_seconds * 1000))
    await admin.start()
    try:
        if topic in set(await admin.list_topics()):
            return False
        try:
            await admin.create_topics([NewTopic(topic, settings.label_partitions, settings.replication_factor,
                                                topic_configs={"retention.ms": "-1"})])
        except TopicAlreadyExistsError:
            return False  # another worker won the race
        return True
    finally:
        await admin.close()


class LabelFollower:
    """Reads the whole label log into `models`, then follows it; sets `models.ready` once it has read
    up to the end offsets it saw when it started (``caught_up`` is set then too)."""

    def __init__(self, settings: Settings, models: UnitModels, on_applied: OnApplied | None = None) -> None:
        self.settings = settings
        self.models = models
        self.on_applied = on_applied
        self.caught_up = asyncio.Event()
        self.started_at = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._first: dict[int, int] = {}  # first offset still on the broker, per partition

    def start(self) -> None:
        """Start following (once), on the running loop."""
        if self._task is None:
            self.started_at = time.monotonic()
            self._task = asyncio.ensure_future(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001, S110 -- stopping: whatever it was doing ends
                pass

    async def run(self) -> None:
        """Follow forever; a lost connection reconnects and resumes after the last record read."""
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 -- the broker went away: decisions go on with the model held
                log.warning("label log: %s: %s; reconnecting", type(exc).__name__, exc)
                await asyncio.sleep(1.0)

    async def _follow(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        topic = self.settings.topics.labels
        consumer = AIOKafkaConsumer(**aiokafka_options(self.settings), group_id=None, enable_auto_commit=False,
                                    fetch_max_wait_ms=100, metadata_max_age_ms=5000)
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(topic)
            deadline = time.monotonic() + 10.0
            while not partitions:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"topic {topic} has no partitions")
                await consumer.topics()  # refreshes the metadata
                partitions = consumer.partitions_for_topic(topic)
                if not partitions:
                    await asyncio.sleep(0.2)
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            position = self.models.position
            for tp in tps:
                if tp.partition in position:
                    consumer.seek(tp, position[tp.partition])
                else:
                    await consumer.seek_to_beginning(tp)
            target = await consumer.end_offsets(tps) if not self.models.ready else {}
            self._first = {tp.partition: off for tp, off in (await consumer.beginning_offsets(tps)).items()}
            self._check_caught_up(target)
            while True:
                batch = await consumer.getmany(timeout_ms=200)
                now = time.time()
                for tp, records in batch.items():
                    for r in records:
                        if r.value is None:
                            continue
                        result = self.models.apply(r.value, tp.partition, r.offset)
                        if result.outcome not in ("applied", "replayed", "duplicate"):
                            log.warning("label log partition %d offset %d: %s", tp.partition, r.offset,
                                        result.detail or result.outcome)
                        if self.on_applied is not None:
                            self.on_applied(result, r.timestamp / 1000.0, now)
                self._check_caught_up(target)
        finally:
            await consumer.stop()

    def _check_caught_up(self, target: dict[object, int]) -> None:
        if self.models.ready:
            return
        position = self.models.position
        if all(max(position.get(tp.partition, 0), self._first.get(tp.partition, 0)) >= end  # type: ignore[attr-defined]
               for tp, end in target.items()):
            self.models.ready = True
            self.caught_up.set()
            log.info("label log read in %.2f s: model versions %s", time.monotonic() - self.started_at,
                     self.models.versions())
