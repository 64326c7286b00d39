"""The real recordings a simulated ward is built from, found where `find_dataset` looks.

- challenge records (real waveforms around real true and false arrhythmia alarms), else the
  small sample shipped in the package, else none;
- BIDMC 1 Hz numerics (HR, pulse, RR, SpO2) and MIMIC II per-minute numerics (with ABP) as the
  beds' vital-sign baselines.

Whatever is absent, the simulator synthesises, and `RealData.describe()` says which.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..datasets.challenge import ALARM_TIME_SECONDS, load_record, read_alarms, record_names
from ..datasets.location import BIDMC, find_challenge, find_dataset

FloatArray = npt.NDArray[np.float64]
MIMIC = "mimic2-numerics"
MIMIC_RECORD = "s00001-2896-10-10-00-31n"  # 32 h of per-minute numerics with ABP
#: Records held in memory at once: each is ~0.5 MB for the 70 s the ward streams.
RECORD_CACHE = 48
#: Real numerics outside these ranges are gaps or unit errors, not physiology.
PLAUSIBLE = {"hr_bpm": (20, 250), "pulse_bpm": (20, 250), "rr_per_min": (1, 70), "spo2_pct": (50, 100),
             "abp_sys_mmhg": (40, 260), "abp_dia_mmhg": (15, 160), "abp_mean_mmhg": (25, 200)}


@dataclass(frozen=True, slots=True)
class RecordInfo:
    name: str
    alarm_type: str
    label: bool
    tail_seconds: float  # real signal after the alarm


@dataclass
class RecordPool:
    """Labelled alarm records; loads the stretch around an alarm on demand (bounded cache)."""

    source: str
    records: list[RecordInfo]
    folder: Path | None = None
    _cache: OrderedDict[tuple[str, float, float], tuple[dict[str, FloatArray], dict[str, str], float, int]] = field(
        default_factory=OrderedDict
    )
    _sample: dict[str, tuple[dict[str, FloatArray], dict[str, str], float]] = field(default_factory=dict)
    _numerics: dict[tuple[str, float, float], tuple[dict[str, FloatArray], int, float]] = field(default_factory=dict)

    def by_kind(self, alarm_type: str, label: bool) -> list[RecordInfo]:
        return [r for r in self.records if r.alarm_type == alarm_type and r.label == label]

    def segment(
        self, name: str, before_seconds: float, after_seconds: float
    ) -> tuple[dict[str, FloatArray], dict[str, str], float, int]:
        """Signals from `before_seconds` before the alarm to at most `after_seconds` after it.

        Also returns how many samples lie before the alarm (fewer when the record is shorter).
        """
        key = (name, before_seconds, after_seconds)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        if self.folder is not None:
            signals, units, fs_hz, _, _ = load_record(self.folder / name, until_alarm=False)
            alarm_s = ALARM_TIME_SECONDS
        else:
            signals, units, fs_hz = self._sample[name]
            alarm_s = len(next(iter(signals.values()))) / fs_hz
        a = round(alarm_s * fs_hz)
        lo, hi = max(0, a - round(before_seconds * fs_hz)), a + round(after_seconds * fs_hz)
        out = ({k: np.ascontiguousarray(v[lo:hi]) for k, v in signals.items()}, units, fs_hz, a - lo)
        self._cache[key] = out
        if len(self._cache) > RECORD_CACHE:
            self._cache.popitem(last=False)
        return out

    def numerics(
        self, name: str, before_seconds: float, after_seconds: float
    ) -> tuple[dict[str, FloatArray], int, float]:
        """`record_numerics` of a segment, its samples before the alarm and its rate.

        Memoised: a record recurs on many beds, and its numerics are a few hundred floats.
        """
        key = (name, before_seconds, after_seconds)
        if key not in self._numerics:
            signals, _, fs_hz, before = self.segment(name, before_seconds, after_seconds)
            self._numerics[key] = (record_numerics(signals, fs_hz), before, fs_hz)
        return self._numerics[key]


@dataclass
class RealData:
    """What real data this run found; any part may be missing."""

    records: RecordPool | None = None
    bidmc: list[tuple[str, dict[str, FloatArray]]] = field(default_factory=list)  # 1 Hz
    mimic: tuple[str, dict[str, FloatArray]] | None = None  # per minute
    where: list[str] = field(default_factory=list)

    @property
    def synthetic_only(self) -> bool:
        return self.records is None and not self.bidmc and self.mimic is None

    def describe(self) -> str:
        """One line for a run's output: what is real, where it came from, what is synthetic."""
        if self.synthetic_only:
            return "fully synthetic (no real data found)"
        missing = [what for what, have in (("arrhythmia waveforms", self.records is not None),
                                           ("vitals", bool(self.bidmc)), ("ABP numerics", self.mimic is not None))
                   if not have]
        tail = [f"{', '.join(missing)} synthetic"] if missing else []
        return "; ".join(self.where + tail) + "; synthetic physiology between real events"


