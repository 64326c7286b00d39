"""Model snapshots for the worker: restore the newest verified one at start, seal one when due.

The lifecycle (`model/lifecycle.py`) decides when a snapshot is due (labels learned, event time);
this driver-side helper only does the file I/O, in `ALARMFILTER_DATA_DIR/models`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..model.lifecycle import ModelLifecycle, SnapshotStore

log = logging.getLogger(__name__)


class SnapshotKeeper:
    """One lifecycle's snapshots in one folder (one folder per worker: each learns from its beds)."""

    def __init__(self, lifecycle: ModelLifecycle, directory: Path, keep: int = 5) -> None:
        self.lifecycle = lifecycle
        self.store = SnapshotStore(directory, keep=keep)
        self.last_saved_ts: float | None = None

    def restore(self) -> Path | None:
        """Resume from the newest snapshot that verifies; refused ones are logged, never loaded."""
        path, refused = self.store.restore_latest(self.lifecycle)
        for why in refused:
            log.warning("model snapshot refused: %s", why)
        if path is not None:
            log.info("model snapshot restored: %s (model %s)", path.name, self.lifecycle.version)
        return path

    def maybe_save(self, event_ts: float, force: bool = False) -> Path | None:
        """Seal a snapshot when the lifecycle says one is due (or on shutdown with `force`)."""
        lc = self.lifecycle
        if not (lc.snapshot_due(event_ts) or (force and lc.n_learned > 0)):
            return None
        path = self.store.save(lc, event_ts)
        self.last_saved_ts = event_ts
        log.info("model snapshot saved: %s (model %s)", path.name, lc.version)
        return path
