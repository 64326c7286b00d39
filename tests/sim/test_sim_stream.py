"""The stream itself: valid wire format, event-time order, seeded, no ground truth inside, waveforms where alarms are."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest

from alarmfilter.events import DecodeError, decode_event
from alarmfilter.sim import SimConfig, SimRun, simulate
from alarmfilter.sim.config import Fault
from alarmfilter.sim.realdata import RealData
from alarmfilter.sim.ward import encode_event


def _lines(run: SimRun) -> list[str]:
    return [encode_event(e) for e in run.events()]


def test_same_seed_same_bytes_other_seed_other_stream() -> None:
    cfg = SimConfig(beds=3, hours=0.25, seed=42, use_real_data=False)
    a, b = _lines(simulate(cfg)), _lines(simulate(cfg))
    assert a == b
    c = _lines(simulate(cfg.model_copy(update={"seed": 43})))
    assert c != a


def test_a_bed_does_not_depend_on_how_many_beds_there_are() -> None:
    cfg = SimConfig(beds=2, hours=0.25, seed=7, use_real_data=False)
    two = [ln for ln in _lines(simulate(cfg)) if '"ICU1-02"' in ln]
    five = [ln for ln in _lines(simulate(cfg.model_copy(update={"beds": 5}))) if '"ICU1-02"' in ln]
    assert two == five and two


def test_every_line_is_a_valid_event_in_event_time_order(small_synthetic: SimRun) -> None:
    last = 0.0
    kinds: dict[str, int] = defaultdict(int)
    for line in _lines(small_synthetic):
        ev = decode_event(line)
        assert not isinstance(ev, DecodeError), ev
        assert ev.ts >= last
        last = ev.ts
        kinds[ev.kind] += 1
    assert kinds["vitals"] == 6 * 1800 and kinds["waveform"] > 0 and kinds["alarm"] == len(small_synthetic.truth)


def test_ground_truth_stays_out_of_the_stream(small_synthetic: SimRun) -> None:
    ids = set()
    for line in _lines(small_synthetic):
        obj = json.loads(line)
        assert not {"actionable", "cause", "source", "label"} & set(obj), obj.get("kind")
        if obj["kind"] == "alarm":
            ids.add(obj["alarm_id"])
    assert ids == set(small_synthetic.truth)


def test_waveform_covers_the_minute_before_every_alarm(small_synthetic: SimRun) -> None:
    chunks: dict[str, set[int]] = defaultdict(set)
    for e in small_synthetic.events():
        if e.kind == "waveform":
            chunks[e.bed].add(round(e.ts))
            assert e.n_samples == 250 and set(e.units) == set(e.signals)
    for t in small_synthetic.truth.values():
        a = round(t.ts)
        need = {s for s in range(a - 60, a + 10) if s >= int(small_synthetic.config.start_ts)}
        have = {s for s in chunks[t.bed] if a - 61 <= s <= a + 10}
        assert len(have) >= len(need) - 2, (t.type, len(have), len(need))


def _chunks(run: SimRun, wanted: set[tuple[str, int]]) -> dict[tuple[str, int], object]:
    """One pass over the stream keeping only the chunks asked for: (bed, bed second) -> event."""
    t0 = {p.bed: p.t0 for p in run.plans}
    out = {}
    for e in run.events():
        if e.kind in ("waveform", "vitals"):
            key = (e.bed, round(e.ts - t0[e.bed]))
            if key in wanted:
                out[(e.kind, *key)] = e
    return out


def _signal(chunks: dict, bed: str, second: int, channel: str) -> np.ndarray:
    e = chunks.get(("waveform", bed, second))
    if e is None or channel not in e.signals:
        return np.array([])
    return np.array([np.nan if v is None else v for v in e.signals[channel]], dtype=float)


def _fault_seconds(run: SimRun) -> dict:
    """One second into each fault: inside the waveform window streamed around its alarm."""
    t0 = {p.bed: p.t0 for p in run.plans}
    return {f: round(f.start_ts - t0[f.bed]) + 1 for f in run.faults}


def _false_lethal_seconds(run: SimRun) -> dict:
    t0 = {p.bed: p.t0 for p in run.plans}
    return {t: round(t.ts - t0[t.bed]) for t in run.truth.values()
            if t.type in ("asystole", "ventricular_flutter_fib") and t.source == "synthetic" and not t.actionable}


@pytest.fixture(scope="module")
def medium_chunks(medium_synthetic: SimRun) -> dict:
    """The chunks both signal tests below look at, from one pass over the stream."""
    wanted = {(f.bed, m) for f, m in _fault_seconds(medium_synthetic).items()}
    wanted |= {(t.bed, s - k) for t, s in _false_lethal_seconds(medium_synthetic).items() for k in (1, 2, 3)}
    return _chunks(medium_synthetic, wanted)


def test_faults_show_in_the_signals_they_break(medium_synthetic: SimRun, medium_chunks: dict) -> None:
    mids = _fault_seconds(medium_synthetic)
    chunks = medium_chunks
    seen = set()
    for f, m in mids.items():
        v = chunks[("vitals", f.bed, m)].values
        if f.fault is Fault.LEADS_OFF:
            assert np.isnan(_signal(chunks, f.bed, m, "II")).all() and v["hr_bpm"] is None
        elif f.fault is Fault.PROBE_OFF:
            assert np.nanstd(_signal(chunks, f.bed, m, "PLETH")) < 0.01 and v["spo2_pct"] is None
        elif f.fault is Fault.ABP_FLUSH:
            assert np.nanmin(_signal(chunks, f.bed, m, "ABP")) > 250 and v["abp_sys_mmhg"] is None
        elif f.fault is Fault.MISSING_SAMPLES:
            assert np.isnan(_signal(chunks, f.bed, m, "II")).all()
            assert all(x is None for x in v.values())
        else:
            continue
        seen.add(f.fault)
    assert {Fault.LEADS_OFF, Fault.PROBE_OFF} <= seen


def test_false_lethal_alarms_keep_a_pulse(medium_synthetic: SimRun, medium_chunks: dict) -> None:
    """Synthetic false asystole/VF are ECG artefacts: the pleth keeps pulsing (true ones: test_sim_physiology)."""
    lethal = _false_lethal_seconds(medium_synthetic)
    chunks = medium_chunks
    assert len(lethal) >= 5
    for t, s in lethal.items():
        pleth = np.concatenate([_signal(chunks, t.bed, s - k, "PLETH") for k in (3, 2, 1)])
        assert np.nanstd(pleth) > 0.1, t.type
        ii = np.concatenate([_signal(chunks, t.bed, s - k, "II") for k in (3, 2, 1)])
        assert len(ii) == 750


def test_real_records_are_spliced_in_unchanged(real_data: RealData) -> None:
    from alarmfilter.datasets.challenge import load_record

    run = simulate(SimConfig(beds=4, hours=0.5, seed=2), real_data)
    real = [t for t in run.truth.values() if t.source.startswith("challenge:")]
    assert real
    t = real[0]
    name = t.source.split(":", 1)[1]
    rec, _, fs, alarm_type, label = load_record(real_data.records.folder / name)
    assert (alarm_type, label) == (t.type, t.actionable)
    ch = next(iter(rec))
    t0 = {p.bed: p.t0 for p in run.plans}
    a = round(t.ts - t0[t.bed])
    chunks = _chunks(run, {(t.bed, s) for s in range(a - 10, a)})
    got = np.concatenate([_signal(chunks, t.bed, s, ch) for s in range(a - 10, a)])
    want = rec[ch][-int(10 * fs):]
    assert np.allclose(got, want, atol=1e-4, equal_nan=True)


def test_vitals_agree_with_the_spliced_real_record(real_data: RealData) -> None:
    """Over a real record the monitor's HR is the record's own rate, not the bed's baseline."""
    from alarmfilter.sim.realdata import record_numerics

    run = simulate(SimConfig(beds=4, hours=0.5, seed=2), real_data)
    t0 = {p.bed: p.t0 for p in run.plans}
    checked = 0
    for t in run.truth.values():
        if not t.source.startswith("challenge:"):
            continue
        name = t.source.split(":", 1)[1]
        info = next(r for r in real_data.records.records if r.name == name)
        signals, _, fs, before = real_data.records.segment(name, run.config.context_seconds,
                                                           min(info.tail_seconds, run.config.after_seconds))
        hr = record_numerics(signals, fs).get("hr_bpm")
        a = round(t.ts - t0[t.bed])
        chunks = _chunks(run, {(t.bed, a - 2)})
        shown = chunks[("vitals", t.bed, a - 2)].values["hr_bpm"]
        want = hr[before // round(fs) - 2]
        if np.isfinite(want):
            assert shown == round(want), (name, shown, want)
            checked += 1
    assert checked >= 1
