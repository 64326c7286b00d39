"""Fuzzing the HL7 response parser (ACK, ORA^R41): a `Response` or `MalformedMessage`, nothing else."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from alarmfilter.delivery.messages import AckCode, MalformedMessage, Response, parse_response

from .budget import count, fuzz_settings
from .test_codec_fuzz import mutants

field_text = st.text(alphabet=st.characters(blacklist_characters="|^~\\&\r\n", blacklist_categories=("Cs",)), max_size=12)
any_text = st.text(max_size=16)


def ack(code: str, acked: str, control: str, mtype: str = "ACK^R40^ACK", extra: str = "") -> str:
    return f"MSH|^~\\&|AM||ALARMFILTER||20261126||{mtype}|{control}|P|2.6\rMSA|{code}|{acked}|busy{extra}"


def parsed_or_refused(raw: str | bytes) -> Response | None:
    try:
        r = parse_response(raw)
    except MalformedMessage as exc:
        assert str(exc).strip()
        return None
    assert isinstance(r.code, AckCode) and r.message_type and r.control_id
    assert all(isinstance(x, str) for x in (r.acked_control_id, r.text, r.status, r.alarm_id))
    return r


@fuzz_settings(600)
@given(st.one_of(st.text(max_size=80), st.binary(max_size=80), st.text(max_size=60).map(lambda t: "MSH|^~\\&|" + t)))
def test_garbage_is_refused_cleanly(raw):
    count("hl7: garbage")
    parsed_or_refused(raw)


@fuzz_settings(500)
@given(st.sampled_from([c.value for c in AckCode]), field_text.filter(str.strip), field_text.filter(str.strip),
       st.sampled_from(["ACK^R40^ACK", "ACK", "ORA^R41^ORA_R41", "ORU^R41"]), st.sampled_from(["\r", "\n", "\r\n"]))
def test_well_formed_acks_are_read_as_sent(code, acked, control, mtype, newline):
    count("hl7: well-formed ACK/ORA")
    r = parsed_or_refused(ack(code, acked.strip(), control.strip(), mtype).replace("\r", newline))
    assert r is not None
    assert (r.code.value, r.acked_control_id, r.control_id) == (code, acked.strip(), control.strip())


@fuzz_settings(300)
@given(st.sampled_from([c.value for c in AckCode]), any_text, any_text, any_text, st.integers(0, 2**32 - 1))
def test_odd_fields_and_byte_mutants_never_escape_as_other_errors(code, acked, control, extra, seed):
    base = ack(code, acked, control, extra="\rOBR|1|" + extra + "|" + extra + "\rOBX|1|ST|x||" + extra)
    batch = [base, base.replace("ACK^R40^ACK", "ORA^R41^ORA_R41"), *mutants(base, random.Random(seed), 8)]
    count("hl7: odd fields and mutants", len(batch))
    for raw in batch:
        parsed_or_refused(raw)
