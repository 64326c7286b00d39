"""What the simulated ward claims to be: alarm rates and mix, monitor limits and delays, settings.

Every figure the simulator is tested against lives here, with where it comes from.

References
----------
Drew B.J. et al. Insights into the problem of alarm fatigue with physiologic monitor devices:
a comprehensive observational study of consecutive intensive care unit patients.
PLoS ONE 2014;9(10):e110274. 2,558,760 alarms in 31 days (arrhythmia 1,154,201; parameter
612,927; technical 791,632); 381,560 audible = 187 audible alarms per bed per day; 88.8 % of
12,671 annotated arrhythmia alarms false.

Clifford G.D. et al. The PhysioNet/Computing in Cardiology Challenge 2015: reducing false
arrhythmia alarms in the ICU. Computing in Cardiology 2015;42:273-276 (type mix below).

Paine C.W. et al. Systematic review of physiologic monitor alarm characteristics and pragmatic
interventions to reduce alarm frequency. J Hosp Med 2016;11(2):136-144 (< 1 % to 36 % of ICU
alarms actionable).

Default limits: Contec CMS8000 operator's manual, "default SpO2 and PR alarm limits" (adult
SpO2 low 90 %, PR 50-120 bpm); Physio-Control LIFEPAK 15 operating instructions, Table A-3
(adult RR 5-30 /min default). Delays: Philips IntelliVue MP2 manual, SpO2 Smart Alarm Delay
"medium" = 12 s; Mindray ePM manual: parameter alarm delay settable up to 15 s, apnea delay set
separately. ABP limits and the 20 s apnea delay are common ICU settings, not a cited default.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from ..events.types import AlarmType

SECONDS_PER_DAY = 86_400.0

#: Drew 2014: audible alarms per monitored bed per day.
AUDIBLE_ALARMS_PER_BED_DAY = 187.0
#: Drew 2014: share of all alarms by category. The simulator assumes audible alarms share it.
CATEGORY_SHARE = {
    "arrhythmia": 1_154_201 / 2_558_760,
    "parameter": 612_927 / 2_558_760,
    "technical": 791_632 / 2_558_760,
}
#: Drew 2014: share of annotated arrhythmia alarms that were false.
ARRHYTHMIA_FALSE_SHARE = 0.888

#: Challenge 2015 training-set alarm counts of the dev subset (false, true) per type: the type
#: mix follows the counts; the true share of each type is scaled so the total is Drew's 11.2 %.
CHALLENGE_COUNTS = {
    AlarmType.ASYSTOLE: (40, 9),
    AlarmType.EXTREME_BRADYCARDIA: (17, 18),
    AlarmType.EXTREME_TACHYCARDIA: (4, 52),
    AlarmType.VENTRICULAR_TACHYCARDIA: (101, 36),
    AlarmType.VENTRICULAR_FLUTTER_FIB: (21, 2),
}

#: Share of parameter (threshold) alarms by type: an assumption, no source gives it per type.
PARAMETER_MIX = {
    AlarmType.SPO2_LOW: 0.32,
    AlarmType.HR_HIGH: 0.14,
    AlarmType.HR_LOW: 0.06,
    AlarmType.ABP_HIGH: 0.10,
    AlarmType.ABP_LOW: 0.14,
    AlarmType.RR_HIGH: 0.10,
    AlarmType.RR_LOW: 0.04,
    AlarmType.APNEA: 0.10,
}
#: Parameter alarms that need action (within Paine 2016's 1-36 %); the rest split between
#: real-but-self-limiting excursions and artefacts. Assumption.
PARAMETER_ACTIONABLE_SHARE = 0.20
PARAMETER_TRANSIENT_SHARE = 0.35


class Fault(str, Enum):
    """Technical faults injected into the signals; each raises the technical alarm in FAULT_ALARM."""

    LEADS_OFF = "leads_off"
    PROBE_OFF = "probe_off"
    ABP_FLUSH = "abp_flush"
    ABP_ZEROING = "abp_zeroing"
    MOTION = "motion"
    SATURATION = "saturation"
    MISSING_SAMPLES = "missing_samples"


FAULT_ALARM = {
    Fault.LEADS_OFF: AlarmType.LEADS_OFF,
    Fault.PROBE_OFF: AlarmType.SPO2_PROBE_OFF,
    Fault.ABP_FLUSH: AlarmType.ABP_LINE_FAULT,
    Fault.ABP_ZEROING: AlarmType.ABP_LINE_FAULT,
    Fault.MOTION: AlarmType.SIGNAL_ARTIFACT,
    Fault.SATURATION: AlarmType.SIGNAL_ARTIFACT,
    Fault.MISSING_SAMPLES: AlarmType.SIGNAL_ARTIFACT,
}
#: Share of technical alarms by fault: an assumption (leads and probes dominate in practice).
FAULT_MIX = {
    Fault.LEADS_OFF: 0.30,
    Fault.PROBE_OFF: 0.28,
    Fault.ABP_FLUSH: 0.08,
    Fault.ABP_ZEROING: 0.06,
    Fault.MOTION: 0.14,
    Fault.SATURATION: 0.06,
    Fault.MISSING_SAMPLES: 0.08,
}
ABP_ONLY = frozenset({AlarmType.ABP_HIGH, AlarmType.ABP_LOW, Fault.ABP_FLUSH, Fault.ABP_ZEROING})


@dataclass(frozen=True, slots=True)
class Limit:
    """One threshold alarm: the numeric, which side, the default limit, the delay, the priority."""

    key: str
    high: bool
    limit: float
    delay_seconds: float
    priority: str


LIMITS: dict[AlarmType, Limit] = {
    AlarmType.SPO2_LOW: Limit("spo2_pct", False, 90.0, 12.0, "medium"),
    AlarmType.HR_HIGH: Limit("hr_bpm", True, 120.0, 10.0, "medium"),
    AlarmType.HR_LOW: Limit("hr_bpm", False, 50.0, 10.0, "medium"),
    AlarmType.ABP_HIGH: Limit("abp_sys_mmhg", True, 160.0, 10.0, "medium"),
    AlarmType.ABP_LOW: Limit("abp_sys_mmhg", False, 90.0, 10.0, "medium"),
    AlarmType.RR_HIGH: Limit("rr_per_min", True, 30.0, 10.0, "low"),
    AlarmType.RR_LOW: Limit("rr_per_min", False, 5.0, 10.0, "low"),
    AlarmType.APNEA: Limit("rr_per_min", False, 0.5, 20.0, "high"),
}


def arrhythmia_true_share() -> dict[AlarmType, float]:
    """Per-type true share: the challenge's, scaled in odds so the mix-weighted total is 11.2 %.

    >>> shares = arrhythmia_true_share()
    >>> round(sum(arrhythmia_mix()[t] * p for t, p in shares.items()), 3)
    0.112
    """
    target = 1.0 - ARRHYTHMIA_FALSE_SHARE
    mix = arrhythmia_mix()
    lo, hi = 1e-6, 1e6
    for _ in range(100):  # bisection on the odds multiplier
        k = (lo * hi) ** 0.5
        total = sum(mix[t] * _scaled(f, tr, k) for t, (f, tr) in CHALLENGE_COUNTS.items())
        lo, hi = (k, hi) if total < target else (lo, k)
    return {t: _scaled(f, tr, k) for t, (f, tr) in CHALLENGE_COUNTS.items()}


def _scaled(n_false: int, n_true: int, k: float) -> float:
    odds = (n_true + 0.5) / (n_false + 0.5) * k
    return odds / (1.0 + odds)


def arrhythmia_mix() -> dict[AlarmType, float]:
    total = sum(f + t for f, t in CHALLENGE_COUNTS.values())
    return {a: (f + t) / total for a, (f, t) in CHALLENGE_COUNTS.items()}


class SimConfig(BaseModel):
    """A ward to simulate. Same config and seed, same stream, byte for byte."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    beds: int = Field(20, ge=1, le=10_000)
    hours: float = Field(1.0, gt=0, le=24 * 14)
    seed: int = 0
    unit: str = Field("ICU1", pattern=r"^[A-Za-z0-9_]+$")
    start_ts: float = Field(1_764_150_000.0, ge=946_684_800.0)
    fs_hz: float = Field(250.0, gt=0, le=1000)
    vitals_period_seconds: int = Field(1, ge=1, le=60, description="numerics every N s (waveform chunks: 1 s)")
    context_seconds: float = Field(70.0, ge=10, le=600, description="waveform streamed before each alarm")
    after_seconds: float = Field(10.0, ge=0, le=120, description="waveform streamed after each alarm")
    audible_alarms_per_bed_day: float = Field(AUDIBLE_ALARMS_PER_BED_DAY, ge=0)
    abp_line_share: float = Field(0.6, ge=0, le=1, description="beds with an arterial line")
    bed_rate_dispersion: float = Field(
        0.0, ge=0, le=5, description="variance of a per-bed rate multiplier (mean 1); 0 = all beds alike"
    )
    real_arrhythmia_share: float = Field(
        0.75, ge=0, le=1, description="arrhythmia alarms taken from real records when data is present"
    )
    data_dir: str | None = Field(None, description="data root; None = look where find_dataset looks")
    use_real_data: bool = True

    @property
    def seconds(self) -> float:
        return self.hours * 3600.0

    def rate_per_bed_second(self, category: str) -> float:
        return self.audible_alarms_per_bed_day * CATEGORY_SHARE[category] / SECONDS_PER_DAY
