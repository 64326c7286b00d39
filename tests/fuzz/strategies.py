"""Hypothesis strategies for wire-format messages: valid events, near-misses and plain garbage."""

from __future__ import annotations

import json
import math

from hypothesis import strategies as st

from alarmfilter.events.types import AlarmType

ALARM_TYPES = [t.value for t in AlarmType]
CHANNELS = ["II", "V", "aVR", "PLETH", "ABP", "III", "MCL", "RESP"]
BEDS = ["B1", "B2", "ICU1-07"]

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=10), kids, max_size=5),
    max_leaves=20,
)

#: values that break naive code: wrong types, NaN/inf tokens, huge numbers, empty and odd strings
nasty = st.sampled_from([
    None, True, False, 0, -1, 1e308, -1e308, 2**64, "", " ", "1", "NaN", "\x00", "é" * 70, "a" * 200,
    [], {}, [None], {"a": 1}, 1.5, "1764150000",
])


def wire_event(kind: str, bed: str, ts: float, i: int, **extra: object) -> dict[str, object]:
    """One valid event as a JSON-ready dict (`i` makes ids unique)."""
    d: dict[str, object] = {"schema_version": 1, "kind": kind, "bed": bed, "ts": ts}
    if kind == "alarm":
        d |= {"alarm_id": f"a{i}", "type": "asystole", "priority": "high"}
    elif kind == "feedback":
        d |= {"alarm_id": f"a{i}", "actionable": True}
    elif kind == "vitals":
        d |= {"values": {"hr_bpm": 80.0, "spo2_pct": 97.0}}
    else:
        d |= {"fs_hz": 4.0, "signals": {"II": [0.1, 0.2, None, 0.3]}, "units": {"II": "mV"}}
    return d | extra


@st.composite
def valid_event_dicts(draw: st.DrawFn) -> dict[str, object]:
    """Events the codec must accept, drawn across the whole valid range of every field."""
    kind = draw(st.sampled_from(["alarm", "feedback", "vitals", "waveform"]))
    bed = draw(st.from_regex(r"[A-Za-z0-9_.:\-]{1,64}", fullmatch=True))
    ts = draw(st.floats(946_684_800.0, 4_102_444_799.0))
    d = wire_event(kind, bed, ts, 0)
    if kind == "alarm":
        d |= {"alarm_id": draw(st.text(min_size=1, max_size=128)),
              "type": draw(st.sampled_from(ALARM_TYPES) | st.text(min_size=1, max_size=64)),
              "priority": draw(st.sampled_from(["high", "medium", "low", "technical"]))}
        if draw(st.booleans()):
            d["channel"] = draw(st.sampled_from(CHANNELS))
    elif kind == "feedback":
        d |= {"alarm_id": draw(st.text(min_size=1, max_size=128)), "actionable": draw(st.booleans())}
    elif kind == "vitals":
        d["values"] = draw(st.dictionaries(st.text(min_size=1, max_size=64),
                                           st.none() | st.floats(-1e6, 1e6), max_size=10))
    else:
        fs = draw(st.sampled_from([2.0, 4.0, 125.0, 250.0]))
        n = draw(st.integers(1, 12))
        names = draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=4, unique=True))
        d["fs_hz"] = fs
        d["signals"] = {c: draw(st.lists(st.none() | st.floats(-1e6, 1e6), min_size=n, max_size=n)) for c in names}
        d["units"] = {c: "mV" for c in names}
    if draw(st.booleans()):
        d[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in d))] = draw(json_values)  # ignored
    return d


@st.composite
def broken_event_dicts(draw: st.DrawFn) -> dict[str, object]:
    """A valid event with one field replaced, removed or made nasty: mostly invalid, sometimes not."""
    d = dict(draw(valid_event_dicts()))
    key = draw(st.sampled_from(sorted(d)))
    how = draw(st.sampled_from(["drop", "nasty", "json", "ts"]))
    if how == "drop":
        del d[key]
    elif how == "nasty":
        d[key] = draw(nasty)
    elif how == "json":
        d[key] = draw(json_values)
    else:
        d["ts"] = draw(st.sampled_from([0, -1.0, 946_684_799.9, 4_102_444_800.0, 1e300, "now"]))
    return d


def dumps(d: object) -> str:
    return json.dumps(d, allow_nan=True)


@st.composite
def raw_messages(draw: st.DrawFn) -> str | bytes:
    """Anything a producer could put on a topic: garbage bytes, truncated or spliced JSON, NaN tokens."""
    how = draw(st.sampled_from(["text", "bytes", "json", "broken", "truncated", "nan", "valid"]))
    if how == "text":
        return draw(st.text(max_size=60))
    if how == "bytes":
        return draw(st.binary(max_size=60))
    if how == "json":
        return dumps(draw(json_values))
    if how == "valid":
        return dumps(draw(valid_event_dicts()))
    text = dumps(draw(broken_event_dicts()))
    if how == "truncated":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    if how == "nan":
        token = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999"]))
        return text.replace("1764", token, 1) if "1764" in text else text[:-1] + f', "x": {token}}}'
    return text


def is_finite_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
