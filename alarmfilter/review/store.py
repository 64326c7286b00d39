"""What the review station knows, as plain objects: alarms and their decisions, labels, and a
bounded ring of recent waveform per bed from which each alarm's strip is cut. Pure: no clock,
no socket; the feed (feed.py) and the in-process drivers push events in, the pages read views.

Memory is bounded three ways: alarms older than `history_seconds` (event time) or beyond
`max_alarms` are dropped oldest first; each bed keeps `ring_seconds` of waveform; at most
`max_strips` strips are kept, those still awaiting a label last to go.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

from ..events import Alarm, AlarmType, Feedback, Waveform

FloatArray = npt.NDArray[np.float32]


class Label(str, Enum):
    """A clinician's verdict; on the wire `actionable` is true only for ACTIONABLE."""

    ACTIONABLE = "actionable"
    NOT_ACTIONABLE = "not_actionable"
    ARTEFACT = "artefact"

    @property
    def actionable(self) -> bool:
        return self is Label.ACTIONABLE

    @property
    def words(self) -> str:
        return {"actionable": "actionable", "not_actionable": "not actionable", "artefact": "artefact"}[self.value]


@dataclass(slots=True)
class Strip:
    """Every channel over [start_ts, start_ts + n / fs_hz); NaN = no sample."""

    start_ts: float
    fs_hz: float
    signals: dict[str, FloatArray]
    units: dict[str, str]

    @property
    def n_samples(self) -> int:
        return len(next(iter(self.signals.values()))) if self.signals else 0

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self.signals.values())


@dataclass(slots=True)
class AlarmRecord:
    """One alarm as the station shows it; decision fields are None until the decision is read."""

    alarm_id: str
    bed: str
    type: str
    priority: str
    alarm_ts: float
    decision: str | None = None
    score: float | None = None
    reason_code: str | None = None
    reasons: list[str] = field(default_factory=list)
    model_version: str | None = None
    audit_sample: bool = False
    decided_ts: float | None = None
    seen_wall: float | None = None  # wall time the station read the decision
    label: Label | None = None
    note: str | None = None
    technical: bool = False  # set once from the type: the board reads it for every alarm

    def __post_init__(self) -> None:
        t = AlarmType.parse(self.type)
        self.technical = t is not None and t.is_technical

    @property
    def held_back(self) -> bool:
        return self.decision == "suppress" and not self.technical

    @property
    def awaits_label(self) -> bool:
        """In the review queue: held back, or forwarded as an audit sample, and not labelled yet."""
        return self.label is None and (self.held_back or (self.audit_sample and self.decision is not None))


@dataclass(frozen=True, slots=True)
class _Chunk:
    ts: float
    fs_hz: float
    signals: dict[str, FloatArray]
    units: dict[str, str]

    @property
    def end_ts(self) -> float:
        return self.ts + len(next(iter(self.signals.values()))) / self.fs_hz


