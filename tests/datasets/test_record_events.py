"""Records as wire events: order, real time, and the numerics derived for records that have none."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alarmfilter.datasets.challenge import load_record
from alarmfilter.datasets.events import record_events
from tests.datasets.wfdb_records import FS_HZ, write_record

ALARM_TS = 1_764_150_300.0


def _events(path: Path, until_alarm: bool):  # type: ignore[no-untyped-def]
    signals, units, fs_hz, alarm_type, _ = load_record(path, until_alarm=until_alarm)
    return record_events(path.name, "ICU1-01", signals, units, fs_hz, alarm_type, ALARM_TS, 300 * FS_HZ, 40.0)


def test_events_in_time_order_with_derived_numerics(tmp_path: Path) -> None:
    path = write_record(tmp_path, "t1l", bpm=150.0, comments=["Tachycardia", "True alarm"])
    events, alarm = _events(path, until_alarm=False)
    kinds = [e.kind for e in events]
    i = kinds.index("alarm")
    assert events[i] is alarm and alarm.type == "extreme_tachycardia" and alarm.ts == ALARM_TS
    assert kinds.count("waveform") == 40 + 30 and kinds[i + 1 :] == ["waveform"] * 30
    vitals = [e for e in events if e.kind == "vitals"]
    assert len(vitals) == 39 and all(v.ts <= ALARM_TS for v in vitals)  # the first second: no full window
    last = vitals[-1].values
    assert abs(last["hr_bpm"] - 150.0) < 3 and abs(last["pulse_bpm"] - 150.0) < 3
    assert abs(last["abp_sys_mmhg"] - 100.0) < 1 and abs(last["abp_dia_mmhg"] - 80.0) < 1
    ends = [e.ts + (e.duration_seconds if e.kind == "waveform" else 0.0) for e in events[:i]]
    assert ends == sorted(ends)  # each vitals follows the waveform it was derived from


def test_events_before_the_alarm_do_not_depend_on_later_data(tmp_path: Path) -> None:
    path = write_record(tmp_path, "a1l", comments=["Asystole", "False alarm"])
    full, _ = _events(path, until_alarm=False)
    cut, _ = _events(path, until_alarm=True)
    i = [e.kind for e in full].index("alarm")
    assert [e.model_dump() for e in full[: i + 1]] == [e.model_dump() for e in cut]


def test_missing_channel_gives_missing_values_not_guesses(tmp_path: Path) -> None:
    path = write_record(tmp_path, "b1l", bpm=40.0, missing=slice(290 * FS_HZ, 300 * FS_HZ))
    events, _ = _events(path, until_alarm=False)
    last = [e for e in events if e.kind == "vitals"][-1].values
    assert last["hr_bpm"] is None and last["pulse_bpm"] is not None
    assert np.isfinite(last["abp_mean_mmhg"])
