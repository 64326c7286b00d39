"""The optimised hot paths (codec fast path, ring-buffer writes) behave exactly like the reference."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from alarmfilter.events import DecodeError, decode_event
from alarmfilter.events.codec import _EVENT, _fast_decode

BASE = {"schema_version": 1, "kind": "alarm", "bed": "B1", "ts": 1764150000, "alarm_id": "a",
        "type": "asystole", "priority": "high"}


def _reference(raw: str):  # the pre-fast-path decoder: json.loads, then validate_python
    obj = json.loads(raw, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    return _EVENT.validate_python(obj)


@pytest.mark.parametrize("extra", ['"x": NaN', '"x": Infinity', '"x": -Infinity', '"x": [NaN]'])
def test_non_json_constants_anywhere_are_still_refused(extra: str) -> None:
    raw = json.dumps(BASE)[:-1] + ", " + extra + "}"
    assert _fast_decode(raw) is None and _fast_decode(raw.encode()) is None
    err = decode_event(raw)
    assert isinstance(err, DecodeError) and "not a valid JSON number" in err.reason


@pytest.mark.parametrize("change", [
    {}, {"schema_version": 1.0}, {"schema_version": True}, {"schema_version": "1"}, {"ts": "1764150000"},
    {"ts": 1e400}, {"alarm_id": "\ud800"}, {"alarm_id": "é"}, {"alarm_id": 7}, {"bed": "NaN-1"},
    {"priority": "urgent"}, {"channel": None}, {"kind": "vitals", "values": {"hr_bpm": "80"}},
    {"kind": "vitals", "values": {"hr_bpm": True}}, {"kind": "feedback", "actionable": 1},
    {"kind": "waveform", "fs_hz": "250", "signals": {"II": [1, "2", None, True]}},
])
def test_fast_path_accepts_exactly_what_the_reference_accepts(change: dict) -> None:
    raw = json.dumps({**BASE, **change})
    try:
        ref = _reference(raw)
    except (ValueError, ValidationError):
        ref = None
    for r in (raw, raw.encode("utf-8", "surrogatepass")):
        got = decode_event(r)
        if ref is None:
            assert isinstance(got, DecodeError)
        else:
            assert got == ref


def test_ring_buffer_keeps_float32_samples_and_nan_gaps() -> None:
    from alarmfilter.engine.buffers import WaveformBuffer

    buf = WaveformBuffer(capacity_seconds=1.0)
    x = [0.1 * i if i % 7 else None for i in range(300)]
    assert buf.append(1000.0, 100.0, {"II": x}, {"II": "mV"}) is None
    w = buf.window(end_ts=1003.0, seconds=1.0, alarm_ts=1003.0)
    want = np.array([np.nan if v is None else v for v in x[-100:]], dtype=np.float32).astype(np.float64)
    np.testing.assert_array_equal(w.signals["II"], want)
