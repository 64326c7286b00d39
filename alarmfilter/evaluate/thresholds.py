"""Threshold alarms on real 1-Hz numerics: monitor alarms generated at default limits, filtered
through the real engine, measured against the monitor and fixed-delay baselines.

The BIDMC stays carry no alarm annotations, so the alarms are generated the way a monitor does:
a limit alarm on the first displayed (already averaged) value beyond the limit, re-armed once the
value has been back within it for 5 s (`sim.numerics.threshold_alarms`); apnea after 20 s of a
zero respiration rate. Nobody labelled these alarms, so what is measured is burden and safety,
not accuracy: alarms per bed-hour before and after, the delay each forwarded alarm gained, and
whether any alarm beyond a critical bound was delayed or suppressed (it must never be).

References
----------
Pimentel M.A.F. et al. Toward a robust estimation of respiratory rate from pulse oximeters.
IEEE Trans. Biomed. Eng. 2017;64(8):1914-1923 (the BIDMC dataset).
Lansdowne K., Strauss D.G., Scully C.G. Retrospective analysis of pulse oximeter alarm settings
in an intensive care unit patient population. BMC Nursing 2016;15:36.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..engine import BedEngine, EngineConfig
from ..events.types import AlarmType
from ..events.wire import Alarm, Vitals
from ..policy.threshold_prior import SOURCE, PriorConfig, beyond
from ..sim.config import Limit
from ..sim.numerics import FloatArray, Run, threshold_alarms

#: the monitor this evaluation imitates: common adult default limits (Contec CMS8000: SpO2 < 90 %,
#: PR 50-120 bpm; RR 8-30 /min as the issue and NEWS2's outer band suggest), no annunciation delay
#: beyond the monitor's own averaging (set with `monitor_delay_seconds`), apnea after 20 s.
MONITOR_LIMITS: dict[AlarmType, tuple[str, bool, float]] = {
    AlarmType.SPO2_LOW: ("spo2_pct", False, 90.0),
    AlarmType.HR_HIGH: ("hr_bpm", True, 120.0),
    AlarmType.HR_LOW: ("hr_bpm", False, 50.0),
    AlarmType.RR_HIGH: ("rr_per_min", True, 30.0),
    AlarmType.RR_LOW: ("rr_per_min", False, 8.0),
    AlarmType.APNEA: ("rr_per_min", False, 0.5),
}
APNEA_DELAY_SECONDS = 20.0
#: the fixed annunciation delays the filter is compared with (Lansdowne et al. simulated 10-60 s)
BASELINE_DELAYS_SECONDS = (10.0, 15.0)
T0 = 1_700_000_000.0
_COLUMNS = {"HR": "hr_bpm", "PULSE": "pulse_bpm", "RESP": "rr_per_min", "SpO2": "spo2_pct"}


class ThresholdDataError(ValueError):
    """A numerics folder that cannot be evaluated (the message says why, in one line)."""


def monitor_limits(delay_seconds: float = 0.0) -> dict[AlarmType, Limit]:
    """The monitor's limits with its annunciation delay (apnea keeps its own 20 s).

    >>> monitor_limits(5.0)[AlarmType.SPO2_LOW]
    Limit(key='spo2_pct', high=False, limit=90.0, delay_seconds=5.0, priority='medium')
    """
    return {t: Limit(k, hi, lim, APNEA_DELAY_SECONDS if t is AlarmType.APNEA else delay_seconds,
                     "high" if t is AlarmType.APNEA else "medium")
            for t, (k, hi, lim) in MONITOR_LIMITS.items()}


def load_stays(folder: Path) -> list[tuple[str, dict[str, FloatArray]]]:
    """Every ``bidmc_NN_Numerics.csv`` as 1-Hz arrays keyed like the wire format (NaN = no value)."""
    files = sorted(folder.glob("bidmc_*_Numerics.csv"))
    if not files:
        raise ThresholdDataError(f"{folder}: no bidmc_*_Numerics.csv files (BIDMC numerics folder expected)")
    stays = []
    for f in files:
        try:
            with f.open(encoding="utf-8") as fh:
                header = [h.strip() for h in fh.readline().split(",")]
            data = np.genfromtxt(f, delimiter=",", skip_header=1, dtype=np.float64, ndmin=2)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise ThresholdDataError(f"{f.name}: unreadable ({type(exc).__name__})") from None
        cols = {_COLUMNS[h]: data[:, i] for i, h in enumerate(header) if h in _COLUMNS and i < data.shape[1]}
        if set(cols) != set(_COLUMNS.values()) or len(data) < 60:
            raise ThresholdDataError(f"{f.name}: expected columns HR, PULSE, RESP, SpO2 and at least 60 rows")
        stays.append((f.name.replace("_Numerics.csv", ""), cols))
    return stays


@dataclass(frozen=True, slots=True)
class AlarmOutcome:
    """One generated alarm and what the filter did with it."""

    stay: str
    alarm_type: str
    alarm_ts: float
    stop_ts: float  # the value back within the limit (or the end of the stay)
    forwarded: bool
    decided_ts: float
    reasons: tuple[str, ...]
    critical_ts: float | None  # first second, from the alarm to its decision or hold, beyond the critical bound

    @property
    def added_delay_seconds(self) -> float:
        return self.decided_ts - self.alarm_ts

    @property
    def critical(self) -> bool:
        return self.critical_ts is not None

    @property
    def critical_delayed(self) -> bool:
        """Beyond a critical bound and not forwarded by the second the value got there."""
        return self.critical_ts is not None and (not self.forwarded or self.decided_ts > self.critical_ts)


def _critical_ts(alarm_type: str, stay: dict[str, FloatArray], second: int, horizon: int,
                 prior: PriorConfig) -> float | None:
    if alarm_type == "apnea":
        return T0 + second
    crit = prior.critical_bound(alarm_type)
    x = stay[SOURCE[alarm_type][0]][second:horizon + 1]
    if crit is None:
        return None
    with np.errstate(invalid="ignore"):
        hit = np.flatnonzero(beyond(alarm_type, x, crit))
    return T0 + second + float(hit[0]) if len(hit) else None


def replay_stay(name: str, stay: dict[str, FloatArray], runs: list[Run], make_engine: Callable[[str], BedEngine],
                config: EngineConfig) -> list[AlarmOutcome]:
    """Feed one stay (1-Hz vitals, the monitor's alarms at their seconds) through one bed's engine."""
    eng = make_engine(name)
    by_second: dict[int, list[Run]] = {}
    for r in runs:
        by_second.setdefault(r.alarm_second, []).append(r)
    n = len(next(iter(stay.values())))
    decisions: dict[str, Any] = {}

    def take(outs: Iterable[Any]) -> None:
        for o in outs:
            if o.kind == "decision":
                decisions[o.alarm_id] = o

    for k in range(n):
        values = {key: (None if not np.isfinite(v[k]) else float(v[k])) for key, v in stay.items()}
        take(eng.feed(Vitals(schema_version=1, kind="vitals", bed=name, ts=T0 + k, values=values)))
        for r in by_second.get(k, ()):
            take(eng.feed(Alarm(schema_version=1, kind="alarm", bed=name, ts=T0 + k,
                                alarm_id=f"{name}-{r.alarm_type.value}-{k}", type=r.alarm_type.value,
                                priority="high" if r.alarm_type is AlarmType.APNEA else "medium")))
    take(eng.flush())
    prior = config.prior_config()
    out = []
    for r in runs:
        d = decisions[f"{name}-{r.alarm_type.value}-{r.alarm_second}"]
        t = r.alarm_type.value
        horizon = r.alarm_second + int(np.ceil(config.hold_for(t)))
        out.append(AlarmOutcome(name, t, T0 + r.alarm_second, T0 + r.stop_second, d.decision == "forward",
                                float(d.decided_ts), tuple(d.reasons),
                                _critical_ts(t, stay, r.alarm_second, horizon, prior)))
    return out


@dataclass
class Figures:
    """Alarm counts and rates of one way of alarming (the monitor, a baseline, the filter)."""

    alarms: int = 0
    non_critical: int = 0
    critical: int = 0
    critical_delayed: int = 0
    delays: list[float] = field(default_factory=list)

    def to_dict(self, bed_hours: float) -> dict[str, Any]:
        d = np.asarray(self.delays) if self.delays else np.zeros(1)
        return {
            "alarms": self.alarms, "per_bed_hour": round(self.alarms / bed_hours, 2),
            "non_critical": self.non_critical, "non_critical_per_bed_hour": round(self.non_critical / bed_hours, 2),
            "critical": self.critical, "critical_delayed_or_suppressed": self.critical_delayed,
            "added_delay_seconds": {"median": round(float(np.median(d)), 1), "max": round(float(d.max()), 1)},
        }


def baseline(runs: list[tuple[dict[str, FloatArray], Run]], extra_delay: float, prior: PriorConfig) -> Figures:
    """A fixed annunciation delay on top of the monitor's: an alarm sounds only once its violation
    has lasted `extra_delay` more seconds (apnea keeps its own delay), as Lansdowne et al. simulated.

    >>> hr = np.array([80.0] * 5 + [130.0] * 12 + [80.0] * 5)
    >>> runs = [({"hr_bpm": hr}, r) for r in threshold_alarms({"hr_bpm": hr}, monitor_limits())]
    >>> baseline(runs, 10.0, PriorConfig()).alarms, baseline(runs, 15.0, PriorConfig()).alarms
    (1, 0)
    """
    fig = Figures()
    for stay, r in runs:
        t = r.alarm_type.value
        extra = 0.0 if t == "apnea" else extra_delay
        crit = _critical_ts(t, stay, r.alarm_second, r.alarm_second + int(np.ceil(extra)), prior)
        kept = r.stop_second - r.alarm_second >= extra
        if crit is not None:
            fig.critical_delayed += int(not kept or T0 + r.alarm_second + extra > crit)
        if kept:
            fig.alarms += 1
            fig.critical += crit is not None
            fig.non_critical += crit is None
            fig.delays.append(extra)
    return fig


def evaluate_thresholds(folder: Path, *, config: EngineConfig | None = None, monitor_delay: float = 0.0,
                        make_engine: Callable[[str], BedEngine] | None = None) -> dict[str, Any]:
    """The whole evaluation as one JSON-able dict (see the module docstring)."""
    from ..cli.engines import engine_factory

    cfg = config or EngineConfig()
    stays = load_stays(folder)
    factory = make_engine or engine_factory(cfg, quiet=True)
    limits = monitor_limits(monitor_delay)
    outcomes: list[AlarmOutcome] = []
    monitor_runs: list[tuple[dict[str, FloatArray], Run]] = []
    for name, stay in stays:
        runs = threshold_alarms(stay, limits)
        monitor_runs += [(stay, r) for r in runs]
        outcomes += replay_stay(name, stay, runs, factory, cfg)
    bed_hours = sum(len(next(iter(s.values()))) for _, s in stays) / 3600.0
    before, after = Figures(), Figures()
    per_type: dict[str, dict[str, int]] = {}
    for o in outcomes:
        row = per_type.setdefault(o.alarm_type, {"alarms": 0, "forwarded": 0, "critical": 0, "critical_delayed": 0})
        row["alarms"] += 1
        row["forwarded"] += o.forwarded
        row["critical"] += o.critical
        row["critical_delayed"] += o.critical_delayed
        for fig, kept in ((before, True), (after, o.forwarded)):
            if not kept:
                continue
            fig.alarms += 1
            fig.non_critical += not o.critical
            fig.critical += o.critical
        before.delays.append(0.0)
        after.critical_delayed += o.critical_delayed
        if o.forwarded:
            after.delays.append(o.added_delay_seconds)
    prior = cfg.prior_config()
    reduction = 1.0 - after.non_critical / before.non_critical if before.non_critical else 0.0
    return {
        "data": str(folder), "stays": len(stays), "bed_hours": round(bed_hours, 2),
        "monitor": {t.value: {"numeric": k, "limit": lim, "above": hi,
                              "delay_seconds": APNEA_DELAY_SECONDS if t is AlarmType.APNEA else monitor_delay}
                    for t, (k, hi, lim) in MONITOR_LIMITS.items()},
        "filter": {"hold_seconds": {t.value: cfg.hold_for(t.value) for t in MONITOR_LIMITS},
                   "critical_bounds": {t.value: prior.critical_bound(t.value) for t in MONITOR_LIMITS},
                   "severity_budget_seconds": prior.severity_budget_seconds},
        "before": before.to_dict(bed_hours),
        "after": after.to_dict(bed_hours),
        "non_critical_reduction_pct": round(100.0 * reduction, 1),
        "baselines": {f"fixed_delay_{d:g}s": baseline(monitor_runs, d, prior).to_dict(bed_hours)
                      for d in BASELINE_DELAYS_SECONDS},
        "per_type": dict(sorted(per_type.items())),
        "alarms": [{"stay": o.stay, "type": o.alarm_type, "second": round(o.alarm_ts - T0),
                    "decision": "forward" if o.forwarded else "suppress",
                    "added_delay_seconds": round(o.added_delay_seconds, 1), "critical": o.critical,
                    "reasons": list(o.reasons)} for o in outcomes],
    }
