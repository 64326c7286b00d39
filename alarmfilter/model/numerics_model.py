"""p(true alarm | numerics evidence) for threshold alarms, learned online per type, and the ward model.

Threshold alarms have no labelled development set here, so their prior is physiological
(`policy.threshold_prior`): its verdict arrives as the feature ``thr_prior_logit`` and, until a
type has seen ``min_labels_per_class`` clinician labels of each class, decides alone.  Each type's
river ``StandardScaler -> LogisticRegression`` (the arrhythmia model's ``TypeModel``) learns a
*correction* to that logit from feedback (it starts at zero: the learned model starts as the
prior), class-balanced so a ward where most alarms are false cannot talk the model into calling
everything false.  An alarm beyond its critical bound (``thr_critical``) scores 1 whatever was
learned; the policy forwards it before asking any model.

``WardModel`` puts this next to the arrhythmia ``AlarmModel`` behind one river-style interface
(``predict_proba_one``, ``learn_one``, ``thresholds``, JSON ``to_dict``/``from_dict``), so one
lifecycle snapshots, versions and guards both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from river import utils

from alarmfilter.model.classifier import AlarmModel, TypeModel
from alarmfilter.signals.evidence import NOT_AVAILABLE

FORMAT = "alarmfilter.numerics-model/2"  # /1 learned without the prior: refused
WARD_FORMAT = "alarmfilter.ward-model/1"

_COMMON: tuple[tuple[str, float, float], ...] = (
    ("num_beyond_limit", -50.0, 200.0),
    ("num_beyond_frac_30s", 0.0, 1.0),
    ("num_persist_seconds", 0.0, 60.0),
    ("num_max_step_per_s", 0.0, 50.0),
    ("num_slope_per_min", -60.0, 60.0),
    ("num_baseline_delta", -100.0, 200.0),
    ("num_missing_frac", 0.0, 1.0),
    ("fault_on_source", 0.0, 1.0),
    ("reraise_count", 0.0, 10.0),
    ("num_post_beyond_frac", 0.0, 1.0),
    ("thr_recovered", 0.0, 1.0),
    ("thr_artefact", 0.0, 1.0),
    ("thr_severity", 0.0, 10.0),
)
_PULSE = (("hr_pulse_gap_bpm", 0.0, 100.0),)
_ABP = (
    ("abp_pulse_pressure_mmhg", 0.0, 150.0),
    ("abp_wave_flat_frac", 0.0, 1.0),
    ("abp_wave_pulsatility_mmhg", 0.0, 200.0),
    ("abp_wave_max_mmhg", 0.0, 350.0),
)
#: per threshold type: (feature, low clip, high clip), as for the arrhythmia model
NUMERICS_SPEC: dict[str, tuple[tuple[str, float, float], ...]] = {
    "spo2_low": _COMMON + _PULSE + (("ppg_quality", 0.0, 1.0), ("ppg_rate_gap_bpm", 0.0, 100.0)),
    "hr_high": _COMMON + _PULSE + (("ecg_quality", 0.0, 1.0),),
    "hr_low": _COMMON + _PULSE + (("ecg_quality", 0.0, 1.0),),
    "abp_high": _COMMON + _ABP,
    "abp_low": _COMMON + _ABP,
    "rr_high": _COMMON,
    "rr_low": _COMMON,
    "apnea": _COMMON,
}
#: forward unless the model is fairly sure the alarm is false (class-balanced scores)
DEFAULT_THRESHOLD = 0.2
ONLINE_LR = 0.1
#: the learned correction's weights stay within +-this (a few labels cannot swamp the prior)
MAX_ABS_WEIGHT = 6.0
#: the prior's logit when an alarm carries none (evidence from before the prior existed): forward
FORWARD_LOGIT = math.log(0.95 / 0.05)


def select_numerics(features: Mapping[str, float], alarm_type: str) -> dict[str, float]:
    """The threshold model's inputs for this type, clipped; unavailable values left out (neutral).

    >>> select_numerics({"num_persist_seconds": 300.0, "ppg_quality": -999.0, "x": 1.0}, "spo2_low")
    {'num_persist_seconds': 60.0}
    """
    out: dict[str, float] = {}
    for k, lo, hi in NUMERICS_SPEC.get(alarm_type, ()):
        v = features.get(k)
        if v is None:
            continue
        v = float(v)
        if v == NOT_AVAILABLE or not math.isfinite(v):
            continue
        out[k] = min(max(v, lo), hi)
    return out


def _zero_correction(alarm_type: str, lr: float) -> TypeModel:
    tm = TypeModel(tuple(k for k, _, _ in NUMERICS_SPEC[alarm_type]), lr)
    tm.logreg._weights = utils.VectorDict({})
    tm.logreg.intercept = 0.0
    return tm


def base_logit(x: Mapping[str, Any]) -> float:
    """The prior's logit carried by the evidence (forward when absent).

    >>> base_logit({"thr_prior_logit": -3.0}), round(base_logit({}), 2)
    (-3.0, 2.94)
    """
    v = x.get("thr_prior_logit")
    if v is None or not math.isfinite(float(v)):
        return FORWARD_LOGIT
    return float(v)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def learn_correction(tm: TypeModel, xs: dict[str, float], y: bool, w: float, base: float) -> None:
    """One SGD step of the logistic loss on ``base + tm.logit(xs)``, the prior's logit held fixed
    (river's own ``learn_one`` cannot take an offset), weights bounded by ``MAX_ABS_WEIGHT``."""
    tm.scaler.learn_one(xs)
    z = tm.scaler.transform_one(xs)
    g = w * (_sigmoid(base + tm.logreg._raw_dot_one(z)) - float(y))
    weights = tm.logreg._weights
    for k, v in z.items():
        weights[k] = min(MAX_ABS_WEIGHT, max(-MAX_ABS_WEIGHT, weights.get(k, 0.0) - tm.lr * g * v))
    tm.logreg.intercept = min(MAX_ABS_WEIGHT, max(-MAX_ABS_WEIGHT, tm.logreg.intercept - tm.lr * g))


class NumericsModel:
    """Per threshold alarm type: the prior's logit plus a learned correction, once labels allow.

    >>> m = NumericsModel()
    >>> round(m.predict_proba_one({"thr_prior_logit": 2.94}, "spo2_low")[True], 2)   # the prior: forward
    0.95
    >>> fwd = {"thr_prior_logit": 2.94}
    >>> for i in range(40):
    ...     _ = m.learn_one({**fwd, "num_max_step_per_s": 25.0 + i % 3, "num_persist_seconds": 1.0}, False, "spo2_low")
    ...     _ = m.learn_one({**fwd, "num_max_step_per_s": 1.0 + i % 3, "num_persist_seconds": 40.0}, True, "spo2_low")
    >>> p_art = m.predict_proba_one({**fwd, "num_max_step_per_s": 26.0, "num_persist_seconds": 1.0}, "spo2_low")[True]
    >>> p_real = m.predict_proba_one({**fwd, "num_max_step_per_s": 2.0, "num_persist_seconds": 40.0}, "spo2_low")[True]
    >>> p_art < DEFAULT_THRESHOLD < p_real
    True
    >>> m.predict_proba_one({**fwd, "num_max_step_per_s": 26.0, "thr_critical": 1.0}, "spo2_low")[True]
    1.0
    """

    def __init__(self, types: dict[str, TypeModel] | None = None, thresholds: dict[str, float] | None = None,
                 label_counts: dict[str, list[int]] | None = None, *, min_labels_per_class: int = 20,
                 lr: float = ONLINE_LR) -> None:
        self.types: dict[str, TypeModel] = dict(types or {})
        self.thresholds: dict[str, float] = {t: DEFAULT_THRESHOLD for t in NUMERICS_SPEC} | dict(thresholds or {})
        self.label_counts: dict[str, list[int]] = {t: list(v) for t, v in (label_counts or {}).items()}
        self.min_labels_per_class = min_labels_per_class
        self.lr = lr

    def ready(self, alarm_type: str) -> bool:
        """True once the type has enough labels of both classes to be trusted with a suppression."""
        neg, pos = self.label_counts.get(alarm_type, [0, 0])
        return min(neg, pos) >= self.min_labels_per_class

    def predict_proba_one(self, x: Mapping[str, Any], alarm_type: str) -> dict[bool, float]:
        if float(x.get("thr_critical", 0.0) or 0.0) >= 1.0:  # beyond the critical bound: nothing learned lowers it
            return {False: 0.0, True: 1.0}
        z = base_logit(x)
        tm = self.types.get(alarm_type)
        if tm is not None and self.ready(alarm_type):
            z += tm.logit(select_numerics(x, alarm_type))
        p = _sigmoid(z)
        return {False: 1.0 - p, True: p}

    def contributions_one(self, x: Mapping[str, Any], alarm_type: str) -> dict[str, float]:
        tm = self.types.get(alarm_type)
        return tm.contributions(select_numerics(x, alarm_type)) if tm else {}

    def learn_one(self, x: Mapping[str, Any], y: bool, alarm_type: str) -> bool:
        """Learn one label (class-balanced weight); False when the type has no numerics model."""
        if alarm_type not in NUMERICS_SPEC:
            return False
        counts = self.label_counts.setdefault(alarm_type, [0, 0])
        counts[int(bool(y))] += 1
        n = counts[0] + counts[1]
        w = min(5.0, 0.5 * n / counts[int(bool(y))])
        tm = self.types.get(alarm_type) or self.types.setdefault(alarm_type, _zero_correction(alarm_type, self.lr))
        learn_correction(tm, select_numerics(x, alarm_type), bool(y), w, base_logit(x))
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "types": {t: m.to_dict() for t, m in sorted(self.types.items())},
            "thresholds": dict(sorted(self.thresholds.items())),
            "label_counts": {t: list(v) for t, v in sorted(self.label_counts.items())},
            "min_labels_per_class": self.min_labels_per_class,
            "lr": self.lr,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NumericsModel:
        if d.get("format") != FORMAT:
            raise ValueError(f"unsupported numerics model format {d.get('format')!r}")
        return cls(
            {t: TypeModel.from_dict(v) for t, v in d["types"].items()},
            {t: float(v) for t, v in d["thresholds"].items()},
            {t: [int(v[0]), int(v[1])] for t, v in d["label_counts"].items()},
            min_labels_per_class=int(d["min_labels_per_class"]),
            lr=float(d["lr"]),
        )


#: what only the engine knows about an alarm, offered to the arrhythmia scores as learned offsets
CONTEXT_FEATURES: tuple[tuple[str, float, float], ...] = (("fault_on_source", 0.0, 1.0), ("reraise_count", 0.0, 10.0))


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


class ContextOffsets:
    """Learned logit offsets, per arrhythmia type, for a technical fault on the source sensor and
    for re-raises.  They start at zero (the prior's scores unchanged) and move only on labelled
    alarms that carry the context, by SGD on the logistic loss with the arrhythmia model's logit
    held fixed, bounded to +-``max_abs``.

    >>> c = ContextOffsets()
    >>> c.offset({"fault_on_source": 1.0}, "asystole")
    0.0
    >>> for _ in range(30):
    ...     c.learn_one({"fault_on_source": 1.0}, False, "asystole", base_logit=0.5)
    >>> c.offset({"fault_on_source": 1.0}, "asystole") < -0.5, c.offset({"fault_on_source": 0.0}, "asystole")
    (True, 0.0)
    """

    def __init__(self, weights: dict[str, dict[str, float]] | None = None, lr: float = 0.1,
                 max_abs: float = 4.0) -> None:
        self.weights = {t: dict(w) for t, w in (weights or {}).items()}
        self.lr = lr
        self.max_abs = max_abs

    @staticmethod
    def _x(x: Mapping[str, Any]) -> dict[str, float]:
        out = {}
        for k, lo, hi in CONTEXT_FEATURES:
            v = x.get(k)
            if v is not None and math.isfinite(float(v)) and float(v) != NOT_AVAILABLE:
                out[k] = min(max(float(v), lo), hi)
        return out

    def offset(self, x: Mapping[str, Any], alarm_type: str) -> float:
        w = self.weights.get(alarm_type, {})
        return sum(w.get(k, 0.0) * v for k, v in self._x(x).items())

    def learn_one(self, x: Mapping[str, Any], y: bool, alarm_type: str, base_logit: float) -> None:
        xs = {k: v for k, v in self._x(x).items() if v}
        if not xs:
            return
        w = self.weights.setdefault(alarm_type, {})
        z = base_logit + self.offset(x, alarm_type)
        g = 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0))) - float(y)
        for k, v in xs.items():
            w[k] = min(self.max_abs, max(-self.max_abs, w.get(k, 0.0) - self.lr * g * v))

    def to_dict(self) -> dict[str, Any]:
        return {"weights": {t: dict(sorted(w.items())) for t, w in sorted(self.weights.items())},
                "lr": self.lr, "max_abs": self.max_abs}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ContextOffsets:
        return cls({t: {k: float(v) for k, v in w.items()} for t, w in d["weights"].items()},
                   float(d["lr"]), float(d["max_abs"]))


