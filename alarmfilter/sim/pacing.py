"""Real-time pacing of a simulated stream: the one place the simulator looks at a wall clock.

The clock and sleep are passed in, so tests pace against a fake clock without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

from ..events.wire import Waveform


class _Timed(Protocol):
    @property
    def ts(self) -> float: ...


E = TypeVar("E", bound=_Timed)


def available_ts(event: _Timed) -> float:
    """When a monitor could send the event: a waveform chunk only once its last sample exists."""
    return event.ts + event.duration_seconds if isinstance(event, Waveform) else float(event.ts)


def paced(
    events: Iterable[E],
    speed: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    anchor: tuple[float, float] | None = None,
) -> Iterator[E]:
    """Yield each event no earlier than its event time, `speed` times faster than real time.

    By default the first event goes at once and the rest follow at their spacing. With
    `anchor=(event_ts, clock_time)` event time `event_ts` is due at `clock_time`: a stream stamped
    with the wall clock (`clock=time.time`, `anchor=(start, start)`) goes out when its events happen,
    so a late start (planning the ward) is caught up instead of becoming a permanent lag.

    >>> now = [0.0]
    >>> def fake_sleep(s): now[0] += s
    >>> from alarmfilter.events import Alarm
    >>> evs = [Alarm(schema_version=1, kind="alarm", bed="B", ts=1764150000.0 + k, alarm_id=str(i),
    ...              type="asystole", priority="high") for i, k in enumerate((0, 2, 5))]
    >>> [(e.alarm_id, now[0]) for e in paced(evs, clock=lambda: now[0], sleep=fake_sleep)]
    [('0', 0.0), ('1', 2.0), ('2', 5.0)]
    >>> now = [1764150003.0]   # started 3 s late against a wall-clock anchor: catch up, then keep time
    >>> [(e.alarm_id, now[0] - 1764150000.0) for e in paced(evs, clock=lambda: now[0], sleep=fake_sleep,
    ...                                                      anchor=(1764150000.0, 1764150000.0))]
    [('0', 3.0), ('1', 3.0), ('2', 5.0)]
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    start_wall: float | None = None if anchor is None else anchor[1]
    first_ts = 0.0 if anchor is None else anchor[0]
    for e in events:
        ts = available_ts(e)
        if start_wall is None:
            start_wall, first_ts = clock(), ts
        wait = start_wall + (ts - first_ts) / speed - clock()
        if wait > 0:
            sleep(wait)
        yield e
