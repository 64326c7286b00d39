"""AlertDelivery against real MLLP receivers on 127.0.0.1: at-least-once, AA/AE/AR, malformed ACKs, escalation."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from alarmfilter.delivery import (
    AckCode,
    AlertDelivery,
    JsonlAudit,
    alert_key,
    build_ack,
    message_control_id,
)
from alarmfilter.events import Feedback
from tests.delivery.support import (
    T0,
    Receiver,
    alert,
    answer,
    fast_config,
    free_port,
    ora_r41,
    wait_for,
)

pytestmark = pytest.mark.timeout(30)


class Audit(list):
    def __call__(self, record):
        self.append(record)

    def outcomes(self, alarm_id=None):
        return [r.outcome for r in self if alarm_id is None or r.alarm_id == alarm_id]


async def running(delivery: AlertDelivery):
    stop = asyncio.Event()
    task = asyncio.create_task(delivery.run(stop))
    return stop, task


async def finish(stop, task, *receivers):
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    for r in receivers:
        await r.stop()


def test_alerts_arrive_well_formed_and_accepted(tmp_path):
    async def main():
        rx = await Receiver().start()
        audit = Audit()
        d = AlertDelivery(fast_config(rx.port), tmp_path / "q", audit)
        stop, task = await running(d)
        ctrls = [d.submit(alert(f"a{i}", ts=T0 + i)) for i in range(3)]
        assert await d.drain(5)
        await finish(stop, task, rx)
        assert rx.control_ids == ctrls
        assert rx.alarm_ids == ["a0", "a1", "a2"]
        assert all(str(m.segment("MSH")(9)) == "ORU^R40^ORU_R40" for m in rx.received)
        assert audit.outcomes("a1") == ["queued", "accepted"]
        assert d.queue.pending() == [] and d.queue.failed() == []
    asyncio.run(main())


def test_receiver_down_then_up_loses_nothing_and_resends_with_the_same_control_id(tmp_path):
    async def main():
        port = free_port()
        audit = Audit()
        d = AlertDelivery(fast_config(port), tmp_path / "q", audit)
        stop, task = await running(d)
        ctrls = {f"a{i}": d.submit(alert(f"a{i}", ts=T0 + i)) for i in range(5)}
        assert await wait_for(lambda: d.stats["connect_failures"] >= 2)  # several failed connects with backoff
        assert len(d.queue) == 5
        # every failed attempt is counted for the operator (the audit says it once per outage)
        assert d.failures[("d0", "connect_failed")] == d.stats["connect_failures"]
        assert d.failing("d0") and "ConnectionRefusedError" in d.last_failure["d0"]
        oldest = d.queue.oldest_queued_wall()
        assert oldest is not None and time.time() - 5.0 < oldest <= time.time()
        rx = await Receiver(port=port).start()
        assert await d.drain(5)
        assert not d.failing("d0") and d.queue.oldest_queued_wall() is None
        await finish(stop, task, rx)
        assert sorted(rx.alarm_ids) == sorted(ctrls)  # nothing lost
        assert len(rx.received) == 5  # and, with ACKs arriving, no duplicates
        assert {str(m["MSH.10"]): str(m.segment("OBR")(3)(1)(1)) for m in rx.received} == \
            {c: a for a, c in ctrls.items()}
        assert audit.outcomes().count("connect_failed") == 1  # one line per outage, not per retry
    asyncio.run(main())


def test_lost_ack_means_a_duplicate_with_the_same_control_id(tmp_path):
    async def main():
        # first copy: no ACK (as if it was lost); second copy: AA
        rx = await Receiver(script=lambda msg, n: [] if n == 0 else answer("AA")(msg, n)).start()
        audit = Audit()
        d = AlertDelivery(fast_config(rx.port), tmp_path / "q", audit)
        stop, task = await running(d)
        ctrl = d.submit(alert("a1"))
        assert await d.drain(5)
        await finish(stop, task, rx)
        assert rx.control_ids == [ctrl, ctrl]
        assert audit.outcomes("a1") == ["queued", "no_ack", "accepted"]
    asyncio.run(main())


def test_ae_is_retried_then_given_up_and_escalated_ar_is_not_retried(tmp_path):
    async def main():
        busy = await Receiver(script=lambda msg, n: answer("AE" if n < 1 else "AA")(msg, n)).start()
        broken = await Receiver(script=answer("AE")).start()
        refusing = await Receiver(script=answer("AR")).start()
        backup = await Receiver().start()
        audit = Audit()
        d1 = AlertDelivery(fast_config(busy.port, backup.port), tmp_path / "q1", audit)
        d2 = AlertDelivery(fast_config(broken.port, backup.port), tmp_path / "q2", audit)
        d3 = AlertDelivery(fast_config(refusing.port, backup.port), tmp_path / "q3", audit)
        runs = [await running(d) for d in (d1, d2, d3)]
        d1.submit(alert("e1"))
        d2.submit(alert("e2"))
        d3.submit(alert("r3"))
        for d in (d1, d2, d3):
            assert await d.drain(5)
        for stop, task in runs:
            await finish(stop, task)
        # AE once, then AA: the same message again, accepted, no escalation
        assert busy.control_ids == [message_control_id(alert_key("ICU1-07", "e1"), 0)] * 2
        assert audit.outcomes("e1") == ["queued", "error", "accepted"]
        # AE every time: max_error_retries (2) re-sends, then refused -> failed/ + next destination
        assert broken.control_ids == [message_control_id(alert_key("ICU1-07", "e2"), 0)] * 3
        assert audit.outcomes("e2") == ["queued", "error", "error", "gave_up", "escalated", "accepted"]
        assert len(d2.queue.failed()) == 1
        # AR: sent once, never retried, kept under failed/, escalated at once
        assert refusing.control_ids == [message_control_id(alert_key("ICU1-07", "r3"), 0)]
        assert audit.outcomes("r3") == ["queued", "rejected", "escalated", "accepted"]
        assert sorted(backup.control_ids) == sorted([message_control_id(alert_key("ICU1-07", "e2"), 1), message_control_id(alert_key("ICU1-07", "r3"), 1)])
        assert d1.failures == {("d0", "error"): 1} and not d1.failing("d0")  # accepted after the AE
        assert d2.failures == {("d0", "error"): 3} and d2.failing("d0") and not d2.failing("d1")
        assert d3.failures == {("d0", "rejected"): 1} and d3.last_failure["d0"].startswith("rejected: AR")
        esc = [r for r in audit if r.outcome == "escalated"]
        assert {r.destination for r in esc} == {"d1"} and {r.attempt for r in esc} == {1}
        for r in (busy, broken, refusing, backup):
            await r.stop()
    asyncio.run(main())


@pytest.mark.parametrize("bad", [
    b"this is not HL7",
    b"MSH|^~\\&|AM||AF||20251126||ACK^R40^ACK|X1|P|2.6\rMSA|ZZ|whatever",
    b"MSH|^~\\&|AM||AF||20251126||ACK^R40^ACK|X1|P|2.6",
])
def test_malformed_ack_is_audited_and_the_message_sent_again(tmp_path, bad):
    async def main():
        rx = await Receiver(script=lambda msg, n: [bad] if n == 0 else answer("AA")(msg, n)).start()
        audit = Audit()
        d = AlertDelivery(fast_config(rx.port), tmp_path / "q", audit)
        stop, task = await running(d)
        ctrl = d.submit(alert("m1"))
        assert await d.drain(5)
        await finish(stop, task, rx)
        assert rx.control_ids == [ctrl, ctrl]
        assert audit.outcomes("m1") == ["queued", "malformed_ack", "accepted"]
        assert next(r.detail for r in audit if r.outcome == "malformed_ack")
    asyncio.run(main())


def test_ack_for_another_message_is_not_taken_for_ours(tmp_path):
    async def main():
        def script(msg, n):
            wrong = str(build_ack(msg, AckCode.AA)).replace(str(msg["MSH.10"]), "SOMEONE-ELSE.0").encode()
            return [wrong] if n == 0 else answer("AA")(msg, n)
        rx = await Receiver(script=script).start()
        audit = Audit()
        d = AlertDelivery(fast_config(rx.port), tmp_path / "q", audit)
        stop, task = await running(d)
        d.submit(alert("w1"))
        assert await d.drain(5)
        await finish(stop, task, rx)
        assert audit.outcomes("w1") == ["queued", "no_ack", "accepted"]
    asyncio.run(main())


def test_escalation_happens_in_event_time_and_stops_on_feedback(tmp_path):
    async def main():
        primary, backup = await Receiver().start(), await Receiver().start()
        audit = Audit()
        d = AlertDelivery(fast_config(primary.port, backup.port, timeout_seconds={"high": 30, "medium": 120}),
                          tmp_path / "q", audit)
        stop, task = await running(d)
        d.submit(alert("h1", ts=T0, priority="high"))        # decided at T0 + 0.5
        d.submit(alert("m1", ts=T0, priority="medium"))
        d.submit(alert("f1", ts=T0, priority="high"))
        assert await d.drain(5)
        # wall time passing changes nothing: only event time counts (a negative: bounded by the timeout)
        assert not await wait_for(lambda: bool(backup.received), timeout_seconds=0.3)
        d.tick(T0 + 30.4)
        d.feedback(Feedback(schema_version=1, kind="feedback", bed="ICU1-07", ts=T0 + 20.0, alarm_id="f1",
                            actionable=True))
        assert await d.drain(5)
        assert backup.received == []
        d.tick(T0 + 30.5)  # h1's deadline: 30 s after it was forwarded
        assert await wait_for(lambda: len(backup.received) == 1)
        assert backup.alarm_ids == ["h1"] and backup.control_ids == [message_control_id(alert_key("ICU1-07", "h1"), 1)]
        # the backup's ACK starts h1's next timer: wait for it to be taken in before event time moves on
        assert await wait_for(lambda: audit.outcomes("h1") == ["queued", "accepted", "escalated", "accepted"])
        d.tick(T0 + 120.5)  # m1's deadline; h1 has no third destination
        assert await wait_for(lambda: len(backup.received) == 2)
        assert await wait_for(lambda: audit.outcomes("h1")[-1:] == ["exhausted"])  # audited after the send
        await finish(stop, task, primary, backup)
        assert backup.alarm_ids == ["h1", "m1"]
        assert audit.outcomes("f1") == ["queued", "accepted", "acknowledged"]
        assert audit.outcomes("h1") == ["queued", "accepted", "escalated", "accepted", "exhausted"]
        assert [r.event_ts for r in audit if r.alarm_id == "h1" and r.outcome == "escalated"] == [T0 + 30.5]
    asyncio.run(main())


def test_ora_r41_from_the_alarm_manager_acknowledges_and_is_acked(tmp_path):
    async def main():
        primary = await Receiver(script=lambda msg, n: answer("AA")(msg, n) + [ora_r41(msg, "accepted")]).start()
        backup = await Receiver().start()
        audit = Audit()
        d = AlertDelivery(fast_config(primary.port, backup.port), tmp_path / "q", audit)
        stop, task = await running(d)
        ctrl = d.submit(alert("o1", priority="high"))
        assert await d.drain(5)
        assert await wait_for(lambda: d.stats["acknowledged"] == 1)
        d.tick(T0 + 1000)  # past every deadline: an acknowledged alert is not escalated
        assert not await wait_for(lambda: bool(backup.received), timeout_seconds=0.3)
        await finish(stop, task, primary, backup)
        assert backup.received == []
        # ACK and ORA^R41 may be read in one go, so their audit order is not fixed
        assert sorted(audit.outcomes("o1")) == ["accepted", "acknowledged", "queued"]
        assert [str(a["MSA.2"]) for a in primary.acks_received] == [f"ORA{ctrl}"]  # we ACKed its ORA^R41
    asyncio.run(main())


def test_queue_on_disk_survives_a_restart_and_audit_is_jsonl(tmp_path):
    async def main():
        port = free_port()
        d = AlertDelivery(fast_config(port), tmp_path / "q")
        d.submit(alert("p1"))
        d.submit(alert("p2"))  # process dies before any delivery
        rx = await Receiver(port=port).start()
        audit = JsonlAudit(tmp_path / "delivery.jsonl")
        d2 = AlertDelivery(fast_config(port), tmp_path / "q", audit)
        stop, task = await running(d2)
        assert await d2.drain(5)
        await finish(stop, task, rx)
        audit.close()
        assert rx.alarm_ids == ["p1", "p2"]
        lines = [json.loads(x) for x in (tmp_path / "delivery.jsonl").read_text().splitlines()]
        assert [(x["alarm_id"], x["outcome"], x["kind"]) for x in lines] == \
            [("p1", "accepted", "delivery"), ("p2", "accepted", "delivery")]
    asyncio.run(main())


def test_bound_refuses_new_alerts_without_dropping_queued_ones(tmp_path):
    from alarmfilter.delivery import QueueFull
    from alarmfilter.delivery.config import QueueConfig

    cfg = fast_config(free_port())
    cfg = cfg.model_copy(update={"queue": QueueConfig(max_items=2)})
    audit = Audit()
    d = AlertDelivery(cfg, tmp_path / "q", audit)
    d.submit(alert("b1"))
    d.submit(alert("b2"))
    with pytest.raises(QueueFull):
        d.submit(alert("b3"))
    assert [m.alarm_id for m in d.queue.pending()] == ["b1", "b2"]
    assert audit.outcomes("b3") == ["queue_full"]
    assert audit.outcomes("b2") == ["queued", "queue_full"]  # reaching the bound is audited, once
    # an alert a driver has already published is forced in past the bound
    assert d.full
    d.submit(alert("b4"), force=True)
    d.submit(alert("b5"), force=True)
    assert [m.alarm_id for m in d.queue.pending()] == ["b1", "b2", "b4", "b5"]
    assert audit.outcomes("b4") == ["queued"] and audit.outcomes("b5") == ["queued"]


def test_recent_numerics_become_the_measured_value_stale_ones_do_not(tmp_path):
    async def main():
        from alarmfilter.events import Vitals

        rx = await Receiver().start()
        d = AlertDelivery(fast_config(rx.port), tmp_path / "q")
        stop, task = await running(d)
        d.vitals(Vitals(schema_version=1, kind="vitals", bed="ICU1-07", ts=T0 - 1, values={"hr_bpm": 31.0}))
        d.vitals(Vitals(schema_version=1, kind="vitals", bed="ICU1-09", ts=T0 - 60, values={"hr_bpm": 140.0}))
        # a worker consumes numerics ahead of its decisions: the reading at the alarm, not the newest, describes it
        for k in range(40):
            d.vitals(Vitals(schema_version=1, kind="vitals", bed="ICU1-08", ts=T0 - 5 + k, values={"hr_bpm": 60.0 + k}))
        d.submit(alert("v1", bed="ICU1-07", type="extreme_bradycardia"))
        d.submit(alert("v2", bed="ICU1-09", type="extreme_tachycardia"))
        d.submit(alert("v3", bed="ICU1-08", type="extreme_bradycardia"))
        assert await d.drain(5)
        await finish(stop, task, rx)
        facet2 = {str(m["OBR.3"]): m.segments("OBX")[1] for m in rx.received}
        assert str(facet2["v1"](3)(1)(2)) == "MDC_ECG_HEART_RATE" and str(facet2["v1"](5)) == "31"
        assert str(facet2["v2"](3)(1)(2)) == "MDC_ATTR_ALERT_SOURCE" and str(facet2["v2"](5)(1)(9)) == "II"
        assert str(facet2["v3"](5)) == "65"  # the reading at T0, not the newest (T0 + 34 s, 99 bpm)
    asyncio.run(main())


def test_escalation_timers_survive_a_restart(tmp_path):
    async def main():
        primary, backup = await Receiver().start(), await Receiver().start()
        cfg = fast_config(primary.port, backup.port, timeout_seconds={"high": 30})
        d = AlertDelivery(cfg, tmp_path / "q")
        stop, task = await running(d)
        d.submit(alert("k1", priority="high"))
        d.submit(alert("k2", priority="high"))
        d.feedback(Feedback(schema_version=1, kind="feedback", bed="ICU1-07", ts=T0 + 5, alarm_id="k2",
                            actionable=False))
        assert await d.drain(5)
        await finish(stop, task)  # process stops; k1 delivered but not acknowledged
        audit = Audit()
        d2 = AlertDelivery(cfg, tmp_path / "q", audit)
        stop, task = await running(d2)
        d2.tick(T0 + 30.5)
        assert await wait_for(lambda: len(backup.received) == 1)
        await finish(stop, task, primary, backup)
        assert backup.alarm_ids == ["k1"]  # k2 stays acknowledged across the restart
    asyncio.run(main())


def test_a_queue_file_that_is_no_longer_an_alert_is_set_aside_and_the_rest_still_flows(tmp_path):
    async def main():
        rx = await Receiver().start()
        audit = Audit()
        d = AlertDelivery(fast_config(rx.port), tmp_path / "q", audit)
        d.queue.put("broken", 0, 0, message_control_id(alert_key("ICU1-07", "broken"), 0), {"alarm_id": "broken", "bed": "ICU1-01"})
        stop, task = await running(d)
        d.submit(alert("ok1"))
        assert await d.drain(5)
        await finish(stop, task, rx)
        assert rx.alarm_ids == ["ok1"]
        assert audit.outcomes("broken") == ["gave_up"] and len(d.queue.failed()) == 1
    asyncio.run(main())


def test_status_listener_takes_pcd05_on_its_own_connection(tmp_path):
    """Alarm managers that report status on a separate socket (also without MSA, naming OBR-3)."""
    async def main():
        from hl7.mllp import open_hl7_connection

        primary, backup = await Receiver().start(), await Receiver().start()
        cfg = fast_config(primary.port, backup.port, timeout_seconds={"high": 30}).model_copy(
            update={"status_listener": "mllp://127.0.0.1:0"})
        audit = Audit()
        d = AlertDelivery(cfg, tmp_path / "q", audit)
        stop, task = await running(d)
        d.submit(alert("s1"))
        d.submit(alert("s2"))
        d.submit(alert("s3"))
        assert await d.drain(5)
        assert await wait_for(lambda: d.status_address is not None)
        reader, writer = await open_hl7_connection(*d.status_address, encoding="utf-8")
        by_ctrl = {str(m.segment("OBR")(3)(1)(1)): m for m in primary.received}
        for raw in (ora_r41(by_ctrl["s1"], "accepted"),  # with MSA-2
                    b"MSH|^~\\&||AM|||20251126||ORA^R41^ORA_R41|79||2.6\rOBR|||s2^ALARMFILTER\rPRT|||Read",
                    b"MSH|^~\\&||AM|||20251126||ORA^R41^ORA_R41|80||2.6\rOBR|||s3^ALARMFILTER\rPRT|||Delivered"):
            writer.writeblock(raw)
            await writer.drain()
            ack = await asyncio.wait_for(reader.readmessage(), 2)
            assert str(ack["MSA.1"]) == "AA"
        writer.close()
        d.tick(T0 + 31)
        assert await wait_for(lambda: len(backup.received) == 1)
        await finish(stop, task, primary, backup)
        assert backup.alarm_ids == ["s3"]  # "delivered" is not an acknowledgement; s1 and s2 were
        assert "acknowledged" in audit.outcomes("s1") and "acknowledged" in audit.outcomes("s2")
        assert "status" in audit.outcomes("s3")
    asyncio.run(main())


def test_two_beds_sharing_an_alarm_id_are_two_alerts_and_feedback_stops_only_its_own(tmp_path):
    async def main():
        primary, backup = await Receiver().start(), await Receiver().start()
        audit = Audit()
        d = AlertDelivery(fast_config(primary.port, backup.port, timeout_seconds={"high": 30}), tmp_path / "q", audit)
        stop, task = await running(d)
        c1 = d.submit(alert("same-id", bed="ICU1-01", ts=T0, priority="high"))
        c2 = d.submit(alert("same-id", bed="ICU1-02", ts=T0, priority="high"))
        assert c1 != c2
        assert await d.drain(5)
        assert sorted(primary.control_ids) == sorted([c1, c2])  # both went out: neither was taken for a re-send
        d.feedback(Feedback(schema_version=1, kind="feedback", bed="ICU1-01", ts=T0 + 10.0, alarm_id="same-id",
                            actionable=True))
        d.tick(T0 + 30.5)  # only ICU1-02's alert is still unacknowledged: it escalates
        assert await wait_for(lambda: len(backup.received) == 1)
        await finish(stop, task, primary, backup)
        assert backup.control_ids == [message_control_id(alert_key("ICU1-02", "same-id"), 1)]
        assert [(r.bed, r.outcome) for r in audit if r.outcome in ("acknowledged", "escalated")] == [
            ("ICU1-01", "acknowledged"), ("ICU1-02", "escalated")]
    asyncio.run(main())
