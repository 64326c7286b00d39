"""The station's Kafka shell: reads decisions, alarms, waveforms and feedback into a `ReviewStore`,
and sends labels to the feedback topic, returning only once the broker acknowledged them.

The station is not a member of the workers' consumer group: it assigns itself every partition
and reads the last `history_seconds` of decisions and the last `ring_seconds` of waveform.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from typing import Any

from ..events import Alarm, DecodeError, Feedback, Waveform, decode_event
from ..kafka.client import aiokafka_options, ensure_topics
from ..settings import Settings
from .labels import encode_feedback
from .store import Label, ReviewStore

log = logging.getLogger(__name__)


class KafkaFeed:
    def __init__(self, settings: Settings, store: ReviewStore, max_records: int = 200) -> None:
        self.settings = settings
        self.store = store
        self.max_records = max_records
        self.read: Counter[str] = Counter()
        self.invalid = 0
        self._consumer: Any = None
        self._producer: Any = None
        t = settings.topics
        self._kinds = {t.decisions: "decision", t.alarms: "alarm", t.waveforms: "waveform", t.feedback: "feedback"}

    async def start(self, create_topics: bool = True) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

        if create_topics:
            await ensure_topics(self.settings)
        self._producer = AIOKafkaProducer(**aiokafka_options(self.settings), acks="all", linger_ms=0)
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(**aiokafka_options(self.settings), group_id=None,
                                          enable_auto_commit=False, max_partition_fetch_bytes=256 * 1024)
        await self._consumer.start()
        await self._consumer.topics()  # metadata of every topic
        tps = [TopicPartition(topic, p) for topic in self._kinds
               for p in sorted(self._consumer.partitions_for_topic(topic) or ())]
        self._consumer.assign(tps)
        now_ms = int(time.time() * 1000)
        since = {tp: now_ms - int(1000 * (self.store.ring_seconds if self._kinds[tp.topic] == "waveform"
                                          else self.store.history_seconds)) for tp in tps}
        try:
            found = await self._consumer.offsets_for_times(since)
        except Exception:  # noqa: BLE001 -- a broker without timestamp lookup: read what it has
            found = {}
        ends = await self._consumer.end_offsets(tps)
        for tp in tps:
            if tp in found:
                hit = found[tp]
                self._consumer.seek(tp, hit.offset if hit is not None else ends[tp])
            else:
                await self._consumer.seek_to_beginning(tp)

    async def run(self) -> None:
        """Read until cancelled; small batches, so the pages stay quick while a backlog is read."""
        while True:
            batch = await self._consumer.getmany(timeout_ms=300, max_records=self.max_records)
            wall = time.time()
            for tp, records in batch.items():
                kind = self._kinds[tp.topic]
                for r in records:
                    self._handle(kind, r.value, wall)
                self.read[kind] += len(records)
            await asyncio.sleep(0)

    def _handle(self, kind: str, raw: bytes | None, wall: float) -> None:
        if raw is None:
            return
        if kind == "decision":
            try:
                d = json.loads(raw)
                if d.get("kind") == "decision":
                    self.store.add_decision(d, wall_now=wall)
                    return
            except (ValueError, KeyError, TypeError, AttributeError):
                pass
            self.invalid += 1
            return
        event = decode_event(raw)
        if isinstance(event, DecodeError):
            self.invalid += 1
        elif isinstance(event, Waveform):
            self.store.add_waveform(event)
        elif isinstance(event, Alarm):
            self.store.add_alarm(event)
        elif isinstance(event, Feedback):
            label, note = _label_of(raw)
            self.store.add_feedback(event, label, note)

    async def lag(self) -> int:
        """Messages on the broker not read yet by the station, over every topic it reads."""
        total = 0
        for tp in self._consumer.assignment():
            hw = self._consumer.highwater(tp)
            if hw is not None:
                total += max(0, hw - await self._consumer.position(tp))
        return total

    async def send(self, bed: str, event: dict[str, Any]) -> None:
        """The feedback event, keyed by bed; returns when the broker acknowledged it (acks=all)."""
        await self._producer.send_and_wait(self.settings.topics.feedback, encode_feedback(event), key=bed.encode())

    async def stop(self) -> None:
        for client in (self._consumer, self._producer):
            if client is not None:
                try:
                    await client.stop()
                except Exception as exc:  # noqa: BLE001 -- shutting down: say it, carry on
                    log.warning("stopping a Kafka client: %s", exc)


def _label_of(raw: bytes) -> tuple[Label | None, str | None]:
    """The station's extra fields of a feedback event (label in words, note), when present."""
    try:
        obj = json.loads(raw)
        label = Label(obj["label"]) if "label" in obj else None
        note = obj.get("note") if isinstance(obj.get("note"), str) else None
        return label, note
    except (ValueError, KeyError, TypeError):
        return None, None
