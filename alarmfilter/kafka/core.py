"""The worker's routing logic without faust: raw message in, messages to send out, offsets to ack.

`WorkerCore` owns the engines of the beds on this worker's partitions, orders each bed's events
by event time (`BedOrderer`), remembers which alarms have a decision (so a replay after a crash or
a rebalance never decides an alarm twice), and releases a message for commit only once it is fully
handled (`OffsetLedger`). An alarm is named by (bed, alarm id): monitors number alarms per device,
so two beds may share an id. No message value (null, not UTF-8, too deep, too big, not an event)
raises out of `receive`: each becomes one dead letter and its offset is committed in order.
The faust app in `app.py` is a thin shell around it, so all of this is testable without a broker.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..engine import BedEngine
from ..engine.factory import EngineFactory
from ..events import (
    Alarm,
    DecisionRecord,
    DecodeError,
    Feedback,
    InputEvent,
    Output,
    Vitals,
    Waveform,
    dead_letter,
    decode_event,
    encode,
)
from ..replay import BED_IDLE_EVICT_SECONDS
from ..settings import Settings, Topics
from .ordering import BedOrderer, LedgerEntry, OffsetLedger, stream_progress

#: An alarm's identity: (bed, alarm id).
AlarmKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to produce: outputs go to the partition their input came from (same bed)."""

    topic: str
    key: bytes
    value: bytes
    partition: int
    output: Output


@dataclass(slots=True)
class _Held:
    event: InputEvent
    entry: LedgerEntry[Any]
    partition: int


