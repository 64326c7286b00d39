"""The shipped sample: small, attributed, every alarm type true and false, and equal to the real records."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from alarmfilter.datasets import sample
from alarmfilter.datasets.location import CHALLENGE, find_dataset

#: the `isolated_install` fixture of conftest.py: (tmp_path, with_sample=True) -> (site, cwd, env)
Install = Callable[..., tuple[Path, Path, dict[str, str]]]

ALARM_TYPES = {"asystole", "extreme_bradycardia", "extreme_tachycardia", "ventricular_tachycardia",
               "ventricular_flutter_fib"}


def _dev_data() -> Path:
    loc = find_dataset(CHALLENGE)
    if loc is None:
        pytest.skip(f"../shared/data/{CHALLENGE} not found: cannot compare the sample with the real records")
    return loc.dataset(CHALLENGE)


def test_sample_is_small_and_attributed() -> None:
    assert sample.path().stat().st_size <= 1_000_000
    note = (sample.path().parent / sample.ATTRIBUTION_FILE).read_text()
    assert "ODC-By 1.0" in note and "Clifford" in note and "Goldberger" in note
    for r in sample.records():
        assert r.name in note


def test_sample_covers_true_and_false_of_every_type() -> None:
    recs = sample.records()
    assert 8 <= len(recs) <= 12
    assert {(r.alarm_type, r.label) for r in recs} == {(t, lab) for t in ALARM_TYPES for lab in (True, False)}
    for r in recs:
        assert r.fs_hz == 250.0
        lengths = {len(x) for x in r.signals.values()}
        assert lengths == {int(sample.SAMPLE_SECONDS * r.fs_hz)}
        assert set(r.units) == set(r.signals)
        assert any(ch.startswith(("II", "I", "V", "MCL", "III", "aV")) for ch in r.signals)


def test_sample_equals_the_last_minute_before_the_alarm_of_the_real_records() -> None:
    from alarmfilter.datasets.challenge import load_record

    src = _dev_data()
    for r in sample.records():
        signals, units, fs_hz, alarm_type, label = load_record(src / r.name)
        assert (units, fs_hz, alarm_type, label) == (r.units, r.fs_hz, r.alarm_type, r.label)
        for ch, x in r.signals.items():
            np.testing.assert_array_equal(x, signals[ch][-len(x):])


def test_build_is_reproducible(tmp_path: Path) -> None:
    from alarmfilter.datasets.sample.__main__ import main

    src = _dev_data()
    assert main(["build", str(src), "--out", str(tmp_path)]) == 0
    built = (tmp_path / sample.SAMPLE_FILE).read_bytes()
    assert hashlib.sha256(built).hexdigest() == hashlib.sha256(sample.path().read_bytes()).hexdigest()
    assert (tmp_path / sample.ATTRIBUTION_FILE).is_file()


def test_build_refuses_a_folder_without_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from alarmfilter.datasets.sample.__main__ import main

    assert main(["build", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a challenge record folder" in err[0]
    assert not (tmp_path / sample.SAMPLE_FILE).exists()


def _demo(work: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "alarmfilter", "demo", *args], check=False, cwd=work, env=env,
                          capture_output=True, text=True, timeout=240)


@pytest.mark.slow
def test_demo_on_a_fresh_machine_uses_the_shipped_sample(tmp_path: Path, isolated_install: Install) -> None:
    site, work, env = isolated_install(tmp_path)
    where = subprocess.run([sys.executable, "-c", "import alarmfilter; print(alarmfilter.__file__)"],
                           check=False, cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.strip() == str(site / "alarmfilter" / "__init__.py"), "the copy, not the checkout, runs"
    data_list = subprocess.run([sys.executable, "-m", "alarmfilter", "data", "list", "--json"],
                               check=False, cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert data_list.returncode == 0, data_list.stderr
    info = json.loads(data_list.stdout)
    assert info["folders"] == [] and info["used"]["challenge"] is None and info["sample"]["present"]

    run = _demo(work, env, "--seconds", "600", "--beds", "4")
    assert run.returncode == 0, run.stderr
    data_line = next(ln for ln in run.stdout.splitlines() if ln.startswith("data: "))
    assert "challenge records from the shipped sample" in data_line and "fully synthetic" not in data_line
    assert f"no challenge data folder in {tmp_path}" in run.stdout and "alarmfilter data fetch" in run.stdout


@pytest.mark.slow
def test_demo_with_no_data_at_all_says_it_is_synthetic(tmp_path: Path, isolated_install: Install) -> None:
    _, work, env = isolated_install(tmp_path, with_sample=False)
    run = _demo(work, env, "--seconds", "600", "--beds", "4")
    assert run.returncode == 0, run.stderr
    data_line = next(ln for ln in run.stdout.splitlines() if ln.startswith("data: "))
    assert "fully synthetic" in data_line and "shipped sample" not in run.stdout
