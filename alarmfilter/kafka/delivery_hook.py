"""HL7 delivery from the Kafka worker: every Alert it publishes also goes to the MLLP alarm manager.

Glue only (the agent stays decode -> core -> outputs): `WorkerDelivery.attach(worker)` registers
an output hook that `submit`s each Alert to an `AlertDelivery` (durable on disk when it returns),
feeds it feedback (acknowledgements), vitals (measured values) and event time (escalation), and
runs its delivery loop with the app. Every published alert is queued on disk first, past the
queue's bound if need be (an alert already on the alerts topic must not live only in memory: a
crash would lose it to HL7, and the restarted worker does not decide that alarm again); while the
queue is at or past its bound the worker holds: it takes no more input until delivery drains it.

Delivery outcomes are appended to `<data_dir>/delivery-audit.jsonl` (the topics stay as DESIGN.md
has them), counted in `WorkerDelivery.outcomes` and, with the worker's metrics, exported
(`alarmfilter_hl7_*`). Failures are logged as they happen: a warning per failing destination at
most every `WARN_EVERY_SECONDS` (with how many attempts failed since), an error for every
high-priority alert nobody acknowledged with no destination left.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..delivery import AlertDelivery, DeliveryConfig, DeliveryOutcome, DeliveryRecord, JsonlAudit
from ..delivery.service import FAILURE_REASONS
from ..events import Alert, Feedback, Output, Vitals, decode_event
from ..settings import Settings

log = logging.getLogger(__name__)

AUDIT_FILE = "delivery-audit.jsonl"
#: wall seconds the shutdown waits for the delivery loop to close its connections
STOP_TIMEOUT_SECONDS = 5.0
#: a failing destination is logged at most this often (wall seconds); the first failure at once
WARN_EVERY_SECONDS = 30.0
#: queue depth and oldest-message age are exported this often (wall seconds)
QUEUE_METRICS_EVERY_SECONDS = 1.0


def delivery_config(settings: Settings) -> DeliveryConfig | None:
    """The worker's delivery config, or None when neither `hl7_url` nor `hl7_config` is set.

    `hl7_config` gives the policy (and destinations); `hl7_url` replaces the destinations.
    A bad file is a ValueError naming it (the CLI prints it as one line).

    >>> s = Settings(_env_file=None, hl7_url="mllp://127.0.0.1:2575,mllp://127.0.0.1:2576")
    >>> [(d.name, d.url) for d in delivery_config(s).destinations]
    [('dest0', 'mllp://127.0.0.1:2575'), ('dest1', 'mllp://127.0.0.1:2576')]
    >>> delivery_config(Settings(_env_file=None)) is None
    True
    """
    urls = [u for u in (settings.hl7_url or "").split(",") if u]
    if settings.hl7_config is not None:
        config = DeliveryConfig.from_yaml(settings.hl7_config)
        return config.with_destinations(urls) if urls else config
    if not urls:
        return None
    return DeliveryConfig.model_validate({"destinations": [{"name": f"dest{i}", "url": u} for i, u in enumerate(urls)]})


class WorkerDelivery:
    """Owns the worker's `AlertDelivery`, its audit file and its run task; see the module docstring."""

    def __init__(self, config: DeliveryConfig, data_dir: Path, tick_interval_seconds: float = 0.1,
                 clock: Callable[[], float] | None = None) -> None:
        """`clock()` gives the newest event time the worker has seen (0 when none), for escalation."""
        self.audit_path = Path(data_dir) / AUDIT_FILE
        self._audit_file = JsonlAudit(self.audit_path)
        self.outcomes: Counter[str] = Counter()  # delivery outcome -> records, for logs and metrics
        self.delivery = AlertDelivery(config, config.queue_path(data_dir), audit=self._audit)
        self.tick_interval_seconds = tick_interval_seconds
        self.clock = clock or (lambda: 0.0)
        self._newest_ts = 0.0
        self._newest_wall = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.metrics: Any = None  # the worker's DriverMetrics, when it has one
        self._failures_seen: Counter[tuple[str, str]] = Counter()
        self._unlogged: Counter[str] = Counter()  # destination -> failed attempts not logged yet
        self._logged_at: dict[str, float] = {}  # destination -> wall time of its last failure warning
        self._failing: set[str] = set()  # destinations logged as failing and not accepted since
        self._unlogged_exhausted = 0  # non-high-priority alerts exhausted, not logged yet
        self._queue_due = 0.0

    def attach(self, worker: Any) -> None:
        """Hook into a `KafkaWorker`: outputs, feedback, vitals, holds, and the app's start and stop."""
        worker.output_hooks.append(self.on_outputs)
        worker.holds.append(self.holding)
        vitals_topic = worker.settings.topics.vitals
        worker.input_hooks.append(lambda topic, raw: self.on_vitals(raw) if topic == vitals_topic else None)
        previous = worker.core.on_feedback  # e.g. the metrics of clinician labels

        def on_feedback(event: Feedback) -> None:
            if previous is not None:
                previous(event)
            self.feedback(event)

        worker.core.on_feedback = on_feedback  # after event-time ordering, as the engine sees it
        self.clock = lambda: max((e.clock for e in worker.core.beds.values()), default=0.0)
        worker.app.task(self.run)
        worker.app.on_before_shutdown.connect(self._on_shutdown)
        worker.status_hooks.append(self.status)
        self.metrics = worker.metrics
        if self.metrics is not None:
            self.metrics.init_delivery([d.name for d in self.delivery.config.destinations],
                                       [o.value for o in DeliveryOutcome], FAILURE_REASONS)
            self.observe(time.time(), force=True)

    def status(self) -> str:
        """The HL7 part of the worker's status line."""
        n = len(self.delivery.queue)
        oldest = self.delivery.queue.oldest_queued_wall()
        age = f", oldest {time.time() - oldest:.0f} s" if oldest is not None else ""
        names = [d.name for d in self.delivery.config.destinations if self.delivery.failing(d.name)]
        failing = f", failing: {', '.join(names)}" if names else ""
        return f"HL7 queue {n}{age}{failing}"

    # -- worker hooks (event loop thread, never block) ------------------------------------------

    def on_outputs(self, outputs: list[Output]) -> None:
        for o in outputs:
            if isinstance(o, Alert):
                self.delivery.submit(o, force=True)
                self._seen(o.decided_ts)

    def on_vitals(self, raw: bytes | str) -> None:
        event = decode_event(raw)
        if isinstance(event, Vitals):  # anything invalid is the core's to dead-letter
            self._seen(event.ts)
            self.delivery.vitals(event)

    def feedback(self, event: Feedback) -> None:
        self._seen(event.ts)
        self.delivery.feedback(event)

    def holding(self) -> bool:
        """True while the delivery queue is at or past its bound: the worker takes no more input."""
        return self.delivery.full

    # -- the task that runs with the app --------------------------------------------------------

    async def run(self) -> None:
        """Deliver until the app stops; meanwhile retry refused alerts and let event time pass."""
        self._task = asyncio.create_task(self.delivery.run(self._stop))
        try:
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._stop.wait(), self.tick_interval_seconds)
                except TimeoutError:
                    pass
                wall_now = time.time()
                now_ts = self._event_now(wall_now)
                if now_ts:
                    self.delivery.tick(now_ts)
                self.observe(wall_now)
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Stop the delivery loop (it closes its connections), save escalation state, close the audit."""
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT_SECONDS)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
            self.delivery.flush()
            log.info("HL7 delivery stopped: %s", dict(self.outcomes))
            self._audit_file.close()

    async def _on_shutdown(self, sender: Any = None, **kwargs: Any) -> None:
        await self.stop()

    # -- internals ------------------------------------------------------------------------------

    def _seen(self, ts: float) -> None:
        if ts > self._newest_ts:
            self._newest_ts, self._newest_wall = ts, time.time()

    def _event_now(self, wall_now: float) -> float:
        """Newest event time seen, running on at wall speed while the ward is silent (as the core does
        for holds), so an unacknowledged alert still escalates when no more data comes."""
        newest = self.clock()
        if newest > self._newest_ts:
            self._newest_ts, self._newest_wall = newest, wall_now
        if not self._newest_ts:
            return 0.0
        return self._newest_ts + max(0.0, wall_now - self._newest_wall)

    def observe(self, wall_now: float, force: bool = False) -> None:
        """Export failures and the queue as metrics; log failing destinations (rate-limited)."""
        for key, n in list(self.delivery.failures.items()):
            new = n - self._failures_seen[key]
            if new > 0:
                self._failures_seen[key] = n
                self._unlogged[key[0]] += new
                if self.metrics is not None:
                    self.metrics.observe_delivery_failures(key[0], key[1], new)
        for dest, new in list(self._unlogged.items()):
            if new and wall_now - self._logged_at.get(dest, float("-inf")) >= WARN_EVERY_SECONDS:
                self._logged_at[dest] = wall_now
                self._unlogged[dest] = 0
                self._failing.add(dest)
                log.warning("HL7 delivery to %s failing: %d failed attempt(s) since the last report, last %s; %s",
                            dest, new, self.delivery.last_failure.get(dest, "?"), self.status())
        if self._unlogged_exhausted and wall_now - self._logged_at.get("", float("-inf")) >= WARN_EVERY_SECONDS:
            self._logged_at[""] = wall_now
            log.warning("%d alert(s) of medium/low/technical priority acknowledged by nobody, no destination left",
                        self._unlogged_exhausted)
            self._unlogged_exhausted = 0
        if force or wall_now >= self._queue_due:
            self._queue_due = wall_now + QUEUE_METRICS_EVERY_SECONDS
            if self.metrics is not None:
                for d in self.delivery.config.destinations:
                    self.metrics.observe_destination(d.name, not self.delivery.failing(d.name))
                oldest = self.delivery.queue.oldest_queued_wall()
                self.metrics.observe_delivery_queue(len(self.delivery.queue),
                                                    None if oldest is None else wall_now - oldest)

    def _audit(self, record: DeliveryRecord) -> None:
        outcome = str(record.outcome)
        self.outcomes[outcome] += 1
        self._audit_file(record)
        if self.metrics is not None:
            self.metrics.observe_delivery(record.destination, record.priority, outcome)
        if outcome == DeliveryOutcome.ACCEPTED.value and record.destination in self._failing:
            self._failing.discard(record.destination)
            self._logged_at.pop(record.destination, None)
            log.info("HL7 delivery to %s works again", record.destination)
        elif outcome == DeliveryOutcome.EXHAUSTED.value:
            if record.priority == "high":
                log.error("high-priority alert acknowledged by nobody, no destination left: %s on bed %s (alarm %s): %s",
                          record.type, record.bed, record.alarm_id, record.detail)
            else:
                self._unlogged_exhausted += 1
