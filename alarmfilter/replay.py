"""In-process driver: routes events to one BedEngine per bed and collects what they output.

Used by `alarmfilter replay`, the demo, the evaluator and the tests; no broker needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self, TextIO

from .engine import BedEngine
from .engine.factory import EngineFactory
from .events import DecodeError, InputEvent, Output, decode_event, encode

#: A bed silent this long (event time) is taken as discharged or unplugged: its engine is evicted.
BED_IDLE_EVICT_SECONDS = 3600.0


class Ward:
    """All beds of one driver. The driver owns `beds`; each engine owns its bed's state.

    A bed that sends nothing for `idle_evict_seconds` of ward event time is evicted, its pending
    alarms decided first, so memory follows the beds that are live, not every bed ever seen.
    """

    def __init__(self, engine_factory: EngineFactory | None = None, idle_evict_seconds: float = BED_IDLE_EVICT_SECONDS) -> None:
        self.engine_factory: EngineFactory = engine_factory or BedEngine
        self.idle_evict_seconds = idle_evict_seconds
        self.beds: dict[str, BedEngine] = {}
        self.clock = 0.0  # newest event time seen on any bed
        self.evicted = 0
        self._last_seen: dict[str, float] = {}
        self._next_sweep = 0.0

    def engine(self, bed: str) -> BedEngine:
        eng = self.beds.get(bed)
        if eng is None:
            eng = self.beds[bed] = self.engine_factory(bed)
        return eng

    def feed(self, event: InputEvent) -> list[Output]:
        out = self.engine(event.bed).feed(event)
        self._last_seen[event.bed] = max(event.ts, self._last_seen.get(event.bed, event.ts))
        if event.ts > self.clock:
            self.clock = event.ts
            if self.clock >= self._next_sweep:
                out += self._evict_idle()
        return out

    def _evict_idle(self) -> list[Output]:
        self._next_sweep = self.clock + min(60.0, self.idle_evict_seconds)
        horizon = self.clock - self.idle_evict_seconds
        out: list[Output] = []
        for bed in [b for b, seen in self._last_seen.items() if seen < horizon]:
            out += self.beds.pop(bed).flush()
            del self._last_seen[bed]
            self.evicted += 1
        return out

    def feed_raw(self, raw: object) -> list[Output]:
        """Decode and feed one message (any value: None, bytes, text); an invalid one becomes a dead
        letter, never an exception."""
        event = decode_event(raw)
        if isinstance(event, DecodeError):
            return [event.to_dead_letter(raw)]
        return self.feed(event)  # the engine never raises: a defect forwards the alarm or dead-letters the event

    def tick(self, now: float) -> list[Output]:
        return [o for eng in self.beds.values() for o in eng.tick(now)]

    def flush(self) -> list[Output]:
        return [o for eng in self.beds.values() for o in eng.flush()]


OUTPUT_FILES = {
    "alert": "alerts.jsonl",
    "decision": "decisions.jsonl",
    "technical": "technical.jsonl",
    "deadletter": "deadletter.jsonl",
}


@dataclass
class OutputFiles:
    """The four JSON-lines files of a replay run, and a count of lines written to each."""

    out_dir: Path
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTPUT_FILES, 0))
    _files: dict[str, TextIO] = field(default_factory=dict)

    def __enter__(self) -> Self:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._files = {k: (self.out_dir / name).open("w", encoding="utf-8") for k, name in OUTPUT_FILES.items()}
        return self

    def write(self, outputs: Iterable[Output]) -> None:
        for o in outputs:
            self._files[o.kind].write(encode(o) + "\n")
            self.counts[o.kind] += 1

    def __exit__(self, *exc: object) -> None:
        for f in self._files.values():
            f.close()


def read_lines(path: Path) -> Iterator[str]:
    """Lines of a JSON-lines file; undecodable bytes are kept (replaced) so they reach dead-letter."""
    with path.open("r", encoding="utf-8", errors="replace", newline="\n") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.strip():
                yield line


def replay_file(events_path: Path, out_dir: Path, ward: Ward | None = None) -> dict[str, int]:
    """Run a JSON-lines event file in file order; pending holds are decided at end of input."""
    ward = ward or Ward()
    with OutputFiles(out_dir) as files:
        for line in read_lines(events_path):
            files.write(ward.feed_raw(line))
        files.write(ward.flush())
    return files.counts