def find_real_data(data_dir: str | None = None, use_real: bool = True) -> RealData:
    """Look for each data set where the project looks (`--data`, env, ../shared/data, cache)."""
    real = RealData()
    if not use_real:
        return real
    loc = find_challenge(data_dir)
    pool = _challenge_pool(loc.dataset()) if loc is not None else None
    if loc is not None and pool is not None:
        real.records = pool
        real.where.append(f"{len(pool.records)} challenge records from {loc.describe()}")
    else:  # no folder, or one without labels (no ground truth): the shipped sample, if any
        real.records = _sample_pool()
        if real.records is not None:
            real.where.append(f"{len(real.records.records)} challenge records from the shipped sample")
    bidmc = find_dataset(BIDMC, data_dir)
    if bidmc is not None:
        real.bidmc = _load_bidmc(bidmc.dataset(BIDMC))
        real.where.append(f"{len(real.bidmc)} BIDMC numerics stays from {bidmc.describe()}")
    mimic = find_dataset(MIMIC, data_dir)
    if mimic is not None and (mimic.dataset(MIMIC) / f"{MIMIC_RECORD}.hea").is_file():
        real.mimic = _load_mimic(mimic.dataset(MIMIC) / MIMIC_RECORD)
        real.where.append(f"MIMIC II numerics {MIMIC_RECORD} from {mimic.describe()}")
    return real


def _challenge_pool(folder: Path) -> RecordPool | None:
    alarms = read_alarms(folder)
    infos = []
    for name in record_names(folder):
        alarm_type, label = alarms.get(name, ("unknown", None))
        if label is None or alarm_type == "unknown":
            continue  # unlabelled records cannot give ground truth
        infos.append(RecordInfo(name, alarm_type, label, 30.0 if name.endswith("l") else 0.0))
    return RecordPool(f"challenge records in {folder}", infos, folder) if infos else None


def _sample_pool() -> RecordPool | None:
    try:
        from ..datasets import sample
    except ImportError:
        return None
    if not sample.available():
        return None
    pool = RecordPool("shipped sample", [])
    for rec in sample.records():
        if rec.label is None:
            continue
        pool.records.append(RecordInfo(rec.name, rec.alarm_type, rec.label, 0.0))
        pool._sample[rec.name] = (rec.signals, rec.units, rec.fs_hz)
    return pool if pool.records else None


def clean(series: FloatArray, key: str) -> FloatArray:
    """Implausible values become gaps, gaps are interpolated (a flat series if all are gaps).

    >>> clean(np.array([80.0, 0.0, 84.0, np.nan]), "hr_bpm").tolist()
    [80.0, 82.0, 84.0, 84.0]
    """
    lo, hi = PLAUSIBLE[key]
    x = np.where((series >= lo) & (series <= hi), series, np.nan)
    ok = np.isfinite(x)
    if not ok.any():
        return np.full(len(x), np.nan)
    idx = np.arange(len(x))
    return np.interp(idx, idx[ok], x[ok])


def _load_bidmc(folder: Path) -> list[tuple[str, dict[str, FloatArray]]]:
    out = []
    for csv in sorted(folder.glob("bidmc_*_Numerics.csv")):
        try:
            data = np.genfromtxt(csv, delimiter=",", names=True, dtype=np.float64)
        except ValueError:
            continue
        cols: dict[str, FloatArray] = {n.lower(): np.asarray(data[n]) for n in data.dtype.names or ()}  # type: ignore[call-overload]
        series = {"hr_bpm": cols.get("hr"), "pulse_bpm": cols.get("pulse"), "rr_per_min": cols.get("resp"),
                  "spo2_pct": cols.get("spo2")}
        if any(v is None or len(v) < 60 for v in series.values()):
            continue
        cleaned = {k: clean(np.asarray(v, dtype=np.float64), k) for k, v in series.items()}
        if all(np.isfinite(v).all() for v in cleaned.values()):
            out.append((csv.stem.replace("_Numerics", ""), cleaned))
    return out


