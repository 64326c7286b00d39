"""The Kafka worker against a real Kafka-protocol broker (Tansu, or ALARMFILTER_TEST_KAFKA).

Workers run as `alarmfilter worker` subprocesses; outputs are read back with a plain aiokafka
consumer. Every test checks decisions per alarm id: none lost, none contradictory.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import pytest

from alarmfilter.cli.engines import engine_factory
from alarmfilter.kafka.producer import produce_events
from alarmfilter.replay import Ward
from alarmfilter.settings import Settings

from ..helpers import T0
from .conftest import (
    ALARMFILTER,
    EXTERNAL_ENV,
    REPO,
    Tansu,
    WorkerProc,
    free_port,
    read_outputs,
    run,
    worker_env,
)
from .streams import alarm_ids, ward_stream

pytestmark = pytest.mark.slow


def decided(out: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    by_alarm: dict[str, list[str]] = {}
    for d in out["decision"]:
        by_alarm.setdefault(d["alarm_id"], []).append(d["decision"])
    return by_alarm


def test_end_to_end_decisions_match_the_in_process_driver(settings: Settings, workers: Any) -> None:
    # Audit draws are keyed by (seed, bed, alarm id), so they no longer depend on decision order. The
    # wait bound is widened: on a starved machine a topic's fetch can lag the alarms' by more than the
    # default 1 s, and an alarm fed before its waveform is (rightly) decided on less data than the ward had.
    w = workers("w1", reorder_max_wait_seconds=8)
    w.wait_assigned()
    events = ward_stream(beds=4, seconds=30, tag="e2e")
    invalid = [("alarm", "ICU1-01", "{not json"), ("waveform", "ICU1-02", '{"schema_version": 1, "kind": "waveform"}')]
    run(produce_events(settings, [*events, *invalid]))
    ids = alarm_ids(events)
    out = run(read_outputs(settings, lambda o: ids <= set(decided(o)) and len(o["deadletter"]) >= 2, 30))

    by_alarm = decided(out)
    assert set(by_alarm) == ids
    assert all(len(v) == 1 for v in by_alarm.values()), "an alarm was decided twice"
    # the same engine in-process, fed in event-time order, decides every alarm the same way
    ward = Ward(engine_factory(settings.engine_config(), quiet=True))
    expected = {}
    for o in [o for e in sorted(events, key=lambda e: e.ts) for o in ward.feed(e)] + ward.flush():
        if o.kind == "decision":  # flush: threshold alarms held past the stream's end are decided too
            expected[o.alarm_id] = o.decision
    differ = {d["alarm_id"]: (d["decision"], d["reason_code"], d["reasons"]) for d in out["decision"]
              if d["decision"] != expected.get(d["alarm_id"])}
    assert not differ, f"the worker decided differently from the in-process ward: {differ}"
    forwarded = {a for a, v in by_alarm.items() if v[0] == "forward"}
    technical = {d["alarm_id"] for d in out["decision"] if d["reason_code"] == "technical_alarm"}
    assert {a["alarm_id"] for a in out["alert"]} == forwarded - technical
    assert {t["alarm_id"] for t in out["technical"]} == technical
    assert sorted(d["error"].split(":")[0] for d in out["deadletter"]) == ["invalid event", "malformed JSON"]
    # outputs are keyed by bed, on the partition of the bed's inputs
    for d in out["decision"]:
        assert d["_key"] == d["bed"]
    parts = {}
    for d in out["decision"]:
        assert parts.setdefault(d["bed"], d["_partition"]) == d["_partition"]


def test_simulator_to_worker_to_topics_and_metrics(settings: Settings, workers: Any, tmp_path: Any) -> None:
    """`alarmfilter simulate --broker` feeds a ward; every simulated alarm gets exactly one decision,
    and the worker's /metrics counts them."""
    import subprocess
    import urllib.request

    port = free_port()
    w = workers("w1", metrics_port=port, metrics_addr="127.0.0.1")
    w.wait_assigned()
    truth = tmp_path / "truth.jsonl"
    sim = subprocess.run(
        [ALARMFILTER, "simulate", "--beds", "8", "--hours", "0.1", "--seed", "3", "--truth", str(truth),
         "--broker", settings.broker],
        env=worker_env(settings, tmp_path / "sim"), cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )
    assert sim.returncode == 0, sim.stderr
    report = json.loads(sim.stdout)
    assert report["sent"][settings.topics.vitals] > 0
    ids = {t["alarm_id"] for t in map(json.loads, truth.read_text().splitlines()) if "alarm_id" in t}
    assert ids, "the simulated ward raised no alarm"
    out = run(read_outputs(settings, lambda o: ids <= set(decided(o)), 40))
    by_alarm = decided(out)
    assert set(by_alarm) == ids
    assert all(len(v) == 1 for v in by_alarm.values())
    forwarded = sum(v[0] == "forward" for v in by_alarm.values())
    assert len(out["alert"]) + len(out["technical"]) == forwarded
    deadline = time.monotonic() + 20
    while True:  # counters move with each decision; the consumer lag is exported every 5 s: wait for 0
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
        total = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                    if line.startswith("alarmfilter_alarms_total{"))
        lag = [line for line in text.splitlines()
               if line.startswith("alarmfilter_consumer_lag_messages{") and settings.topics.waveforms in line]
        if (total == len(ids) and lag and float(lag[0].rsplit(" ", 1)[1]) == 0.0) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert total == len(ids)
    assert lag and float(lag[0].rsplit(" ", 1)[1]) == 0.0, lag  # caught up
    assert w.alive
    assert "ICU1-0" not in "".join(l for l in text.splitlines() if l.startswith("alarmfilter_alarms_total"))


