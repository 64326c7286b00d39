"""The benchmark suite runs (quick mode, through the CLI) and its JSON carries every documented key.

Not a timed test: figures are only checked for sane types and ranges.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from alarmfilter.cli import CliError
from alarmfilter.cli.bench import load_suite
from benchmarks import bench_engine, run
from benchmarks.stream import block_seconds, encoded_batches, ward_run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick() -> dict:
    p = subprocess.run([sys.executable, "-m", "alarmfilter", "bench", "--quick", "--json"], check=False, cwd=ROOT,
                       capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout)


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def test_every_documented_key_with_its_type(quick: dict) -> None:
    for key, typ in run.DOCUMENTED_KEYS.items():
        assert key in quick, key
        if quick[key] is None:
            assert key in quick["skipped"] and quick["skipped"][key], f"{key} is None without a reason"
        else:
            assert isinstance(quick[key], typ), (key, quick[key])
    assert quick["profile"] == "quick"


def test_figures_are_sane(quick: dict) -> None:
    assert quick["engine_bed_seconds_per_cpu_second"] > 0
    assert 0 < quick["engine_vs_decode_only"] <= 2.0  # engine cannot be much cheaper than its own decoding
    assert 0 < quick["memory_mb_per_bed"] < 100
    worst = quick["details"]["memory_worst_case"]
    assert quick["memory_mb_per_bed"] < quick["memory_worst_case_mb_per_bed"] <= worst["bound_mb_per_bed"]
    assert worst["refused_wider_chunks"] == worst["beds"] and worst["tracked_alarms_per_bed"] <= 1000
    assert _number(quick["memory_growth_mb_per_bed_before"]) and _number(quick["memory_growth_mb_per_bed_at_end"])
    assert quick["memory_at_hours"] < quick["memory_simulated_hours"]
    eng = quick["details"]["engine"]
    assert eng["bed_seconds"] > 0 and eng["lines_by_kind"]["waveform"] > 0 and eng["lines_by_kind"]["vitals"] > 0
    assert len(eng["engine_cpu_seconds"]) == len(eng["decode_only_cpu_seconds"]) == eng["repeats"]
    for row in quick["scaling"]:
        assert row["beds"] >= 1 and row["engine_bed_seconds_per_cpu_second"] > 0 and _number(row["relative_to_first"])
    assert quick["scaling"][0]["relative_to_first"] == 1.0
    for t, v in (quick["feature_ms_per_alarm"] or {}).items():
        assert v["n"] >= 1 and 0 <= v["p50"] <= v["p99"], t
    if quick["evaluate_records_per_second"] is not None:
        assert quick["evaluate_records_per_second"] > 0
    assert "kafka_ratio_vs_passthrough" in quick["skipped"]  # quick mode starts no broker
    m = quick["machine"]
    assert m["nproc"] >= 1 and m["python"].startswith("3.11") and m["numpy"] and isinstance(m["blas_env"], dict)
    assert quick["git"]["commit"] is None or len(quick["git"]["commit"]) == 40
    for name, t in quick["targets"].items():
        assert t["met"] in (True, False, None), name


def test_table_is_markdown_with_the_machine(quick: dict) -> None:
    text = run.table(quick)
    assert text.startswith("| measure | value | target |") and "Machine:" in text and "Commit" in text


def test_decode_only_driver_sees_the_same_stream_as_the_engine() -> None:
    r = bench_engine.measure(beds=2, seconds=12.0, repeats=1, warmup_seconds=2.0)
    assert r["bed_seconds"] == pytest.approx(24.0, abs=2.0)  # gap-free: one chunk per bed second
    assert r["lines_by_kind"]["waveform"] == r["lines_by_kind"]["vitals"]
    assert "deadletter" not in r["decisions"]


def test_stream_is_time_ordered_and_valid() -> None:
    from alarmfilter.events import DecodeError, decode_event

    lines = [ln for b in encoded_batches(ward_run(3, 8.0), batch_lines=7) for ln in b]
    assert [ln.ts for ln in lines] == sorted(ln.ts for ln in lines)
    assert not any(isinstance(decode_event(ln.raw), DecodeError) for ln in lines)
    assert block_seconds(10_000) == 4


def test_cli_outside_a_checkout_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="source checkout"):
        load_suite(tmp_path)


def test_feature_table_parser_ignores_other_lines() -> None:
    text = ("window 60 s, 3 records x 1\nwall = elapsed time; cpu = CPU\n"
            "alarm type n wall p50 wall p99 cpu p50 cpu p99 (ms)\nasystole 3 1.00 2.00 0.5 0.75\nall 3 1 2 0.5 0.75\n")
    assert run.parse_feature_table(text)["asystole"] == {"n": 3, "p50": 0.5, "p99": 0.75, "wall_p50": 1.0,
                                                         "wall_p99": 2.0}
    assert set(run.parse_feature_table(text)) == {"asystole", "all"}
