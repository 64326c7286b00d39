"""The prequential ward experiment (sim/learning_experiment.py) through real workers sharing the unit's model.

The same seeded stream as ``run_feedback_experiment`` (8 beds, threshold alarms, two beds with an
artefact the prior does not know) goes to a broker; ``--workers`` `alarmfilter worker` processes
(model_store=kafka) split the beds. Alarm by alarm, in event time: the clinicians' labels that are
due go to ``icu.feedback``; the benchmark waits until every worker's /metrics shows the unit's model
at the version that includes them (the label-to-model time is measured there); then the alarm's
numerics and the alarm go out and its decision is read back. False alarms suppressed per quarter
are compared with the one in-process ward (same seed) — the issue asks for within 2 points.

Run: ``python benchmarks/bench_shared.py [--alarms 1200] [--workers 2] [--broker URL]`` or
``make bench-shared``. Broker as in bench_kafka.py (``--broker``, ``ALARMFILTER_BROKER``, else Tansu).
Slow (each alarm is a round trip through the broker and a worker): minutes, not for CI; CI runs the
sans-IO two-worker version (tests/engine/test_shared.py).
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_kafka import free_port, start_tansu, which_broker

from alarmfilter.events import Alarm, Feedback, Vitals
from alarmfilter.settings import Settings
from alarmfilter.sim.learning_experiment import (
    VITALS_SECONDS,
    QuarterFigures,
    _scenarios,
    _vitals,
    run_feedback_experiment,
)

KEY = "bench-shared-model-key-0123456789"
PARTITIONS = 4


def unit_version(port: int) -> int | None:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return None
    m = re.search(r'^alarmfilter_unit_model_version\{unit="ICU1"\} (\S+)$', text, re.MULTILINE)
    return int(float(m.group(1))) if m else None


def start_worker(s: Settings, name: str, work: Path, port: int, seed: int, audit: float) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALARMFILTER_")
           or k.startswith(("ALARMFILTER_SECURITY_PROTOCOL", "ALARMFILTER_SSL_", "ALARMFILTER_SASL_"))}
    env.update({
        "ALARMFILTER_BROKER": s.broker, "ALARMFILTER_TOPIC_PREFIX": s.topic_prefix,
        "ALARMFILTER_CONSUMER_GROUP": s.consumer_group, "ALARMFILTER_PARTITIONS": str(PARTITIONS),
        "ALARMFILTER_METRICS_PORT": str(port), "ALARMFILTER_METRICS_ADDR": "127.0.0.1",
        "ALARMFILTER_DATA_DIR": str(work / name), "ALARMFILTER_SNAPSHOT_KEY": KEY,
        "ALARMFILTER_SEED": str(seed), "ALARMFILTER_AUDIT_FRACTION": str(audit),
        "ALARMFILTER_THRESHOLD_HOLD_SECONDS": "0",  # as run_feedback_experiment: decided at the alarm
        "ALARMFILTER_SESSION_TIMEOUT_SECONDS": "6", "ALARMFILTER_REBALANCE_TIMEOUT_SECONDS": "6",
        "ALARMFILTER_HEARTBEAT_INTERVAL_SECONDS": "1", "PYTHONUNBUFFERED": "1",
    })
    exe = str(Path(sys.executable).with_name("alarmfilter"))
    return subprocess.Popen([exe, "worker", "--broker-wait", "30"], env=env, stdout=(work / f"{name}.log").open("wb"),
                            stderr=subprocess.STDOUT)


def wait_split(logs: list[Path], timeout_seconds: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        got = []
        for log in logs:
            found = re.findall(r"assigned partitions (\[[\d, ]*\])", log.read_text(errors="replace")) if log.exists() else []
            got.append(set(json.loads(found[-1])) if found else set())
        if all(got) and set().union(*got) == set(range(PARTITIONS)) and sum(map(len, got)) == PARTITIONS:
            return
        time.sleep(0.2)
    raise TimeoutError("the workers did not split the partitions")


async def experiment(s: Settings, ports: list[int], seed: int, n_alarms: int, n_beds: int = 8,
                     hidden_real_rate: float = 0.02, label_delay_seconds: tuple[float, float] = (30.0, 900.0)
                     ) -> dict[str, Any]:
    """run_feedback_experiment's loop, with the broker and the workers in place of the in-process engines."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from alarmfilter.kafka.client import aiokafka_options

    rng = random.Random(seed)
    scenarios = _scenarios(rng, n_alarms, n_beds, hidden_real_rate)
    quarters = [QuarterFigures() for _ in range(4)]
    pending: list[tuple[float, int, Feedback]] = []
    labels_sent = 0
    label_waits: list[float] = []
    decision_waits: list[float] = []
    versions_seen: list[str] = []
    producer = AIOKafkaProducer(**aiokafka_options(s), acks="all", linger_ms=0)
    consumer = AIOKafkaConsumer(s.topics.decisions, **aiokafka_options(s), group_id=None,
                                auto_offset_reset="earliest", fetch_max_wait_ms=20)
    await producer.start()
    await consumer.start()
    decisions: dict[str, dict[str, Any]] = {}

    async def send(event: Any) -> None:
        await producer.send(s.topics.for_kind(event.kind), event.model_dump_json().encode(), key=event.bed.encode())

    try:
        for i, sc in enumerate(scenarios):
            due = False
            while pending and pending[0][0] <= sc.ts - VITALS_SECONDS:
                await send(heapq.heappop(pending)[2])
                labels_sent += 1
                due = True
            if due:  # every worker's model includes these labels before the next decision
                await producer.flush()
                t = time.monotonic()
                while any(unit_version(p) != labels_sent for p in ports):
                    if time.monotonic() - t > 10:
                        print(f"alarm {i}: versions {[unit_version(p) for p in ports]} != {labels_sent} after 10 s",
                              file=sys.stderr)
                        break
                    await asyncio.sleep(0.02)
                label_waits.append(time.monotonic() - t)
            for ts, values in _vitals(rng, sc):
                await send(Vitals(schema_version=1, kind="vitals", bed=sc.bed, ts=ts, values=values))
            if sc.kind != "real" and sc.alarm_type == "spo2_low" and rng.random() < 0.5:
                await send(Alarm(schema_version=1, kind="alarm", bed=sc.bed, ts=sc.ts - 3, alarm_id=f"t{i}",
                                 type="spo2_probe_off", priority="technical"))
            await send(Alarm(schema_version=1, kind="alarm", bed=sc.bed, ts=sc.ts, alarm_id=f"a{i}",
                             type=sc.alarm_type, priority="medium"))
            await producer.flush()
            t = time.monotonic()
            while f"a{i}" not in decisions:
                batch = await consumer.getmany(timeout_ms=50)
                for records in batch.values():
                    for r in records:
                        d = json.loads(r.value)
                        decisions[d["alarm_id"]] = d
                if time.monotonic() - t > 30:
                    raise TimeoutError(f"no decision for alarm a{i}")
            decision_waits.append(time.monotonic() - t)
            record = decisions[f"a{i}"]
            versions_seen.append(record["model_version"])
            forwarded = record["decision"] == "forward"
            quarters[min(3, 4 * i // len(scenarios))].decided.append((sc.actionable, forwarded))
            if forwarded:
                ts = sc.ts + rng.uniform(*label_delay_seconds)
                heapq.heappush(pending, (ts, i, Feedback(schema_version=1, kind="feedback", bed=sc.bed, ts=ts,
                                                         alarm_id=f"a{i}", actionable=sc.actionable)))
    finally:
        await producer.stop()
        await consumer.stop()
    return {
        "false_suppressed_pct": [round(q.false_suppressed_pct, 1) for q in quarters],
        "sensitivity": [round(q.sensitivity, 4) for q in quarters],
        "labels": labels_sent,
        "final_versions": [unit_version(p) for p in ports],
        "label_to_all_workers_s": {"p50": round(statistics.median(label_waits), 3) if label_waits else None,
                                   "max": round(max(label_waits), 3) if label_waits else None},
        "decision_round_trip_s_p50": round(statistics.median(decision_waits), 3),
        "last_decision_model_version": versions_seen[-1] if versions_seen else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alarms", type=int, default=1200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--broker", default=None)
    args = ap.parse_args()
    try:
        broker, how = which_broker(args.broker)
    except LookupError as exc:
        print(json.dumps({"skipped": str(exc)}))
        return
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-shared-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True)
    broker_proc = None
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if not broker:
            broker_proc, broker = start_tansu(work / "tansu.log")
        tag = uuid.uuid4().hex[:6]
        s = Settings(_env_file=None, broker=broker, topic_prefix=f"sh{tag}.", consumer_group=f"sh-{tag}",
                     partitions=PARTITIONS)
        ports = [free_port() for _ in range(args.workers)]
        procs = [start_worker(s, f"w{k}", work, ports[k], args.seed, 0.05) for k in range(args.workers)]
        wait_split([work / f"w{k}.log" for k in range(args.workers)])
        t = time.monotonic()
        broker_run = asyncio.run(experiment(s, ports, args.seed, args.alarms))
        wall = time.monotonic() - t
        one = run_feedback_experiment(seed=args.seed, n_alarms=args.alarms)
        ward = [round(q.false_suppressed_pct, 1) for q in one.quarters]
        diff = max(abs(a - b) for a, b in zip(ward, broker_run["false_suppressed_pct"], strict=True))
        print(json.dumps({
            "broker": how, "workers": args.workers, "alarms": args.alarms, "seed": args.seed,
            "workers_false_suppressed_pct": broker_run["false_suppressed_pct"],
            "one_ward_false_suppressed_pct": ward, "max_difference_points": round(diff, 1),
            "within_2_points": diff <= 2.0, "one_ward_model_version": one.final_version,
            **{k: v for k, v in broker_run.items() if k != "false_suppressed_pct"}, "wall_seconds": round(wall, 1),
        }, indent=1))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if broker_proc is not None:
            broker_proc.terminate()
            broker_proc.wait(5)


if __name__ == "__main__":
    main()