def test_two_workers_share_the_partitions(settings: Settings, workers: Any) -> None:
    w1, w2 = workers("w1"), workers("w2")
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:  # both joined and the group settled on a split
        a1, a2 = w1.assignments(), w2.assignments()
        if a1 and a2 and a1[-1] and a2[-1] and not set(a1[-1]) & set(a2[-1]) and \
                set(a1[-1]) | set(a2[-1]) == set(range(settings.partitions)):
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no split of partitions: {w1.assignments()} / {w2.assignments()}")
    events = ward_stream(beds=8, seconds=25, tag="two")
    run(produce_events(settings, events))
    ids = alarm_ids(events)
    out = run(read_outputs(settings, lambda o: ids <= set(decided(o)), 40))
    by_alarm = decided(out)
    assert set(by_alarm) == ids
    assert all(len(v) == 1 for v in by_alarm.values())
    # each partition, hence each bed, was handled by exactly one worker
    assert w1.alive and w2.alive
    beds_by_partition: dict[int, set[str]] = {}
    for d in out["decision"]:
        beds_by_partition.setdefault(d["_partition"], set()).add(d["bed"])
    assert len(beds_by_partition) >= 2, "all beds hashed to one partition: the split is not exercised"


def test_kill_9_mid_stream_and_restart_loses_and_contradicts_nothing(settings: Settings, workers: Any) -> None:
    w1, w2 = workers("w1"), workers("w2")
    w1.wait_assigned()
    w2.wait_assigned()
    events = ward_stream(beds=8, seconds=40, alarm_every_seconds=2.0, tag="k9")

    async def scenario() -> None:
        producing = asyncio.create_task(produce_events(settings, events, speed=4.0))  # ~10 s of traffic
        await asyncio.sleep(3.0)
        w1.kill9()  # mid-stream: its uncommitted messages must be replayed by w2
        killed = time.monotonic()
        while set(range(settings.partitions)) not in [set(a) for a in w2.assignments()]:
            assert time.monotonic() < killed + 45, f"w2 never took over: {w2.assignments()}\n{w2.text()[-3000:]}"
            await asyncio.sleep(0.2)
        print(f"w2 took over {time.monotonic() - killed:.1f} s after the kill")
        w1.start()  # and back: partitions move again
        await producing

    run(scenario())
    ids = alarm_ids(events)
    out = run(read_outputs(settings, lambda o: ids <= set(decided(o)), 60))
    by_alarm = decided(out)
    logs = f"\n--- w1:\n{w1.text()[-2500:]}\n--- w2:\n{w2.text()[-2500:]}"
    missing = ids - set(by_alarm)
    assert not missing, f"{len(missing)} alarms without a decision: {sorted(missing)[:10]}{logs}"
    contradictory = {a: v for a, v in by_alarm.items() if len(set(v)) > 1}
    assert not contradictory, f"{contradictory}{logs}"
    assert w2.alive and w1.alive, logs
    # the hard path ran: w2 took over w1's partitions and found decisions w1 had already made
    assert set(range(settings.partitions)) in [set(a) for a in w2.assignments()]
    reread = [int(line.split("re-read ")[1].split()[0]) for line in w2.text().splitlines() if "re-read " in line]
    assert max(reread) > 0, f"{reread}{logs}"
    # the new owner warmed its buffers from the committed history: only alarms in the first seconds
    # of a bed's stream (before 8 s of waveform existed at all) are forwarded as warming up
    late_warmups = [d for d in out["decision"]
                    if d["reason_code"] == "warming_up" and d["alarm_ts"] - T0 > settings.warmup_seconds + 1.0]
    assert not late_warmups, f"{late_warmups}{logs}"
    # the waveforms never stopped: a stale or missing signal would mean events were fed out of order
    stale = [d for d in out["decision"] if d["reason_code"] in ("stale_signal", "no_signal")]
    assert not stale, f"{stale}{logs}"
    print(f"alarms {len(ids)}, decisions {len(out['decision'])}, "
          f"repeated {sum(len(v) - 1 for v in by_alarm.values())}, "
          f"reasons {Counter(d['reason_code'] for d in out['decision']).most_common()}")