class WardModel:
    """Arrhythmia model + threshold-alarm model behind one interface, routed by alarm type.

    Arrhythmia scores also take the engine's context (a technical fault on the source sensor,
    re-raises) through learned `ContextOffsets`.  Anything neither model knows scores p = 1.
    """

    def __init__(self, arrhythmia: AlarmModel | None = None, numerics: NumericsModel | None = None,
                 context: ContextOffsets | None = None) -> None:
        self.arrhythmia = arrhythmia or AlarmModel()
        self.numerics = numerics or NumericsModel()
        self.context = context or ContextOffsets()
        self.n_learned = 0

    @property
    def thresholds(self) -> dict[str, float]:
        return {**self.numerics.thresholds, **self.arrhythmia.thresholds}

    def predict_proba_one(self, x: Mapping[str, Any], alarm_type: str) -> dict[bool, float]:
        if alarm_type in NUMERICS_SPEC:
            return self.numerics.predict_proba_one(x, alarm_type)
        p = self.arrhythmia.predict_proba_one(x, alarm_type)[True]
        off = self.context.offset(x, alarm_type)
        if p >= 1.0 or off == 0.0:  # no model or no signal stays a forward
            return {False: 1.0 - p, True: p}
        p = 1.0 / (1.0 + math.exp(-max(min(_logit(p) + off, 50.0), -50.0)))
        return {False: 1.0 - p, True: p}

    def contributions_one(self, x: Mapping[str, Any], alarm_type: str) -> dict[str, float]:
        if alarm_type in NUMERICS_SPEC:
            return self.numerics.contributions_one(x, alarm_type)
        return self.arrhythmia.contributions_one(x, alarm_type)

    def learn_one(self, x: Mapping[str, Any], y: bool, alarm_type: str) -> None:
        if not self.numerics.learn_one(x, y, alarm_type):
            p = self.arrhythmia.predict_proba_one(x, alarm_type)[True]
            if p < 1.0:
                self.context.learn_one(x, y, alarm_type, _logit(p))
            self.arrhythmia.learn_one(x, y, alarm_type)
        self.n_learned += 1

    def to_dict(self) -> dict[str, Any]:
        return {"format": WARD_FORMAT, "arrhythmia": self.arrhythmia.to_dict(),
                "numerics": self.numerics.to_dict(), "context": self.context.to_dict(), "n_learned": self.n_learned}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WardModel:
        if d.get("format") != WARD_FORMAT:
            raise ValueError(f"unsupported ward model format {d.get('format')!r}")
        m = cls(AlarmModel.from_dict(d["arrhythmia"]), NumericsModel.from_dict(d["numerics"]),
                ContextOffsets.from_dict(d["context"]))
        m.n_learned = int(d.get("n_learned", 0))
        return m
