"""HL7 v2.6 messages of IHE PCD Alarm Communication Management, built and parsed with python-hl7.

Pure: no sockets, no clock. `build_oru_r40` turns a forwarded `Alert` into a Report Alert
[PCD-04] ORU^R40 message; `parse_response` reads what comes back (an ACK, or an ORA^R41
alert acknowledgement) into a `Response`; `build_ack` answers a received message.

Message layout (IHE PCD TF-2, PCD-04 Report Alert; ACM supplement rev 1.2-1.3 §3.Z.7):

- MSH: ORU^R40^ORU_R40, v2.6, accept ack AL / application ack NE, MSH-21 IHE_PCD_ACM_001.
- PID: empty unless the site maps a patient id to the bed (we never invent one).
- PV1: the bed as assigned location (PV1-3 = point of care ^^ bed).
- OBR: alert identity: OBR-2/OBR-3 = alarm id, OBR-4 = 196616^MDC_EVT_ALARM^MDC, OBR-7 = alarm time.
- OBX facets, all under sub-id 1.0.0.0.n: 1 alert type (MDC event code, text, OBX-8 =
  priority ~ source kind), 2 source (measured value with MDC code and unit when known, else
  the source measure and channel as CWE), 3 event phase `start`, 4 alarm state `active`, 5 inactivation state
  `enabled`, 6 priority (PH/PM/PL), 7 alert type (SP/ST); then the filter's own observations (score, reason code, reasons, model version,
  audit flag) under local codes (`99AF`, HL7's local-table convention), which an alarm
  manager that does not know them can ignore by code.

References
----------
IHE PCD Technical Framework Vol. 2, PCD-04 Report Alert and PCD-05 Report Alert Status;
IHE PCD Supplement Alarm Communication Management (ACM), Trial Implementation, 2011/2012:
alarm priority and source kind in OBX-8 of facet 1 (IHE Table B.8-4: PH/PM/PL/PN; SP/ST/SA).
MDC codes: ISO/IEEE 11073-10101 nomenclature; event partition 3 term codes as listed in
DICOM PS3.16 CID 3038 "Pattern Event" (MDC_EVT_ECG_ASYSTOLE 3:3076, MDC_EVT_APNEA 3:3072)
and in the Philips IntelliVue Data Export nomenclature table (3:3086 BRADY_EXTREME,
3:3122 TACHY_EXTREME, 3:3224 V_TACHY, 3:40 HI, 3:62 LO, 3:274 LEADS_OFF, 3:308
SENSOR_DISCONN, 3:336 XDUCR_DISCONN, 3:432 WAVE_ARTIF_ERR); context-free code =
partition * 65536 + term code. There is no standard (non-private) MDC code for ventricular
flutter/fibrillation, so it is sent as MDC_EVT_ALARM with our local code alongside.
Facet attribute codes 68480-68485 (MDC_ATTR_ALERT_SOURCE ... MDC_ATTR_ALERT_TYPE) and the
MSH-21 profile `IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO` as used in IHE PCD
reference and Connectathon test messages; PCD-05 ORA^R41 layout (MSA, PRT acknowledging user,
or OBR-3 alert id with a status) from HL7 v2 ORA_R41 and the same reference messages.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import hl7

from ..events.outputs import Alert

HL7_VERSION = "2.6"
LOCAL_CODING_SYSTEM = "99AF"  # HL7 v2: coding systems starting with 99 are local
SEPARATORS = "\r|~^&"
_ESCAPE_TEMPLATE = hl7.Message(separator="\r", separators=SEPARATORS, esc="\\")

MDC_EVT_ALARM = (196616, "MDC_EVT_ALARM")
MDC_ATTR_ALERT_SOURCE = (68480, "MDC_ATTR_ALERT_SOURCE")
MDC_ATTR_EVENT_PHASE = (68481, "MDC_ATTR_EVENT_PHASE")
MDC_ATTR_ALARM_STATE = (68482, "MDC_ATTR_ALARM_STATE")
MDC_ATTR_ALARM_INACTIVATION_STATE = (68483, "MDC_ATTR_ALARM_INACTIVATION_STATE")
MDC_ATTR_ALARM_PRIORITY = (68484, "MDC_ATTR_ALARM_PRIORITY")
MDC_ATTR_ALERT_TYPE = (68485, "MDC_ATTR_ALERT_TYPE")
#: MSH-21 message profile of PCD-04 (as in IHE PCD reference messages)
ACM_PROFILE = "IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO"


def mdc(partition: int, term: int) -> int:
    """Context-free MDC code of a (partition, term code) pair.

    >>> mdc(3, 3076)   # MDC_EVT_ECG_ASYSTOLE
    199684
    """
    return partition * 65536 + term


@dataclass(frozen=True, slots=True)
class Measure:
    """The physiological quantity an alarm is about: MDC code, reference id, MDC unit."""

    code: int
    ref: str
    unit_code: int
    unit_ref: str
    values_key: str  # key in wire-format vitals `values`


HR = Measure(147842, "MDC_ECG_HEART_RATE", 264864, "MDC_DIM_BEAT_PER_MIN", "hr_bpm")
SPO2 = Measure(150456, "MDC_PULS_OXIM_SAT_O2", 262688, "MDC_DIM_PERCENT", "spo2_pct")
ABP_SYS = Measure(150033, "MDC_PRESS_BLD_ART_SYS", 266016, "MDC_DIM_MMHG", "abp_sys_mmhg")
ABP_MEAN = Measure(150035, "MDC_PRESS_BLD_ART_MEAN", 266016, "MDC_DIM_MMHG", "abp_mean_mmhg")
RR = Measure(151562, "MDC_RESP_RATE", 264928, "MDC_DIM_RESP_PER_MIN", "rr_per_min")


@dataclass(frozen=True, slots=True)
class AlarmCode:
    """How one alarm type of ours is reported: MDC event, source measure, physiological or technical."""

    event_code: int
    event_ref: str
    measure: Measure | None
    technical: bool = False


#: alarm type (wire format) -> MDC event. Threshold alarms use MDC_EVT_HI/LO + their source.
ALARM_CODES: dict[str, AlarmCode] = {
    "asystole": AlarmCode(mdc(3, 3076), "MDC_EVT_ECG_ASYSTOLE", HR),
    "extreme_bradycardia": AlarmCode(mdc(3, 3086), "MDC_EVT_ECG_BRADY_EXTREME", HR),
    "extreme_tachycardia": AlarmCode(mdc(3, 3122), "MDC_EVT_ECG_TACHY_EXTREME", HR),
    "ventricular_tachycardia": AlarmCode(mdc(3, 3224), "MDC_EVT_ECG_V_TACHY", HR),
    "ventricular_flutter_fib": AlarmCode(*MDC_EVT_ALARM, HR),
    "spo2_low": AlarmCode(mdc(3, 62), "MDC_EVT_LO", SPO2),
    "hr_high": AlarmCode(mdc(3, 40), "MDC_EVT_HI", HR),
    "hr_low": AlarmCode(mdc(3, 62), "MDC_EVT_LO", HR),
    "abp_high": AlarmCode(mdc(3, 40), "MDC_EVT_HI", ABP_SYS),
    "abp_low": AlarmCode(mdc(3, 62), "MDC_EVT_LO", ABP_MEAN),
    "rr_high": AlarmCode(mdc(3, 40), "MDC_EVT_HI", RR),
    "rr_low": AlarmCode(mdc(3, 62), "MDC_EVT_LO", RR),
    "apnea": AlarmCode(mdc(3, 3072), "MDC_EVT_APNEA", RR),
    "leads_off": AlarmCode(mdc(3, 274), "MDC_EVT_LEADS_OFF", None, technical=True),
    "spo2_probe_off": AlarmCode(mdc(3, 308), "MDC_EVT_SENSOR_DISCONN", None, technical=True),
    "abp_line_fault": AlarmCode(mdc(3, 336), "MDC_EVT_XDUCR_DISCONN", None, technical=True),
    "signal_artifact": AlarmCode(mdc(3, 432), "MDC_EVT_WAVE_ARTIF_ERR", None, technical=True),
}

#: IHE Table B.8-4 alarm priority, carried in OBX-8 of facet 1.
PRIORITY_FLAGS = {"high": "PH", "medium": "PM", "low": "PL", "technical": "PL"}


class AckCode(str, Enum):
    """MSA-1 (HL7 table 0008): original mode AA/AE/AR, enhanced mode commit CA/CE/CR."""

    AA = "AA"
    AE = "AE"
    AR = "AR"
    CA = "CA"
    CE = "CE"
    CR = "CR"

    @property
    def accepted(self) -> bool:
        return self in (AckCode.AA, AckCode.CA)

    @property
    def error(self) -> bool:
        """The receiver failed to process it: worth re-sending later."""
        return self in (AckCode.AE, AckCode.CE)

    @property
    def rejected(self) -> bool:
        """The receiver refuses this message: re-sending the same bytes will not help."""
        return self in (AckCode.AR, AckCode.CR)


class ResponseKind(str, Enum):
    ACK = "ack"  # accept/commit acknowledgement of one of our messages
    ALERT_ACK = "alert_ack"  # ORA^R41 (or ORU^R41 status): a clinician acknowledged the alert


class MalformedMessage(ValueError):
    """Bytes that are not an HL7 message we can act on; the reason is in the text."""


@dataclass(frozen=True, slots=True)
class Response:
    kind: ResponseKind
    code: AckCode
    acked_control_id: str  # MSA-2: the control id of our ORU^R40
    control_id: str  # MSH-10 of the response itself
    message_type: str
    text: str = ""  # MSA-3 / ERR text, for the audit
    status: str = ""  # alert status (OBX-5 or PRT-3), when the alarm manager reports one
    alarm_id: str = ""  # the alert an ORA^R41 names in OBR-3/OBR-2 (our alarm id), if it does
    bed: str = ""  # and the bed it names in PV1-3, if it does (alarm ids repeat across beds)


@dataclass(frozen=True, slots=True)
class Site:
    """What a site configures about its HL7 peers; never a patient identifier unless mapped in."""

    sending_application: str = "ALARMFILTER"
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    point_of_care: str = ""
    patient_ids: tuple[tuple[str, str], ...] = ()  # (bed, patient id) pairs the site maps in
    patient_id_authority: str = ""

    def patient_id(self, bed: str) -> str | None:
        return dict(self.patient_ids).get(bed)


def alert_key(bed: str, alarm_id: str) -> str:
    """One alert's identity in delivery (queue, escalation, control ids): monitors number alarms per
    device, so an alarm id alone may repeat across beds. Bed ids never contain "/". (A hand-built
    alert without a bed is known by its id alone.)

    >>> alert_key("ICU1-07", "b1c2-77"), alert_key("", "b1c2-77")
    ('ICU1-07/b1c2-77', 'b1c2-77')
    """
    return f"{bed}/{alarm_id}" if bed else alarm_id


def message_control_id(key: str, attempt: int) -> str:
    """MSH-10 for one alert's (`alert_key`) `attempt`-th destination: the same on every re-send, at
    most 20 chars.

    A re-send after a lost ACK carries the same id, so the receiver can drop the duplicate;
    an escalation to the next destination is a new message with the next attempt number.

    >>> message_control_id("b1c2-77", 0)
    'AFaaf18ee8d5947782.0'
    >>> message_control_id("b1c2-77", 0) == message_control_id("b1c2-77", 0)
    True
    >>> len(message_control_id("x" * 200, 12)) <= 20
    True
    """
    if attempt < 0 or attempt > 99:
        raise ValueError(f"attempt must be 0..99, got {attempt}")
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]
    return f"AF{digest}.{attempt}"[:20]


def hl7_ts(ts: float) -> str:
    """HL7 DTM in UTC, to the millisecond.

    >>> hl7_ts(1764150300.25)
    '20251126094500.250+0000'
    """
    dt = datetime.fromtimestamp(ts, tz=UTC)
    return dt.strftime("%Y%m%d%H%M%S.") + f"{dt.microsecond // 1000:03d}+0000"


def escape(text: str) -> str:
    r"""HL7-escape free text (separators, the escape char, CR) with python-hl7.

    >>> escape("a|b^c")
    'a\\F\\b\\S\\c'
    """
    return str(hl7.util.escape(_ESCAPE_TEMPLATE, text)) if text else ""


def _cwe(code: int | str, text: str, system: str = "MDC", alt: tuple[str, str, str] | None = None) -> str:
    parts = [str(code), text, system]
    if alt:
        parts += list(alt)
    return "^".join(escape(p) for p in parts)


def _seg(*fields: str) -> str:
    out = list(fields)
    while out and out[-1] == "":
        out.pop()
    return "|".join(out)


def _fmt_number(x: float) -> str:
    """
    >>> _fmt_number(35.0), _fmt_number(0.912345)
    ('35', '0.9123')
    """
    return "" if math.isnan(x) else f"{x:.4f}".rstrip("0").rstrip(".")


def build_oru_r40(alert: Alert, attempt: int = 0, site: Site = Site(),
                  measured: dict[str, float] | None = None) -> hl7.Message:
    """The ORU^R40 Report Alert for a forwarded alert (see module docstring for the layout).

    `measured` is the bed's latest numerics (wire-format `values` keys) if the driver has
    them; the alarm's own measure goes into facet 2 with its MDC code and unit.
    """
    code = ALARM_CODES.get(alert.type)
    ctrl = message_control_id(alert_key(alert.bed, alert.alarm_id), attempt)
    msh = "MSH|^~\\&|" + _seg(
        escape(site.sending_application), escape(site.sending_facility),
        escape(site.receiving_application), escape(site.receiving_facility),
        hl7_ts(alert.decided_ts), "", "ORU^R40^ORU_R40", ctrl, "P", HL7_VERSION,
        "", "", "AL", "NE", "", "UNICODE UTF-8", "", "", ACM_PROFILE,
    )
    pid_id = site.patient_id(alert.bed)
    pid3 = f"{escape(pid_id)}^^^{escape(site.patient_id_authority)}^MR" if pid_id else ""
    segments = [
        msh,
        _seg("PID", "1", "", pid3),
        _seg("PV1", "1", "I", f"{escape(site.point_of_care)}^^{escape(alert.bed)}"),
        _seg("OBR", "1", f"{escape(alert.alarm_id)}^{escape(site.sending_application)}",
             f"{escape(alert.alarm_id)}^{escape(site.sending_application)}",
             _cwe(*MDC_EVT_ALARM), "", "", hl7_ts(alert.ts)),
    ]
    obx: list[tuple[str, str, str, str, str]] = []  # value type, OBX-3, OBX-5, OBX-6, OBX-8
    local = (alert.type, alert.type.replace("_", " "), LOCAL_CODING_SYSTEM)
    if code is None:  # unknown type: forwarded fail-open, so it must still go out
        event = _cwe(*MDC_EVT_ALARM, alt=local)
        technical = alert.priority == "technical"
    else:
        event = _cwe(code.event_code, code.event_ref, alt=local)
        technical = code.technical
    priority_flag = PRIORITY_FLAGS.get(alert.priority, "PH")  # unknown priority: treat as high (fail-safe)
    kind_flag = "ST" if technical else "SP"
    limit = {"MDC_EVT_HI": "H~", "MDC_EVT_LO": "L~"}.get(code.event_ref if code else "", "")
    flags = f"{limit}{priority_flag}~{kind_flag}"
    obx.append(("ST", event, escape(alert.type.replace("_", " ")), "", flags))
    measure = code.measure if code else None
    value = (measured or {}).get(measure.values_key) if measure else None
    if measure is not None and value is not None:
        obx.append(("NM", _cwe(measure.code, measure.ref), _fmt_number(float(value)),
                    _cwe(measure.unit_code, measure.unit_ref), ""))
    else:  # the source as CWE: its MDC measure when we know it, the channel as original text (CWE.9)
        source = [str(measure.code), measure.ref, "MDC"] if measure else ["", "", ""]
        value_cwe = "^".join(escape(p) for p in [*source, "", "", "", "", "", alert.channel or ""]).rstrip("^")
        obx.append(("CWE", _cwe(*MDC_ATTR_ALERT_SOURCE), value_cwe, "", ""))
    obx.append(("ST", _cwe(*MDC_ATTR_EVENT_PHASE), "start", "", ""))
    obx.append(("ST", _cwe(*MDC_ATTR_ALARM_STATE), "active", "", ""))
    obx.append(("ST", _cwe(*MDC_ATTR_ALARM_INACTIVATION_STATE), "enabled", "", ""))
    obx.append(("ST", _cwe(*MDC_ATTR_ALARM_PRIORITY), priority_flag, "", ""))
    obx.append(("ST", _cwe(*MDC_ATTR_ALERT_TYPE), kind_flag, "", ""))
    if alert.score is not None:
        obx.append(("NM", _cwe("AF_SCORE", "p(actionable) from alarmfilter", LOCAL_CODING_SYSTEM),
                    _fmt_number(alert.score), "", ""))
    obx.append(("ST", _cwe("AF_REASON_CODE", "alarmfilter reason code", LOCAL_CODING_SYSTEM),
                escape(str(alert.reason_code)), "", ""))
    for reason in alert.reasons:
        obx.append(("ST", _cwe("AF_REASON", "alarmfilter reason", LOCAL_CODING_SYSTEM), escape(reason), "", ""))
    obx.append(("ST", _cwe("AF_MODEL_VERSION", "alarmfilter model version", LOCAL_CODING_SYSTEM),
                escape(alert.model_version), "", ""))
    obx.append(("ST", _cwe("AF_AUDIT_SAMPLE", "forwarded as audit sample", LOCAL_CODING_SYSTEM),
                "Y" if alert.audit_sample else "N", "", ""))
    for i, (vt, ident, val, units, abn) in enumerate(obx, start=1):
        segments.append(_seg("OBX", str(i), vt, ident, f"1.0.0.0.{i}", val, units, "", abn,
                             "", "", "F", "", "", hl7_ts(alert.ts)))
    return hl7.parse("\r".join(segments))


def _field(msg: hl7.Message, key: str) -> str:
    try:
        return str(msg[key]).strip()
    except (KeyError, IndexError):
        return ""


def message_type(msg: hl7.Message) -> str:
    """MSH-9 as text, e.g. ``ORU^R40^ORU_R40``."""
    try:
        return str(msg.segment("MSH")(9)).strip()
    except (KeyError, IndexError):
        return ""


def parse_message(raw: str | bytes) -> hl7.Message:
    """Parse bytes into an HL7 message that at least has an MSH with a type and a control id."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise MalformedMessage(f"not UTF-8: {exc}") from None
    text = text.strip().replace("\r\n", "\r").replace("\n", "\r")
    if not text.startswith("MSH") or len(text) < 8:
        raise MalformedMessage("does not start with an MSH segment")
    try:
        msg = hl7.parse(text)
    except Exception as exc:  # noqa: BLE001 -- python-hl7 raises several unrelated types on garbage
        raise MalformedMessage(f"unparseable HL7: {exc}") from None
    if not message_type(msg):
        raise MalformedMessage("MSH-9 message type is empty")
    if not _field(msg, "MSH.10"):
        raise MalformedMessage("MSH-10 message control id is empty")
    return msg


