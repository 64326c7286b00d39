"""`AlertDelivery`: forwarded alerts -> durable queue -> MLLP destinations, with escalation and an audit trail.

The hook for drivers (Kafka worker, demo, replay):

    delivery = AlertDelivery(config, queue_dir, audit=JsonlAudit(path))
    task = asyncio.create_task(delivery.run(stop))   # the driver owns the task and `stop`
    delivery.submit(alert)        # for every Alert output; durable when it returns
    delivery.feedback(event)      # for every Feedback input: a clinician saw the alert
    delivery.tick(now_ts)         # event time moves on (e.g. the latest event ts seen)
    delivery.vitals(event)        # optional: numerics, so alerts carry the measured value

All three calls are synchronous and must be made on the event loop's thread. `submit`
raises `QueueFull` when the bounded queue is full: do not commit the input offset then.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import Counter, deque
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from hl7.mllp import InvalidBlockError, start_hl7_server
from pydantic import BaseModel, ConfigDict

from ..events.outputs import Alert
from ..events.wire import Feedback, Vitals
from .config import DeliveryConfig
from .escalation import EscalationStep, Escalator
from .messages import (
    AckCode,
    MalformedMessage,
    Response,
    ResponseKind,
    alert_key,
    build_ack,
    build_oru_r40,
    message_control_id,
    parse_message,
    parse_response,
)
from .mllp import AckTimeout, MllpConnection, parse_mllp_url
from .queue import DiskQueue, QueuedMessage, QueueFull

log = logging.getLogger(__name__)

#: numerics older (or newer) than this, in event seconds, are not reported as the alarm's value
MEASURED_MAX_AGE_SECONDS = 10.0
#: numerics readings kept per bed: a Kafka worker takes in vitals as it consumes them, ahead of its
#: event-time-ordered decisions, so the reading that describes an alarm may be older than the newest
MEASURED_READINGS_KEPT = 128
#: escalation state is rewritten at most this often (wall seconds); run() flushes what is left
ESCALATION_SAVE_SECONDS = 0.2


#: Reasons in `AlertDelivery.failures`: a failed connection, a send without a usable answer (timeout,
#: unreadable reply, connection lost), AE, AR, an internal error
FAILURE_REASONS = ("connect_failed", "no_ack", "malformed_ack", "connection_lost", "error", "rejected", "internal")


class DeliveryOutcome(str, Enum):
    QUEUED = "queued"  # durably queued for a destination
    ACCEPTED = "accepted"  # AA / CA
    ERROR = "error"  # AE / CE: the same message goes again after a backoff
    REJECTED = "rejected"  # AR / CR: kept under failed/, escalated at once
    GAVE_UP = "gave_up"  # AE more than max_error_retries times: like rejected
    NO_ACK = "no_ack"  # ACK timeout: sent again, same control id
    MALFORMED_ACK = "malformed_ack"  # unreadable reply: sent again, same control id
    CONNECT_FAILED = "connect_failed"  # first failure of an outage; retried with backoff
    QUEUE_FULL = "queue_full"  # submit refused; the caller still holds the alert
    ESCALATED = "escalated"  # no acknowledgement in time (or refused): next destination
    EXHAUSTED = "exhausted"  # no acknowledgement and no destination left
    ACKNOWLEDGED = "acknowledged"  # ORA^R41 from the alarm manager, or a feedback event
    STATUS = "status"  # an ORA^R41 status that is not an acknowledgement (e.g. delivered)


class DeliveryRecord(BaseModel):
    """Audit line for one delivery event of one alert (beds and alarm ids only, no patient data)."""

    model_config = ConfigDict(frozen=True, use_enum_values=True)

    schema_version: Literal[1] = 1
    kind: Literal["delivery"] = "delivery"
    alarm_id: str
    bed: str
    type: str
    priority: str
    outcome: DeliveryOutcome
    attempt: int
    destination: str
    control_id: str
    ack_code: str | None = None
    detail: str = ""
    event_ts: float | None = None  # event time the outcome refers to, when it has one
    wall_ts: float  # driver wall clock, for delivery latency

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class JsonlAudit:
    """Appends delivery records as JSON lines (flushed per line)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 -- open for the sink's lifetime

    def __call__(self, record: DeliveryRecord) -> None:
        self._f.write(json.dumps(record.to_wire()) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


class AlertDelivery:
    """At-least-once delivery of ORU^R40 alerts to an escalation chain of MLLP destinations."""

    def __init__(self, config: DeliveryConfig, queue_dir: str | Path,
                 audit: Callable[[DeliveryRecord], None] | None = None, escalate: bool = True) -> None:
        """`escalate=False`: deliver only (batch runs with one receiver and no clinicians to answer)."""
        self.config = config
        self.escalate = escalate
        self.site = config.site.site()
        self.queue = DiskQueue(queue_dir, config.queue.max_items)
        self._full_reported = False  # the queue reaching its bound is audited once per crossing
        self._escalation_file = self.queue.dir / "escalation.json"
        self.escalator = self._load_escalation()
        self.audit = audit if audit is not None else (lambda r: None)
        self.stats: Counter[str] = Counter()
        #: (destination name, reason) -> failed attempts: every failed connect or send, not only the first
        #: of an outage as in the audit; reasons are FAILURE_REASONS
        self.failures: Counter[tuple[str, str]] = Counter()
        self.last_failure: dict[str, str] = {}  # destination name -> what the last failure said
        self.last_failure_wall: dict[str, float] = {}  # destination name -> wall time of its last failure
        self.last_accepted_wall: dict[str, float] = {}  # destination name -> wall time it last accepted one
        self._wake = [asyncio.Event() for _ in config.destinations]
        self._by_control_id: dict[str, tuple[str, int]] = {
            m.control_id: (m.key, m.attempt) for m in self.queue.pending()}
        self._alerts: dict[str, dict[str, Any]] = {m.key: m.alert for m in self.queue.pending()}  # by alert_key
        self._vitals: dict[str, deque[tuple[float, dict[str, float]]]] = {}  # bed -> its latest (ts, values)
        self._error_answers: Counter[int] = Counter()  # queue seq -> AE answers so far
        self.status_address: tuple[str, int] | None = None  # bound PCD-05 listener, while running
        self._escalation_dirty = False
        self._escalation_saved = float("-inf")

    # -- driver API (synchronous) ------------------------------------------------------

    @property
    def full(self) -> bool:
        """At or past the queue's bound: a driver should take no more input until it drains."""
        return len(self.queue) >= self.queue.max_items

    def submit(self, alert: Alert, measured: dict[str, float] | None = None, *, force: bool = False) -> str:
        """Queue a forwarded alert for the first destination; returns its message control id.

        A full queue raises `QueueFull`, unless `force`: then the alert is queued past the bound
        (a driver that has already published it must not lose it). Reaching the bound is audited
        once per crossing; the driver holds its input while `full`.
        """
        self._apply(self.escalator.advance(alert.decided_ts))
        if measured is None:
            measured = self._measured_at(alert.bed, alert.ts)
        wire = alert.to_wire()
        key = alert_key(alert.bed, alert.alarm_id)
        ctrl = message_control_id(key, 0)
        try:
            item = self.queue.put(alert.alarm_id, 0, 0, ctrl, wire, measured, force=force)
        except QueueFull as exc:
            self.stats["queue_full"] += 1
            self._record(wire, DeliveryOutcome.QUEUE_FULL, 0, 0, ctrl, detail=str(exc), event_ts=alert.decided_ts)
            raise
        self._track(item)
        if self.escalate:
            self.escalator.start(wire, alert.decided_ts)
            self._save_escalation()
        self.stats["submitted"] += 1
        self._record(wire, DeliveryOutcome.QUEUED, 0, 0, ctrl, event_ts=alert.decided_ts)
        if self.full and not self._full_reported:  # once per time the queue reaches its bound
            self.stats["queue_full"] += 1
            self._record(wire, DeliveryOutcome.QUEUE_FULL, 0, 0, ctrl, event_ts=alert.decided_ts,
                         detail=f"queue reached its bound of {self.queue.max_items}; the driver holds its input")
        self._full_reported = self.full
        self._wake[0].set()
        return ctrl

    def vitals(self, event: Vitals) -> None:
        """Remember the bed's latest numerics, so an alert can carry its measured value (facet 2)."""
        values = {k: float(v) for k, v in event.values.items() if v is not None}
        if values:
            self._vitals.setdefault(event.bed, deque(maxlen=MEASURED_READINGS_KEPT)).append((event.ts, values))
        self.tick(event.ts)

    def feedback(self, event: Feedback) -> None:
        """A clinician's feedback on an alarm means they saw it: stop escalating it."""
        self.tick(event.ts)
        self._acknowledged(alert_key(event.bed, event.alarm_id), "feedback event", event.ts)

    def tick(self, now_ts: float) -> None:
        """Event time advanced: escalate whatever fell due."""
        self._apply(self.escalator.advance(now_ts))

    def flush(self) -> None:
        """Write escalation state now (run() does this by itself; for drivers stopping without it)."""
        if self._escalation_dirty:
            self._save_escalation(force=True)

    # -- the loop the driver owns --------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Deliver until `stop` is set (or the task is cancelled): one worker per destination."""
        stop = stop or asyncio.Event()
        for ev in self._wake:
            ev.set()  # pick up messages left on disk by a previous run
        server = None
        if self.config.status_listener:
            host, port = parse_mllp_url(self.config.status_listener)
            server = await start_hl7_server(self._serve_status, host, port, encoding="utf-8")
            self.status_address = server.sockets[0].getsockname()[:2]
        workers = [asyncio.create_task(self._worker(i, stop)) for i in range(len(self.config.destinations))]
        try:
            while not stop.is_set():
                await _wait_any(stop, timeout_seconds=ESCALATION_SAVE_SECONDS)
                if self._escalation_dirty:
                    self._save_escalation(force=True)
        finally:
            if self._escalation_dirty:
                self._save_escalation(force=True)
            if server is not None:
                server.close()
            for ev in self._wake:
                ev.set()
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _serve_status(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """PCD-05 on its own connection: ACK each ORA^R41 (AA) and act on it; refuse anything else (AR)."""
        try:
            while True:
                block = await reader.readblock()  # type: ignore[attr-defined]
                try:
                    msg = parse_message(block)
                    resp = parse_response(block)
                except MalformedMessage as exc:
                    self.stats["status_malformed"] += 1
                    log.warning("status listener: unreadable message: %s", exc)
                    continue
                if resp.kind is ResponseKind.ALERT_ACK:
                    self._on_alert_ack(resp)
                    code = AckCode.AA
                else:
                    code = AckCode.AR
                writer.writeblock(str(build_ack(msg, code)).encode("utf-8"))  # type: ignore[attr-defined]
                await writer.drain()
        except (asyncio.IncompleteReadError, InvalidBlockError, ConnectionError, OSError, ValueError):
            pass
        finally:
            writer.close()

    async def drain(self, timeout_seconds: float) -> bool:
        """Wait until nothing is pending (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_seconds
        while len(self.queue) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return not len(self.queue)

    # -- internals -----------------------------------------------------------------------

    async def _worker(self, dest: int, stop: asyncio.Event) -> None:
        destination = self.config.destinations[dest]
        host, port = destination.address
        t = self.config.transport
        conn: MllpConnection | None = None
        failures = 0
        try:
            while not stop.is_set():
                item = self.queue.oldest(dest)
                if item is None:
                    self._wake[dest].clear()
                    await _wait_any(self._wake[dest], stop, timeout_seconds=1.0)
                    continue
                if conn is None or conn.closed:
                    try:
                        conn = await MllpConnection.open(host, port, t.connect_timeout_seconds, self._on_alert_ack)
                        failures = 0
                        self.stats["connects"] += 1
                    except (TimeoutError, OSError) as exc:
                        failures += 1
                        self.stats["connect_failures"] += 1
                        self._failed(dest, "connect_failed", f"{exc.__class__.__name__}: {exc}")
                        if failures == 1:
                            self._record(item.alert, DeliveryOutcome.CONNECT_FAILED, item.attempt, dest,
                                         item.control_id, detail=f"{exc.__class__.__name__}: {exc}")
                        await _wait_any(stop, timeout_seconds=t.backoff_seconds(failures))
                        continue
                try:
                    failures = await self._send_one(conn, item, dest, stop, failures)
                except Exception as exc:
                    log.exception("delivery worker %s: unexpected error", destination.name)
                    self.stats["worker_errors"] += 1
                    self._failed(dest, "internal", f"{exc.__class__.__name__}: {exc}")
                    self._record(item.alert, DeliveryOutcome.ERROR, item.attempt, dest, item.control_id,
                                 detail=f"internal: {exc.__class__.__name__}: {exc}")
                    failures += 1
                    await _wait_any(stop, timeout_seconds=t.backoff_seconds(failures))
                if failures and conn is not None:
                    await conn.close()
                    conn = None
        finally:
            if conn is not None:
                await conn.close()

    async def _send_one(self, conn: MllpConnection, item: QueuedMessage, dest: int,
                        stop: asyncio.Event, failures: int) -> int:
        """Send one queued message and act on the answer; returns the consecutive failure count."""
        t = self.config.transport
        try:
            msg = build_oru_r40(Alert.model_validate(item.alert), item.attempt, self.site, item.measured)
        except ValueError as exc:  # a queue file that no longer holds a valid alert: keep it, say why
            self.queue.fail(item, f"cannot build ORU^R40: {exc}")
            self._record(item.alert, DeliveryOutcome.GAVE_UP, item.attempt, dest, item.control_id,
                         detail=f"cannot build ORU^R40: {exc}")
            return 0
        self.stats["sent"] += 1
        try:
            resp = await conn.send(str(msg), item.control_id, t.ack_timeout_seconds)
        except (AckTimeout, MalformedMessage, ConnectionError) as exc:
            outcome = {AckTimeout: DeliveryOutcome.NO_ACK, MalformedMessage: DeliveryOutcome.MALFORMED_ACK}.get(
                type(exc), None)
            item = self.queue.retried(item)
            self._failed(dest, outcome.value if outcome is not None else "connection_lost",
                         f"{exc.__class__.__name__}: {exc}")
            if outcome is not None:
                self.stats[outcome.value] += 1
                self._record(item.alert, outcome, item.attempt, dest, item.control_id, detail=str(exc))
            await _wait_any(stop, timeout_seconds=t.backoff_seconds(item.tries))
            return failures + 1
        self.stats[f"ack_{resp.code.value}"] += 1
        if resp.code.accepted:
            self._error_answers.pop(item.seq, None)
            self.last_accepted_wall[self.config.destinations[dest].name] = time.time()
            self.queue.done(item)
            self._record(item.alert, DeliveryOutcome.ACCEPTED, item.attempt, dest, item.control_id,
                         ack_code=resp.code.value, detail=resp.text)
            return 0
        if resp.code.error:
            item = self.queue.retried(item)
            self._error_answers[item.seq] += 1
            self._failed(dest, "error", f"AE: {resp.text}".rstrip(": "))
            if self._error_answers[item.seq] <= t.max_error_retries:
                self._record(item.alert, DeliveryOutcome.ERROR, item.attempt, dest, item.control_id,
                             ack_code=resp.code.value, detail=resp.text)
                await _wait_any(stop, timeout_seconds=t.backoff_seconds(item.tries))
                return 0
            outcome = DeliveryOutcome.GAVE_UP
        else:
            outcome = DeliveryOutcome.REJECTED
            self._failed(dest, "rejected", f"{resp.code.value}: {resp.text}".rstrip(": "))
        self._error_answers.pop(item.seq, None)
        reason = f"{resp.code.value} from {self.config.destinations[dest].name}: {resp.text}".rstrip(": ")
        self.queue.fail(item, reason)
        self._record(item.alert, outcome, item.attempt, dest, item.control_id, ack_code=resp.code.value,
                     detail=resp.text)
        step = self.escalator.refused(item.key, item.attempt, reason)
        self._apply([step] if step else [])
        return 0

    def _failed(self, dest: int, reason: str, detail: str) -> None:
        name = self.config.destinations[dest].name
        self.failures[(name, reason)] += 1
        self.last_failure[name] = f"{reason}: {detail}"[:300]
        self.last_failure_wall[name] = time.time()

    def failing(self, destination: str) -> bool:
        """The destination's last attempt failed (nothing accepted since its last failure)."""
        failed = self.last_failure_wall.get(destination)
        return failed is not None and failed >= self.last_accepted_wall.get(destination, float("-inf"))

    def _measured_at(self, bed: str, ts: float) -> dict[str, float] | None:
        """The bed's numerics nearest the alarm in event time, if near enough to describe it (never stale ones)."""
        readings = self._vitals.get(bed)
        if not readings:
            return None
        at, values = min(readings, key=lambda r: abs(ts - r[0]))
        return values if abs(ts - at) <= MEASURED_MAX_AGE_SECONDS else None

    def _on_alert_ack(self, resp: Response) -> None:
        """An ORA^R41 arrived: acknowledgement (or refusal) by the alarm manager's clinician."""
        known = self._by_control_id.get(resp.acked_control_id)
        self.stats["alert_acks"] += 1
        key = self._named_alert(resp)
        if known is None and key is not None:
            current = self.escalator.attempt(key)
            known = (key, current if current is not None else 0)
        if known is None:
            log.info("ORA^R41 for an alert we do not know (control id %r)", resp.acked_control_id)
            return
        alarm_id, attempt = known
        policy = self.config.escalation
        if resp.code.accepted and resp.status in policy.acknowledging_statuses:
            self._acknowledged(alarm_id, f"ORA^R41 {resp.code.value} {resp.status}".strip(), None)
        elif resp.code.rejected or resp.status in policy.refusing_statuses:
            step = self.escalator.refused(alarm_id, attempt, f"ORA^R41 {resp.code.value}: {resp.text}")
            self._apply([step] if step else [])
        else:
            self._record(self._alerts.get(alarm_id, _unknown(alarm_id)), DeliveryOutcome.STATUS, attempt, None,
                         resp.acked_control_id, ack_code=resp.code.value, detail=resp.status or resp.text)

    def _named_alert(self, resp: Response) -> str | None:
        """The alert an ORA^R41 names by OBR-3 (and PV1-3 bed): by both, or by the alarm id when
        only one alert we know carries it (ids repeat across beds: never guess between two)."""
        if not resp.alarm_id:
            return None
        if resp.bed:
            key = alert_key(resp.bed, resp.alarm_id)
            return key if key in self._alerts else None
        found = [k for k, a in self._alerts.items() if str(a.get("alarm_id")) == resp.alarm_id]
        return found[0] if len(found) == 1 else None

    def _acknowledged(self, alarm_id: str, how: str, ts: float | None) -> None:
        attempt = self.escalator.attempt(alarm_id)
        if self.escalator.acknowledge(alarm_id):
            self._save_escalation()
            self.stats["acknowledged"] += 1
            alert = self._alerts.get(alarm_id, _unknown(alarm_id))
            self._record(alert, DeliveryOutcome.ACKNOWLEDGED, attempt if attempt is not None else 0, None, "",
                         detail=how, event_ts=ts)

    def _apply(self, steps: list[EscalationStep]) -> None:
        if steps:
            self._save_escalation()
        for s in steps:
            if s.destination is None:
                self.stats["exhausted"] += 1
                self._record(s.alert, DeliveryOutcome.EXHAUSTED, s.attempt, None, "", detail=s.reason,
                             event_ts=s.due_ts)
                continue
            ctrl = message_control_id(s.alarm_id, s.attempt)
            # escalations may exceed the bound: they are few and must not be dropped
            item = self.queue.put(str(s.alert["alarm_id"]), s.attempt, s.destination, ctrl, s.alert, force=True)
            self._track(item)
            self.stats["escalated"] += 1
            self._record(s.alert, DeliveryOutcome.ESCALATED, s.attempt, s.destination, ctrl, detail=s.reason,
                         event_ts=s.due_ts)
            self._wake[s.destination].set()

    def _load_escalation(self) -> Escalator:
        n = len(self.config.destinations)
        try:
            state = json.loads(self._escalation_file.read_text("utf-8"))
            return Escalator.from_state(self.config.escalation, n, state)
        except FileNotFoundError:
            return Escalator(self.config.escalation, n)
        except (ValueError, KeyError, TypeError) as exc:  # keep the bad file for a person; start clean
            log.error("unreadable escalation state %s (%s); kept as .bad", self._escalation_file, exc)
            os.replace(self._escalation_file, self._escalation_file.with_suffix(".bad"))
            return Escalator(self.config.escalation, n)

    def _save_escalation(self, force: bool = False) -> None:
        """Persist escalation timers, at most every ESCALATION_SAVE_SECONDS (run() flushes the rest).

        Atomic rewrite, no fsync: a crash may lose the last fraction of a second of timer
        changes, never a queued message.
        """
        self._escalation_dirty = True
        now = time.monotonic()
        if not force and now - self._escalation_saved < ESCALATION_SAVE_SECONDS:
            return
        self._escalation_dirty = False
        self._escalation_saved = now
        tmp = self._escalation_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.escalator.state()), "utf-8")
        os.replace(tmp, self._escalation_file)

    def _track(self, item: QueuedMessage) -> None:
        self._by_control_id[item.control_id] = (item.key, item.attempt)
        self._alerts[item.key] = item.alert
        if len(self._by_control_id) > 100_000:  # bounded memory: forget the oldest
            del self._by_control_id[next(iter(self._by_control_id))]
        if len(self._alerts) > 100_000:
            del self._alerts[next(iter(self._alerts))]

    def _record(self, alert: dict[str, Any], outcome: DeliveryOutcome, attempt: int, dest: int | None,
                control_id: str, ack_code: str | None = None, detail: str = "",
                event_ts: float | None = None) -> None:
        name = self.config.destinations[dest].name if dest is not None else ""
        record = DeliveryRecord(
            alarm_id=str(alert.get("alarm_id", "")), bed=str(alert.get("bed", "")), type=str(alert.get("type", "")),
            priority=str(alert.get("priority", "")), outcome=outcome, attempt=attempt, destination=name,
            control_id=control_id, ack_code=ack_code, detail=detail[:500], event_ts=event_ts, wall_ts=time.time())
        try:
            self.audit(record)
        except Exception:  # the audit sink must never stop delivery
            log.exception("delivery audit sink failed")


def _unknown(key: str) -> dict[str, Any]:
    """What an audit record can say of an alert known only by its key."""
    bed, _, alarm_id = key.rpartition("/") if "/" not in key else key.partition("/")
    return {"alarm_id": alarm_id, "bed": bed}


async def _wait_any(*events: asyncio.Event, timeout_seconds: float) -> None:
    """Sleep up to `timeout_seconds`, waking early when any event is set."""
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=timeout_seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
