"""`alarmfilter simulate` and `alarmfilter demo` as a user runs them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from alarmfilter.cli import main
from alarmfilter.sim import read_truth


def test_simulate_writes_a_file_replay_accepts_and_truth_for_every_alarm(tmp_path: Path, capsys) -> None:
    events, truth, out = tmp_path / "ward.jsonl", tmp_path / "truth.jsonl", tmp_path / "out"
    rc = main(["simulate", "--beds", "3", "--hours", "0.25", "--seed", "4", "--synthetic",
               "--out", str(events), "--truth", str(truth), "--feedback"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["events"] == sum(1 for _ in events.open())
    labels = read_truth(truth)
    assert len(labels) == report["alarms"] > 0
    assert main(["replay", str(events), "--out", str(out)]) == 0
    decisions = [json.loads(ln) for ln in (out / "decisions.jsonl").open()]
    assert sorted(d["alarm_id"] for d in decisions) == sorted(labels)
    assert (out / "deadletter.jsonl").read_text() == ""
    kinds = {json.loads(ln)["kind"] for ln in events.open()}
    assert kinds == {"vitals", "waveform", "alarm", "feedback"}
    rows = [json.loads(ln) for ln in truth.open()]
    assert all(r["alarm_id"] in labels for r in rows if r["kind"] == "fault")
    beds = [r for r in rows if r["kind"] == "bed"]
    assert [b["bed"] for b in beds] == ["ICU1-01", "ICU1-02", "ICU1-03"]
    assert all(b["limits"]["spo2_low"]["limit"] <= 90 and b["sources"] for b in beds)


@pytest.mark.parametrize("args, message", [
    (["--beds", "0", "--out", "x.jsonl"], "--beds and --hours must be positive"),
    (["--beds", "2"], "--out"),
    (["--out", "x.jsonl", "--data", "/nonexistent/dir"], "no such directory"),
    (["--out", "/nonexistent/dir/x.jsonl", "--hours", "0.05", "--beds", "1", "--synthetic"], "No such file"),
])
def test_simulate_user_errors_are_one_line(args: list[str], message: str, capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and err.startswith("alarmfilter simulate: error:")


def test_realtime_paces_by_event_time_from_the_wall_clock(tmp_path: Path, capsys) -> None:
    started, wall = time.monotonic(), time.time()
    assert main(["simulate", "--beds", "1", "--hours", "0.05", "--synthetic", "--realtime", "--speed", "360",
                 "--out", str(tmp_path / "e.jsonl")]) == 0
    elapsed = time.monotonic() - started
    assert elapsed >= 0.4  # 180 s of event time at 360x is 0.5 s (first event at t0)
    capsys.readouterr()
    # a live ward: event time starts at the wall clock (not at the fixed start of the seeded files)
    first = json.loads((tmp_path / "e.jsonl").open().readline())
    assert wall - 1.0 <= first["ts"] <= wall + 2.0, (first["ts"], wall)


def test_start_ts_and_the_fixed_default(tmp_path: Path, capsys) -> None:
    from alarmfilter.sim import SimConfig

    for extra, expected in (([], SimConfig().start_ts), (["--start-ts", "1800000000"], 1_800_000_000.0)):
        out = tmp_path / "e.jsonl"
        assert main(["simulate", "--beds", "1", "--hours", "0.01", "--synthetic", "--out", str(out), *extra]) == 0
        first = json.loads(out.open().readline())
        assert expected <= first["ts"] < expected + 1.0
    capsys.readouterr()


def test_demo_json_counts_against_ground_truth(capsys) -> None:
    assert main(["demo", "--seconds", "900", "--beds", "4", "--seed", "2", "--synthetic", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    total, clinical, technical = out["total"], out["clinical"], out["technical"]
    assert total["alarms_in"] == clinical["alarms_in"] + technical["alarms_in"] > 0
    assert total["alarms_in"] == total["forwarded"] + total["suppressed"]
    assert clinical["true_alarms"] + clinical["false_alarms"] == clinical["alarms_in"]
    assert technical["suppressed"] == 0
    assert out["data"].startswith("fully synthetic")
    assert out["burden_per_bed_day"]["before"] >= out["burden_per_bed_day"]["after"]


def test_demo_table_names_its_data(capsys) -> None:
    assert main(["demo", "--seconds", "600", "--beds", "2", "--synthetic"]) == 0
    text = capsys.readouterr().out
    assert "missed true alarms" in text and "alarms/bed/day before" in text
    assert "data: fully synthetic" in text


def test_demo_bad_arguments(capsys) -> None:
    assert main(["demo", "--beds", "0"]) == 2
    assert main(["demo", "--data", "/nonexistent/dir"]) == 2
    err = capsys.readouterr().err
    assert "must be positive" in err and "no such directory" in err


def test_simulate_rejects_a_bad_setting_in_one_line(capsys, tmp_path: Path) -> None:
    assert main(["simulate", "--bed-dispersion", "-1", "--out", str(tmp_path / "e.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("alarmfilter simulate: error: bed_rate_dispersion") and len(err.splitlines()) == 1


def test_demo_table_has_a_legend_and_technical_rows_carry_no_truth_counts(capsys) -> None:
    assert main(["demo", "--seconds", "900", "--beds", "4", "--seed", "2", "--synthetic"]) == 0
    text = capsys.readouterr().out
    assert "columns: alarms in = " in text and "false cut = " in text and "missed true = " in text
    technical = [line for line in text.splitlines() if "TECHNICAL (routed)" in line]
    assert len(technical) == 1
    cells = [c.strip() for c in technical[0].strip("│ ").split("│")]
    assert cells[0] == "TECHNICAL (routed)" and int(cells[1]) > 0
    assert cells[2] == "-" and cells[5] == "-" and cells[6] == "-", cells  # true, false cut, missed true