def parse_response(raw: str | bytes) -> Response:
    """Read an ACK or an ORA^R41 alert acknowledgement; anything else is `MalformedMessage`.

    An ACK must have MSA-1 (table 0008) and MSA-2. An ORA^R41 (PCD-05) may instead name the
    alert by OBR-3 (our alarm id), as alarm managers that report status without MSA do.

    >>> r = parse_response("MSH|^~\\\\&|AM||ALARMFILTER||20251126||ACK^R40^ACK|A1|P|2.6\\rMSA|AE|AFx.0|busy")
    >>> r.kind.value, r.code.value, r.acked_control_id, r.text
    ('ack', 'AE', 'AFx.0', 'busy')
    """
    msg = parse_message(raw)
    mtype = message_type(msg)
    head = mtype.split("^")
    if head[0] == "ACK":
        kind = ResponseKind.ACK
    elif head[0] in ("ORA", "ORU") and len(head) > 1 and head[1] == "R41":
        kind = ResponseKind.ALERT_ACK
    else:
        raise MalformedMessage(f"expected ACK or ORA^R41, got {mtype}")
    has_msa = _has(msg, "MSA")
    alarm_id = ""
    if kind is ResponseKind.ALERT_ACK and _has(msg, "OBR"):  # PCD-05 names the alert in OBR-3 (or OBR-2)
        alarm_id = msg.unescape(_field(msg, "OBR.3.R1.C1") or _field(msg, "OBR.2.R1.C1"))
    if not has_msa and not (kind is ResponseKind.ALERT_ACK and alarm_id):
        raise MalformedMessage(f"{mtype} without an MSA segment")
    code, acked = AckCode.AA, ""
    if has_msa:
        code_text = _field(msg, "MSA.1")
        try:
            code = AckCode(code_text)
        except ValueError:
            raise MalformedMessage(f"MSA-1 acknowledgement code {code_text!r} is not one of HL7 table 0008") from None
        acked = _field(msg, "MSA.2")
        if not acked and not alarm_id:
            raise MalformedMessage("MSA-2 (control id of the acknowledged message) is empty")
    text = _field(msg, "MSA.3") if has_msa else ""
    text = text or _field(msg, "ERR.8") or _field(msg, "ERR.3")
    status = ""
    if kind is ResponseKind.ALERT_ACK:  # an alert status, if the alarm manager gives one
        status = (_field(msg, "OBX.5") if _has(msg, "OBX") else "") or (_field(msg, "PRT.3") if _has(msg, "PRT") else "")
        status = status.split("^")[0].strip().lower()
    bed = msg.unescape(_field(msg, "PV1.3.R1.C3")) if kind is ResponseKind.ALERT_ACK and _has(msg, "PV1") else ""
    return Response(kind, code, acked, _field(msg, "MSH.10"), mtype, text, status, alarm_id, bed)


