"""One bed's hour, planned before a sample is drawn: who the patient is, what happens, which alarms.

Arrhythmia alarms and technical faults are scheduled at the claimed rates (config.py); parameter
episodes are drawn at the claimed rate and *rendered into the numerics*, and the monitor's
threshold logic (`numerics.threshold_alarms`, with limits and delays) finds the alarms in them.
Episodes never overlap on one bed, so each alarm has exactly one known cause: its ground truth.
Waveforms are rendered later, lazily (render.py), only where an alarm can be scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar
from uuid import UUID, uuid5

import numpy as np

from ..events.types import AlarmType
from .config import (
    ABP_ONLY,
    FAULT_ALARM,
    FAULT_MIX,
    PARAMETER_ACTIONABLE_SHARE,
    PARAMETER_MIX,
    PARAMETER_TRANSIENT_SHARE,
    Fault,
    Limit,
    SimConfig,
    arrhythmia_mix,
    arrhythmia_true_share,
)
from .numerics import (
    ABP_KEYS,
    FloatArray,
    adapt_limits,
    blend,
    confine,
    derive,
    from_per_minute,
    ou,
    synthetic_baseline,
    threshold_alarms,
    tile_mirrored,
    trapezoid,
)
from .realdata import RealData, RecordInfo

_K = TypeVar("_K", AlarmType, Fault)
_NS = UUID("5b0f3a4e-2d55-4a8e-9a43-6d1f0c1e7a11")


class Cause(str, Enum):
    """Why an alarm fired: its ground truth. Only EVENT alarms (and real true records) need action."""

    EVENT = "event"  # a real physiological event that needs action
    TRANSIENT = "transient"  # real but self-limiting: no action needed
    ARTEFACT = "artefact"  # noise, motion, low amplitude, algorithm error: false
    FAULT = "fault"  # an equipment fault: the technical alarm is true, the fault needs fixing


@dataclass
class Item:
    """One scheduled happening on a bed; `start` (bed second) is set when it is placed."""

    category: str  # arrhythmia | parameter | fault
    alarm_type: AlarmType
    cause: Cause
    length: int  # seconds of episode / fault
    alarm_offset: int = 0  # alarm second after `start` (scheduled alarms)
    tail: int = 0  # exclusive seconds after the episode
    record: RecordInfo | None = None
    fault: Fault | None = None
    rate_bpm: float = 0.0
    start: int = 0


@dataclass(frozen=True, slots=True)
class AlarmTruth:
    """Ground truth of one alarm, kept out of the stream (side file or iterator)."""

    alarm_id: str
    bed: str
    ts: float
    type: str
    priority: str
    actionable: bool
    cause: Cause
    source: str  # "challenge:a103l", "synthetic", "numerics"

    def to_json(self) -> dict[str, object]:
        return {"kind": "truth", "alarm_id": self.alarm_id, "bed": self.bed, "ts": self.ts, "type": self.type,
                "priority": self.priority, "actionable": self.actionable, "cause": self.cause.value,
                "source": self.source}


@dataclass(frozen=True, slots=True)
class FaultTruth:
    """An injected technical fault: what, where, when, and the alarm it raised."""

    bed: str
    fault: Fault
    start_ts: float
    stop_ts: float
    alarm_id: str

    def to_json(self) -> dict[str, object]:
        return {"kind": "fault", "bed": self.bed, "fault": self.fault.value, "start_ts": self.start_ts,
                "stop_ts": self.stop_ts, "alarm_id": self.alarm_id}


@dataclass(frozen=True, slots=True)
class PlannedAlarm:
    second: int
    alarm_type: AlarmType
    priority: str
    item: Item
    truth: AlarmTruth


@dataclass
class BedPlan:
    """Everything about one bed except its waveform samples."""

    bed: str
    index: int
    t0: float  # event time of bed second 0
    seconds: int
    abp: bool
    sources: list[str]
    limits: dict[AlarmType, Limit]
    phys: dict[str, FloatArray]  # what the patient does (drives the waveforms)
    measured: dict[str, FloatArray]  # what the monitor reports (drives vitals and limit alarms)
    items: list[Item]
    alarms: list[PlannedAlarm] = field(default_factory=list)
    faults: list[FaultTruth] = field(default_factory=list)
    expected: dict[AlarmType, float] = field(default_factory=dict)  # claimed count per type


def bed_rng(config: SimConfig, index: int, *salt: int) -> np.random.Generator:
    """Every bed (and every part of it) has its own stream: results do not depend on order."""
    return np.random.default_rng([config.seed, index, *salt])


def plan_bed(config: SimConfig, index: int, real: RealData) -> BedPlan:
    rng = bed_rng(config, index, 0)
    n = int(np.ceil(config.seconds))
    bed = f"{config.unit}-{index + 1:02d}"
    abp = bool(rng.random() < config.abp_line_share)
    values, sources = _baseline(n, rng, abp, real)
    limits = adapt_limits(values)
    confine(values, limits)
    values = derive(values, rng)
    t0 = config.start_ts + round((index * 0.137) % 1.0, 3)  # beds do not tick in lockstep
    plan = BedPlan(bed, index, t0, n, abp, sources, limits, values,
                   {k: v.copy() for k, v in values.items()}, [])
    plan.items, plan.expected = _schedule(config, rng, plan, real)
    _place(config, plan, rng)
    for item in plan.items:
        if item.record is not None:
            _record_numerics(config, plan, item, real)
        else:
            _render_numerics(plan, item, rng)
    _alarms(config, plan)
    return plan


def _baseline(n: int, rng: np.random.Generator, abp: bool, real: RealData) -> tuple[dict[str, FloatArray], list[str]]:
    values = synthetic_baseline(n, rng, abp)
    sources = ["synthetic numerics"]
    if real.bidmc:
        name, stay = real.bidmc[int(rng.integers(len(real.bidmc)))]
        start = int(rng.integers(len(stay["hr_bpm"]) * 2))
        drift = ou(n, 0.0, 1.5, 600.0, rng)  # the same stay on two beds still differs
        for k in ("hr_bpm", "pulse_bpm", "rr_per_min", "spo2_pct"):
            x = tile_mirrored(stay[k], n, start)
            values[k] = x + (drift if k in ("hr_bpm", "pulse_bpm") else 0.0)
        values["spo2_pct"] = np.minimum(values["spo2_pct"], 100.0)
        sources = [f"BIDMC {name}"]
    if abp and real.mimic is not None:
        name, rec = real.mimic
        start = int(rng.integers(len(rec["abp_sys_mmhg"])))
        for k in ABP_KEYS:
            values[k] = from_per_minute(rec[k], n, start) + ou(n, 0.0, 2.0, 60.0, rng)
        sources.append(f"MIMIC II {name} ABP from minute {start}")
    return values, sources


def _mix(table: dict[_K, float], abp: bool) -> dict[_K, float]:
    kept = {k: w for k, w in table.items() if abp or k not in ABP_ONLY}
    total = sum(kept.values())
    return {k: w / total for k, w in kept.items()}


def _schedule(config: SimConfig, rng: np.random.Generator, plan: BedPlan, real: RealData) -> tuple[list[Item], dict[AlarmType, float]]:
    # Drew 2014: a few patients raise most alarms. With dispersion d > 0 each bed's rates are
    # scaled by a gamma(1/d, d) draw (mean 1, variance d); d = 0 keeps every bed at the mean.
    d = config.bed_rate_dispersion
    seconds = config.seconds * (rng.gamma(1.0 / d, d) if d > 0 else 1.0)
    expected: dict[AlarmType, float] = {}
    items: list[Item] = []
    # arrhythmia alarms: type mix of the challenge, true share scaled to Drew's 11.2 %
    lam = config.rate_per_bed_second("arrhythmia") * seconds
    mix, true_share = arrhythmia_mix(), arrhythmia_true_share()
    types = list(mix)
    for t in types:
        expected[t] = lam * mix[t]
    for _ in range(rng.poisson(lam)):
        t = types[int(rng.choice(len(types), p=[mix[x] for x in types]))]
        label = bool(rng.random() < true_share[t])
        items.append(_arrhythmia_item(config, rng, t, label, real))
    # parameter episodes, rendered into the numerics; the monitor logic finds the alarms
    lam = config.rate_per_bed_second("parameter") * seconds
    pmix = _mix(PARAMETER_MIX, plan.abp)
    ptypes = list(pmix)
    for t in ptypes:
        expected[t] = lam * pmix[t]
    for _ in range(rng.poisson(lam)):
        t = ptypes[int(rng.choice(len(ptypes), p=[pmix[x] for x in ptypes]))]
        u = rng.random()
        cause = Cause.EVENT if u < PARAMETER_ACTIONABLE_SHARE else (
            Cause.TRANSIENT if u < PARAMETER_ACTIONABLE_SHARE + PARAMETER_TRANSIENT_SHARE else Cause.ARTEFACT)
        items.append(_parameter_item(rng, t, cause, plan.limits[t], config))
    # technical faults
    lam = config.rate_per_bed_second("technical") * seconds
    fmix = _mix(FAULT_MIX, plan.abp)
    faults = list(fmix)
    for f in faults:
        expected[FAULT_ALARM[f]] = expected.get(FAULT_ALARM[f], 0.0) + lam * fmix[f]
    for _ in range(rng.poisson(lam)):
        f = faults[int(rng.choice(len(faults), p=[fmix[x] for x in faults]))]
        items.append(_fault_item(rng, f, config))
    return items, expected


#: Synthetic arrhythmia: (length range s, monitor detection delay s, rate range bpm).
RHYTHMS = {
    AlarmType.ASYSTOLE: ((6, 20), 4, (0, 0)),
    AlarmType.EXTREME_BRADYCARDIA: ((30, 90), 8, (28, 38)),
    AlarmType.EXTREME_TACHYCARDIA: ((30, 120), 8, (145, 175)),
    AlarmType.VENTRICULAR_TACHYCARDIA: ((8, 30), 3, (150, 210)),
    AlarmType.VENTRICULAR_FLUTTER_FIB: ((10, 30), 4, (0, 0)),
}


def _arrhythmia_item(config: SimConfig, rng: np.random.Generator, t: AlarmType, label: bool, real: RealData) -> Item:
    after = int(np.ceil(config.after_seconds)) + 2
    if real.records is not None and rng.random() < config.real_arrhythmia_share:
        pool = real.records.by_kind(t.value, label)
        if pool:
            rec = pool[int(rng.integers(len(pool)))]
            return Item("arrhythmia", t, Cause.EVENT if label else Cause.ARTEFACT, 0,
                        tail=max(after, int(rec.tail_seconds) + 1), record=rec)
    (lo, hi), delay, (r_lo, r_hi) = RHYTHMS[t]
    length = int(rng.integers(lo, hi + 1)) if label else int(rng.integers(6, 25))
    return Item("arrhythmia", t, Cause.EVENT if label else Cause.ARTEFACT, length,
                alarm_offset=min(delay, length - 1), tail=after, rate_bpm=float(rng.uniform(r_lo, r_hi)))


#: Beyond-limit margin of parameter episodes per numeric: (event range, transient range).
EXCURSION = {"hr_bpm": ((12, 40), (2, 5)), "spo2_pct": ((4, 12), (1, 2)), "rr_per_min": ((5, 14), (1, 3)),
             "abp_sys_mmhg": ((12, 40), (3, 7))}


def _parameter_item(rng: np.random.Generator, t: AlarmType, cause: Cause, lim: Limit, config: SimConfig) -> Item:
    delay = int(np.ceil(lim.delay_seconds))
    if cause is Cause.EVENT:
        length = int(rng.integers(delay + 25, delay + 150))
    elif cause is Cause.TRANSIENT:
        length = delay + 6 + int(rng.integers(1, 7))
    else:
        length = delay + 4 + int(rng.integers(3, 20))
    return Item("parameter", t, cause, length, tail=int(np.ceil(config.after_seconds)) + 6)


FAULT_LENGTH = {Fault.LEADS_OFF: (20, 180), Fault.PROBE_OFF: (15, 120), Fault.ABP_FLUSH: (4, 12),
                Fault.ABP_ZEROING: (10, 30), Fault.MOTION: (8, 40), Fault.SATURATION: (5, 20),
                Fault.MISSING_SAMPLES: (3, 15)}


def _fault_item(rng: np.random.Generator, f: Fault, config: SimConfig) -> Item:
    lo, hi = FAULT_LENGTH[f]
    length = int(rng.integers(lo, hi + 1))
    return Item("fault", FAULT_ALARM[f], Cause.FAULT, length, alarm_offset=2, fault=f,
                tail=int(np.ceil(config.after_seconds)) + 2)


def _place(config: SimConfig, plan: BedPlan, rng: np.random.Generator) -> None:
    """Lay items end to end in random order with random gaps: no two overlap on one bed."""
    lead = int(np.ceil(config.context_seconds)) + 1
    items = [plan.items[i] for i in rng.permutation(len(plan.items))]
    spans = [lead + it.length + it.tail for it in items]
    while items and sum(spans) > plan.seconds:  # more than fits (very short runs): drop the last
        items.pop()
        spans.pop()
    gaps = rng.dirichlet(np.ones(len(items) + 1)) * (plan.seconds - sum(spans))
    pos = 0.0
    for it, span, gap in zip(items, spans, gaps):
        pos += gap
        it.start = int(pos) + lead
        pos += span
    plan.items = sorted(items, key=lambda it: it.start)


def _render_numerics(plan: BedPlan, item: Item, rng: np.random.Generator) -> None:
    """Write the episode or fault into the patient's and the monitor's numerics."""
    s, n = item.start, item.length
    phys, meas = plan.phys, plan.measured
    if item.category == "parameter":
        lim = plan.limits[item.alarm_type]
        key = lim.key
        if key not in phys:
            return
        ev, tr = EXCURSION[key]
        margin = rng.uniform(*(tr if item.cause is Cause.TRANSIENT else ev))
        level = lim.limit + margin if lim.high else lim.limit - margin
        if item.alarm_type is AlarmType.APNEA:
            level = 0.0
        elif item.alarm_type is AlarmType.RR_LOW:
            level = max(level, 1.5)
        elif key == "spo2_pct":
            level = max(level, 60.0)
        ramp = 1 if item.cause is Cause.ARTEFACT else (3 if item.cause is Cause.TRANSIENT else 8)
        w = trapezoid(n, ramp, max(1, n - 2 * ramp), ramp)
        targets = (meas,) if item.cause is Cause.ARTEFACT else (phys, meas)
        for d in targets:
            before = d[key][s : s + n].copy()
            blend(d[key], s, w, level)
            if key == "hr_bpm" and item.cause is not Cause.ARTEFACT:
                d["pulse_bpm"][s : s + n] += d[key][s : s + n] - before
            if key == "abp_sys_mmhg":
                delta = d[key][s : s + n] - before
                d["abp_dia_mmhg"][s : s + n] += 0.5 * delta
                d["abp_mean_mmhg"][s : s + n] = (d[key][s : s + n] + 2 * d["abp_dia_mmhg"][s : s + n]) / 3
    elif item.category == "arrhythmia" and item.record is None and item.cause is Cause.EVENT:
        t = item.alarm_type
        for d in (phys, meas):
            if t in (AlarmType.ASYSTOLE, AlarmType.VENTRICULAR_FLUTTER_FIB):
                d["hr_bpm"][s : s + n] = 0.0 if (d is phys or t is AlarmType.ASYSTOLE) else np.nan
                if d is meas:
                    d["pulse_bpm"][s : s + n] = np.nan
                    d["spo2_pct"][s : s + n] = np.nan
                if plan.abp:
                    d["abp_sys_mmhg"][s : s + n] = 25.0
                    d["abp_dia_mmhg"][s : s + n] = 15.0
                    d["abp_mean_mmhg"][s : s + n] = 18.0
            else:
                d["hr_bpm"][s : s + n] = item.rate_bpm
                d["pulse_bpm"][s : s + n] = item.rate_bpm if t is not AlarmType.VENTRICULAR_TACHYCARDIA else np.nan
                if plan.abp and t is AlarmType.VENTRICULAR_TACHYCARDIA:
                    d["abp_sys_mmhg"][s : s + n] *= 0.6
                    d["abp_mean_mmhg"][s : s + n] *= 0.7
    elif item.category == "fault":
        blank = {
            Fault.LEADS_OFF: ("hr_bpm", "rr_per_min"), Fault.PROBE_OFF: ("spo2_pct", "pulse_bpm"),
            Fault.ABP_FLUSH: ABP_KEYS, Fault.ABP_ZEROING: ABP_KEYS, Fault.MOTION: (),
            Fault.SATURATION: ("hr_bpm",), Fault.MISSING_SAMPLES: tuple(meas),
        }[item.fault]  # type: ignore[index]
        for k in blank:
            if k in meas:
                meas[k][s : s + n] = np.nan


def _record_numerics(config: SimConfig, plan: BedPlan, item: Item, real: RealData) -> None:
    """Over a spliced real record, the vitals show what a monitor would have derived from it."""
    assert item.record is not None and real.records is not None
    numerics, before, fs = real.records.numerics(item.record.name, config.context_seconds,
                                                 min(item.record.tail_seconds, config.after_seconds))
    first = item.start + item.alarm_offset - before // round(fs)
    for key, v in numerics.items():
        if key not in plan.phys:
            continue
        idx = first + np.arange(len(v))
        ok = np.isfinite(v) & (idx >= 0) & (idx < plan.seconds)
        for d in (plan.phys, plan.measured):
            d[key][idx[ok]] = v[ok]


def alarm_id(config: SimConfig, bed: str, second: int, alarm_type: AlarmType) -> str:
    return str(uuid5(_NS, f"{config.seed}:{bed}:{second}:{alarm_type.value}"))


def _alarms(config: SimConfig, plan: BedPlan) -> None:
    """Scheduled alarms (arrhythmia, technical) plus the limit alarms the monitor finds."""
    out: list[PlannedAlarm] = []

    def add(second: int, t: AlarmType, priority: str, item: Item, actionable: bool, source: str) -> None:
        aid = alarm_id(config, plan.bed, second, t)
        truth = AlarmTruth(aid, plan.bed, plan.t0 + second, t.value, priority, actionable, item.cause, source)
        out.append(PlannedAlarm(second, t, priority, item, truth))

    for it in plan.items:
        if it.category == "arrhythmia":
            src = f"challenge:{it.record.name}" if it.record else "synthetic"
            add(it.start + it.alarm_offset, it.alarm_type, "high", it, it.cause is Cause.EVENT, src)
        elif it.category == "fault":
            add(it.start + it.alarm_offset, it.alarm_type, "technical", it, True, "synthetic")
            plan.faults.append(FaultTruth(plan.bed, it.fault, plan.t0 + it.start, plan.t0 + it.start + it.length,  # type: ignore[arg-type]
                                          alarm_id(config, plan.bed, it.start + it.alarm_offset, it.alarm_type)))
    starts = np.array([it.start for it in plan.items], dtype=np.int64)
    for run in threshold_alarms(plan.measured, plan.limits):
        k = int(np.searchsorted(starts, run.start_second, side="right")) - 1
        item = plan.items[k] if k >= 0 else None
        inside = item is not None and run.start_second < item.start + item.length
        if not inside or item is None or item.alarm_type is not run.alarm_type:
            # a limit crossed by another episode (e.g. HR during VT): the monitor chains it to
            # that episode's alarm instead of raising a second one
            continue
        source = "numerics"
        add(run.alarm_second, run.alarm_type, plan.limits[run.alarm_type].priority, item,
            item.cause is Cause.EVENT, source)
    out.sort(key=lambda a: (a.second, a.alarm_type.value))
    plan.alarms = out
