"""Bounded per-bed history: a waveform ring buffer per channel and a short numerics log.

Memory per bed is fixed whatever the stream does: the rings hold at most
`max_samples_per_second` (channels x fs_hz, summed over the bed's channels) x `capacity_seconds`
float32 samples, a chunk that would take a bed past that is refused (dead letter, "bed limit"),
and the numerics log keeps at most `max_rows` rows.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: A chunk may start up to this many samples before or after the expected one (clock jitter).
JITTER_SAMPLES = 1
MAX_BUFFERED_CHANNELS = 16
#: channels x fs_hz a bed may carry: 16 channels at 250 Hz, 8 at 500 Hz, 4 at 1000 Hz
MAX_SAMPLES_PER_SECOND = 4000


@dataclass(frozen=True, slots=True)
class Window:
    """Signals of one bed over [start_ts, start_ts + n/fs_hz), as handed to a scorer.

    `alarm_index` is the sample index of the alarm time (== length when the hold is 0), clipped to
    the samples held; `uncovered_seconds` is how far the alarm lies beyond them (a lagging chunk).
    """

    signals: dict[str, FloatArray]
    units: dict[str, str]
    fs_hz: float
    start_ts: float
    alarm_index: int
    uncovered_seconds: float = 0.0

    @property
    def n_samples(self) -> int:
        return len(next(iter(self.signals.values()))) if self.signals else 0

    @property
    def seconds(self) -> float:
        return self.n_samples / self.fs_hz if self.fs_hz else 0.0


class WaveformBuffer:
    """Last `capacity_seconds` of every channel, stored as float32 rings; gaps are NaN.

    >>> buf = WaveformBuffer(capacity_seconds=2.0)
    >>> buf.append(1000.0, 4.0, {"II": [0.1, 0.2, None, 0.4]}, {"II": "mV"})
    >>> buf.end_ts
    1001.0
    >>> w = buf.window(end_ts=1001.0, seconds=10.0, alarm_ts=1001.0)
    >>> w.signals["II"].round(2).tolist(), w.start_ts, w.alarm_index
    ([0.1, 0.2, nan, 0.4], 1000.0, 4)
    """

    def __init__(self, capacity_seconds: float, max_samples_per_second: int = MAX_SAMPLES_PER_SECOND,
                 max_channels: int = MAX_BUFFERED_CHANNELS) -> None:
        self.capacity_seconds = capacity_seconds
        self.max_samples_per_second = max_samples_per_second
        self.max_channels = max_channels
        self.fs_hz = 0.0
        self._cap = 0
        self._t0 = 0.0
        self._n = 0  # absolute index of the next sample since t0
        self._rings: dict[str, npt.NDArray[np.float32]] = {}
        self.units: dict[str, str] = {}

    @property
    def empty(self) -> bool:
        return self._n == 0

    @property
    def end_ts(self) -> float:
        """Event time just after the newest sample (start time when empty)."""
        return self._t0 + self._n / self.fs_hz if self.fs_hz else self._t0

    @property
    def held_seconds(self) -> float:
        return min(self._n, self._cap) / self.fs_hz if self.fs_hz else 0.0

    def _reset(self, ts: float, fs_hz: float) -> None:
        self.fs_hz = fs_hz
        self._cap = max(1, round(self.capacity_seconds * fs_hz))
        self._t0 = ts
        self._n = 0
        self._rings.clear()
        self.units.clear()

    def append(
        self,
        ts: float,
        fs_hz: float,
        signals: Mapping[str, Sequence[float | None]],
        units: Mapping[str, str],
    ) -> str | None:
        """Add a chunk whose first sample is at `ts`. Returns an error string if it cannot be placed."""
        err = self._over_limit(fs_hz, signals)
        if err:
            return err
        if self._n == 0 or fs_hz != self.fs_hz:
            self._reset(ts, fs_hz)
        start = round((ts - self._t0) * fs_hz)
        if abs(start - self._n) <= JITTER_SAMPLES:
            start = self._n
        if start < self._n:
            return (
                f"out of order: waveform chunk starts at {ts:.3f} but the bed already has samples "
                f"up to {self.end_ts:.3f}"
            )
        new = [name for name in signals if name not in self._rings]
        for name in new:
            self._rings[name] = np.full(self._cap, np.nan, dtype=np.float32)
        if start > self._n:  # a gap: the missing stretch reads as NaN
            self._write_nan(self._n, start - self._n)
        n = len(next(iter(signals.values())))
        for name, ring in self._rings.items():
            values = signals.get(name)
            if values is None:
                self._write(ring, start, np.full(n, np.nan, dtype=np.float32))
            else:  # straight to float32 (None -> NaN): no float64 temporary per channel and chunk
                self._write(ring, start, np.array(values, dtype=np.float32))
        if units != self.units:  # the same units every chunk, as a rule
            self.units.update({k: v for k, v in units.items() if k in self._rings})
        self._n = start + n
        return None

    def _over_limit(self, fs_hz: float, signals: Mapping[str, object]) -> str | None:
        """Checked before anything changes: a refused chunk leaves the bed's buffer as it was.

        >>> WaveformBuffer(10.0)._over_limit(2000.0, dict.fromkeys(["II", "V", "PLETH"]))
        'bed limit: 3 channels at 2000 Hz is 6000 samples/s; a bed may carry at most 4000 (e.g. 16 channels at 250 Hz, 4 at 1000 Hz)'
        """
        kept = set(self._rings) if self._n and fs_hz == self.fs_hz else set()
        channels = len(kept | set(signals))
        if channels > self.max_channels:
            return f"bed limit: too many channels ({channels}); a bed may carry at most {self.max_channels}"
        if channels * fs_hz > self.max_samples_per_second:
            return (f"bed limit: {channels} channels at {fs_hz:g} Hz is {channels * fs_hz:g} samples/s; a bed may "
                    f"carry at most {self.max_samples_per_second} (e.g. 16 channels at 250 Hz, 4 at 1000 Hz)")
        return None

    @property
    def max_bytes(self) -> int:
        """The most the rings can ever hold, in bytes (float32 samples)."""
        return int(self.max_samples_per_second * self.capacity_seconds + self.max_channels) * 4

    def _write_nan(self, start: int, n: int) -> None:
        n = min(n, self._cap)
        for ring in self._rings.values():
            self._write(ring, start, np.full(n, np.nan, dtype=np.float32))

    def _write(self, ring: npt.NDArray[np.float32], start: int, data: npt.NDArray[np.float32]) -> None:
        if len(data) > self._cap:
            start += len(data) - self._cap
            data = data[-self._cap :]
        i = start % self._cap
        first = min(len(data), self._cap - i)
        ring[i : i + first] = data[:first]
        ring[: len(data) - first] = data[first:]

    def window(self, end_ts: float, seconds: float, alarm_ts: float) -> Window:
        """Samples in [end_ts - seconds, end_ts), clipped to what is held; all-NaN channels dropped."""
        if self._n == 0:
            return Window({}, {}, self.fs_hz, end_ts, 0)
        stop = min(self._n, round((end_ts - self._t0) * self.fs_hz))
        begin = max(0, self._n - self._cap, stop - round(seconds * self.fs_hz))
        if stop <= begin:
            return Window({}, {}, self.fs_hz, end_ts, 0)
        idx = np.arange(begin, stop) % self._cap
        signals: dict[str, FloatArray] = {}
        for name, ring in self._rings.items():
            x = ring[idx].astype(np.float64)
            if not np.isnan(x).all():
                signals[name] = x
        alarm_index = int(np.clip(round((alarm_ts - self._t0) * self.fs_hz) - begin, 0, stop - begin))
        units = {k: self.units.get(k, "") for k in signals}
        uncovered = max(0.0, alarm_ts - (self._t0 + stop / self.fs_hz))
        return Window(signals, units, self.fs_hz, self._t0 + begin / self.fs_hz, alarm_index, uncovered)


class VitalsLog:
    """The bed's numerics for the last `capacity_seconds` (and at most `max_rows` rows).

    >>> log = VitalsLog(capacity_seconds=60)
    >>> log.append(1000.0, {"hr_bpm": 80.0, "spo2_pct": 97.0})
    >>> log.append(1001.0, {"hr_bpm": 82.0, "spo2_pct": None})
    >>> log.series("hr_bpm", until_ts=1001.0).tolist()
    [[1000.0, 80.0], [1001.0, 82.0]]
    >>> log.latest("spo2_pct", until_ts=1001.0)
    97.0
    """

    def __init__(self, capacity_seconds: float, max_rows: int = 1024) -> None:
        self.capacity_seconds = capacity_seconds
        self._rows: deque[tuple[float, dict[str, float | None]]] = deque(maxlen=max_rows)  # 900 s at 1 Hz fit

    @property
    def last_ts(self) -> float | None:
        return self._rows[-1][0] if self._rows else None

    def append(self, ts: float, values: Mapping[str, float | None]) -> str | None:
        if self._rows and ts < self._rows[-1][0]:
            return f"out of order: vitals at {ts:.3f} arrived after vitals at {self._rows[-1][0]:.3f}"
        self._rows.append((ts, {sys.intern(k): v for k, v in values.items()}))  # one copy of each name
        while self._rows and self._rows[0][0] < ts - self.capacity_seconds:
            self._rows.popleft()
        return None

    def series(self, key: str, until_ts: float, seconds: float | None = None) -> FloatArray:
        """(n, 2) array of (ts, value) for `key` up to `until_ts`, missing values skipped."""
        lo = -np.inf if seconds is None else until_ts - seconds
        pts = [(t, v[key]) for t, v in self._rows if lo <= t <= until_ts and v.get(key) is not None]
        return np.asarray(pts, dtype=np.float64).reshape(-1, 2)

    def latest(self, key: str, until_ts: float) -> float | None:
        for t, v in reversed(self._rows):
            if t <= until_ts and v.get(key) is not None:
                return v[key]
        return None
