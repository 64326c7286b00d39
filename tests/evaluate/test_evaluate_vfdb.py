"""`alarmfilter evaluate` on vfdb folders: alarms built from rhythm annotations, leads under two namings.

A small synthetic vfdb folder runs everywhere; the real dev half (skipped when absent) checks the
plumbing on real signals. Decision outcomes are not pinned (the decision logic is moving).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from alarmfilter.cli import main
from alarmfilter.cli.engines import shipped_model
from alarmfilter.datasets import vfdb
from alarmfilter.datasets.challenge import ChallengeRecord
from alarmfilter.evaluate.runner import Source, alarm_seconds, decide
from alarmfilter.evaluate.session import (
    FILTER,
    FILTER_FROZEN,
    Options,
    compare_lead_names,
    evaluate,
)
from alarmfilter.evaluate.variants import Kind, Variant
from tests.datasets.vfdb_records import suppressed, vfdb_alarm_records, vfdb_dev, write_vfdb_folder
from tests.datasets.wfdb_records import write_folder

MARKS_A = [(0, "(N"), (90, "(NOISE"), (100, "(N"), (200, "(VT"), (215, "(N"), (300, "(NOISE"), (310, "(N")]
MARKS_B = [(0, "(N"), (150, "(ASYS"), (160, "(N")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_vfdb_folder(tmp_path_factory.mktemp("vfdb") / "vf", {"901": (MARKS_A, 330.0), "902": (MARKS_B, 200.0)})


def test_cli_builds_the_alarms_and_counts_true_alarms_forwarded(folder: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = tmp_path / "dec.csv"
    rc = main(["evaluate", str(folder), "--json", "--decisions-out", str(csv_path), "--jobs", "2"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["dataset"] == "vfdb" and out["lead_names"] == "II/V"
    assert out["records"] == 4 and out["errors"] == []
    per = out["per_type"]
    assert {t: (c["true_alarms"], c["false_alarms"]) for t, c in per.items()} == {
        "asystole": (1, 1), "ventricular_tachycardia": (1, 0), "ventricular_flutter_fib": (0, 1)}
    for c in per.values():
        assert c["true_forwarded"] == c["TP"] and c["false_suppressed"] == c["TN"]
    assert out["baselines"]["forward_all"]["overall"]["true_forwarded"] == 2
    with csv_path.open() as f:
        rows = list(csv.reader(f))
    assert [r[0] for r in rows[1:]] == ["901-vf-94s", "901-vt-205s", "901-asys-304s", "902-asys-156s"]


def test_cli_lead_names_and_comparison(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(folder), "--json", "--lead-names", "ecg", "--compare-lead-names"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["lead_names"] == "ECG1/ECG2"
    cmp = out["lead_name_comparison"]
    assert cmp["namings"] == ["ECG1/ECG2", "II/V"] and cmp["decisions"] == 4
    assert cmp["changed"] == len(cmp["changed_records"]) <= 4
    assert main(["evaluate", str(folder), "--compare-lead-names"]) == 0
    assert "decisions change" in capsys.readouterr().out


def test_lead_names_need_a_vfdb_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = write_folder(tmp_path / "dev", {"v1s": {"seconds": 300.0, "comments": ["Ventricular_Tachycardia", "True alarm"]}})
    assert main(["evaluate", str(d), "--lead-names", "ecg"]) == 2
    assert "vfdb folder" in capsys.readouterr().err
    assert main(["evaluate", str(d), "--compare-lead-names"]) == 2


def test_an_alarm_record_shorter_than_300_s_has_its_alarm_at_its_end(folder: Path) -> None:
    src = Source(folder, "monitor")
    short, full = src.load_group(["901-vf-94s", "901-asys-304s"], None)
    assert isinstance(short, ChallengeRecord) and isinstance(full, ChallengeRecord)
    assert len(short.signals["II"]) == 94 * 250 and alarm_seconds(short) == 94.0
    assert len(full.signals["II"]) == 300 * 250 and alarm_seconds(full) == 300.0


def test_an_unknown_alarm_name_fails_open(folder: Path) -> None:
    out = Source(folder, "monitor").load_group(["901-vt-999s"], None)
    assert out[0].forwarded and "builds no alarm" in (out[0].error or "")  # type: ignore[union-attr]


# --- the real dev half -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev() -> Path:
    return vfdb_dev()


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    m, problem = shipped_model()
    assert m is not None, problem
    return m


def test_real_alarms_are_scored_the_same_in_one_process_or_two(dev: Path, model) -> None:  # type: ignore[no-untyped-def]
    names = ("602", "427", "609")
    one = evaluate(Options(dev, records=names, baselines=False), model)
    two = evaluate(Options(dev, records=names, baselines=False, jobs=2), model)
    want = [a.name for r in names for a in vfdb.read_alarms(dev / r)]
    assert one.names == want and len(want) == 7
    assert [(o.record, o.forwarded, o.score) for o in one.outcomes[FILTER]] == \
        [(o.record, o.forwarded, o.score) for o in two.outcomes[FILTER]]
    assert all(o.features and o.error is None for o in one.outcomes[FILTER])  # every alarm really scored


def test_runner_decisions_match_the_test_helper(dev: Path, model) -> None:  # type: ignore[no-untyped-def]
    recs = vfdb_alarm_records(records=["602"], data_dir=dev)
    ev = evaluate(Options(dev, records=("602",), baselines=False), model)
    filt = Variant(FILTER, Kind.FILTER, model_state=model.to_dict())
    direct = [decide(r, filt.factory(), filt.context_seconds) for r in recs]
    assert [(o.record, o.forwarded, o.score) for o in direct] == \
        [(o.record, o.forwarded, o.score) for o in ev.outcomes[FILTER]]
    assert suppressed(recs, model) == [o.record for o in ev.outcomes[FILTER] if not o.forwarded]


def test_comparing_lead_names_on_real_alarms(dev: Path, model) -> None:  # type: ignore[no-untyped-def]
    cmp = compare_lead_names(Options(dev, records=("427", "602")), model)
    assert cmp.decisions == 5 and cmp.namings == ("monitor", "ecg")
    assert set(cmp.changed) <= {a.name for r in ("427", "602") for a in vfdb.read_alarms(dev / r)}


def test_prequential_on_vfdb(dev: Path, model) -> None:  # type: ignore[no-untyped-def]
    ev = evaluate(Options(dev, mode="prequential", seed=1, records=("420", "422"), baselines=False), model)
    assert sorted(ev.names) == sorted(a.name for r in ("420", "422") for a in vfdb.read_alarms(dev / r))
    assert ev.model_version.endswith(f"+{len(ev.names)}")
    assert len(ev.outcomes[FILTER]) == len(ev.outcomes[FILTER_FROZEN]) == len(ev.names)
