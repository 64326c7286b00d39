"""A prequential feedback experiment: does the ward's feedback teach the filter, safely?

A seeded ward stream of threshold alarms (SpO2 low, HR high, ABP high) in which two beds have a
recurring artefact the prior cannot know: bed 03's pulse-oximeter probe drops SpO2 in one step
while the pulse rate disagrees with the ECG (often right after a ``spo2_probe_off``), and bed 05's
arterial line is flushed, spiking systolic pressure with no pulse pressure.  Every alarm is
decided first; clinicians then label what they saw (forwarded alarms and audit samples) after a
delay; the engine learns each label when it arrives.  A few alarms on the artefact beds are
real events that look like the artefact: the filter will learn to hold them back, and only the
audit samples can tell how many.

``run_feedback_experiment`` returns false alarms suppressed and sensitivity per quarter of the
stream, and the audit-sample estimate of missed true alarms beside the true count.  It drives
``BedEngine`` directly (no I/O), so tests and the evaluation report can call it.  A simulation
experiment, so it lives in ``sim/``, not in the sans-IO core.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from dataclasses import dataclass, field

from ..engine import BedEngine, EngineConfig
from ..engine.factory import engine_factory
from ..events.types import Decision
from ..events.wire import Alarm, Feedback, Vitals
from ..model.lifecycle import ModelLifecycle
from ..model.loading import ward_model_lifecycle
from ..policy.audit import MissedTrueEstimate, estimate_from_stats
from ..policy.confusion import Confusion

T0 = 1_764_150_000.0
VITALS_SECONDS = 60
EXPERIMENT_KEY = b"prequential-experiment-key"


@dataclass(frozen=True, slots=True)
class Scenario:
    bed: str
    ts: float
    alarm_type: str
    actionable: bool
    kind: str  # real | artefact | hidden_real (a real event that looks like the bed's artefact)


@dataclass
class QuarterFigures:
    decided: list[tuple[bool, bool]] = field(default_factory=list)  # (actionable, forwarded) per alarm

    @property
    def counts(self) -> Confusion:
        return Confusion.of(self.decided)

    @property
    def alarms(self) -> int:
        return len(self.decided)

    @property
    def true_alarms(self) -> int:
        return self.counts.true_alarms

    @property
    def true_forwarded(self) -> int:
        return self.counts.tp

    @property
    def false_alarms(self) -> int:
        return self.counts.false_alarms

    @property
    def false_suppressed(self) -> int:
        return self.counts.tn

    @property
    def false_suppressed_pct(self) -> float:
        tnr = self.counts.tnr
        return 100.0 * tnr if tnr is not None else 0.0

    @property
    def sensitivity(self) -> float:
        tpr = self.counts.tpr
        return tpr if tpr is not None else 1.0


@dataclass
class ExperimentResult:
    quarters: list[QuarterFigures]
    estimate: MissedTrueEstimate
    missed_true: int  # ground truth: true alarms suppressed
    audit_samples: int
    final_version: str
    fallback_reason: str | None
    stats: Counter[str] = field(default_factory=Counter)

    @property
    def sensitivity(self) -> float:
        tpr = Confusion.of(d for q in self.quarters for d in q.decided).tpr
        return tpr if tpr is not None else 1.0

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready figures (for the evaluation report)."""
        e = self.estimate
        return {
            "quarters": [
                {"alarms": q.alarms, "false_alarms": q.false_alarms, "false_suppressed": q.false_suppressed,
                 "false_suppressed_pct": round(q.false_suppressed_pct, 1), "true_alarms": q.true_alarms,
                 "true_forwarded": q.true_forwarded, "sensitivity": round(q.sensitivity, 4)}
                for q in self.quarters
            ],
            "sensitivity": round(self.sensitivity, 4),
            "missed_true": self.missed_true,
            "missed_true_estimate": round(e.missed_true, 2),
            "missed_true_ci": [round(e.missed_true_low, 2), round(e.missed_true_high, 2)],
            "confidence": e.confidence,
            "audit_samples": self.audit_samples,
            "audit_labelled": e.audited_labelled,
            "model_version": self.final_version,
            "fallback_reason": self.fallback_reason,
        }


