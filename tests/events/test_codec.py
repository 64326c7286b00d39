import json

import pytest

from alarmfilter.events import Alarm, DecodeError, Waveform, decode_event, encode
from alarmfilter.events.codec import MAX_MESSAGE_BYTES
from tests.helpers import T0, alarm, line, waveform


def test_round_trip_every_kind():
    wf = waveform("B1", T0)
    assert decode_event(line(wf)) == wf
    al = alarm("B1", T0 + 5)
    assert decode_event(encode(al)) == al


def test_unknown_fields_ignored_and_unknown_alarm_type_kept():
    obj = json.loads(line(alarm("B1", T0, type="pacer_failure")))
    obj["vendor_extra"] = {"x": 1}
    ev = decode_event(json.dumps(obj))
    assert isinstance(ev, Alarm) and ev.type == "pacer_failure"


@pytest.mark.parametrize(
    "raw, expect",
    [
        ("{not json", "malformed JSON"),
        ("[]", "must be a JSON object"),
        ('{"schema_version": 2, "kind": "alarm"}', "schema_version"),
        ('{"schema_version": 1, "kind": "teapot", "bed": "B1", "ts": 1764150000}', "kind"),
        ('{"schema_version": 1, "kind": "alarm", "bed": "B1", "ts": 1764150000, "alarm_id": "a", "type": "asystole"}', "priority"),
        ('{"schema_version": 1, "kind": "alarm", "bed": "B1", "ts": -3, "alarm_id": "a", "type": "asystole", "priority": "high"}', "ts"),
        ('{"schema_version": 1, "kind": "alarm", "bed": "B1", "ts": 1e12, "alarm_id": "a", "type": "asystole", "priority": "high"}', "ts"),
        ('{"schema_version": 1, "kind": "alarm", "bed": "B1", "ts": "soon", "alarm_id": "a", "type": "asystole", "priority": "high"}', "ts"),
        ('{"schema_version": 1, "kind": "vitals", "bed": "B1", "ts": 1764150000, "values": {"hr_bpm": NaN}}', "NaN"),
        ('{"schema_version": 1, "kind": "vitals", "bed": "B1", "ts": 1764150000, "values": {"hr_bpm": 1e999}}', "hr_bpm"),
        ('{"schema_version": 1, "kind": "waveform", "bed": "B1", "ts": 1764150000, "fs_hz": 250, "signals": {"II": [1, 2], "V": [1]}}', "same length"),
        ('{"schema_version": 1, "kind": "waveform", "bed": "B1", "ts": 1764150000, "fs_hz": 0, "signals": {"II": [1]}}', "fs_hz"),
        ('{"schema_version": 1, "kind": "waveform", "bed": "B1", "ts": 1764150000, "fs_hz": 1, "signals": {"II": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]}}', "longer than"),
        ('{"schema_version": 1, "kind": "feedback", "bed": "B1", "ts": 1764150000, "alarm_id": "a", "actionable": "yes"}', "actionable"),
        ('{"schema_version": 1, "kind": "alarm", "bed": "Mr Smith", "ts": 1764150000, "alarm_id": "a", "type": "asystole", "priority": "high"}', "bed"),
    ],
)
def test_invalid_messages_name_the_problem(raw, expect):
    err = decode_event(raw)
    assert isinstance(err, DecodeError)
    assert expect in err.reason


def test_oversized_message_refused_before_parsing():
    err = decode_event("x" * (MAX_MESSAGE_BYTES + 1))
    assert isinstance(err, DecodeError) and "exceeds" in err.reason


def test_missing_samples_are_null():
    ev = decode_event('{"schema_version": 1, "kind": "waveform", "bed": "B1", "ts": 1764150000, "fs_hz": 250, "signals": {"II": [1, null, 2]}}')
    assert isinstance(ev, Waveform) and ev.signals["II"][1] is None and ev.n_samples == 3


def test_dead_letter_keeps_bed_and_truncates_raw():
    raw = '{"schema_version": 1, "kind": "alarm", "bed": "B7", "ts": 1764150000' + " " * 10000 + "}"
    dl = decode_event(raw).to_dead_letter(raw)
    assert dl.bed == "B7" and len(dl.raw) < 5000


@pytest.mark.parametrize(
    "raw, expect",
    [
        (None, "null value (tombstone)"),
        (b'{"schema_version": 1, "bed": "B\xff1"}', "not UTF-8"),
        ("[" * 2000 + "]" * 2000, "nested deeper than"),
        ('{"a": ' * 2000 + "1" + "}" * 2000, "nested deeper than"),
        (b"[" * 100_000, "nested deeper than"),
        (42, "must be bytes or text"),
        ("1" * 5000, "malformed JSON"),
    ],
)
def test_no_value_raises_each_is_a_one_line_reason(raw, expect):
    err = decode_event(raw)
    assert isinstance(err, DecodeError) and expect in err.reason and "\n" not in err.reason
    dl = err.to_dead_letter(raw)
    assert json.loads(encode(dl))["error"] == err.reason


def test_brackets_inside_strings_are_not_nesting():
    obj = json.loads(line(alarm("B1", T0, alarm_id="[" * 100 + "{" * 20)))
    ev = decode_event(json.dumps(obj) + " ")
    assert isinstance(ev, Alarm) and ev.alarm_id.startswith("[[[")
    obj["x"] = [[[[1]]]]  # an unknown field nested a little: ignored, as any unknown field
    obj["y"] = float("nan")  # forces the reference path
    err = decode_event(json.dumps(obj))
    assert isinstance(err, DecodeError) and "NaN" in err.reason
