"""What the people on call see and do with `alarmfilter worker`: its start-up and status lines, its
logs, and a SIGTERM when the broker is gone. Real broker (a Tansu of the test's own), real processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from alarmfilter.kafka.producer import produce_events
from alarmfilter.settings import Settings

from ..helpers import T0, alarm
from .conftest import (
    ALARMFILTER,
    EXTERNAL_ENV,
    REPO,
    Tansu,
    WorkerProc,
    read_outputs,
    run,
    worker_env,
)
from .streams import alarm_ids, ward_stream

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


def decided(out: dict[str, list[dict[str, Any]]]) -> dict[str, set[str]]:
    by_alarm: dict[str, set[str]] = {}
    for d in out["decision"]:
        by_alarm.setdefault(d["alarm_id"], set()).add(d["decision"])
    return by_alarm


async def alarms_on_broker(settings: Settings, timeout_seconds: float = 5.0) -> set[str]:
    """Alarm ids that reached the alarms topic (the producer may have been cut off mid-stream)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(settings.topics.alarms, bootstrap_servers=settings.broker_hosts, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    ids: set[str] = set()
    try:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            if not batch and ids:
                break
            for records in batch.values():
                ids.update(json.loads(r.value)["alarm_id"] for r in records)
        return ids
    finally:
        await consumer.stop()


def stop_timed(w: WorkerProc, limit_seconds: float) -> float:
    """SIGTERM and the seconds until the process is gone (killed after `limit_seconds` + 5)."""
    assert w.proc is not None
    start = time.monotonic()
    w.proc.send_signal(signal.SIGTERM)
    try:
        w.proc.wait(limit_seconds + 5)
    except subprocess.TimeoutExpired:
        w.proc.kill()
        w.proc.wait(5)
        raise AssertionError(f"no exit {limit_seconds + 5} s after SIGTERM:\n{w.text()[-3000:]}") from None
    return time.monotonic() - start


def test_sigterm_with_the_broker_gone_exits_in_time_and_a_restart_loses_no_alarm(
    settings: Settings, tmp_path: Path
) -> None:
    """The broker stops answering while alarms are still undecided (frozen: connections open, no replies,
    the hardest case for a shutdown; later killed outright). SIGTERM stops the worker within 10 s both
    times, and a worker started once the broker is back decides every alarm, none twice differently."""
    if os.environ.get(EXTERNAL_ENV):
        pytest.skip("freezes and kills its own Tansu broker; not run against an external Kafka")
    broker = Tansu(tmp_path)
    broker.start()
    s = settings.model_copy(update={"broker": broker.url})
    # alarms ahead of their bed's waveforms wait up to 5 s for them: those are undecided at the freeze
    w1 = WorkerProc(s, tmp_path, "w1", status_interval_seconds=1, reorder_max_wait_seconds=5).start()
    w2: WorkerProc | None = None
    try:
        w1.wait_assigned()
        events = ward_stream(beds=4, seconds=20, tag="term")
        run(produce_events(s, events))
        first = alarm_ids(events)
        run(read_outputs(s, lambda o: first <= set(decided(o)), 30))
        late = [alarm(f"ICU1-{b + 1:02d}", T0 + 24.0, f"term-late-{b}", "hr_high", "medium") for b in range(4)]
        run(produce_events(s, late))  # on the broker (acks=all) when this returns
        assert broker.proc is not None
        broker.proc.send_signal(signal.SIGSTOP)  # gone: no answer to anything, connections stay open
        time.sleep(1.0)
        elapsed = stop_timed(w1, 10.0)
        text = w1.text()
        assert elapsed < 10.0, f"{elapsed:.1f} s\n{text[-3000:]}"
        assert "SIGTERM: stopping" in text and "alarms decided" in text, text[-3000:]
        assert "Traceback" not in text, text[-3000:]

        broker.proc.send_signal(signal.SIGCONT)
        before = decided(run(read_outputs(s, lambda o: False, 2)))
        assert not {a.alarm_id for a in late} & set(before)  # w1 stopped before deciding them
        w2 = WorkerProc(s, tmp_path, "w2").start()
        w2.wait_assigned(40)
        everything = first | {a.alarm_id for a in late}
        out = run(read_outputs(s, lambda o: everything <= set(decided(o)), 40))
        by_alarm = decided(out)
        missing = everything - set(by_alarm)
        assert not missing, f"{len(missing)} alarms never decided\n{w2.text()[-3000:]}"
        assert all(len(v) == 1 for v in by_alarm.values()), "an alarm got contradictory decisions"

        broker.proc.kill()  # killed outright: connection refused from now on
        broker.proc.wait(5)
        time.sleep(1.0)
        assert w2.alive, w2.text()[-3000:]
        elapsed2 = stop_timed(w2, 10.0)
        assert elapsed2 < 10.0, f"{elapsed2:.1f} s\n{w2.text()[-3000:]}"
        assert "SIGTERM: stopping" in w2.text()
        print(f"SIGTERM exits after {elapsed:.1f} s (broker frozen) and {elapsed2:.1f} s (broker killed)")
    finally:
        for w in (w1, w2):
            if w is not None:
                w.stop()
        broker.stop()


def test_startup_summary_and_status_lines_as_json(settings: Settings, tmp_path: Path) -> None:
    """One start-up line that says what the worker does; periodic status lines; no faust chatter at INFO;
    no 'Missing sensor state' warning; with ALARMFILTER_LOG_FORMAT=json every line is one JSON object."""
    w = WorkerProc(settings, tmp_path, "w1", status_interval_seconds=1, unit="icu-north", log_format="json").start()
    try:
        w.wait_assigned()
        events = ward_stream(beds=2, seconds=12, tag="status")
        run(produce_events(settings, events))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = [line for line in w.text().splitlines() if "status: " in line]
            if status and "0 alarms decided" not in status[-1]:
                break
            time.sleep(0.2)
    finally:
        w.stop()
    records = [json.loads(line) for line in w.text().splitlines() if line.strip()]
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)
    messages = [r["message"] for r in records]
    (summary,) = [m for m in messages if m.startswith("alarmfilter worker starting:")]
    for part in (f"broker {settings.broker_hosts[0]}", settings.topics.alarms, settings.topics.alerts,
                 f"{settings.partitions} partitions", f"group {settings.consumer_group}", "metrics off", "HL7 off",
                 "unit icu-north", "model m", "data dir /"):
        assert part in summary, (part, summary)
    status = [m for m in messages if m.startswith("status: ")]
    assert status and "alarms decided (" in status[-1] and "event lag" in status[-1], status
    assert "0 alarms decided" not in status[-1], status[-1]
    assert not [m for m in messages if "Missing sensor state" in m]
    assert not [m for m in messages if m.startswith("[^")], "faust service chatter at INFO"  # "[^Worker]: ..."
    assert len(records) < 40, messages