def _scenarios(rng: random.Random, n_alarms: int, n_beds: int, hidden_real_rate: float) -> list[Scenario]:
    out = []
    spacing = 4.0 * VITALS_SECONDS / n_beds  # each bed's alarms are >= 4 vitals windows apart
    for i in range(n_alarms):
        bed = f"ICU1-{1 + i % n_beds:02d}"
        ts = T0 + 3600.0 + i * spacing + rng.uniform(0, spacing / 4)
        if bed == "ICU1-03" and rng.random() < 0.8:
            hidden = rng.random() < hidden_real_rate
            out.append(Scenario(bed, ts, "spo2_low", hidden, "hidden_real" if hidden else "artefact"))
        elif bed == "ICU1-05" and rng.random() < 0.8:
            hidden = rng.random() < hidden_real_rate
            out.append(Scenario(bed, ts, "abp_high", hidden, "hidden_real" if hidden else "artefact"))
        else:
            t = rng.choice(["spo2_low", "hr_high", "abp_high"])
            out.append(Scenario(bed, ts, t, rng.random() < 0.6, "real"))
    return out


def _vitals(rng: random.Random, s: Scenario) -> list[tuple[float, dict[str, float | None]]]:
    """60 s of 1 Hz numerics ending at the alarm; the shape tells real from artefact."""
    rows: list[tuple[float, dict[str, float | None]]] = []
    hr0, spo2_0, sys0 = rng.uniform(70, 95), rng.uniform(94, 98), rng.uniform(110, 135)
    real = s.kind == "real" and s.actionable
    artefact = s.kind != "real" or not s.actionable
    for k in range(VITALS_SECONDS):
        dt = k - (VITALS_SECONDS - 1)  # -59 .. 0
        ramp = min(1.0, max(0.0, (dt + 45) / 35))  # physiology: 35 s to get there
        step = 1.0 if dt >= -1 else 0.0  # artefact: one step, at the alarm
        hr, pulse, spo2, sys_, dia = hr0, hr0, spo2_0, sys0, sys0 * 0.55
        if s.alarm_type == "spo2_low":
            if real:
                spo2 = spo2_0 - ramp * (spo2_0 - rng.uniform(82, 87))
            elif artefact and s.kind != "real":
                spo2, pulse = spo2_0 - step * rng.uniform(18, 28), hr0 - step * rng.uniform(25, 45)
            else:  # an ordinary false alarm: brief marginal dip
                spo2 = spo2_0 - min(1.0, max(0.0, (dt + 8) / 6)) * rng.uniform(6, 8)
        elif s.alarm_type == "hr_high":
            if real:
                hr = pulse = hr0 + ramp * rng.uniform(40, 55)
            else:
                hr = hr0 + step * rng.uniform(50, 70)
        elif s.alarm_type == "abp_high":
            if real:
                sys_ = sys0 + ramp * rng.uniform(45, 60)
                dia = sys0 * 0.55 + ramp * 15
            elif s.kind != "real":
                sys_, dia = (sys0 + step * rng.uniform(150, 170), sys0 * 0.55 + step * rng.uniform(200, 240))
            else:
                sys_ = sys0 + min(1.0, max(0.0, (dt + 8) / 6)) * rng.uniform(30, 40)
        rows.append((s.ts + dt, {
            "hr_bpm": round(hr + rng.gauss(0, 1), 1), "pulse_bpm": round(pulse + rng.gauss(0, 1), 1),
            "spo2_pct": round(spo2 + rng.gauss(0, 0.3), 1), "abp_sys_mmhg": round(sys_ + rng.gauss(0, 1.5), 1),
            "abp_dia_mmhg": round(dia + rng.gauss(0, 1), 1), "abp_mean_mmhg": round((sys_ + 2 * dia) / 3, 1),
        }))
    return rows


