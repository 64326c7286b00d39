"""One learned model per care unit, shared by every worker through the label log (real broker).

Two `alarmfilter worker` processes with a snapshot key (model_store=kafka) share a Tansu broker;
each serves /metrics, where the tests read the unit's model version. One broker per module.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from alarmfilter.engine.shared import seal_label
from alarmfilter.kafka.producer import produce_events
from alarmfilter.settings import Settings
from tests.shared_scenario import events_of, hr_alarms, labels_of

from .conftest import ALARMFILTER, REPO, free_port, read_outputs, run, worker_env

pytestmark = pytest.mark.slow

KEY = "icu1-shared-model-key-0123456789"
BEDS = [f"ICU1-{i:02d}" for i in range(1, 33)]


def metric(port: int, name: str, **labels: str) -> float | None:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(rf"^alarmfilter_{name}\{{(.*)\}} (\S+)$", line)
        if m and ",".join(sorted(m.group(1).split(","))) == want:
            return float(m.group(2))
    return None


def wait_version(ports: list[int], version: int, timeout_seconds: float) -> list[float]:
    """Seconds until each worker's /metrics shows `version` labels applied to ICU1's model."""
    start = time.monotonic()
    reached: dict[int, float] = {}
    while len(reached) < len(ports):
        for p in ports:
            if p not in reached and metric(p, "unit_model_version", unit="ICU1") == version:
                reached[p] = time.monotonic() - start
        if time.monotonic() - start > timeout_seconds:
            shown = {p: metric(p, "unit_model_version", unit="ICU1") for p in ports}
            raise AssertionError(f"model version {version} not reached in {timeout_seconds} s: {shown}")
        time.sleep(0.05)
    return [reached[p] for p in ports]


def decided(out: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    by: dict[str, list[dict[str, Any]]] = {}
    for d in out["decision"]:
        by.setdefault(d["alarm_id"], []).append(d)
    return by


def start_pair(workers: Any, settings: Settings) -> tuple[Any, Any, int, int]:
    ports = free_port(), free_port()
    w1, w2 = (workers(name, snapshot_key=KEY, metrics_port=port, metrics_addr="127.0.0.1",
                      threshold_hold_seconds=0)  # threshold alarms decided at the alarm: this is about learning
              for name, port in zip(("w1", "w2"), ports, strict=True))
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:  # both joined and the group settled on a split
        a1, a2 = w1.assignments(), w2.assignments()
        if a1 and a2 and a1[-1] and a2[-1] and set(a1[-1]) | set(a2[-1]) == set(range(settings.partitions)) \
                and not set(a1[-1]) & set(a2[-1]):
            return w1, w2, *ports
        time.sleep(0.1)
    raise AssertionError(f"no split of partitions: {w1.assignments()} / {w2.assignments()}")


def beds_of(worker: Any, settings: Settings, n: int) -> list[str]:
    """`n` beds whose partition (the producer's key hash) this worker owns now."""
    owned = set(worker.assignments()[-1])
    parts = list(range(settings.partitions))
    partitioner = DefaultPartitioner()
    return [b for b in BEDS if partitioner(b.encode(), parts, parts) in owned][:n]


def test_labels_on_one_workers_beds_change_the_other_workers_decisions(settings: Settings, workers: Any) -> None:
    w1, w2, port1, port2 = start_pair(workers, settings)
    beds_a, beds_b = beds_of(w1, settings, 4), beds_of(w2, settings, 4)
    assert len(beds_a) == len(beds_b) == 4
    train = hr_alarms(beds_a, 50, seed=1, tag="train")
    run(produce_events(settings, events_of(train, 1)))
    ids = {a for _, a in train}
    out = run(read_outputs(settings, lambda o: ids <= set(decided(o)), 40))
    assert {d["decision"] for a in ids for d in decided(out)[a]} == {"forward"}  # the prior forwards them all

    run(produce_events(settings, labels_of(train)))  # clinicians label worker 1's alarms
    seconds = wait_version([port1, port2], 50, 15)
    print(f"label batch -> model version 50 on both workers after {seconds[0]:.2f} / {seconds[1]:.2f} s")
    assert max(seconds) <= 5.0, seconds
    for port in (port1, port2):  # every label was learned live, with its delay to the model measured
        assert metric(port, "label_to_model_seconds_count", unit="ICU1") == 50
        mean = (metric(port, "label_to_model_seconds_sum", unit="ICU1") or 0.0) / 50
        print(f"worker on :{port}: label record on the broker -> model, mean {1000 * mean:.0f} ms")
        assert metric(port, "unit_labels_learned_total", unit="ICU1", origin="forward", actionable="true") == 25

    test = hr_alarms(beds_b, 20, seed=2, tag="test", t0=train[-1][0].ts + 3600, false_only=True)
    run(produce_events(settings, events_of(test, 2)))
    test_ids = {a for _, a in test}
    out = run(read_outputs(settings, lambda o: test_ids <= set(decided(o)), 40))
    by = decided(out)
    assert all(len(v) == 1 for v in by.values()), "an alarm was decided twice"
    on_b = [by[a][0] for a in test_ids]
    assert {d["model_version"].rsplit("+", 1)[-1] for d in on_b} == {"50"}
    suppressed = sum(d["decision"] == "suppress" for d in on_b)
    assert suppressed >= 10, Counter(d["decision"] for d in on_b)

    # forged records on the label log are refused and counted by both workers, never applied
    genuine = json.loads(seal_label({"unit": "ICU1", "bed": beds_b[0], "alarm_id": "forged-1", "alarm_type": "hr_high",
                                         "features": {"num_beyond_limit": 5.0}, "actionable": True, "decision": "forward",
                                         "model_version": "x", "ts": 1.0, "recipe": "m0"}, KEY.encode()).model_dump_json())
    flipped = dict(genuine, actionable=False)
    unsigned = {k: v for k, v in genuine.items() if k != "hmac_sha256"}
    labels = settings.topics.labels
    run(produce_events(settings, [(labels, "ICU1", json.dumps(flipped)), (labels, "ICU1", json.dumps(unsigned)),
                                  (labels, "ICU1", json.dumps(genuine))]))  # the last: signed, but another recipe
    deadline = time.monotonic() + 10
    want = {"bad_signature": 1.0, "unsigned": 1.0, "wrong_recipe": 1.0}
    while True:
        got = [{r: metric(p, "label_records_refused_total", reason=r) for r in want} for p in (port1, port2)]
        if got == [want, want] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert got == [want, want]
    assert metric(port1, "unit_model_version", unit="ICU1") == metric(port2, "unit_model_version", unit="ICU1") == 50
    assert w1.alive and w2.alive
    assert "forged-1" not in w1.text() + w2.text()  # refusals are logged without the record's ids


def test_kill_9_and_restart_with_an_empty_data_dir_resumes_the_unit_model(
        settings: Settings, workers: Any, tmp_path: Path) -> None:
    """The simulator with clinician feedback feeds both workers; one is killed, loses its data dir,
    and comes back: it reads the label log to the same model version before it decides again."""
    w1, w2, port1, port2 = start_pair(workers, settings)
    truth = tmp_path / "truth.jsonl"
    sim = subprocess.run(
        [ALARMFILTER, "simulate", "--beds", "4", "--hours", "0.03", "--seed", "5", "--feedback",
         "--truth", str(truth), "--broker", settings.broker],
        env=worker_env(settings, tmp_path / "sim"), cwd=REPO, capture_output=True, text=True, timeout=90, check=False,
    )
    assert sim.returncode == 0, sim.stderr
    sim_ids = {t["alarm_id"] for t in map(json.loads, truth.read_text().splitlines()) if "alarm_id" in t}
    beds_b = beds_of(w2, settings, 4)
    train = hr_alarms(beds_b, 40, seed=3, tag="k9train", t0=time.time() - 86_400)
    run(produce_events(settings, events_of(train, 3)))
    ids = sim_ids | {a for _, a in train}
    run(read_outputs(settings, lambda o: ids <= set(decided(o)), 60))
    run(produce_events(settings, labels_of(train[:30])))  # labels of worker 2's beds, published by worker 2
    deadline = time.monotonic() + 20
    while True:  # the simulator's labels and these: both workers settle on one version
        v1, v2 = (metric(p, "unit_model_version", unit="ICU1") for p in (port1, port2))
        if v1 is not None and v1 == v2 and v1 >= 30 and metric(port1, "label_to_model_seconds_count", unit="ICU1") == v1:
            break
        assert time.monotonic() < deadline, (v1, v2)
        time.sleep(0.1)
    version = int(v1)

    w2.kill9()
    shutil.rmtree(tmp_path / "w2", ignore_errors=True)  # its container was replaced: nothing on disk
    later = hr_alarms(BEDS[:8], 24, seed=4, tag="after", t0=train[-1][0].ts + 3600, false_only=True)
    run(produce_events(settings, events_of(later[:12], 4)))  # while it is down
    w2.start()
    w2.wait_assigned(timeout_seconds=40, count=1)
    seconds = wait_version([port2], version, 30)
    caught = [ln for ln in w2.text().splitlines() if "label log read in" in ln]
    print(f"restarted worker: label log {caught[-1].split('label log ', 1)[-1] if caught else '?'}; /metrics showed version "
          f"{version} {seconds[0]:.2f} s after its partitions were assigned")
    assert caught, w2.text()[-2000:]
    # labels for alarms the killed worker decided: their beds' new owner joins them to the decisions'
    # features (read back from the decisions topic) and both workers learn them
    run(produce_events(settings, labels_of(train[30:])))
    wait_version([port1, port2], version + 10, 15)
    run(produce_events(settings, events_of(later[12:], 5)))
    all_ids = ids | {a for _, a in later}
    out = run(read_outputs(settings, lambda o: all_ids <= set(decided(o)), 60))
    by = decided(out)
    assert all_ids <= set(by), f"{len(all_ids - set(by))} alarms lost"
    assert all(len(v) == 1 for v in by.values()), [a for a, v in by.items() if len(v) > 1]
    versions = [by[a][0]["model_version"].rsplit("+", 1)[-1] for _, a in later]
    assert set(versions[:12]) == {str(version)} and set(versions[12:]) == {str(version + 10)}  # never older
    after = [by[a][0] for _, a in later]
    assert not [d for d in after if d["reason_code"] == "model_catching_up"]
    # 30 labels (15 per class) are not enough for the model to act (20 of each); 40 are
    assert sum(d["decision"] == "suppress" for d in after[12:]) >= 8, [d["decision"] for d in after]
    assert w1.alive and w2.alive