def test_no_broker_retries_are_shown_and_the_deadline_is_configurable(settings: Settings, tmp_path: Path) -> None:
    from .conftest import free_port

    s = settings.model_copy(update={"broker": f"kafka://127.0.0.1:{free_port()}"})
    start = time.monotonic()
    r = subprocess.run([ALARMFILTER, "worker"], env=worker_env(s, tmp_path, broker_wait_seconds=3),
                       cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    elapsed = time.monotonic() - start
    assert r.returncode == 2, r.stderr
    retries = [line for line in r.stderr.splitlines() if "not reachable" in line and "retrying" in line]
    assert len(retries) >= 2, r.stderr
    assert r.stderr.splitlines()[-1].startswith("alarmfilter worker: error: no broker at") and "after 3 s" in r.stderr
    assert "Traceback" not in r.stderr
    assert elapsed < 20, elapsed


def _metric_values(text: str, name: str) -> list[float]:
    return [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{")]


def test_realtime_simulator_gives_live_lag_and_latency(settings: Settings, tmp_path: Path) -> None:
    """`simulate --realtime` stamps events with the wall clock: the worker's event lag stays near zero and
    decision latency is observed (the fixed clock gave a lag of a year and an empty histogram).

    The ward's first alarms come after 71 s of context, so it starts 70 s in the past (`--start-ts`):
    the simulator catches those 70 s up at once, then runs live, and its alarms are decided live."""
    import urllib.request

    from .conftest import free_port

    port = free_port()
    w = WorkerProc(settings, tmp_path, "w1", metrics_port=port, metrics_addr="127.0.0.1").start()
    try:
        w.wait_assigned()
        start_ts = time.time() - 70.0
        # 12 beds, 97 s, seed 2: two high-priority alarms at 75 and 76 s, i.e. live
        sim = subprocess.Popen(
            [ALARMFILTER, "simulate", "--beds", "12", "--hours", "0.027", "--seed", "2", "--synthetic", "--realtime",
             "--start-ts", f"{start_ts:.3f}", "--broker", settings.broker],
            env=worker_env(settings, tmp_path / "sim"), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        samples: list[tuple[float, float, float]] = []  # (seconds into the ward, event lag, latency count)
        deadline = time.monotonic() + 90
        while sim.poll() is None and time.monotonic() < deadline:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
            lag = _metric_values(text, "alarmfilter_event_lag_seconds")
            count = sum(_metric_values(text, "alarmfilter_decision_latency_seconds_count"))
            if lag:
                samples.append((time.time() - start_ts, lag[0], count))
            time.sleep(0.5)
        _out, err = sim.communicate(timeout=30)
        assert sim.returncode == 0, err
    finally:
        w.stop()
    # the simulator's start (imports, planning) and its catch-up of the past 70 s take some seconds on a
    # busy machine; from then on the ward is live and the lag stays small
    caught_up = next((i for i, (_at, lag, _n) in enumerate(samples) if lag < 5.0), None)
    assert caught_up is not None, samples
    live = [lag for _at, lag, _n in samples[caught_up:]]
    assert len(live) >= 10 and max(live) < 5.0, samples
    assert samples[-1][2] >= 1, "no decision latency observed"
    print(f"\nevent lag while live: max {max(live):.2f} s over {len(live)} scrapes; latency observations "
          f"{samples[-1][2]:.0f}")