def run_feedback_experiment(seed: int = 0, n_alarms: int = 1200, n_beds: int = 8, audit_fraction: float = 0.05,
                            hidden_real_rate: float = 0.02, label_delay_seconds: tuple[float, float] = (30.0, 900.0),
                            lifecycle: ModelLifecycle | None = None) -> ExperimentResult:
    """Decide every alarm, then learn the labels clinicians give (forwarded and audit samples only)."""
    rng = random.Random(seed)
    lifecycle = lifecycle or ward_model_lifecycle(EXPERIMENT_KEY)
    make = engine_factory(EngineConfig(audit_fraction=audit_fraction, seed=seed, threshold_hold_seconds=0.0),
                          lifecycle, learning=True)  # threshold alarms decided at the alarm: this is about learning
    beds: dict[str, BedEngine] = {}
    scenarios = _scenarios(rng, n_alarms, n_beds, hidden_real_rate)
    quarters = [QuarterFigures() for _ in range(4)]
    pending: list[tuple[float, int, Feedback]] = []
    missed = 0
    for i, s in enumerate(scenarios):
        eng = beds.get(s.bed) or beds.setdefault(s.bed, make(s.bed))
        while pending and pending[0][0] <= s.ts - VITALS_SECONDS:
            fb = heapq.heappop(pending)[2]
            beds[fb.bed].feed(fb)
        for ts, values in _vitals(rng, s):
            eng.feed(Vitals(schema_version=1, kind="vitals", bed=s.bed, ts=ts, values=values))
        if s.kind != "real" and s.alarm_type == "spo2_low" and rng.random() < 0.5:
            eng.feed(Alarm(schema_version=1, kind="alarm", bed=s.bed, ts=s.ts - 3, alarm_id=f"t{i}",
                           type="spo2_probe_off", priority="technical"))
        out = eng.feed(Alarm(schema_version=1, kind="alarm", bed=s.bed, ts=s.ts, alarm_id=f"a{i}",
                             type=s.alarm_type, priority="medium"))
        record = next(o for o in out if o.kind == "decision" and o.alarm_id == f"a{i}")
        forwarded = record.decision == Decision.FORWARD.value
        quarters[min(3, 4 * i // len(scenarios))].decided.append((s.actionable, forwarded))
        missed += int(s.actionable and not forwarded)
        if forwarded:  # clinicians label what they saw
            ts = s.ts + rng.uniform(*label_delay_seconds)
            heapq.heappush(pending, (ts, i, Feedback(schema_version=1, kind="feedback", bed=s.bed, ts=ts,
                                                     alarm_id=f"a{i}", actionable=s.actionable)))
    while pending:
        fb = heapq.heappop(pending)[2]
        beds[fb.bed].feed(fb)
    stats: Counter[str] = Counter()
    for eng in beds.values():
        stats.update(eng.stats)
    stats.update({f"model_{k}": v for k, v in lifecycle.stats.items()})
    return ExperimentResult(quarters, estimate_from_stats(stats), missed, stats["audit_samples"],
                            lifecycle.version, lifecycle.fallback_reason, stats)


def summary(result: ExperimentResult) -> str:
    """One readable paragraph of the figures (for reports)."""
    lines = [
        f"Q{k + 1}: {q.alarms} alarms, false alarms suppressed {q.false_suppressed_pct:.0f} % "
        f"({q.false_suppressed}/{q.false_alarms}), sensitivity {100 * q.sensitivity:.1f} % "
        f"({q.true_forwarded}/{q.true_alarms})"
        for k, q in enumerate(result.quarters)
    ]
    e = result.estimate
    lines.append(
        f"missed true alarms: audit estimate {e.missed_true:.1f} "
        f"[{e.missed_true_low:.1f}, {e.missed_true_high:.1f}] ({100 * e.confidence:.0f} % CI, "
        f"{e.audited_labelled:.0f} labelled audit samples of {e.suppressed + result.audit_samples}), "
        f"truth {result.missed_true}; model {result.final_version}"
        + (f"; FELL BACK: {result.fallback_reason}" if result.fallback_reason else "")
    )
    return "\n".join(lines)
