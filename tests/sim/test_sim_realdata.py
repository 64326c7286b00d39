"""Where a ward's real data comes from, and what happens without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from alarmfilter.datasets import sample
from alarmfilter.events import DecodeError, decode_event
from alarmfilter.sim import SimConfig, simulate
from alarmfilter.sim.realdata import RealData, _sample_pool, find_real_data
from alarmfilter.sim.ward import encode_event


def test_a_challenge_folder_without_labels_falls_back_to_the_shipped_sample(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "challenge2015-dev"
    folder.mkdir()
    (folder / "RECORDS").write_text("x100s\n")  # listed, but no header, no ALARMS: no ground truth
    monkeypatch.setenv("ALARMFILTER_DATA_DIR", str(tmp_path / "nowhere"))
    real = find_real_data(str(tmp_path))
    if sample.available():
        assert real.records is not None and real.records.source == "shipped sample"
        assert "shipped sample" in real.describe()
    else:
        assert real.records is None


@pytest.mark.skipif(not sample.available(), reason="shipped sample absent from this checkout")
def test_the_shipped_sample_alone_builds_a_ward() -> None:
    pool = _sample_pool()
    assert pool is not None and all(r.tail_seconds == 0 for r in pool.records)
    real = RealData(records=pool, where=["sample"])
    run = simulate(SimConfig(beds=8, hours=0.5, seed=3, real_arrhythmia_share=1.0), real)
    spliced = [t for t in run.truth.values() if t.source.startswith("challenge:")]
    assert spliced
    for e in run.events():
        assert not isinstance(decode_event(encode_event(e)), DecodeError)


def test_no_real_data_says_fully_synthetic() -> None:
    real = find_real_data(use_real=False)
    assert real.synthetic_only and real.describe().startswith("fully synthetic")
