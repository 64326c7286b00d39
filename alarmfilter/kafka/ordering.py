"""Event-time ordering across a bed's input topics, and in-order offset acknowledgement. Pure.

Kafka orders messages only within one partition of one topic, so a bed's alarm can reach the
worker before the waveform chunk that covers it. `BedOrderer` holds a bed's events in a small
heap and releases them in event-time order once every live stream of the bed (waveforms,
vitals) has progressed past them: a watermark, bounded by a wall-clock wait and a size cap so a
stalled monitor never holds an alarm back for long. `OffsetLedger` lets the driver commit an
offset only when every earlier message of that topic partition is fully handled (an alarm: its
decision sent), so a crash replays, rather than loses, anything in flight.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

#: Input kinds that arrive as continuous streams and so can hold back the watermark.
STREAM_KINDS = ("waveform", "vitals")


def stream_progress(kind: str, ts: float, duration_seconds: float, vitals_interval_seconds: float) -> float | None:
    """Event time up to which a stream message shows the stream is complete, or None for sparse kinds.

    A waveform chunk covers [ts, ts + duration); the next numerics are due one period after `ts`.

    >>> stream_progress("waveform", 100.0, 1.0, 1.0), stream_progress("vitals", 100.0, 0.0, 1.0)
    (101.0, 101.0)
    >>> stream_progress("alarm", 100.0, 0.0, 1.0) is None
    True
    """
    if kind == "waveform":
        return ts + duration_seconds
    if kind == "vitals":
        return ts + vitals_interval_seconds
    return None


@dataclass(order=True)
class _Held(Generic[T]):
    ts: float
    seq: int
    item: T = field(compare=False)


class BedOrderer(Generic[T]):
    """One bed's reorder buffer: `push` in arrival order, `pop_ready` in event-time order.

    >>> o = BedOrderer[str](max_wait_seconds=1.0, max_events=10, stream_idle_seconds=5.0)
    >>> o.push("wave@100", "waveform", ts=100.0, progress=101.0, wall_now=0.0)
    >>> o.push("alarm@101.5", "alarm", ts=101.5, progress=None, wall_now=0.0)
    >>> o.pop_ready(wall_now=0.0)       # the alarm waits for the waveform that covers it
    ['wave@100']
    >>> o.push("wave@101", "waveform", ts=101.0, progress=102.0, wall_now=0.1)
    >>> o.pop_ready(wall_now=0.1)
    ['wave@101', 'alarm@101.5']
    """

    def __init__(
        self, max_wait_seconds: float, max_events: int, stream_idle_seconds: float, created_wall: float = 0.0
    ) -> None:
        self.max_wait_seconds = max_wait_seconds
        self.created_wall = created_wall
        self.max_events = max_events
        self.stream_idle_seconds = stream_idle_seconds
        self.progress: dict[str, float] = {}  # stream kind -> event time it is complete up to
        self.released_ts = float("-inf")  # newest event time handed out
        self.stats: Counter[str] = Counter()
        self._heap: list[_Held[T]] = []
        self._arrivals: deque[tuple[float, float]] = deque()  # (wall time of arrival, ts)
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, item: T, kind: str, ts: float, progress: float | None, wall_now: float) -> None:
        if progress is not None and progress > self.progress.get(kind, float("-inf")):
            self.progress[kind] = progress
        self._seq += 1
        heapq.heappush(self._heap, _Held(ts, self._seq, item))
        self._arrivals.append((wall_now, ts))

    def watermark(self, wall_now: float | None = None) -> float:
        """Event time up to which every live stream of the bed is complete.

        A bed with no stream seen yet holds its events while the buffer is young (its waveforms may
        just be behind on another topic), then releases at once (a bed that sends only alarms).
        """
        if not self.progress:
            young = wall_now is not None and wall_now - self.created_wall < 2 * self.max_wait_seconds
            return float("-inf") if young else float("inf")
        newest = max(self.progress.values())
        live = [p for p in self.progress.values() if p >= newest - self.stream_idle_seconds]
        return min(live)

    def pop_ready(self, wall_now: float) -> list[T]:
        """Items whose turn has come: under the watermark, waited too long, or over the size cap."""
        forced_ts = float("-inf")
        while self._arrivals and wall_now - self._arrivals[0][0] >= self.max_wait_seconds:
            forced_ts = max(forced_ts, self._arrivals.popleft()[1])
        watermark = self.watermark(wall_now)
        limit = max(watermark, forced_ts)
        out: list[T] = []
        while self._heap and (self._heap[0].ts <= limit or len(self._heap) > self.max_events):
            held = heapq.heappop(self._heap)
            if held.ts > limit:
                self.stats["released_over_cap"] += 1
            elif forced_ts >= held.ts > watermark:
                self.stats["released_after_wait"] += 1
            if held.ts < self.released_ts:
                self.stats["late_events"] += 1
            self.released_ts = max(self.released_ts, held.ts)
            out.append(held.item)
        if not self._heap:
            self._arrivals.clear()
        return out

    def drain(self) -> list[T]:
        """Everything held, in event-time order (shutdown)."""
        out = [heapq.heappop(self._heap).item for _ in range(len(self._heap))]
        self._arrivals.clear()
        return out


@dataclass(slots=True)
class LedgerEntry(Generic[T]):
    offset: int
    token: T
    done: bool = False


class OffsetLedger(Generic[T]):
    """Messages of one topic partition in offset order; hands back tokens only as a done prefix.

    >>> led = OffsetLedger[str]()
    >>> a, b, c = led.add(10, "m10"), led.add(11, "m11"), led.add(12, "m12")
    >>> led.finish(b); led.finish(c); led.pop_done()   # 10 still in flight: nothing to commit
    []
    >>> led.finish(a); led.pop_done()
    ['m10', 'm11', 'm12']
    """

    def __init__(self) -> None:
        self._entries: deque[LedgerEntry[T]] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, offset: int, token: T) -> LedgerEntry[T]:
        entry = LedgerEntry(offset, token)
        self._entries.append(entry)
        return entry

    @staticmethod
    def finish(entry: LedgerEntry[T]) -> None:
        entry.done = True

    def pop_done(self) -> list[T]:
        out: list[T] = []
        while self._entries and self._entries[0].done:
            out.append(self._entries.popleft().token)
        return out
