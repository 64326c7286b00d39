"""The faust app: one thin agent over the four input topics, a timer, and rebalance hooks.

The agent hands each message to `WorkerCore` and sends what it returns; acks are manual, so an
offset is committed only after every earlier message of its partition is handled and the
outputs it caused are on the broker (at-least-once, with decisions de-duplicated by alarm id).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from ..engine.shared import UnitModels
from ..events import DecisionRecord, Output
from ..settings import Settings
from .client import faust_credentials, read_decisions, read_history
from .core import EngineFactory, Outgoing, WorkerCore
from .labels import LabelFollower, label_partition

log = logging.getLogger(__name__)


class KafkaWorker:
    """Builds the faust app around a `WorkerCore`. `metrics` is an optional `DriverMetrics`."""

    def __init__(
        self, settings: Settings, engine_factory: EngineFactory, metrics: Any = None, snapshots: Any = None,
        models: UnitModels | None = None,
    ) -> None:
        self.settings = settings
        self.snapshots = snapshots  # SnapshotKeeper when the engines learn through a ModelLifecycle
        self.models = models  # the shared per-unit models when they live in the label log (engine/shared.py)
        self.core = WorkerCore(engine_factory, settings)
        self.metrics = metrics
        self.core.on_feedback = metrics.observe_feedback if metrics is not None else None
        self.app = make_app(settings)
        topics = settings.topics
        self.inputs = self.app.topic(*topics.inputs, key_serializer="raw", value_serializer="raw")
        self.outputs = {
            name: self.app.topic(name, key_serializer="raw", value_serializer="raw") for name in topics.outputs
        }
        #: called with every batch of outputs sent (e.g. HL7 delivery of forwarded alerts); must not block
        self.output_hooks: list[Callable[[list[Output]], None]] = []
        #: called with (topic, raw value) of every input message before it is handled; must not block
        self.input_hooks: list[Callable[[str, Any], None]] = []
        #: while any returns True (a hook could not take its outputs yet, e.g. the HL7 queue is full),
        #: no input is taken and no offset is acked: held messages are committed once it returns False
        self.holds: list[Callable[[], bool]] = []
        #: each gives a part of the periodic status line (e.g. "HL7 queue 0")
        self.status_hooks: list[Callable[[], str]] = []
        #: called (synchronously) first thing on SIGTERM/SIGINT: save what must survive a forced exit
        self.save_hooks: list[Callable[[], None]] = []
        self.decided: Counter[str] = Counter()  # decision -> alarms decided since start
        self._decided_at_status = 0
        self._stream: Any = None
        self._lag_due = 0.0
        self._inflight: list[asyncio.Future[Any]] = []
        self._ready: set[int] = set()
        self._assigned = asyncio.Event()  # clear from a revoke until the new assignment is ready
        self._generation = 0  # bumped on every revoke
        self._lock = asyncio.Lock()
        self.app.agent(self.inputs, name="alarmfilter-beds")(self._agent)
        self.app.timer(settings.tick_interval_seconds)(self._on_timer)
        if settings.status_interval_seconds > 0:
            self.app.timer(settings.status_interval_seconds)(self._on_status)
        if snapshots is not None:
            snapshots.restore()
            self._show_model()
            self.app.on_before_shutdown.connect(self._save_snapshot)  # type: ignore[arg-type]
            self.save_hooks.append(self._save_snapshot_now)
        self.labels: LabelFollower | None = None
        self._catching_up = models is not None  # the agent waits (bounded) for the label log once
        if models is not None:
            self.labels = LabelFollower(settings, models, self._on_label)
            self.label_topic = self.app.topic(topics.labels, key_serializer="raw", value_serializer="raw")
        self.app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        self.app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]

    # -- faust callbacks -------------------------------------------------------------------------

    async def _agent(self, stream: Any) -> None:
        self._stream = stream = stream.noack()
        async for event in stream.events():
            msg = event.message
            while any(hold() for hold in self.holds):
                await asyncio.sleep(self.settings.tick_interval_seconds)
            generation = self._generation
            if not self._assigned.is_set():
                await self._assigned.wait()
            if generation != self._generation:
                continue  # fetched before a rebalance: faust seeks back to the committed offset and replays it
            if msg.partition not in self._ready:
                await self._recover({msg.partition})
                if generation != self._generation:
                    continue
            if self._catching_up:
                await self._catch_up()
            for hook in self.input_hooks:
                hook(msg.topic, event.value)
            self._send(self.core.receive(msg.topic, msg.partition, msg.offset, event.value, event, time.time()))
            self._send_labels()  # before any ack: a feedback's offset commits only once its label is on the broker

    async def _on_timer(self) -> None:
        if not self._assigned.is_set():
            return
        now = time.time()
        self._send(self.core.tick(now))
        self._send_labels()
        await self._checkpoint()
        newest = max((e.clock for e in self.core.beds.values()), default=0.0)
        if self.snapshots is not None and newest and self.snapshots.maybe_save(newest) is not None:
            self._show_model()
        if self.metrics is not None:
            self.metrics.observe_engines(self.core.beds.values())
            if self.models is not None:
                self.metrics.observe_shared(self.models)
            if newest:
                self.metrics.observe_lag(now - newest)
            if now >= self._lag_due:
                self._lag_due = now + 5.0
                for topic, lag in self.core.consumer_lag(self._highwater).items():
                    self.metrics.observe_consumer_lag(topic, lag)

    def _highwater(self, topic: str, partition: int) -> int | None:
        from faust.types import TP

        try:
            return int(self.app.consumer.highwater(TP(topic, partition)))
        except (KeyError, AssertionError, AttributeError, TypeError):
            return None  # not assigned (any more) or not fetched yet

    async def _save_snapshot(self, sender: Any = None, **kwargs: Any) -> None:
        self._save_snapshot_now()

    def _save_snapshot_now(self) -> None:
        newest = max((e.clock for e in self.core.beds.values()), default=0.0)
        self.snapshots.maybe_save(newest or time.time(), force=True)

    def save_state(self) -> None:
        """Everything that must be on disk before a (possibly forced) exit; each part fails alone."""
        for save in self.save_hooks:
            try:
                save()
            except Exception:
                log.exception("saving state at shutdown failed")

    async def _on_status(self) -> None:
        log.info("%s", self.status_line())

    def status_line(self, wall_now: float | None = None) -> str:
        """Alarms decided (forwarded/suppressed) since start and since the last status, beds, lag, queue."""
        now = time.time() if wall_now is None else wall_now
        total = sum(self.decided.values())
        recent, self._decided_at_status = total - self._decided_at_status, total
        beds = self.core.beds.values()
        newest = max((e.clock for e in beds), default=0.0)
        lag = f"{now - newest:.1f} s" if newest else "n/a (no events yet)"
        consumer = sum(self.core.consumer_lag(self._highwater).values())
        parts = [
            (f"status: {total} alarms decided ({self.decided['forward']} forwarded, "
             f"{self.decided['suppress']} suppressed), {recent} since the last status"),
            f"{len(self.core.beds)} beds, {sum(e.pending for e in beds)} alarms held",
            f"event lag {lag}",
            f"consumer lag {consumer} messages",
            f"partitions {sorted(self._ready)}",
        ]
        for hook in self.status_hooks:
            try:
                parts.append(hook())
            except Exception as exc:  # noqa: BLE001 -- a status part must never stop the worker
                parts.append(f"({type(exc).__name__})")
        return "; ".join(parts)

    def _show_model(self) -> None:
        if self.metrics is not None and self.snapshots is not None:
            lc = self.snapshots.lifecycle
            self.metrics.set_model(lc.version, self.snapshots.last_saved_ts, prior_fallback=lc.fallen_back)

    async def _on_revoked(self, sender: Any, revoked: Any, **kwargs: Any) -> None:
        """Stop deciding, and make sure every decision sent so far is on the broker before the
        partitions move: the next owner reads them back and must not decide those alarms again."""
        self._assigned.clear()
        self._generation += 1
        pending, self._inflight = self._inflight, []
        if pending:
            _done, not_done = await asyncio.wait(pending, timeout=self.settings.rebalance_timeout_seconds / 2)
            if not_done:
                log.warning("%d outputs still unconfirmed when partitions were revoked", len(not_done))

    async def _on_assigned(self, sender: Any, assigned: Iterable[Any], **kwargs: Any) -> None:
        inputs = set(self.settings.topics.inputs)
        partitions = {tp.partition for tp in assigned if tp.topic in inputs}
        self._ready = set()
        self._inflight = [f for f in self._inflight if not f.done()]
        if self.labels is not None:
            self.labels.start()  # reads the label log while the partitions are recovered
        new = self.core.on_assignment(partitions)  # drops every engine: all are warmed again below
        # a shared model re-reads every partition's decisions: the engines dropped held the features
        # that labels still to come must join
        await self._recover(partitions, reread=new if self.models is None else partitions)
        self._ready = partitions
        self._assigned.set()
        log.info("assigned partitions %s (%d re-read)", sorted(partitions), len(new))

    # -- the shared model ------------------------------------------------------------------------

    async def _catch_up(self) -> None:
        """Before the first decision: wait (bounded) until the label log is read, so this worker
        decides with the unit's current model. Past the bound it decides anyway; its engines
        forward every alarm as `model_catching_up` until the log is read."""
        assert self.labels is not None
        self._catching_up = False
        if self.labels.caught_up.is_set():
            return
        try:
            await asyncio.wait_for(self.labels.caught_up.wait(), self.settings.label_catchup_seconds)
        except TimeoutError:
            log.warning("label log not read after %g s: deciding now, alarms forward as model_catching_up "
                        "until it is", self.settings.label_catchup_seconds)

    def _on_label(self, result: Any, published_ts: float, wall_now: float) -> None:
        if self.metrics is not None:
            self.metrics.observe_label(result, wall_now - published_ts if self.labels_live else None)

    @property
    def labels_live(self) -> bool:
        """Past the start-up catch-up: a label's delay to the model is a live figure, not a replay."""
        return self.models is not None and self.models.ready

    def _send_labels(self) -> None:
        """Publish the labels the engines joined to their decisions, keyed by unit, one partition per unit."""
        if self.models is None or not self.models.outbox:
            return
        n = self.settings.label_partitions
        for record in self.models.take_outbox():
            fut = self.label_topic.send_soon(key=record.unit.encode(), value=record.model_dump_json().encode(),
                                             partition=label_partition(record.unit, n))
            self._inflight.append(fut)

    # -- helpers ---------------------------------------------------------------------------------

    async def _recover(self, partitions: set[int], reread: set[int] | None = None) -> None:
        """Re-read decisions already made for `reread` (default: all) of these partitions, by a crashed
        or previous owner, and warm the beds' buffers with the committed history of all of them."""
        async with self._lock:
            partitions = partitions - self._ready
            if not partitions:
                return
            reread = partitions if reread is None else reread & partitions
            features: dict[int, list[bytes]] = {}
            found = await read_decisions(self.settings, reread, self.settings.recovery_lookback_seconds,
                                         with_features=features)
            total = 0
            for p, decisions in found.items():
                total += self.core.remember_decisions(p, decisions)
            self.core.stats["recovered_decisions"] += total
            try:
                history = await read_history(self.settings, partitions, self.settings.warm_up_lookback_seconds)
            except Exception as exc:  # noqa: BLE001 -- warm-up is best effort: cold buffers fail open
                log.warning("no warm-up history (%s: %s): alarms forward as warming_up for a while",
                            type(exc).__name__, exc)
                history = {}
            warmed = sum(self.core.warm_up(p, raws, time.time()) for p, raws in history.items())
            restored = sum(self.core.restore_decided(p, raws, time.time()) for p, raws in features.items())
            if restored:
                log.info("%d decided alarms of partitions %s can still be labelled", restored, sorted(reread))
            self._ready |= partitions
            log.info("re-read %d decisions of partitions %s; %d waveform/numerics messages warm the buffers",
                     total, sorted(reread), warmed)

    def _send(self, outgoing: list[Outgoing]) -> None:
        """Queue outputs in the producer buffer (no await: acks cannot overtake these sends)."""
        if not outgoing:
            return
        for o in outgoing:
            fut = self.outputs[o.topic].send_soon(key=o.key, value=o.value, partition=o.partition)
            self._inflight.append(fut)
        outputs = [o.output for o in outgoing]
        for out in outputs:
            if isinstance(out, DecisionRecord):
                self.decided[str(getattr(out.decision, "value", out.decision))] += 1
        if self.metrics is not None:
            self.metrics.observe(outputs, wall_now=time.time())
        for hook in self.output_hooks:
            hook(outputs)

    async def _checkpoint(self) -> None:
        """Ack messages whose outputs the broker has confirmed; faust commits acked offsets."""
        acks = [] if any(hold() for hold in self.holds) else self.core.take_acks()
        if not acks:
            self._inflight = [f for f in self._inflight if not f.done()]
            return
        generation = self._generation
        pending, self._inflight = self._inflight, []
        try:
            await asyncio.gather(*pending)
        except Exception as exc:  # noqa: BLE001 -- the broker refused outputs: stop; a restart replays from the last commit
            log.error("outputs not confirmed (%s: %s): stopping so the messages are replayed", type(exc).__name__, exc)
            await self.app.crash(exc)
            return
        if generation != self._generation:
            return  # a rebalance happened meanwhile: faust replays from the committed offset
        stream = self._stream
        for event in acks:
            await stream.ack(event)


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """faust fixes the fetch wait at 1.5 s; a broker that holds a fetch that long delays every alarm."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = int(getattr(self.app, "fetch_max_wait_seconds", 1.5) * 1000)
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class _App(faust.App):
    fetch_max_wait_seconds = 1.5

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)

    # faust takes the sensor state `{}` of an app without sensors for a missing one and warns
    # "Missing sensor state for rebalance #N" on every rebalance: test for None instead.
    def on_rebalance_return(self) -> None:
        state = self._rebalancing_sensor_state
        if state is not None:
            self.sensors.on_rebalance_return(self, state)

    def on_rebalance_end(self) -> None:  # as faust's, with the same test
        self.rebalancing = False
        if self._rebalancing_span:
            self._rebalancing_span.finish()
        self._rebalancing_span = None
        state, self._rebalancing_sensor_state = self._rebalancing_sensor_state, None
        if state is not None:
            self.sensors.on_rebalance_end(self, state)


# mode names a service's logger after the module of its class: these subclasses would log faust's
# start-up chatter as "alarmfilter.kafka.app"; they keep faust's names (shown at DEBUG, see logs.py)
_ConsumerThread.logger = faust_aiokafka.AIOKafkaConsumerThread.logger
_Consumer.logger = faust_aiokafka.Consumer.logger
_App.logger = faust.App.logger


class BoundedStopWorker(faust.Worker):
    """faust's worker, told to leave logging alone, that stops within a bounded time.

    On SIGTERM/SIGINT the worker's state is saved at once (`KafkaWorker.save_state`), then faust
    stops as usual: it commits only acked offsets, i.e. messages whose decision the broker confirmed.
    When the broker is gone that stop can hang on the producer and the group; after
    `shutdown_timeout_seconds` the process exits anyway. Nothing is lost: what was not confirmed
    was not acknowledged, and whoever owns the partitions next replays it.
    """

    def __init__(self, worker: KafkaWorker, loglevel: str) -> None:
        super().__init__(worker.app, loglevel=loglevel, quiet=True, override_logging=False,
                         redirect_stdouts=False)
        self.kafka_worker = worker
        self._watchdog: threading.Timer | None = None
        self.spinner = None  # a terminal spinner (and its escape codes) has no place in a service log

    def _on_sigterm(self) -> None:
        self._stop_bounded("SIGTERM")
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        self._stop_bounded("SIGINT")
        self._schedule_shutdown(__import__("signal").SIGINT)  # faust's handler also prints "-INT-" banners

    def _stop_bounded(self, signame: str) -> None:
        if self._watchdog is not None:
            return
        timeout = self.kafka_worker.settings.shutdown_timeout_seconds
        log.info("%s: stopping; state saved, exit within %g s", signame, timeout)
        self.kafka_worker.save_state()
        log.info("%s", self.kafka_worker.status_line())
        self._watchdog = threading.Timer(timeout, self._force_exit, args=(timeout,))
        self._watchdog.daemon = True
        self._watchdog.start()

    def _force_exit(self, timeout: float) -> None:
        log.warning("shutdown not finished after %g s (broker unreachable?): exiting now; messages the broker "
                    "did not confirm were not acknowledged and will be replayed", timeout)
        logging.shutdown()
        os._exit(0)  # state was saved when the signal came


def make_app(settings: Settings) -> faust.App:
    """The faust app: consumer group = `settings.consumer_group`, no web server, memory store."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = _App(
        settings.consumer_group,
        broker=[f"kafka://{h}" for h in settings.broker_hosts],
        broker_credentials=faust_credentials(settings),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_rebalance_timeout=settings.rebalance_timeout_seconds,
        broker_heartbeat_interval=settings.heartbeat_interval_seconds,
        broker_commit_interval=settings.commit_interval_seconds,
        consumer_auto_offset_reset="earliest",
        # faust would wait, on every revoke, for every message the agent took to be acked; ours are
        # acked only once their alarm is decided (a held alarm: up to its hold), so a rebalance stood
        # still for seconds. Unacked messages are replayed by the next owner, which reads back the
        # decisions already made: nothing is lost or decided twice without the wait.
        stream_wait_empty=False,
        producer_acks=-1,
        # faust's own assignor (not round-robin): partition p of every input topic goes to one worker
        table_standby_replicas=1,
        web_enabled=False,
        datadir=str(settings.data_dir / "faust"),
    )
    app.fetch_max_wait_seconds = settings.fetch_max_wait_seconds
    return app
