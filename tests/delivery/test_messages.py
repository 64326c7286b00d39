"""ORU^R40 building and ACK / ORA^R41 parsing (pure), checked by parsing back with python-hl7."""

from __future__ import annotations

import hl7
import pytest

from alarmfilter.delivery import (
    AckCode,
    MalformedMessage,
    ResponseKind,
    Site,
    alert_key,
    build_ack,
    build_oru_r40,
    message_control_id,
    parse_response,
)
from alarmfilter.delivery.messages import ALARM_CODES, alert_summary
from alarmfilter.events import AlarmType
from tests.delivery.support import alert, ora_r41


def reparse(msg: hl7.Message) -> hl7.Message:
    text = str(msg)
    assert "\n" not in text and text.endswith("\r")
    return hl7.parse(text)


def test_oru_r40_is_well_formed_and_parses_back():
    a = alert(reasons=["ABP shows pulses | ECG flat ^ lead II", "SQI 0.2 & falling"])
    msg = reparse(build_oru_r40(a, attempt=0))
    assert [str(s[0]) for s in msg] == ["MSH", "PID", "PV1", "OBR"] + ["OBX"] * (len(msg) - 4)
    assert str(msg.segment("MSH")(9)) == "ORU^R40^ORU_R40"
    assert str(msg["MSH.12"]) == "2.6"
    assert str(msg["MSH.10"]) == message_control_id(alert_key("ICU1-07", "a1"), 0)
    assert str(msg["MSH.15"]) == "AL"
    assert str(msg.segment("PV1")(3)(1)(3)) == "ICU1-07"
    obr = msg.segment("OBR")
    assert str(obr(3)(1)(1)) == "a1" and str(obr(4)(1)(1)) == "196616"
    obx = msg.segments("OBX")
    assert [str(o(4)) for o in obx] == [f"1.0.0.0.{i}" for i in range(1, len(obx) + 1)]
    # facet 1: the alarm type as an MDC event, priority and source kind in OBX-8
    assert str(obx[0](3)(1)(1)) == "199684" and str(obx[0](3)(1)(2)) == "MDC_EVT_ECG_ASYSTOLE"
    assert str(obx[0](8)) == "PH~SP"
    values = {str(o(3)(1)(1)): msg.unescape(str(o(5))) for o in obx}
    source = obx[1](5)(1)  # no measured value given: source measure + channel (CWE.9)
    assert str(obx[1](2)) == "CWE" and str(source(2)) == "MDC_ECG_HEART_RATE" and str(source(9)) == "II"
    assert values["68481"] == "start" and values["68482"] == "active"
    assert values["68484"] == "PH" and values["68485"] == "SP"
    assert str(msg.segment("MSH")(21)).startswith("IHE_PCD_ACM_001^IHE PCD")
    assert values["AF_SCORE"] == "0.91"
    assert values["AF_REASON_CODE"] == "evidence_supports"
    reasons = [msg.unescape(str(o(5))) for o in obx if str(o(3)(1)(1)) == "AF_REASON"]
    assert reasons == ["ABP shows pulses | ECG flat ^ lead II", "SQI 0.2 & falling"]  # escaped, round-trips


def test_no_patient_identifier_unless_the_site_maps_one():
    msg = reparse(build_oru_r40(alert()))
    assert str(msg.segment("PID")).rstrip("|") == "PID|1"
    assert alert_summary(msg)["patient_id"] is None
    site = Site(patient_ids=(("ICU1-07", "MRN123"),), patient_id_authority="HOSP")
    mapped = reparse(build_oru_r40(alert(), site=site))
    assert str(mapped["PID.3.R1.C1"]) == "MRN123" and str(mapped["PID.3.R1.C5"]) == "MR"
    other_bed = reparse(build_oru_r40(alert(bed="ICU1-08"), site=site))
    assert str(other_bed.segment("PID")).rstrip("|") == "PID|1"


def test_measured_value_goes_in_facet_2_with_mdc_code_and_unit():
    msg = reparse(build_oru_r40(alert(type="spo2_low", priority="medium"), measured={"spo2_pct": 81.0}))
    obx2 = msg.segments("OBX")[1]
    assert str(obx2(2)) == "NM"
    assert str(obx2(3)(1)(2)) == "MDC_PULS_OXIM_SAT_O2" and str(obx2(5)) == "81"
    assert str(obx2(6)(1)(2)) == "MDC_DIM_PERCENT"
    assert str(msg.segments("OBX")[0](3)(1)(2)) == "MDC_EVT_LO"
    assert str(msg.segments("OBX")[0](8)) == "L~PM~SP"


def test_every_alarm_type_has_a_code_and_unknown_types_still_go_out():
    assert set(ALARM_CODES) == {t.value for t in AlarmType}
    msg = reparse(build_oru_r40(alert(type="new_vendor_alarm", priority="high")))
    ident = msg.segments("OBX")[0](3)(1)
    assert str(ident(1)) == "196616" and str(ident(4)) == "new_vendor_alarm" and str(ident(6)) == "99AF"


def test_control_id_is_stable_per_attempt_and_distinct_across_attempts_and_alarms():
    assert message_control_id(alert_key("ICU1-07", "a1"), 0) == message_control_id(alert_key("ICU1-07", "a1"), 0)
    ids = {message_control_id(a, n) for a in ("a1", "a2", "a3") for n in range(4)}
    assert len(ids) == 12 and all(len(i) <= 20 for i in ids)
    a = alert()
    assert str(build_oru_r40(a, 1)) == str(build_oru_r40(a, 1))  # a re-send is byte-identical
    with pytest.raises(ValueError):
        message_control_id(alert_key("ICU1-07", "a1"), 100)


@pytest.mark.parametrize("code", ["AA", "AE", "AR", "CA", "CE", "CR"])
def test_ack_codes_parse_distinctly(code):
    msg = build_oru_r40(alert())
    r = parse_response(str(build_ack(msg, AckCode(code), text="why")))
    assert r.kind is ResponseKind.ACK and r.code is AckCode(code)
    assert r.acked_control_id == message_control_id(alert_key("ICU1-07", "a1"), 0) and r.text == "why"
    assert [r.code.accepted, r.code.error, r.code.rejected].count(True) == 1


def test_ora_r41_is_an_alert_acknowledgement():
    msg = build_oru_r40(alert())
    r = parse_response(ora_r41(msg, status="accepted"))
    assert r.kind is ResponseKind.ALERT_ACK and r.code is AckCode.AA and r.status == "accepted"
    assert r.acked_control_id == str(msg["MSH.10"])


@pytest.mark.parametrize("raw, why", [
    (b"", "MSH"),
    (b"hello world", "MSH"),
    (b"\xff\xfe\x00garbage", "UTF-8"),
    (b"MSH|^~\\&|AM||AF||20251126||ACK^R40^ACK|X1|P|2.6", "MSA"),
    (b"MSH|^~\\&|AM||AF||20251126||ACK^R40^ACK|X1|P|2.6\rMSA|OK|AF1.0", "table 0008"),
    (b"MSH|^~\\&|AM||AF||20251126||ACK^R40^ACK|X1|P|2.6\rMSA|AA", "MSA-2"),
    (b"MSH|^~\\&|AM||AF||20251126||ORU^R01^ORU_R01|X1|P|2.6\rMSA|AA|AF1.0", "expected ACK"),
    (b"MSH|^~\\&|AM||AF||20251126||ACK^R40^ACK||P|2.6\rMSA|AA|AF1.0", "MSH-10"),
])
def test_malformed_replies_are_refused_with_a_reason(raw, why):
    with pytest.raises(MalformedMessage, match=why):
        parse_response(raw)
