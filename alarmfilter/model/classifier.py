"""p(true alarm | evidence, alarm type): one river logistic regression per type.

The prior is fitted in batch (deterministic L-BFGS, class-balanced, L2) on the
development records and loaded into river estimators, so the same object keeps
learning online from clinician feedback via ``learn_one``.  State round-trips
through plain JSON (no pickle): the scaler's running moments and the
regression's weights, intercept and optimiser step count.

References
----------
Montiel J. et al. River: machine learning for streaming data in Python. JMLR
2021;22(110):1-8.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from river import linear_model, optim, preprocessing, utils
from scipy import optimize

from alarmfilter.model.features import MODEL_FEATURES, InputSpec, input_spec, select_features

FORMAT = "alarmfilter.model/1"
#: learning rate for online feedback updates (small: one label must not flip a type)
ONLINE_LR = 0.02
#: clip bound meaning "no clipping" (finite, so snapshots stay strict JSON)
UNBOUNDED = 1e12
L2 = 0.01


def _new_pipeline_parts(lr: float = ONLINE_LR) -> tuple[preprocessing.StandardScaler, linear_model.LogisticRegression]:
    return (
        preprocessing.StandardScaler(),
        linear_model.LogisticRegression(optimizer=optim.SGD(lr), l2=L2, intercept_lr=lr),
    )


class TypeModel:
    """StandardScaler -> LogisticRegression for one alarm type (river estimators)."""

    def __init__(self, spec: tuple[InputSpec, ...] | tuple[str, ...], lr: float = ONLINE_LR) -> None:
        # bare feature names (other models' use): no clipping, no log, no sign constraint
        full = [(v, -UNBOUNDED, UNBOUNDED, False, 0) if isinstance(v, str) else v for v in spec]
        self.spec = tuple((str(k), float(lo), float(hi), bool(lg), int(sg)) for k, lo, hi, lg, sg in full)
        self.features = tuple(k for k, *_ in self.spec)
        self.lr = lr
        self.scaler, self.logreg = _new_pipeline_parts(lr)

    def inputs(self, x: Mapping[str, Any], alarm_type: str) -> dict[str, float]:
        return select_features(x, alarm_type, self.spec)

    def logit(self, x: dict[str, float]) -> float:
        z = self.scaler.transform_one(x)
        return float(self.logreg._raw_dot_one(z))

    def contributions(self, x: dict[str, float]) -> dict[str, float]:
        z = self.scaler.transform_one(x)
        w = self.logreg.weights
        return {k: float(w.get(k, 0.0) * v) for k, v in z.items()}

    def learn_one(self, x: dict[str, float], y: bool, w: float = 1.0) -> None:
        self.scaler.learn_one(x)
        self.logreg.learn_one(self.scaler.transform_one(x), bool(y), w=w)
        # keep the physiological direction of every weight (see FEATURE_SIGNS)
        for k, *_, sign in self.spec:
            if k in self.logreg._weights and sign * self.logreg._weights[k] < 0:
                self.logreg._weights[k] = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "spec": [list(v) for v in self.spec],
            "lr": self.lr,
            "scaler": {
                "counts": {k: int(v) for k, v in self.scaler.counts.items()},
                "means": {k: float(v) for k, v in self.scaler.means.items()},
                "vars": {k: float(v) for k, v in self.scaler.vars.items()},
            },
            "weights": {k: float(v) for k, v in self.logreg.weights.items()},
            "intercept": float(self.logreg.intercept),
            "n_iterations": int(self.logreg.optimizer.n_iterations),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], alarm_type: str = "") -> TypeModel:
        if "spec" in d:
            spec = tuple((str(k), float(lo), float(hi), bool(lg), int(sg)) for k, lo, hi, lg, sg in d["spec"])
        else:  # older snapshot: the current code's recipe for these features
            known = {v[0]: v for v in input_spec(alarm_type)}
            spec = tuple(known.get(k, (k, -UNBOUNDED, UNBOUNDED, False, 0)) for k in d["features"])
        m = cls(spec, float(d.get("lr", ONLINE_LR)))
        sc = d["scaler"]
        m.scaler.counts.update({k: int(v) for k, v in sc["counts"].items()})
        m.scaler.means.update({k: float(v) for k, v in sc["means"].items()})
        m.scaler.vars.update({k: float(v) for k, v in sc["vars"].items()})
        m.logreg._weights = utils.VectorDict({k: float(v) for k, v in d["weights"].items()})
        m.logreg.intercept = float(d["intercept"])
        m.logreg.optimizer.n_iterations = int(d.get("n_iterations", 0))
        return m


class AlarmModel:
    """Per-type models behind one river-style interface.

    ``x`` is the evidence feature dict; the alarm type comes from the
    ``alarm_type`` argument or, river-style, from ``x["alarm_type"]``.
    Types without a model (or alarms with no usable channel at all) score
    p = 1: the engine must forward what it cannot judge.
    """

    def __init__(self, types: dict[str, TypeModel] | None = None, thresholds: dict[str, float] | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        self.types: dict[str, TypeModel] = dict(types or {})
        self.thresholds: dict[str, float] = dict(thresholds or {})
        self.meta: dict[str, Any] = dict(meta or {})
        self.n_learned = int(self.meta.get("n_learned", 0))
        self._base_version = self._digest()

    # -- scoring ---------------------------------------------------------
    @staticmethod
    def _type_of(x: Mapping[str, Any], alarm_type: str | None) -> str:
        return str(alarm_type if alarm_type is not None else x.get("alarm_type", ""))

    def _no_signal(self, x: Mapping[str, Any]) -> bool:
        ne, npl = x.get("n_ecg_usable"), x.get("n_pulse_usable")
        return ne is not None and npl is not None and float(ne) + float(npl) <= 0

    def predict_proba_one(self, x: Mapping[str, Any], alarm_type: str | None = None) -> dict[bool, float]:
        """``{False: 1 - p, True: p}`` with p = probability the alarm is true."""
        t = self._type_of(x, alarm_type)
        tm = self.types.get(t)
        if tm is None or self._no_signal(x):
            return {False: 0.0, True: 1.0}
        z = tm.logit(tm.inputs(x, t))
        p = 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))
        return {False: 1.0 - p, True: p}

    def contributions_one(self, x: Mapping[str, Any], alarm_type: str | None = None) -> dict[str, float]:
        """Per-feature logit contributions (positive = towards a true alarm), for reasons."""
        t = self._type_of(x, alarm_type)
        tm = self.types.get(t)
        return tm.contributions(tm.inputs(x, t)) if tm else {}

    def learn_one(self, x: Mapping[str, Any], y: bool, alarm_type: str | None = None) -> None:
        """One clinician label; unknown types start a model on the fly."""
        t = self._type_of(x, alarm_type)
        if t not in MODEL_FEATURES:
            return
        tm = self.types.setdefault(t, TypeModel(input_spec(t)))
        tm.learn_one(tm.inputs(x, t), bool(y))
        self.n_learned += 1

    # -- identity & persistence -------------------------------------------
    @property
    def version(self) -> str:
        v = f"prior-{self._base_version}"
        return v if self.n_learned == 0 else f"{v}+{self.n_learned}"

    def _digest(self) -> str:
        body = json.dumps(self._body(), sort_keys=True).encode()
        return hashlib.sha256(body).hexdigest()[:12]

    def _body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "types": {t: m.to_dict() for t, m in sorted(self.types.items())},
            "thresholds": dict(sorted(self.thresholds.items())),
        }

    def to_dict(self) -> dict[str, Any]:
        d = self._body()
        d["meta"] = {**self.meta, "n_learned": self.n_learned}
        d["version"] = self.version
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AlarmModel:
        if d.get("format") != FORMAT:
            raise ValueError(f"unsupported model format {d.get('format')!r}")
        m = cls(
            {t: TypeModel.from_dict(v, t) for t, v in d["types"].items()},
            {t: float(v) for t, v in d.get("thresholds", {}).items()},
            dict(d.get("meta", {})),
        )
        m._base_version = str(d.get("version", "")).removeprefix("prior-").split("+")[0] or m._base_version
        return m

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AlarmModel:
        return cls.from_dict(json.loads(text))


def _fit_logistic(X: np.ndarray, y: np.ndarray, l2: float,
                  signs: list[int] | None = None) -> tuple[np.ndarray, float]:
    """Class-balanced L2 logistic regression by L-BFGS-B (deterministic), weights sign-constrained."""
    n_pos, n_neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    sw = np.where(y, 0.5 / n_pos, 0.5 / n_neg)
    ys = np.where(y, 1.0, -1.0)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        m = ys * (X @ w + b)
        lo = np.logaddexp(0.0, -m)
        s = -ys * sw / (1.0 + np.exp(m))
        g = np.r_[X.T @ s + l2 * w, np.sum(s)]
        return float(np.sum(sw * lo) + 0.5 * l2 * w @ w), g

    sg = signs or [0] * X.shape[1]
    bounds = [(0.0, None) if v > 0 else (None, 0.0) if v < 0 else (None, None) for v in sg]
    res = optimize.minimize(loss, np.zeros(X.shape[1] + 1), jac=True, method="L-BFGS-B",
                            bounds=[*bounds, (None, None)])
    return res.x[:-1], float(res.x[-1])


def fit_type(rows: list[tuple[dict[str, float], bool]], spec: tuple[InputSpec, ...], l2: float = L2) -> TypeModel:
    """Fit one type's prior: scaler moments from the data, weights by batch L-BFGS."""
    tm = TypeModel(spec)
    features = tm.features
    xs = [x for x, _ in rows]
    for x in xs:
        tm.scaler.learn_one(x)
    X = np.array([[tm.scaler.transform_one(x).get(k, 0.0) for k in features] for x in xs], dtype=np.float64)
    y = np.array([bool(lbl) for _, lbl in rows])
    if y.all() or (~y).all() or len(rows) < 2:
        w, b = np.zeros(len(features)), (4.0 if y.all() or len(rows) < 2 else -4.0)
    else:
        w, b = _fit_logistic(X, y, l2, [sg for *_, sg in tm.spec])
    tm.logreg._weights = utils.VectorDict({k: float(v) for k, v in zip(features, w)})
    tm.logreg.intercept = b
    return tm


