"""Adversarial event sequences for a ward, built from compact hypothesis-drawn operations.

A waveform op draws a shape, not samples, and numpy renders it, so a sequence can carry tens of
seconds of 250 Hz signal (enough for the real scorer to run) at the cost of a few draws.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from tests.helpers import T0

from .strategies import ALARM_TYPES, BEDS, json_values

SHAPES = ["ecg", "flat", "saturated", "nan", "noise", "spikes", "huge", "gappy", "step"]

ops = st.one_of(
    st.tuples(st.just("wave"), st.sampled_from(BEDS), st.floats(-3, 4), st.integers(1, 10),
              st.sampled_from([125.0, 250.0, 250.0, 500.0]), st.sampled_from(SHAPES),
              st.lists(st.sampled_from(["II", "V", "PLETH", "ABP"]), min_size=1, max_size=4, unique=True)),
    st.tuples(st.just("vitals"), st.sampled_from(BEDS), st.floats(-2, 3),
              st.dictionaries(st.sampled_from(["hr_bpm", "pulse_bpm", "spo2_pct", "rr_per_min", "abp_mean_mmhg"]),
                              st.none() | st.floats(-1e6, 1e6), max_size=5)),
    st.tuples(st.just("alarm"), st.sampled_from(BEDS), st.floats(-30, 5), st.integers(0, 6),
              st.sampled_from([*ALARM_TYPES, "made_up_type"]), st.sampled_from(["high", "medium", "low", "technical"]),
              st.sampled_from([None, "II", "PLETH", "ABP", "V"])),
    st.tuples(st.just("feedback"), st.sampled_from(BEDS), st.floats(0, 60), st.integers(0, 8), st.booleans()),
    st.tuples(st.just("garbage"), st.one_of(st.text(max_size=30), json_values.map(json.dumps))),
    st.tuples(st.just("jump"), st.sampled_from(BEDS), st.floats(-120, 600)),
)


def render(shape: str, seconds: int, fs_hz: float, seed: int) -> list[float | None]:
    n = int(seconds * fs_hz)
    t = np.arange(n) / fs_hz
    rng = np.random.default_rng(seed)
    if shape == "ecg":
        x = np.where((t % 0.8) < 0.04, 1.0, 0.05 * np.sin(2 * math.pi * t))
    elif shape == "flat":
        x = np.zeros(n)
    elif shape == "saturated":
        x = np.full(n, 5.0)
    elif shape == "nan":
        x = np.full(n, np.nan)
    elif shape == "noise":
        x = rng.normal(0, 1, n)
    elif shape == "spikes":
        x = np.where(rng.random(n) < 0.02, 1e4, 0.0)
    elif shape == "huge":
        x = rng.normal(0, 1e5, n)
    elif shape == "gappy":
        x = np.where(rng.random(n) < 0.5, np.nan, np.sin(2 * math.pi * 1.2 * t))
    else:
        x = np.where(t < seconds / 2, -3.0, 3.0)
    return [None if math.isnan(v) else round(float(v), 4) for v in x]


@dataclass
class Script:
    """Lines to feed, and what the driver must make of them."""

    lines: list[str] = field(default_factory=list)
    valid_alarms: set[tuple[str, str]] = field(default_factory=set)
    max_ts: float = T0


def build(op_list: list[tuple]) -> Script:
    """Turn ops into JSON lines; each bed has its own clock, so clocks skew between beds and streams."""
    from alarmfilter.events import Alarm, DecodeError, decode_event

    clock = dict.fromkeys(BEDS, T0)
    script = Script()
    for k, op in enumerate(op_list):
        kind = op[0]
        if kind == "garbage":
            raw = op[1]
        elif kind == "jump":
            clock[op[1]] = max(T0, clock[op[1]] + op[2])
            continue
        else:
            bed, dt = op[1], op[2]
            ts = max(T0 - 60, clock[bed] + dt)
            if kind == "wave":
                _, _, _, seconds, fs, shape, chans = op
                x = render(shape, seconds, fs, k)
                d = {"schema_version": 1, "kind": "waveform", "bed": bed, "ts": ts, "fs_hz": fs,
                     "signals": {c: x for c in chans}, "units": {c: ("mmHg" if c == "ABP" else "mV") for c in chans}}
                clock[bed] = max(clock[bed], ts + seconds)
            elif kind == "vitals":
                d = {"schema_version": 1, "kind": "vitals", "bed": bed, "ts": ts, "values": op[3]}
                clock[bed] = max(clock[bed], ts)
            elif kind == "alarm":
                _, _, _, n, atype, prio, chan = op
                d = {"schema_version": 1, "kind": "alarm", "bed": bed, "ts": ts, "alarm_id": f"a{n}",
                     "type": atype, "priority": prio, "channel": chan}
            else:
                d = {"schema_version": 1, "kind": "feedback", "bed": bed, "ts": ts, "alarm_id": f"a{op[3]}",
                     "actionable": op[4]}
            raw = json.dumps(d)
        ev = decode_event(raw)
        if isinstance(ev, Alarm):
            script.valid_alarms.add((ev.bed, ev.alarm_id))
        if not isinstance(ev, DecodeError):
            script.max_ts = max(script.max_ts, ev.ts)
        script.lines.append(raw)
    return script
