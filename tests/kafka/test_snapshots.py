"""Model snapshots of a learning worker: sealed when due and at shutdown, restored at start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alarmfilter.events import Alarm
from alarmfilter.kafka.producer import produce_events
from alarmfilter.kafka.snapshots import SnapshotKeeper
from alarmfilter.model.loading import ward_model_lifecycle
from alarmfilter.settings import Settings

from ..helpers import feedback
from .conftest import read_outputs, run
from .streams import ward_stream

KEY = b"ward-7-snapshot-key-0123456789"


def learned(keeper: SnapshotKeeper, n: int) -> None:
    x = {"hr_bpm": 80.0}
    for i in range(n):
        keeper.lifecycle.learn_one(x, i % 2 == 0, "hr_high")


def test_restore_resumes_the_newest_verified_snapshot(tmp_path: Path) -> None:
    keeper = SnapshotKeeper(ward_model_lifecycle(KEY), tmp_path)
    assert keeper.restore() is None and keeper.maybe_save(1.0) is None  # nothing learned, nothing to save
    learned(keeper, 3)
    first = keeper.maybe_save(100.0)
    assert first is not None and keeper.maybe_save(101.0) is None  # not due again yet
    learned(keeper, 2)
    newest = keeper.maybe_save(102.0, force=True)
    assert newest is not None
    version = keeper.lifecycle.version
    doc = json.loads(newest.read_text())
    doc["body"]["n_learned"] = 50  # tampered: the signature no longer matches
    newest.write_text(json.dumps(doc))
    again = SnapshotKeeper(ward_model_lifecycle(KEY), tmp_path)
    assert again.restore() == first  # the tampered one is refused, the older verified one used
    assert again.lifecycle.n_learned == 3 and again.lifecycle.version != version
    stranger = SnapshotKeeper(ward_model_lifecycle(b"another-ward-key-0123456789"), tmp_path)
    assert stranger.restore() is None  # signed with another key: not ours


@pytest.mark.slow
def test_worker_learns_saves_at_shutdown_and_restores(settings: Settings, workers: Any, tmp_path: Path) -> None:
    w = workers("w1", snapshot_key=KEY.decode())
    w.wait_assigned()
    events = ward_stream(beds=2, seconds=30, alarm_every_seconds=3.0, tag="snap")
    alarms = [e for e in events if isinstance(e, Alarm)]
    labels = [feedback(a.bed, a.ts + 2.0, a.alarm_id, actionable=i % 2 == 0) for i, a in enumerate(alarms)]
    run(produce_events(settings, sorted([*events, *labels], key=lambda e: e.ts)))
    ids = {a.alarm_id for a in alarms}
    out = run(read_outputs(settings, lambda o: ids <= {d["alarm_id"] for d in o["decision"]}, 30))
    versions = {d["model_version"] for d in out["decision"]}
    assert any("+" in v for v in versions), f"no decision by a model that learned: {versions}"
    seen = max(int(v.rsplit("+", 1)[1]) for v in versions if "+" in v)  # labels learned before some decision
    w.stop()
    models = tmp_path / "w1" / "models"
    saved = sorted(models.glob("snapshot-*.json"))
    assert saved, w.text()[-2000:]
    n_learned = max(int(p.stem.split("-")[1]) for p in saved)
    assert n_learned >= seen  # the shutdown snapshot holds at least every label a decision had learned from
    w.start()
    w.wait_assigned()
    restored = [line for line in w.text().splitlines() if "model snapshot restored" in line]
    assert restored and f"+{n_learned})" in restored[0], restored
    assert json.loads(saved[-1].read_text())["hmac_sha256"]
