"""The replay driver and `alarmfilter replay`: every valid alarm one decision, every bad line one dead letter."""

from __future__ import annotations

import json
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alarmfilter.replay import Ward, replay_file
from tests.helpers import T0, alarm, feedback, line, vitals, waveform


def read(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_replay_writes_four_files(tmp_path):
    events = tmp_path / "events.jsonl"
    lines = [line(waveform("B1", T0 + k)) for k in range(12)]
    lines += [line(alarm("B1", T0 + 12, "a1")), "{broken", line(alarm("B2", T0 + 1, "a2", type="leads_off", priority="technical"))]
    lines += [line(vitals("B1", T0 + 13)), line(feedback("B1", T0 + 20, "a1", True)), "[1,2]"]
    events.write_text("\n".join(lines) + "\n")
    counts = replay_file(events, tmp_path / "out")
    out = tmp_path / "out"
    assert counts == {"alert": 1, "decision": 2, "technical": 1, "deadletter": 2}
    assert {d["alarm_id"] for d in read(out / "decisions.jsonl")} == {"a1", "a2"}
    assert all("error" in d and "raw" in d for d in read(out / "deadletter.jsonl"))
    assert read(out / "technical.jsonl")[0]["type"] == "leads_off"


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "alarmfilter", *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


def test_cli_replay(tmp_path):
    events = tmp_path / "e.jsonl"
    events.write_text(line(alarm("B1", T0)) + "\nnot json\n")
    r = _cli("replay", str(events), "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["decision"] == 1


def test_cli_replay_of_a_nested_line_in_the_middle_goes_on_to_the_end(tmp_path):
    events = tmp_path / "e.jsonl"
    poison = ["[" * 2000 + "]" * 2000, '{"a":' * 3000 + "1" + "}" * 3000, "[" * 200_000]
    lines = [line(alarm("B1", T0, "a0"))] + [x for i, p in enumerate(poison, 1) for x in (p, line(alarm("B1", T0 + i, f"a{i}")))]
    events.write_text("\n".join(lines) + "\n")
    r = _cli("replay", str(events), "--out", str(tmp_path / "o"))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert json.loads(r.stdout)["decision"] == 4 and json.loads(r.stdout)["deadletter"] == 3
    assert [d["alarm_id"] for d in read(tmp_path / "o" / "decisions.jsonl")] == ["a0", "a1", "a2", "a3"]
    assert all("nested deeper" in d["error"] for d in read(tmp_path / "o" / "deadletter.jsonl"))


def test_cli_missing_file_is_one_line_no_traceback(tmp_path):
    r = _cli("replay", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o"))
    assert r.returncode != 0
    assert r.stderr.strip().count("\n") == 0 and "no such file" in r.stderr and "Traceback" not in r.stderr
    r = _cli("replay", str(tmp_path), "--out", str(tmp_path / "o"))
    assert r.returncode != 0 and "directory" in r.stderr and "Traceback" not in r.stderr


# -- property: no input line can crash replay or lose a valid alarm's decision -------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
kinds = st.sampled_from(["alarm", "waveform", "vitals", "feedback", "other"])
beds = st.sampled_from(["B1", "B2", "", "bad bed"])
times = st.one_of(st.floats(T0, T0 + 100), st.floats(-1e3, 1e13), st.just(float("nan")))


@st.composite
def event_dicts(draw):
    kind = draw(kinds)
    d = {"schema_version": draw(st.sampled_from([1, 1, 1, 2, "1"])), "kind": kind, "bed": draw(beds), "ts": draw(times)}
    if kind == "alarm":
        d |= {"alarm_id": draw(st.text(min_size=0, max_size=6)), "type": draw(st.sampled_from(["asystole", "leads_off", "x", "ventricular_tachycardia"])),
              "priority": draw(st.sampled_from(["high", "low", "technical", "loud"]))}
    elif kind == "waveform":
        n = draw(st.integers(0, 5))
        d |= {"fs_hz": draw(st.sampled_from([250, 0, -1, 1e9, 2])),
              "signals": draw(st.dictionaries(st.sampled_from(["II", "V", "PLETH", "bad name"]),
                                              st.lists(st.none() | st.floats(-10, 10), min_size=n, max_size=n + 1), max_size=3))}
    elif kind == "vitals":
        d |= {"values": draw(st.dictionaries(st.sampled_from(["hr_bpm", "spo2_pct"]), st.none() | st.floats(allow_nan=False), max_size=2))}
    elif kind == "feedback":
        d |= {"alarm_id": draw(st.text(max_size=3)), "actionable": draw(st.booleans() | st.integers(0, 1))}
    if draw(st.booleans()):
        d[draw(st.sampled_from(["ts", "bed", "kind", "extra"]))] = draw(json_values)
    return d


lines_strategy = st.lists(
    st.one_of(event_dicts().map(lambda d: json.dumps(d)), st.text(max_size=40), json_values.map(json.dumps)),
    max_size=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines_strategy)
def test_no_line_crashes_replay_or_loses_an_alarm(lines):
    from alarmfilter.events import Alarm, DecodeError, decode_event

    ward = Ward()
    outputs, valid_alarms, invalid = [], set(), 0
    for raw in lines:
        ev = decode_event(raw)
        if isinstance(ev, DecodeError):
            invalid += 1
        elif isinstance(ev, Alarm):
            valid_alarms.add((ev.bed, ev.alarm_id))
        outputs += ward.feed_raw(raw)
    outputs += ward.flush()
    decided = [(o.bed, o.alarm_id) for o in outputs if o.kind == "decision"]
    assert sorted(set(decided)) == sorted(decided), "an alarm was decided twice"
    assert set(decided) == valid_alarms, "a valid alarm was not decided"
    assert sum(o.kind == "deadletter" for o in outputs) >= invalid


def test_silent_bed_is_evicted_after_deciding_its_pending_alarms():
    from alarmfilter.engine import BedEngine, EngineConfig
    from tests.engine.test_bed import FixedScorer, HalfPolicy

    ward = Ward(lambda bed: BedEngine(bed, EngineConfig(default_hold_seconds=5.0), FixedScorer(), HalfPolicy()),
                idle_evict_seconds=600)
    ward.feed(alarm("B1", T0, "a1"))
    ward.feed(waveform("B2", T0 + 1))
    assert set(ward.beds) == {"B1", "B2"}
    out = ward.feed(waveform("B2", T0 + 700))
    assert set(ward.beds) == {"B2"} and ward.evicted == 1
    assert [(o.kind, o.alarm_id) for o in out if o.kind == "decision"] == [("decision", "a1")]
    out = ward.feed(waveform("B2", T0 + 1400))
    assert set(ward.beds) == {"B2"}, "a bed that keeps sending is never evicted"


def test_cli_replay_of_a_file_with_no_valid_line_fails_in_one_line(tmp_path, capsys):
    from alarmfilter.cli import main

    events = tmp_path / "e.jsonl"
    events.write_text("not json\n[1, 2]\n{\"schema_version\": 1, \"kind\": \"alarm\"}\n")
    assert main(["replay", str(events), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none of its 3 lines is a valid event" in err and "Traceback" not in err
    assert len(read(tmp_path / "out" / "deadletter.jsonl")) == 3  # the reasons are still written
    # one valid line is enough for a normal run
    events.write_text("not json\n" + line(vitals("B1", T0)) + "\n")
    assert main(["replay", str(events), "--out", str(tmp_path / "out2")]) == 0