def _load_mimic(path: Path) -> tuple[str, dict[str, FloatArray]] | None:
    import wfdb

    try:
        rec = wfdb.rdrecord(str(path))
    except Exception:  # noqa: BLE001 - wfdb raises many kinds; a broken file = no file: synthesised instead
        return None
    names = {"HR": "hr_bpm", "PULSE": "pulse_bpm", "RESP": "rr_per_min", "SpO2": "spo2_pct",
             "ABPSys": "abp_sys_mmhg", "ABPDias": "abp_dia_mmhg", "ABPMean": "abp_mean_mmhg"}
    out = {}
    for j, sig in enumerate(rec.sig_name):
        if sig in names:
            out[names[sig]] = clean(np.asarray(rec.p_signal[:, j], dtype=np.float64), names[sig])
    if "abp_sys_mmhg" not in out or not np.isfinite(out["abp_sys_mmhg"]).all():
        return None
    return path.name, out


ECG_NAMES = ("II", "I", "III", "V", "MCL", "aVF", "aVR", "aVL")


def _rate_per_second(beats_s: FloatArray, n_seconds: int, lookback_seconds: float = 5.0) -> FloatArray:
    """A monitor-style rate at the end of each second: 60 / median beat interval of the last 5 s.

    >>> _rate_per_second(np.arange(0.0, 10.0, 0.5), 10, 5.0)[[0, 5, 9]].tolist()
    [120.0, 120.0, 120.0]
    >>> _rate_per_second(np.array([0.2, 1.2, 2.2, 8.5]), 10, 5.0)[[1, 2, 8]].tolist()
    [nan, 60.0, nan]
    """
    out = np.full(n_seconds, np.nan)
    if beats_s.size < 2:
        return out
    rr = np.diff(beats_s)
    ends = beats_s[1:]
    for s in range(n_seconds):
        sel = rr[(ends > s + 1 - lookback_seconds) & (ends <= s + 1)]
        if sel.size >= 2:
            out[s] = 60.0 / float(np.median(sel))
    return out


def record_numerics(signals: dict[str, FloatArray], fs_hz: float) -> dict[str, FloatArray]:
    """Per-second HR, pulse and ABP a monitor would have shown for a real record's stretch.

    So the vitals stream agrees with the real waveform spliced in (e.g. HR 160 during a real
    VT). Seconds the signals cannot give stay NaN (the baseline is kept there).
    """
    from ..signals.beats import pulse_detect, qrs_detect

    n = len(next(iter(signals.values())))
    n_seconds = n // round(fs_hz)
    out: dict[str, FloatArray] = {}
    for name in ECG_NAMES:
        x = signals.get(name)
        if x is not None and np.isfinite(x).mean() > 0.95:
            peaks = qrs_detect(np.nan_to_num(x), fs_hz)
            out["hr_bpm"] = _rate_per_second(peaks / fs_hz, n_seconds)
            break
    for name, is_abp in (("PLETH", False), ("ABP", True)):
        x = signals.get(name)
        if x is not None and np.isfinite(x).mean() > 0.95:
            peaks = pulse_detect(np.nan_to_num(x, nan=float(np.nanmedian(x))), fs_hz, is_abp=is_abp)
            out["pulse_bpm"] = _rate_per_second(peaks / fs_hz, n_seconds)
            break
    abp = signals.get("ABP")
    if abp is not None and np.isfinite(abp).mean() > 0.95:
        step = round(fs_hz)
        blocks = abp[: n_seconds * step].reshape(n_seconds, step)
        two = np.concatenate([blocks[:1], blocks[:-1]]) if n_seconds > 1 else blocks  # previous second too
        both = np.concatenate([two, blocks], axis=1)
        with np.errstate(all="ignore"):
            out["abp_sys_mmhg"] = np.nanmax(both, axis=1)
            out["abp_dia_mmhg"] = np.nanmin(both, axis=1)
            out["abp_mean_mmhg"] = np.nanmean(both, axis=1)
    for k, v in out.items():
        lo, hi = PLAUSIBLE[k]
        v[(v < lo) | (v > hi)] = np.nan
    return out
