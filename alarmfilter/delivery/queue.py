"""A bounded on-disk queue of outgoing alert messages: nothing forwarded is lost while a receiver is down.

One JSON file per message under `pending/`, written to a temporary name, fsynced and renamed,
so a crash leaves either the whole message or none of it. A message leaves `pending/` only
when its receiver accepted it (deleted) or refused it for good (moved to `failed/` with the
reason, still on disk for a person to replay). When `max_items` are pending, `put` raises
`QueueFull`: the caller must hold back (e.g. not commit its Kafka offset) rather than drop.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .messages import alert_key


class QueueFull(Exception):
    """The bound is reached; the caller keeps the alert and retries later."""


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One ORU^R40 to send: which alert, which escalation attempt, to which destination."""

    seq: int
    alarm_id: str
    attempt: int
    destination: int
    control_id: str
    alert: dict[str, Any]
    measured: dict[str, float] | None = None
    tries: int = field(default=0, compare=False)  # not persisted: restarts start counting afresh

    @property
    def key(self) -> str:
        """The alert's identity (bed and alarm id, `alert_key`): alarm ids repeat across beds."""
        return alert_key(str(self.alert.get("bed", "")), self.alarm_id)

    @property
    def name(self) -> str:
        return f"{self.seq:012d}.json"


class DiskQueue:
    """FIFO per destination, persisted as files; `put` is idempotent per (alert, attempt, destination),
    the alert named by its bed and alarm id."""

    def __init__(self, directory: str | Path, max_items: int = 10_000) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.dir = Path(directory)
        self.pending_dir = self.dir / "pending"
        self.failed_dir = self.dir / "failed"
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        self.failed_dir.mkdir(parents=True, exist_ok=True)
        self.max_items = max_items
        self._items: dict[int, QueuedMessage] = {}  # seq -> message, in seq order
        self._by_dest: dict[int, dict[int, None]] = {}  # destination -> seqs in order (O(1) oldest)
        self._by_key: dict[tuple[str, int, int], int] = {}  # (alarm, attempt, destination) -> seq
        self._queued_wall: dict[int, float] = {}  # seq -> wall time it was queued (file mtime after a restart)
        self._load()
        self._next_seq = max(self._items, default=0) + 1
        for p in self.failed_dir.glob("*.json"):
            self._next_seq = max(self._next_seq, _seq_of(p) + 1)

    def _load(self) -> None:
        for tmp in self.pending_dir.glob("*.tmp"):
            tmp.unlink(missing_ok=True)  # a write that never finished: its put() never returned
        for path in sorted(self.pending_dir.glob("*.json")):
            try:
                data = json.loads(path.read_text("utf-8"))
                item = QueuedMessage(**data)
            except (ValueError, TypeError) as exc:
                os.replace(path, self.failed_dir / path.name)
                (self.failed_dir / f"{path.stem}.reason").write_text(f"unreadable queue file: {exc}\n", "utf-8")
                continue
            self._index(item)
            self._queued_wall[item.seq] = path.stat().st_mtime

    def _index(self, item: QueuedMessage) -> None:
        self._items[item.seq] = item
        self._by_dest.setdefault(item.destination, {})[item.seq] = None
        self._by_key[(item.key, item.attempt, item.destination)] = item.seq

    def _unindex(self, item: QueuedMessage) -> None:
        self._items.pop(item.seq, None)
        self._by_dest.get(item.destination, {}).pop(item.seq, None)
        self._by_key.pop((item.key, item.attempt, item.destination), None)
        self._queued_wall.pop(item.seq, None)

    def __len__(self) -> int:
        return len(self._items)

    def pending(self, destination: int | None = None) -> list[QueuedMessage]:
        """Pending messages, oldest first (optionally for one destination)."""
        return [m for s, m in sorted(self._items.items()) if destination is None or m.destination == destination]

    def oldest(self, destination: int) -> QueuedMessage | None:
        seqs = self._by_dest.get(destination)
        return self._items[next(iter(seqs))] if seqs else None

    def oldest_queued_wall(self) -> float | None:
        """Wall time the oldest pending message was queued (None when empty), for the "oldest
        undelivered alert" age an operator watches."""
        return min(self._queued_wall.values(), default=None)

    def find(self, key: str, attempt: int, destination: int) -> QueuedMessage | None:
        """The pending message of alert `key` (`alert_key`) for this attempt and destination."""
        seq = self._by_key.get((key, attempt, destination))
        return self._items[seq] if seq is not None else None

    def put(self, alarm_id: str, attempt: int, destination: int, control_id: str,
            alert: dict[str, Any], measured: dict[str, float] | None = None, force: bool = False) -> QueuedMessage:
        """Persist one message durably before returning it; an identical pending one is reused.

        `force` ignores the bound (escalations: few, and never to be dropped).
        """
        existing = self.find(alert_key(str(alert.get("bed", "")), alarm_id), attempt, destination)
        if existing is not None:
            return existing
        if len(self._items) >= self.max_items and not force:
            raise QueueFull(f"{len(self._items)} messages pending in {self.pending_dir} (max {self.max_items})")
        item = QueuedMessage(self._next_seq, alarm_id, attempt, destination, control_id, alert, measured)
        self._next_seq += 1
        data = asdict(item)
        data.pop("tries")
        tmp = self.pending_dir / f"{item.seq:012d}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.pending_dir / item.name)
        _fsync_dir(self.pending_dir)
        self._index(item)
        self._queued_wall[item.seq] = time.time()
        return item

    def done(self, item: QueuedMessage) -> None:
        """The receiver accepted it: forget it."""
        self._unindex(item)
        # no fsync: if a crash undoes the unlink, the message is sent again (at-least-once)
        (self.pending_dir / item.name).unlink(missing_ok=True)

    def fail(self, item: QueuedMessage, reason: str) -> None:
        """The receiver refused it for good: keep it under failed/ with the reason."""
        self._unindex(item)
        src = self.pending_dir / item.name
        if src.exists():
            os.replace(src, self.failed_dir / item.name)
        (self.failed_dir / f"{item.seq:012d}.reason").write_text(reason + "\n", "utf-8")
        _fsync_dir(self.pending_dir)

    def failed(self) -> list[Path]:
        return sorted(self.failed_dir.glob("*.json"))

    def retried(self, item: QueuedMessage) -> QueuedMessage:
        """Count one more try in memory (for backoff and the AE retry limit)."""
        new = QueuedMessage(item.seq, item.alarm_id, item.attempt, item.destination, item.control_id,
                            item.alert, item.measured, item.tries + 1)
        if item.seq in self._items:
            self._items[item.seq] = new
        return new


def _seq_of(path: Path) -> int:
    try:
        return int(path.stem)
    except ValueError:
        return 0


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