class WorkerCore:
    """All beds of one worker; plain object, driven by the faust agent and timer."""

    def __init__(self, engine_factory: EngineFactory, settings: Settings) -> None:
        self.engine_factory = engine_factory
        self.topics: Topics = settings.topics
        self.settings = settings
        self.beds: dict[str, BedEngine] = {}
        self.stats: Counter[str] = Counter()  # read by the driver for metrics
        self._orderers: dict[str, BedOrderer[_Held]] = {}
        self._ledgers: dict[tuple[str, int], OffsetLedger[Any]] = {}
        self._high_offsets: dict[tuple[str, int], int] = {}
        self._waiting: dict[AlarmKey, list[LedgerEntry[Any]]] = {}  # alarm -> messages awaiting its decision
        self._decided: dict[int, OrderedDict[AlarmKey, str]] = {}  # partition -> alarm -> decision
        self._bed_partition: dict[str, int] = {}
        self._last_seen: dict[str, tuple[float, float]] = {}  # bed -> (newest event time, wall time)
        self.on_feedback: Callable[[Feedback], None] | None = None  # e.g. metrics of clinician labels
        self.idle_evict_seconds = BED_IDLE_EVICT_SECONDS
        self.evicted = 0
        self._next_sweep = 0.0

    # -- messages in ---------------------------------------------------------------------------

    def receive(self, topic: str, partition: int, offset: int, raw: object, token: Any, wall_now: float) -> list[Outgoing]:
        """One consumed message; returns what to send now. `token` comes back from `take_acks`.

        `raw` is the message value as the client gives it, None for a tombstone. Never raises:
        whatever goes wrong with one message is that message's dead letter, and its ledger entry
        is finished so the partition's offsets keep committing.
        """
        high = self._high_offsets.get((topic, partition), -1)
        if offset <= high:
            self.stats["redelivered_skipped"] += 1  # already taken since the last assignment
            return []
        self._high_offsets[(topic, partition)] = offset
        entry = self._ledger(topic, partition).add(offset, token)
        try:
            return self._receive(partition, raw, entry, wall_now)
        except Exception as exc:  # noqa: BLE001 -- last line of defence: one message never stalls a partition
            OffsetLedger.finish(entry)
            self.stats["worker_errors"] += 1
            return [self._outgoing(dead_letter(f"worker error ({type(exc).__name__})", raw), partition)]

    def _receive(self, partition: int, raw: object, entry: LedgerEntry[Any], wall_now: float) -> list[Outgoing]:
        event = decode_event(raw)
        if isinstance(event, DecodeError):
            OffsetLedger.finish(entry)
            self.stats["invalid_messages"] += 1
            return [self._outgoing(event.to_dead_letter(raw), partition)]
        if isinstance(event, Alarm) and (event.bed, event.alarm_id) in self._decided.get(partition, ()):
            OffsetLedger.finish(entry)  # decided before a crash or rebalance: never decide twice
            self.stats["replayed_decided_alarms"] += 1
            return []
        bed = event.bed
        self._bed_partition[bed] = partition
        duration = event.duration_seconds if isinstance(event, Waveform) else 0.0
        progress = stream_progress(event.kind, event.ts, duration, self.settings.vitals_interval_seconds)
        newest = max(self._last_seen.get(bed, (float("-inf"), 0.0))[0], event.ts + duration)
        self._last_seen[bed] = (newest, wall_now)
        self._orderer(bed, wall_now).push(_Held(event, entry, partition), event.kind, event.ts, progress, wall_now)
        return self._release(bed, wall_now)

    def tick(self, wall_now: float) -> list[Outgoing]:
        """Timer: release events that waited long enough; let event time pass for stalled beds."""
        out: list[Outgoing] = []
        for bed in list(self._orderers):
            out += self._release(bed, wall_now)
            eng = self.beds.get(bed)
            if eng is None or not eng.pending or len(self._orderers[bed]):
                continue
            newest_ts, seen_wall = self._last_seen[bed]
            idle_seconds = wall_now - seen_wall
            if idle_seconds >= self.settings.tick_interval_seconds:
                # event time goes on at wall speed while a bed is silent, so holds still expire
                out += self._route(eng.tick(newest_ts + idle_seconds), self._bed_partition[bed])
        if wall_now >= self._next_sweep:
            out += self._evict_idle(wall_now)
        return out

    def _evict_idle(self, wall_now: float) -> list[Outgoing]:
        """A bed silent for `idle_evict_seconds` (discharged, unplugged) leaves memory, as in `Ward`."""
        self._next_sweep = wall_now + min(60.0, self.idle_evict_seconds)
        out: list[Outgoing] = []
        for bed, (_ts, seen_wall) in list(self._last_seen.items()):
            if wall_now - seen_wall < self.idle_evict_seconds or len(self._orderers.get(bed, ())):
                continue
            eng = self.beds.pop(bed, None)
            if eng is not None:
                out += self._route(eng.flush(), self._bed_partition[bed])
            self._orderers.pop(bed, None)
            self._bed_partition.pop(bed, None)
            del self._last_seen[bed]
            self.evicted += 1
        return out

    def take_acks(self) -> list[Any]:
        """Tokens of messages now safe to commit (every earlier one of their partition is handled)."""
        return [t for ledger in self._ledgers.values() for t in ledger.pop_done()]

    # -- partitions ----------------------------------------------------------------------------

    def on_assignment(self, partitions: Iterable[int]) -> set[int]:
        """New assignment after a rebalance. Returns partitions whose decisions must be re-read.

        faust seeks every partition back to its committed offset after a rebalance, so all state
        built from uncommitted messages is dropped and rebuilt from the replay.
        """
        keep = set(partitions)
        self.beds.clear()
        self._orderers.clear()
        self._ledgers.clear()
        self._high_offsets.clear()
        self._waiting.clear()
        self._bed_partition.clear()
        self._last_seen.clear()
        for p in list(self._decided):
            if p not in keep:
                del self._decided[p]
        return {p for p in keep if p not in self._decided}

    def remember_decisions(self, partition: int, decisions: Iterable[tuple[str, str, str]]) -> int:
        """Decisions already on the decisions topic (read back on assignment): (bed, alarm id, decision)."""
        n = 0
        for bed, alarm_id, decision in decisions:
            self._remember(partition, (bed, alarm_id), decision)
            n += 1
        self._decided.setdefault(partition, OrderedDict())
        return n

    def consumer_lag(self, highwater: Callable[[str, int], int | None]) -> dict[str, int]:
        """Messages not yet taken, per input topic, over the partitions this worker has taken from."""
        lag: dict[str, int] = {}
        for (topic, partition), offset in self._high_offsets.items():
            hw = highwater(topic, partition)
            if hw is not None:
                lag[topic] = lag.get(topic, 0) + max(0, hw - offset - 1)
        return lag

    def warm_up(self, partition: int, raws: Iterable[bytes], wall_now: float) -> int:
        """Fill the buffers of a newly owned partition's beds with waveforms and numerics the previous
        owner already handled (committed). They decide nothing and send nothing; returns events fed."""
        events = [e for e in map(decode_event, raws) if isinstance(e, (Waveform, Vitals))]
        events.sort(key=lambda e: e.ts)
        for event in events:
            bed = event.bed
            eng = self.beds.get(bed)
            if eng is None:
                eng = self.beds[bed] = self.engine_factory(bed)
            eng.feed(event)  # never raises; history is best effort, the live stream decides
            self._bed_partition[bed] = partition
            end = event.ts + (event.duration_seconds if isinstance(event, Waveform) else 0.0)
            self._last_seen[bed] = (max(end, self._last_seen.get(bed, (end, 0.0))[0]), wall_now)
            # the orderer knows where each stream stands: live alarms wait for live waveforms
            progress = stream_progress(event.kind, event.ts, end - event.ts, self.settings.vitals_interval_seconds)
            orderer = self._orderer(bed, wall_now)
            if progress is not None and progress > orderer.progress.get(event.kind, float("-inf")):
                orderer.progress[event.kind] = progress
                orderer.released_ts = max(orderer.released_ts, event.ts)
        self.stats["warm_up_events"] += len(events)
        return len(events)

    @property
    def pending_messages(self) -> int:
        return sum(len(led) for led in self._ledgers.values())

    # -- internals -----------------------------------------------------------------------------

    def _ledger(self, topic: str, partition: int) -> OffsetLedger[Any]:
        key = (topic, partition)
        led = self._ledgers.get(key)
        if led is None:
            led = self._ledgers[key] = OffsetLedger()
        return led

    def _orderer(self, bed: str, wall_now: float) -> BedOrderer[_Held]:
        o = self._orderers.get(bed)
        if o is None:
            s = self.settings
            o = self._orderers[bed] = BedOrderer(
                s.reorder_max_wait_seconds, s.reorder_max_events, s.stream_idle_seconds, created_wall=wall_now
            )
        return o

    def _release(self, bed: str, wall_now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        for held in self._orderers[bed].pop_ready(wall_now):
            out += self._feed(held)
        return out

    def _feed(self, held: _Held) -> list[Outgoing]:
        event = held.event
        eng = self.beds.get(event.bed)
        if eng is None:
            eng = self.beds[event.bed] = self.engine_factory(event.bed)
        if isinstance(event, Alarm):
            self._waiting.setdefault((event.bed, event.alarm_id), []).append(held.entry)
        else:
            OffsetLedger.finish(held.entry)
            if isinstance(event, Feedback) and self.on_feedback is not None:
                self.on_feedback(event)
        routed = self._route(eng.feed(event), held.partition)  # the engine never raises (fail-open)
        if isinstance(event, Alarm) and (event.bed, event.alarm_id) in self._waiting and not eng.is_pending(event.alarm_id):
            self._finish_alarm((event.bed, event.alarm_id))  # a duplicate of a decided alarm, or the engine failed
        return routed

    def _route(self, outputs: list[Output], partition: int) -> list[Outgoing]:
        out = []
        for o in outputs:
            if isinstance(o, DecisionRecord):
                self._remember(partition, (o.bed, o.alarm_id), str(o.decision))
                self._finish_alarm((o.bed, o.alarm_id))
            out.append(self._outgoing(o, partition))
        return out

    def _finish_alarm(self, alarm: AlarmKey) -> None:
        for entry in self._waiting.pop(alarm, ()):
            OffsetLedger.finish(entry)

    def _remember(self, partition: int, alarm: AlarmKey, decision: str) -> None:
        seen = self._decided.setdefault(partition, OrderedDict())
        seen[alarm] = decision
        seen.move_to_end(alarm)
        while len(seen) > self.settings.max_remembered_decisions:
            seen.popitem(last=False)

    def _outgoing(self, o: Output, partition: int) -> Outgoing:
        return Outgoing(self.topics.for_kind(o.kind), o.key.encode(), encode(o).encode(), partition, o)
