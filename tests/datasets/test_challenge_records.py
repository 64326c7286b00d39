"""The challenge record loader on both file formats, ALARMS labels, unlabelled, truncated and corrupt records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alarmfilter.datasets.challenge import RecordError, load_record, read_alarms, record_names
from alarmfilter.datasets.location import CHALLENGE, find_dataset
from tests.datasets.wfdb_records import FS_HZ, write_folder, write_record


def test_format16_dat_record_with_header_labels_and_missing_samples(tmp_path: Path) -> None:
    path = write_record(tmp_path, "v100l", comments=["Ventricular_Tachycardia", "False alarm"],
                        missing=slice(5000, 5050))
    assert (tmp_path / "v100l.dat").exists() and not (tmp_path / "v100l.mat").exists()
    signals, units, fs_hz, alarm_type, label = load_record(path, until_alarm=False)
    assert fs_hz == FS_HZ and set(signals) == {"II", "ABP"} and units == {"II": "mV", "ABP": "mmHg"}
    assert (alarm_type, label) == ("ventricular_tachycardia", False)
    assert len(signals["II"]) == 330 * FS_HZ
    assert np.isnan(signals["II"][5000:5050]).all() and not np.isnan(signals["II"][:5000]).any()
    assert np.nanmax(signals["ABP"]) == pytest.approx(100.0, abs=0.1)  # physical units back


def test_until_alarm_cuts_at_300_s_and_short_records_load_whole(tmp_path: Path) -> None:
    long = write_record(tmp_path, "a1l", comments=["Asystole", "True alarm"])
    short = write_record(tmp_path, "a1s", seconds=300.0, comments=["Asystole", "True alarm"])
    cut, *_ = load_record(long, until_alarm=True)
    whole, *_ = load_record(short, until_alarm=False)
    assert len(cut["II"]) == len(whole["II"]) == 300 * FS_HZ
    np.testing.assert_array_equal(cut["ABP"], whole["ABP"])


def test_type_and_label_from_alarms_file_when_header_lacks_them(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "d", {"b1s": {"seconds": 300.0}, "t1l": {"comments": ["Tachycardia"]}},
                          alarms={"b1s": "Bradycardia,1", "t1l": "Tachycardia,0"})
    assert read_alarms(folder) == {"b1s": ("extreme_bradycardia", True), "t1l": ("extreme_tachycardia", False)}
    assert load_record(folder / "b1s")[3:] == ("extreme_bradycardia", True)
    assert load_record(folder / "t1l")[3:] == ("extreme_tachycardia", False)
    assert record_names(folder) == ["b1s", "t1l"]


def test_unlabelled_record_has_no_label(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "d", {"v9l": {"comments": ["Ventricular_Tachycardia"]}, "u1l": {}},
                          alarms={"u1l": "Asystole,"})
    assert load_record(folder / "v9l")[3:] == ("ventricular_tachycardia", None)
    assert load_record(folder / "u1l")[3:] == ("asystole", None)


@pytest.mark.parametrize("damage", ["truncate_dat", "garbage_header", "missing_dat"])
def test_corrupt_record_raises_one_clear_error_naming_it(tmp_path: Path, damage: str) -> None:
    path = write_record(tmp_path, "c1l", comments=["Asystole", "False alarm"])
    dat, hea = tmp_path / "c1l.dat", tmp_path / "c1l.hea"
    if damage == "truncate_dat":
        dat.write_bytes(dat.read_bytes()[:1001])
    elif damage == "garbage_header":
        hea.write_text("this is not a wfdb header\n")
    else:
        dat.unlink()
    with pytest.raises(RecordError) as err:
        load_record(path)
    msg = str(err.value)
    assert msg.startswith("record c1l:") and "\n" not in msg


def test_real_mat_record_format_16_24() -> None:
    loc = find_dataset(CHALLENGE)
    if loc is None:
        pytest.skip("../shared/data/challenge2015-dev is absent: real-record loader test skipped")
    d = loc.dataset(CHALLENGE)
    signals, units, fs_hz, alarm_type, label = load_record(d / "a103l", until_alarm=False)
    assert (d / "a103l.mat").exists() and fs_hz == 250.0
    assert list(signals) == ["II", "V", "PLETH"] and units["PLETH"] == "NU"
    assert len(signals["II"]) == 82_500 and (alarm_type, label) == ("asystole", False)
    assert len(load_record(d / "a103l")[0]["V"]) == 75_000