def _has(msg: hl7.Message, segment_id: str) -> bool:
    return any(str(seg[0]) == segment_id for seg in msg)


def build_ack(received: hl7.Message, code: AckCode = AckCode.AA, text: str = "",
              control_id: str | None = None, application: str = "ALARMFILTER") -> hl7.Message:
    """An original-mode ACK for `received` (python-hl7 `create_ack`, plus MSA-3 text)."""
    ctrl = control_id or f"ACK{_field(received, 'MSH.10')}"[:20]
    ack = received.create_ack(ack_code=code.value, message_id=ctrl, application=application)
    if text:
        ack.segment("MSA").assign_field(escape(text), 3)
    return hl7.parse(str(ack))


def alert_summary(msg: hl7.Message) -> dict[str, Any]:
    """The fields a site checks in a Report Alert: what the sink prints, what tests compare."""
    out: dict[str, Any] = {
        "message_type": message_type(msg),
        "control_id": _field(msg, "MSH.10"),
        "version": _field(msg, "MSH.12"),
    }
    try:
        obr = msg.segment("OBR")
    except KeyError:
        return out
    out["alarm_id"] = msg.unescape(str(obr(3)(1)(1))) if len(obr) > 3 else ""
    out["bed"] = msg.unescape(_field(msg, "PV1.3.R1.C3"))
    out["patient_id"] = msg.unescape(_field(msg, "PID.3.R1.C1")) or None
    observations = []
    try:
        obxs = msg.segments("OBX")
    except KeyError:
        obxs = []
    for seg in obxs:
        ident = seg(3)
        observations.append({
            "sub_id": str(seg(4)) if len(seg) > 4 else "",
            "code": str(ident(1)(1)),
            "name": str(ident(1)(2)) if len(ident(1)) > 1 else "",
            "system": str(ident(1)(3)) if len(ident(1)) > 2 else "",
            "value": msg.unescape(str(seg(5))) if len(seg) > 5 else "",
            "units": str(seg(6)(1)(2)) if len(seg) > 6 and len(seg(6)(1)) > 1 else "",
            "flags": str(seg(8)).split("~") if len(seg) > 8 and str(seg(8)) else [],
        })
    out["observations"] = observations
    return out