def test_burst_of_invalid_messages_all_dead_lettered_worker_alive(settings: Settings, workers: Any) -> None:
    w = workers("w1")
    w.wait_assigned()
    good = ward_stream(beds=2, seconds=12, tag="ok")
    bad: list[tuple[str, str, str]] = []
    samples = ['{"schema_version": 2, "kind": "alarm"}', "[1, 2, 3]", "\u0000\u0001garbage", '{"kind": "vitals"}',
               json.dumps({"schema_version": 1, "kind": "vitals", "bed": "ICU1-01", "ts": "NaN", "values": {}}),
               json.dumps({"schema_version": 1, "kind": "alarm", "bed": "ICU1-01", "ts": 1764150000.0,
                           "alarm_id": "x", "type": "asystole", "priority": "urgent"}), "", "x" * 5000]
    topics = ["vitals", "waveform", "alarm", "feedback"]
    for i in range(400):
        bad.append((topics[i % 4], f"ICU1-0{i % 3 + 1}", samples[i % len(samples)]))
    run(produce_events(settings, [*bad[:200], *good, *bad[200:]]))
    ids = alarm_ids(good)
    out = run(read_outputs(settings, lambda o: len(o["deadletter"]) >= 400 and ids <= set(decided(o)), 40))
    assert len(out["deadletter"]) == 400
    assert all(d["error"] for d in out["deadletter"])
    assert all(len(d["raw"]) < 4200 for d in out["deadletter"])
    assert set(decided(out)) == ids
    assert w.alive


def test_worker_survives_a_broker_restart(settings: Settings, tmp_path: Any, monkeypatch: Any) -> None:
    """Tansu keeps everything in memory: after a restart topics and offsets are gone, and the worker
    must reconnect, rejoin and decide the new traffic (the ops runbook case "broker bounced")."""
    import os

    if os.environ.get(EXTERNAL_ENV):
        pytest.skip("restarts its own Tansu broker; not run against an external Kafka")
    broker = Tansu(tmp_path)
    broker.start()
    s = settings.model_copy(update={"broker": broker.url})
    w = WorkerProc(s, tmp_path, "w1").start()
    try:
        w.wait_assigned()
        first = ward_stream(beds=2, seconds=12, tag="before")
        run(produce_events(s, first))
        out = run(read_outputs(s, lambda o: alarm_ids(first) <= set(decided(o)), 30))
        assert alarm_ids(first) <= set(decided(out))
        broker.restart(down_seconds=2.0)
        second = ward_stream(beds=2, seconds=12, tag="after")
        run(produce_events(s, second))
        out = run(read_outputs(s, lambda o: alarm_ids(second) <= set(decided(o)), 60))
        assert alarm_ids(second) <= set(decided(out)), f"worker log:\n{w.text()[-3000:]}"
        assert all(len(set(v)) == 1 for v in decided(out).values())
        assert w.alive
    finally:
        w.stop()
        broker.stop()


def test_worker_refuses_topics_with_different_partition_counts(settings: Settings, tmp_path: Any) -> None:
    """Outputs go to the partition number of their input: a mismatched layout is a one-line error."""
    import subprocess

    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker_hosts)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(settings.topics.decisions, 1, 1)])
        finally:
            await admin.close()

    run(create())
    r = subprocess.run([ALARMFILTER, "worker", "--broker-wait", "10"], env=worker_env(settings, tmp_path / "w"),
                       cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "same partition count" in r.stderr
    assert f"{settings.topics.decisions} 1" in r.stderr
