"""Threshold alarms on the real BIDMC 1-Hz numerics (skipped when ../shared/data is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alarmfilter.cli import main
from alarmfilter.engine import EngineConfig
from alarmfilter.evaluate.thresholds import evaluate_thresholds

BIDMC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bidmc-numerics"


@pytest.fixture(scope="module")
def report() -> dict:
    if not BIDMC.is_dir():
        pytest.skip(f"{BIDMC} is absent: the real-numerics threshold evaluation is skipped")
    return evaluate_thresholds(BIDMC)


def test_non_critical_threshold_alarms_halved_and_no_critical_one_delayed(report: dict) -> None:
    before, after = report["before"], report["after"]
    assert report["stays"] == 53 and before["alarms"] > 20
    assert max(report["filter"]["hold_seconds"].values()) <= 10
    assert after["non_critical"] <= 0.5 * before["non_critical"]
    assert before["critical"] > 0 and after["critical"] == before["critical"]
    assert after["critical_delayed_or_suppressed"] == 0
    assert after["added_delay_seconds"]["max"] <= 10
    # the fixed delays do delay or drop alarms beyond a critical bound: the check can fail
    assert all(b["critical_delayed_or_suppressed"] > 0 for b in report["baselines"].values())


def test_every_suppression_says_why(report: dict) -> None:
    suppressed = [a for a in report["alarms"] if a["decision"] == "suppress"]
    assert suppressed and all(a["reasons"] and not a["critical"] for a in suppressed)
    recovered = [a for a in suppressed if "recovered" in a["reasons"][0]]
    assert recovered and all(a["added_delay_seconds"] <= 10 for a in recovered)


def test_a_shorter_hold_suppresses_less(report: dict) -> None:
    short = evaluate_thresholds(BIDMC, config=EngineConfig(threshold_hold_seconds=3.0))
    assert short["after"]["non_critical"] > report["after"]["non_critical"]
    assert short["after"]["critical_delayed_or_suppressed"] == 0


def test_cli_json_and_one_line_errors(report: dict, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["evaluate-thresholds", str(BIDMC), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["before"] == report["before"] and out["after"] == report["after"]
    for args, message in ((["/nonexistent/x"], "no such"), ([str(tmp_path)], "no bidmc_*_Numerics.csv"),
                          ([str(BIDMC), "--hold", "12"], "--hold must be within")):
        assert main(["evaluate-thresholds", *args]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
    (tmp_path / "bidmc_01_Numerics.csv").write_text("Time [s], HR\n0,80\n")
    assert main(["evaluate-thresholds", str(tmp_path)]) == 2
    assert "expected columns" in capsys.readouterr().err