class WaveformRing:
    """The last `seconds` of one bed's waveform, as the chunks it came in."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.chunks: deque[_Chunk] = deque()

    @property
    def end_ts(self) -> float:
        return self.chunks[-1].end_ts if self.chunks else float("-inf")

    def add(self, w: Waveform) -> None:
        signals = {k: np.asarray(s, dtype=np.float32) for k, s in w.signals.items()}  # None -> NaN
        chunk = _Chunk(w.ts, w.fs_hz, signals, dict(w.units))
        if self.chunks and chunk.ts < self.chunks[-1].ts:  # late chunk: keep the deque in time order
            items = sorted([*self.chunks, chunk], key=lambda c: c.ts)
            self.chunks = deque(items)
        else:
            self.chunks.append(chunk)
        horizon = self.end_ts - self.seconds
        while self.chunks and self.chunks[0].end_ts < horizon:
            self.chunks.popleft()

    def window(self, start_ts: float, end_ts: float) -> Strip | None:
        """Samples in [start_ts, end_ts) at the rate of the newest chunk, NaN where none came.

        >>> ring = WaveformRing(60.0)
        >>> for k in (0, 2):
        ...     ring.add(Waveform(schema_version=1, kind="waveform", bed="B", ts=1764150000.0 + k, fs_hz=2.0,
        ...                       signals={"II": [k, k + 0.5]}, units={"II": "mV"}))
        >>> s = ring.window(1764150000.0, 1764150003.0)
        >>> s.signals["II"].tolist()
        [0.0, 0.5, nan, nan, 2.0, 2.5]
        """
        chunks = [c for c in self.chunks if c.end_ts > start_ts and c.ts < end_ts]
        if not chunks:
            return None
        fs = chunks[-1].fs_hz
        chunks = [c for c in chunks if c.fs_hz == fs]
        first = max(start_ts, chunks[0].ts)
        # align to the sample grid of the chunks, so a sample sits where it was taken
        first = chunks[0].ts + np.ceil((first - chunks[0].ts) * fs - 1e-6) / fs
        n = int(np.floor((end_ts - first) * fs + 1e-6))
        if n <= 0:
            return None
        names: list[str] = []
        units: dict[str, str] = {}
        for c in chunks:
            for k in c.signals:
                if k not in units:
                    names.append(k)
                    units[k] = c.units.get(k, "")
        out = {k: np.full(n, np.nan, dtype=np.float32) for k in names}
        for c in chunks:
            offset = round((c.ts - first) * fs)
            m = len(next(iter(c.signals.values())))
            lo, hi = max(0, -offset), min(m, n - offset)
            if hi <= lo:
                continue
            for k, x in c.signals.items():
                out[k][offset + lo: offset + hi] = x[lo:hi]
        return Strip(float(first), fs, out, units)


class ReviewStore:
    def __init__(
        self,
        ring_seconds: float = 120.0,
        before_seconds: float = 16.0,
        after_seconds: float = 4.0,
        history_seconds: float = 24 * 3600.0,
        max_alarms: int = 200_000,
        max_strips: int = 600,
    ) -> None:
        self.ring_seconds = ring_seconds
        self.before_seconds = before_seconds
        self.after_seconds = after_seconds
        self.history_seconds = history_seconds
        self.max_alarms = max_alarms
        self.max_strips = max_strips
        self.alarms: OrderedDict[str, AlarmRecord] = OrderedDict()
        self.strips: OrderedDict[str, Strip] = OrderedDict()
        self.rings: dict[str, WaveformRing] = {}
        self.pending: dict[str, dict[str, float]] = {}  # bed -> alarm id -> alarm ts, strip not cut yet
        self.beds: set[str] = set()
        self.clock = 0.0  # newest event time seen
        self.first_ts: float | None = None
        self.labels_early: OrderedDict[str, tuple[Label, str | None]] = OrderedDict()  # label before its alarm

    # -- input -------------------------------------------------------------------------------

    def _saw(self, bed: str, ts: float) -> None:
        self.beds.add(bed)
        if self.first_ts is None or ts < self.first_ts:
            self.first_ts = ts
        self.clock = max(self.clock, ts)

    def add_waveform(self, w: Waveform) -> None:
        self._saw(w.bed, w.ts)
        ring = self.rings.get(w.bed)
        if ring is None:
            ring = self.rings[w.bed] = WaveformRing(self.ring_seconds)
        ring.add(w)
        waiting = self.pending.get(w.bed)
        if waiting:
            for alarm_id, alarm_ts in list(waiting.items()):
                if ring.end_ts >= alarm_ts + self.after_seconds:
                    self._cut(alarm_id, w.bed, alarm_ts)
                    del waiting[alarm_id]

    def _record(self, alarm_id: str, bed: str, type_: str, priority: str, alarm_ts: float) -> AlarmRecord:
        rec = self.alarms.get(alarm_id)
        if rec is None:
            rec = self.alarms[alarm_id] = AlarmRecord(alarm_id, bed, type_, priority, alarm_ts)
            early = self.labels_early.pop(alarm_id, None)
            if early is not None:
                rec.label, rec.note = early
            self._want_strip(rec)
            self._trim()
        return rec

    def add_alarm(self, a: Alarm) -> AlarmRecord:
        self._saw(a.bed, a.ts)
        return self._record(a.alarm_id, a.bed, a.type, a.priority, a.ts)

    def add_decision(self, d: dict[str, Any], wall_now: float | None = None) -> AlarmRecord:
        """A decision as it is on the wire (`alarm_id`, `bed`, `type`, `decision`, `score`, ...)."""
        self._saw(str(d["bed"]), float(d["alarm_ts"]))
        rec = self._record(str(d["alarm_id"]), str(d["bed"]), str(d["type"]), str(d.get("priority", "")),
                           float(d["alarm_ts"]))
        rec.decision = str(d["decision"])
        rec.score = None if d.get("score") is None else float(d["score"])
        rec.reason_code = d.get("reason_code")
        rec.reasons = [str(r) for r in d.get("reasons") or []]
        rec.model_version = d.get("model_version")
        rec.audit_sample = bool(d.get("audit_sample"))
        rec.decided_ts = None if d.get("decided_ts") is None else float(d["decided_ts"])
        if rec.seen_wall is None:
            rec.seen_wall = wall_now
        return rec

    def add_feedback(self, f: Feedback, label: Label | None = None, note: str | None = None) -> None:
        """A label from the feedback topic (ours read back, or another station's)."""
        label = label or (Label.ACTIONABLE if f.actionable else Label.NOT_ACTIONABLE)
        self.set_label(f.alarm_id, label, note)

    def set_label(self, alarm_id: str, label: Label, note: str | None = None) -> None:
        rec = self.alarms.get(alarm_id)
        if rec is None:
            self.labels_early[alarm_id] = (label, note)
            while len(self.labels_early) > 10_000:
                self.labels_early.popitem(last=False)
            return
        if rec.label is None:  # the first label wins; a repeat (our own read back) changes nothing
            rec.label, rec.note = label, note

    # -- strips ------------------------------------------------------------------------------

    def _want_strip(self, rec: AlarmRecord) -> None:
        if rec.alarm_id in self.strips:
            return
        ring = self.rings.get(rec.bed)
        if ring is not None and ring.end_ts >= rec.alarm_ts + self.after_seconds:
            self._cut(rec.alarm_id, rec.bed, rec.alarm_ts)
            return
        waiting = self.pending.setdefault(rec.bed, {})
        waiting[rec.alarm_id] = rec.alarm_ts
        if len(waiting) > 200:  # a bed whose waveform never comes: forget the oldest
            del waiting[next(iter(waiting))]

    def _cut(self, alarm_id: str, bed: str, alarm_ts: float) -> None:
        strip = self.rings[bed].window(alarm_ts - self.before_seconds, alarm_ts + self.after_seconds)
        if strip is None or alarm_id not in self.alarms:
            return
        self.strips[alarm_id] = strip
        while len(self.strips) > self.max_strips:
            self._evict_strip()

    def _evict_strip(self) -> None:
        """The oldest strip nobody needs to label; the oldest of all when every one awaits a label."""
        for k, alarm_id in enumerate(self.strips):
            rec = self.alarms.get(alarm_id)
            if rec is None or not rec.awaits_label or k > 1000:
                del self.strips[alarm_id]
                return
        self.strips.popitem(last=False)

    def strip(self, alarm_id: str) -> Strip | None:
        return self.strips.get(alarm_id)

    # -- bounds ------------------------------------------------------------------------------

    def _trim(self) -> None:
        horizon = self.clock - self.history_seconds
        while self.alarms:
            alarm_id, rec = next(iter(self.alarms.items()))
            if len(self.alarms) <= self.max_alarms and rec.alarm_ts >= horizon:
                break
            del self.alarms[alarm_id]
            self.strips.pop(alarm_id, None)
            self.pending.get(rec.bed, {}).pop(alarm_id, None)

    # -- views -------------------------------------------------------------------------------

    def get(self, alarm_id: str) -> AlarmRecord | None:
        return self.alarms.get(alarm_id)

    def queue(self, limit: int = 50) -> list[AlarmRecord]:
        """Alarms awaiting a label, newest first."""
        out = []
        for rec in reversed(self.alarms.values()):
            if rec.awaits_label:
                out.append(rec)
                if len(out) >= limit:
                    break
        return out

    def queue_size(self) -> int:
        n = 0
        for r in self.alarms.values():
            if r.label is None and r.decision is not None and (r.audit_sample or (r.decision == "suppress" and not r.technical)):
                n += 1
        return n

    def board(self, hours: float = 4.0, recent: int = 50) -> Board:
        """Per bed over the last `hours` of event time: alarms in, forwarded, held back, technical."""
        since = self.clock - hours * 3600.0
        rows: dict[str, BedRow] = {b: BedRow(b) for b in sorted(self.beds)}
        latest: deque[AlarmRecord] = deque(maxlen=recent)
        queued = 0
        for rec in self.alarms.values():  # one pass; 50 beds x 24 h is ~9,000 alarms
            decision = rec.decision
            if rec.label is None and decision is not None and (
                    rec.audit_sample or (decision == "suppress" and not rec.technical)):
                queued += 1
            if rec.alarm_ts < since:
                continue
            row = rows.get(rec.bed)
            if row is None:
                row = rows[rec.bed] = BedRow(rec.bed)
            latest.append(rec)
            if rec.technical:
                row.technical += 1
            elif decision is None:
                row.undecided += 1
            elif decision == "forward":
                row.forwarded += 1
                row.audit += rec.audit_sample
            else:
                row.held_back += 1
            if rec.label is not None:
                row.labelled += 1
        covered = self.clock - max(since, self.first_ts if self.first_ts is not None else self.clock)
        days = max(covered, 60.0) / 86_400.0  # at least a minute: a first alarm is no infinite burden
        for row in rows.values():
            row.burden_before = (row.forwarded + row.held_back + row.technical) / days
            row.burden_after = (row.forwarded + row.technical) / days
        return Board(hours=hours, covered_seconds=covered, beds=list(rows.values()),
                     recent=sorted(latest, key=lambda r: r.alarm_ts, reverse=True), queue_size=queued)


@dataclass(slots=True)
class BedRow:
    bed: str
    forwarded: int = 0
    held_back: int = 0
    technical: int = 0
    undecided: int = 0
    audit: int = 0
    labelled: int = 0
    burden_before: float = 0.0
    burden_after: float = 0.0

    @property
    def clinical(self) -> int:
        return self.forwarded + self.held_back


@dataclass(slots=True)
class Board:
    hours: float
    covered_seconds: float
    beds: list[BedRow]
    recent: list[AlarmRecord]
    queue_size: int

    @property
    def totals(self) -> BedRow:
        t = BedRow("all beds")
        for r in self.beds:
            t.forwarded += r.forwarded
            t.held_back += r.held_back
            t.technical += r.technical
            t.undecided += r.undecided
            t.audit += r.audit
            t.labelled += r.labelled
        n = max(len(self.beds), 1)
        t.burden_before = sum(r.burden_before for r in self.beds) / n
        t.burden_after = sum(r.burden_after for r in self.beds) / n
        return t