#: per-type L2 strength (default ``L2``), chosen by nested CV over 6 seeds; weaker
#: L2 sharpens the few-feature models, too weak lets 2 true VF alarms decide alone
TYPE_L2: dict[str, float] = {
    "asystole": 0.003,
    "ventricular_tachycardia": 0.001,
    "ventricular_flutter_fib": 0.003,
}


def fit_prior(rows: Iterable[tuple[str, Mapping[str, float], bool]], l2: float | None = None) -> AlarmModel:
    """Deterministic prior from ``(alarm_type, features, label)`` rows (order-independent).

    ``l2`` overrides the per-type strengths (``TYPE_L2``, default ``L2``) for every type.
    """
    by_type: dict[str, list[tuple[dict[str, float], bool]]] = {}
    for t, feats, lbl in rows:
        if t in MODEL_FEATURES:
            by_type.setdefault(t, []).append((select_features(feats, t), bool(lbl)))
    types = {}
    for t in sorted(by_type):
        data = sorted(by_type[t], key=lambda r: (json.dumps(r[0], sort_keys=True), r[1]))
        types[t] = fit_type(data, input_spec(t), l2 if l2 is not None else TYPE_L2.get(t, L2))
    return AlarmModel(types, meta={"n_train": {t: len(v) for t, v in sorted(by_type.items())}})
