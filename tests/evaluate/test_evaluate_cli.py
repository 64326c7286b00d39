"""`alarmfilter evaluate` end to end on small format-16 records written here: no shared data needed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from alarmfilter.cli import main
from tests.datasets.wfdb_records import write_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = write_folder(
        tmp_path_factory.mktemp("records") / "dev",
        {
            "v1l": {"comments": ["Ventricular_Tachycardia", "False alarm"], "bpm": 80.0},
            "b1s": {"seconds": 300.0, "comments": ["Bradycardia", "True alarm"], "bpm": 35.0},
            "u1l": {"comments": ["Asystole"]},  # unlabelled
            "c1l": {},  # corrupted below; type and label only in ALARMS
        },
        alarms={"c1l": "Asystole,1"},
    )
    (d / "c1l.dat").write_bytes((d / "c1l.dat").read_bytes()[:999])
    return d


def test_json_csv_and_report(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path, html_path = tmp_path / "dec.csv", tmp_path / "report.html"
    rc = main(["evaluate", str(folder), "--json", "--decisions-out", str(csv_path), "--report", str(html_path),
               "--jobs", "2"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["records"] == 4 and out["mode"] == "frozen"
    assert [e["record"] for e in out["errors"]] == ["c1l"] and "c1l" in out["errors"][0]["error"]
    overall = out["overall"]
    assert overall["alarms"] == 4 and overall["unlabelled"] == 1 and overall["record_errors"] == 1
    assert overall["TP"] + overall["FN"] == 2 and overall["TN"] + overall["FP"] == 1
    assert out["per_type"]["asystole"]["TP"] == 1  # the corrupt record: forwarded (fail-open) and counted
    assert set(out["per_type"]) == {"ventricular_tachycardia", "extreme_bradycardia", "asystole"}
    for key in ("TPR", "TNR", "score", "false_alarms_suppressed_pct"):
        assert key in overall
    assert out["records_per_second"] > 0
    assert out["baselines"]["forward_all"]["overall"]["FN"] == 0
    assert out["baselines"]["forward_all"]["overall"]["TN"] == 0

    with csv_path.open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["record", "alarm_type", "decision", "score", "reason"]
    by = {r[0]: r for r in rows[1:]}
    assert set(by) == {"v1l", "b1s", "u1l", "c1l"} and all(r[2] in ("0", "1") for r in by.values())
    assert by["c1l"][2] == "1" and by["c1l"][3] == "" and "could not be read" in by["c1l"][4]

    page = html_path.read_text()
    assert page.count("data:image/png;base64,") >= 2 and 'src="http' not in page
    assert "Clifford" in page and "c1l" in page
    # strips come from the review station's renderer (inline SVG, fixed scale), one per chart
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="strip"') == page.count('class="chart"')


def test_text_table(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "monitor_delay" in out and "forward_all" in out and "records/s" in out


@pytest.mark.parametrize("argv, needle", [
    (["evaluate", "/nonexistent/folder"], "no such directory"),
    (["evaluate", "{folder}", "--hold", "11"], "--hold"),
    (["evaluate", "{folder}", "--cv", "1"], "--cv"),
    (["evaluate", "{tmp}"], "not a WFDB record folder"),
    (["evaluate", "{folder}", "--cv", "2"], "labelled, readable records"),
])
def test_user_errors_are_one_line(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  argv: list[str], needle: str) -> None:
    argv = [a.format(folder=folder, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err


def test_cv_decides_each_record_with_the_model_of_the_folds_that_left_it_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Expectation by hand, not by the code under test: six true bradycardias at 32-37 bpm and six
    false ones at 70-85 bpm separate perfectly, so a model fitted on any two folds gets every held-out
    record right -- except that the first fold's model is made to forward everything here, which must
    turn exactly the false records of the first held-out fold into false positives."""
    from alarmfilter.cli.engines import shipped_model
    from alarmfilter.evaluate import session
    from alarmfilter.model.crossval import train_model

    recs: dict[str, dict] = {}
    for i in range(6):
        recs[f"b{i}t"] = {"seconds": 305.0, "comments": ["Bradycardia", "True alarm"], "bpm": 32.0 + i}
        recs[f"b{i}f"] = {"seconds": 305.0, "comments": ["Bradycardia", "False alarm"], "bpm": 70.0 + 3 * i}
    d = write_folder(tmp_path / "brady", recs)
    trained_on: list[set[str]] = []

    def spy(rows, inner_k=5, seed=0):  # type: ignore[no-untyped-def]
        model = train_model(rows, inner_k, seed)
        if not trained_on:
            model.thresholds = {t: 0.0 for t in model.thresholds}  # fold 0's model forwards everything
        trained_on.append({r["record"] for r in rows})
        return model

    monkeypatch.setattr(session, "train_model", spy)
    model, _ = shipped_model()
    ev = session.evaluate(session.Options(d, cv=3, seed=0, baselines=False), model)
    folds = ev.fold_of
    assert sorted(folds) == sorted(recs) and sorted(set(folds.values())) == [0, 1, 2]
    assert trained_on == [{r for r, g in folds.items() if g != f} for f in range(3)]  # never its own fold
    first_fold_false = {r for r, g in folds.items() if g == 0 and r.endswith("f")}
    assert first_fold_false
    forwarded = {o.record for o in ev.outcomes[session.FILTER] if o.forwarded}
    assert forwarded == {r for r in recs if r.endswith("t")} | first_fold_false
    overall = ev.summary()["overall"]
    n = len(first_fold_false)
    assert (overall["TP"], overall["FN"], overall["TN"], overall["FP"]) == (6, 0, 6 - n, n)
    assert len(ev.thresholds["extreme_bradycardia"]) == 3 and ev.thresholds["extreme_bradycardia"][0] == 0.0
