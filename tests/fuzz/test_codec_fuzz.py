"""Fuzzing the wire codec: no message crashes `decode_event`; every invalid one is a dead letter with a reason."""

from __future__ import annotations

import json
import random

from hypothesis import given
from hypothesis import strategies as st

from alarmfilter.events import DeadLetter, DecodeError, decode_event, encode
from alarmfilter.events.outputs import MAX_RAW_CHARS
from alarmfilter.events.wire import MAX_TS, MIN_TS
from alarmfilter.replay import Ward

from .budget import count, fuzz_settings
from .strategies import broken_event_dicts, dumps, raw_messages, valid_event_dicts


def check_rejection(raw: str | bytes, result: DecodeError) -> None:
    """A refused message: a one-line reason, and the driver turns it into exactly one dead letter."""
    assert isinstance(result.reason, str) and result.reason.strip()
    assert "\n" not in result.reason and len(result.reason) < 2000, result.reason
    out = Ward().feed_raw(raw)
    assert len(out) == 1 and isinstance(out[0], DeadLetter)
    assert out[0].error == result.reason
    assert len(out[0].raw) <= MAX_RAW_CHARS + 40  # kept for replay, but bounded
    json.loads(encode(out[0]))  # the dead letter itself is valid JSON for the deadletter topic


def check_acceptance(event: object) -> None:
    """An accepted event is within the wire format's bounds and survives a round trip unchanged."""
    assert MIN_TS <= event.ts < MAX_TS  # type: ignore[attr-defined]
    assert decode_event(encode(event)) == event  # type: ignore[arg-type]


@fuzz_settings(1000)
@given(raw_messages())
def test_any_message_is_an_event_or_a_reasoned_dead_letter(raw):
    count("decode_event: raw messages")
    result = decode_event(raw)
    if isinstance(result, DecodeError):
        check_rejection(raw, result)
    else:
        check_acceptance(result)


@fuzz_settings(400)
@given(valid_event_dicts())
def test_every_valid_event_is_accepted_as_sent(d):
    count("decode_event: valid events")
    result = decode_event(dumps(d))
    assert not isinstance(result, DecodeError), (result.reason, d)
    assert (result.kind, result.bed, result.ts) == (d["kind"], d["bed"], d["ts"])
    check_acceptance(result)


@fuzz_settings(700)
@given(broken_event_dicts(), st.booleans())
def test_one_broken_field_is_refused_or_harmless(d, as_bytes):
    count("decode_event: one broken field")
    raw = dumps(d)
    raw_in = raw.encode() if as_bytes else raw
    result = decode_event(raw_in)
    if isinstance(result, DecodeError):
        check_rejection(raw_in, result)
        if isinstance(d.get("bed"), str) and result.bed is not None:
            assert result.bed == d["bed"]  # the dead letter names the bed it came from
    else:
        check_acceptance(result)


@fuzz_settings(150)
@given(valid_event_dicts(), st.sampled_from(["NaN", "Infinity", "-Infinity"]))
def test_nan_and_infinity_tokens_are_refused_anywhere(d, token):
    count("decode_event: NaN/Infinity tokens")
    raw = dumps(d)[:-1] + f', "zz_extra": {token}}}'
    result = decode_event(raw)
    assert isinstance(result, DecodeError) and "not a valid JSON number" in result.reason


def mutants(text: str, rng: random.Random, n: int) -> list[bytes]:
    """Byte-level mutations of a message (flip, delete, insert, duplicate a span, cut), as a
    mutation fuzzer makes them: cheap, and they reach corners no grammar would."""
    data = text.encode()
    out = []
    for _ in range(n):
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b) + 1)
            op = rng.randrange(5)
            if op == 0 and i < len(b):
                b[i] ^= 1 << rng.randrange(8)
            elif op == 1 and i < len(b):
                del b[i : i + rng.randint(1, 8)]
            elif op == 2:
                b[i:i] = rng.choice([b'"', b"{", b"}", b"[", b",", b":", b"\\", b"\xff", b"0", b"-", b"e9", b"null"])
            elif op == 3:
                j = rng.randrange(len(b) + 1)
                b[i:i] = b[min(i, j) : max(i, j)][:64]
            else:
                del b[i:]
        out.append(bytes(b))
    return out


@fuzz_settings(250)
@given(valid_event_dicts(), st.integers(0, 2**32 - 1))
def test_mutated_messages_never_crash_and_are_dead_lettered(d, seed):
    batch = mutants(dumps(d), random.Random(seed), 20)
    count("decode_event: byte mutants", len(batch))
    for raw in batch:
        result = decode_event(raw)
        if isinstance(result, DecodeError):
            check_rejection(raw, result)
        else:
            check_acceptance(result)
