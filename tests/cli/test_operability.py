"""Small things an operator trips over: abbreviated options, unit label spelling, licence notes,
what `make test` skipped, what `data list` counts."""

from __future__ import annotations

import argparse
import json
import shutil
import tomllib
from pathlib import Path

import pytest

from alarmfilter.cli import build_parser, main
from alarmfilter.metrics import DriverMetrics
from alarmfilter.settings import Settings

REPO = Path(__file__).resolve().parents[2]
BIDMC = REPO.parent / "shared" / "data" / "bidmc-numerics"


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out += _parsers(sub)
    return out


def test_no_abbreviated_options_anywhere(capsys: pytest.CaptureFixture[str]) -> None:
    parsers = _parsers(build_parser())
    assert len(parsers) > 8 and not [p.prog for p in parsers if p.allow_abbrev]
    assert main_exit(["demo", "--bed", "5"]) == 2  # not taken as --beds 5
    assert "unrecognized arguments: --bed 5" in capsys.readouterr().err
    assert main_exit(["data", "list", "--verif"]) == 2


def main_exit(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_one_spelling_of_the_default_unit_label() -> None:
    from alarmfilter.cli.replay import DEFAULT_UNIT

    worker = Settings.model_construct().unit
    demo = DriverMetrics.__init__.__defaults__[0]  # type: ignore[index]
    assert worker == DEFAULT_UNIT == demo == "icu"
    replay = next(a for a in _parsers(build_parser()) if a.prog.endswith(" replay"))
    assert replay.get_default("unit") == worker
    demo_parser = next(a for a in _parsers(build_parser()) if a.prog.endswith(" demo"))
    assert demo_parser.get_default("unit") == worker


def test_sample_licence_note_agrees_with_the_licence_file() -> None:
    licence = (REPO / "LICENSE").read_text()
    note = (REPO / "alarmfilter" / "datasets" / "sample" / "ATTRIBUTION.md").read_text()
    assert licence.startswith("MIT License")
    assert "MIT License" in note and "Apache" not in note
    assert "ODC-By 1.0" in note  # the data keep their own licence
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"] == "MIT"


def test_make_test_reports_what_it_skipped_and_why() -> None:
    addopts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    assert any(opt.startswith("-r") and "s" in opt for opt in addopts.split()), addopts


def test_data_list_counts_bidmc_stays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not BIDMC.is_dir():
        pytest.skip(f"{BIDMC} not found (real BIDMC numerics)")
    folder = tmp_path / "bidmc-numerics"
    folder.mkdir()
    for name in ("bidmc_01_Numerics.csv", "bidmc_01_Fix.txt", "bidmc_02_Numerics.csv", "bidmc_02_Fix.txt"):
        shutil.copy(BIDMC / name, folder / name)
    assert main(["data", "list", "--data", str(tmp_path), "--json"]) == 0
    rows = [r for r in json.loads(capsys.readouterr().out)["folders"] if r["found_via"] == "--data"]
    assert [(r["dataset"], r["records"], r["files"]) for r in rows] == [("bidmc-numerics", 2, 4)]
