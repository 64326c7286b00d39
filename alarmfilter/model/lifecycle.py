"""Model lifecycle: the prior, the model learned from feedback, versions, signed snapshots, guard-rail.

A model that learns at the bedside must be (1) identifiable — every decision names the model
that made it; (2) durable — a restart resumes from the last snapshot rather than forgetting a
week of feedback; (3) tamper-evident — a snapshot is JSON signed with HMAC-SHA256 over its
canonical form, never a pickle, and one with a bad signature or an unknown schema is refused
with a clear error while the running model stays; (4) reversible — if what it learned costs
sensitivity (measured on feedback, before each label is learned), it falls back to the prior
and says so.

Snapshots are written and read by drivers (``SnapshotStore``); the engine only asks
``snapshot_due(now_ts)``, so the core stays free of I/O.

References
----------
Krawczyk H., Bellare M., Canetti R. HMAC: keyed-hashing for message authentication. RFC 2104.
Gama J. et al. A survey on concept drift adaptation. ACM Comput. Surv. 2014;46:44.
Ionides E.L. Truncated importance sampling. J. Comput. Graph. Stat. 2008;17:295-311.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections import Counter, deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from alarmfilter.policy.audit import wilson_interval
from alarmfilter.policy.thresholds import DEFAULT_SENSITIVITY_TARGET, SENSITIVITY_TARGETS

SNAPSHOT_SCHEMA = "alarmfilter.snapshot/1"
MIN_KEY_BYTES = 16


class SnapshotError(ValueError):
    """A snapshot that must not be loaded; the message says why (the running model is kept)."""


class LearningModel(Protocol):
    """What the lifecycle needs of a model (``AlarmModel`` and ``WardModel`` both fit)."""

    @property
    def thresholds(self) -> dict[str, float]: ...

    def predict_proba_one(self, x: Mapping[str, Any], alarm_type: str) -> dict[bool, float]: ...

    def contributions_one(self, x: Mapping[str, Any], alarm_type: str) -> dict[str, float]: ...

    def learn_one(self, x: Mapping[str, Any], y: bool, alarm_type: str) -> Any: ...

    def to_dict(self) -> dict[str, Any]: ...


Loader = Callable[[Mapping[str, Any]], LearningModel]


def canonical_json(obj: Any) -> bytes:
    """The one byte string a JSON value signs as: sorted keys, no spaces, UTF-8, no NaN.

    >>> canonical_json({"b": 1, "a": [1.5, "é"]})
    b'{"a":[1.5,"\\xc3\\xa9"],"b":1}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def snapshot_key(secret: str | bytes) -> bytes:
    """The HMAC key from a setting (e.g. ``ALARMFILTER_SNAPSHOT_KEY``); short keys are refused.

    >>> len(snapshot_key("0123456789abcdef"))
    16
    >>> snapshot_key("short")
    Traceback (most recent call last):
    ...
    alarmfilter.model.lifecycle.SnapshotError: snapshot key must be at least 16 bytes (got 5)
    """
    key = secret.encode() if isinstance(secret, str) else bytes(secret)
    if len(key) < MIN_KEY_BYTES:
        raise SnapshotError(f"snapshot key must be at least {MIN_KEY_BYTES} bytes (got {len(key)})")
    return key


def sign(body: Any, key: bytes) -> str:
    return hmac.new(key, canonical_json(body), hashlib.sha256).hexdigest()


def seal(body: Mapping[str, Any], key: bytes) -> dict[str, Any]:
    """Wrap a snapshot body with its schema and signature.

    >>> doc = seal({"model": {"w": 1}}, b"k" * 16)
    >>> unseal(doc, b"k" * 16)
    {'model': {'w': 1}}
    >>> unseal(doc, b"x" * 16)
    Traceback (most recent call last):
    ...
    alarmfilter.model.lifecycle.SnapshotError: snapshot signature does not match (wrong key or modified content): refused
    """
    return {"schema": SNAPSHOT_SCHEMA, "body": dict(body), "hmac_sha256": sign(dict(body), key)}


def unseal(doc: Any, key: bytes) -> dict[str, Any]:
    """The verified body of a sealed snapshot, or `SnapshotError` saying what is wrong."""
    if not isinstance(doc, dict):
        raise SnapshotError(f"snapshot is not a JSON object (got {type(doc).__name__}): refused")
    if doc.get("schema") != SNAPSHOT_SCHEMA:
        raise SnapshotError(f"snapshot schema {doc.get('schema')!r} is not {SNAPSHOT_SCHEMA!r}: refused")
    body, mac = doc.get("body"), doc.get("hmac_sha256")
    if not isinstance(body, dict) or not isinstance(mac, str):
        raise SnapshotError("snapshot lacks its body or signature: refused")
    try:
        expected = sign(body, key)
    except ValueError as exc:  # NaN/inf cannot have been signed by us
        raise SnapshotError(f"snapshot body is not canonical JSON ({exc}): refused") from None
    if not hmac.compare_digest(expected, mac):
        raise SnapshotError("snapshot signature does not match (wrong key or modified content): refused")
    return body


class SensitivityGuard:
    """Recent sensitivity, from feedback, of the learned model and of the prior, per alarm type.

    Each true (actionable) label counts whether each model would have forwarded it, scored
    before the label is learned.  Audit samples stand for the would-be-suppressed alarms that
    were not sampled, so they weigh ``1 / audit_fraction`` (inverse propensity), truncated at
    ``max_weight`` (Ionides 2008): untruncated, one audit sample weighs as much as twenty
    forwarded alarms and a single unlucky draw would throw the model away.  Even so the guard
    acts only when it is confident: when the upper Wilson bound of the learned model's sensitivity (on the Kish
    effective number of labels) is below the target, and the prior did better.

    >>> g = SensitivityGuard(window_labels=40, min_true=5)
    >>> for i in range(30):
    ...     g.record("spo2_low", learned_forwards=i % 3 != 0, prior_forwards=True)
    >>> [round(v, 3) for v in g.sensitivity("spo2_low")]
    [0.667, 1.0, 30.0]
    >>> g.check()
    ('spo2_low', 'spo2_low: learned model forwards 67 % of recent true alarms (at most 83 % at 99 % confidence; target 95 %, prior 100 %)')
    """

    def __init__(self, targets: Mapping[str, float] | None = None, *,
                 default_target: float = DEFAULT_SENSITIVITY_TARGET,
                 window_labels: int = 200, min_true: float = 10.0, confidence: float = 0.99,
                 max_weight: float = 5.0, rearm_min_true: float = 50.0) -> None:
        self.targets = dict(SENSITIVITY_TARGETS if targets is None else targets)  # the policy's targets
        self.default_target = default_target
        self.window_labels = window_labels
        self.min_true = min_true
        self.confidence = confidence
        self.max_weight = max_weight
        self.rearm_min_true = rearm_min_true
        self._recent: dict[str, deque[tuple[bool, bool, float]]] = {}

    def record(self, alarm_type: str, *, learned_forwards: bool, prior_forwards: bool, weight: float = 1.0) -> None:
        q = self._recent.setdefault(alarm_type, deque(maxlen=self.window_labels))
        q.append((learned_forwards, prior_forwards, min(weight, self.max_weight)))

    def sensitivity(self, alarm_type: str) -> tuple[float, float, float]:
        """(learned, prior, effective number of true labels) over the recent window."""
        q = self._recent.get(alarm_type, ())
        total = sum(w for _, _, w in q)
        if total <= 0:
            return 1.0, 1.0, 0.0
        learned = sum(w for lf, _, w in q if lf) / total
        prior = sum(w for _, pf, w in q if pf) / total
        return learned, prior, total * total / sum(w * w for _, _, w in q)

    def upper_bound(self, p_hat: float, n: float) -> float:
        """Upper Wilson score bound of a proportion (one-sided at `confidence`: the two-sided interval at 2c - 1)."""
        return wilson_interval(p_hat, n, 2 * self.confidence - 1)[1]

    def forget(self, alarm_type: str) -> None:
        """Start a fresh window (after a fallback, so re-arming is judged on new labels only)."""
        self._recent.pop(alarm_type, None)

    def recovered(self, alarm_type: str) -> bool:
        """The learned model met the target on enough fresh true labels to be trusted again."""
        learned, _, n = self.sensitivity(alarm_type)
        return n >= self.rearm_min_true and learned >= self.targets.get(alarm_type, self.default_target)

    def check(self) -> tuple[str, str] | None:
        """(type, why) the learned model must not be used, or None while it holds the targets."""
        for t in sorted(self._recent):
            learned, prior, n = self.sensitivity(t)
            target = self.targets.get(t, self.default_target)
            if n < self.min_true or learned >= prior:
                continue
            upper = self.upper_bound(learned, n)
            if upper < target:
                return t, (f"{t}: learned model forwards {100 * learned:.0f} % of recent true alarms "
                        f"(at most {100 * upper:.0f} % at {100 * self.confidence:.0f} % confidence; "
                        f"target {100 * target:.0f} %, prior {100 * prior:.0f} %)")
        return None


class ModelLifecycle:
    """The model decisions are made with: learned from feedback, or the prior after a fallback.

    Drop-in for an ``AlarmModel`` where one is expected (``predict_proba_one``, ``learn_one``,
    ``contributions_one``, ``thresholds``, ``version``).  ``stats`` is read by drivers for metrics:
    ``fallback_active`` (0/1), ``fallbacks``, ``labels_learned``, ``snapshots_sealed``,
    ``snapshots_restored``, ``snapshots_refused``.
    """

    def __init__(self, prior_state: Mapping[str, Any], loader: Loader, key: bytes, *,
                 guard: SensitivityGuard | None = None, snapshot_every_labels: int = 200,
                 snapshot_interval_seconds: float = 3600.0, scope: str = "") -> None:
        self.key = snapshot_key(key)
        self.scope = scope  # e.g. the care unit of a shared model: its versions read "ICU1/m…+37"
        self.loader = loader
        self._prior_state = json.loads(canonical_json(prior_state))
        self.prior_id = "m" + hashlib.sha256(canonical_json(self._prior_state)).hexdigest()[:12]
        self.prior = loader(self._prior_state)
        self.learned = loader(self._prior_state)
        self.n_learned = 0
        self.guard = guard or SensitivityGuard()
        self.fallback_reason: str | None = None
        self.fallback_type: str | None = None
        self.snapshot_every_labels = snapshot_every_labels
        self.snapshot_interval_seconds = snapshot_interval_seconds
        self._labels_at_snapshot = 0
        self._last_snapshot_ts: float | None = None
        self.stats: Counter[str] = Counter(fallback_active=0)

    # -- the model in use ------------------------------------------------------------------

    @property
    def fallen_back(self) -> bool:
        return self.fallback_reason is not None

    @property
    def active(self) -> LearningModel:
        return self.prior if self.fallen_back else self.learned

    @property
    def version(self) -> str:
        """Prior id plus labels learned; ``:fallback`` while decisions come from the prior; scope first."""
        prefix = f"{self.scope}/" if self.scope else ""
        if self.fallen_back:
            return f"{prefix}{self.prior_id}:fallback"
        return prefix + (self.prior_id if self.n_learned == 0 else f"{self.prior_id}+{self.n_learned}")

    @property
    def thresholds(self) -> dict[str, float]:
        return self.active.thresholds

    def predict_proba_one(self, x: Mapping[str, Any], alarm_type: str) -> dict[bool, float]:
        return self.active.predict_proba_one(x, alarm_type)

    def contributions_one(self, x: Mapping[str, Any], alarm_type: str) -> dict[str, float]:
        return self.active.contributions_one(x, alarm_type)

    def prior_forwards(self, x: Mapping[str, Any], alarm_type: str) -> bool:
        """Whether the shipped prior, before any label, would forward this alarm."""
        return _forwards(self.prior, x, alarm_type)

    # -- learning and the guard-rail -------------------------------------------------------

    def learn_one(self, x: Mapping[str, Any], y: bool, alarm_type: str, *, weight: float = 1.0) -> None:
        """Learn one clinician label; true labels first test both models (prequential)."""
        if y:
            self.guard.record(alarm_type, learned_forwards=_forwards(self.learned, x, alarm_type),
                              prior_forwards=_forwards(self.prior, x, alarm_type), weight=weight)
        self.learned.learn_one(x, bool(y), alarm_type)
        self.n_learned += 1
        self.stats["labels_learned"] += 1
        if not self.fallen_back:
            found = self.guard.check()
            if found is not None:
                self.fall_back(*found)
        elif self.fallback_type is not None and self.guard.recovered(self.fallback_type):
            self.stats["rearms"] += 1
            self.reset_fallback()

    def fall_back(self, alarm_type: str | None, reason: str) -> None:
        """Decide with the prior until the learned model, still learning, proves itself on fresh labels."""
        self.fallback_reason, self.fallback_type = reason, alarm_type
        if alarm_type is not None:
            self.guard.forget(alarm_type)
        self.stats["fallbacks"] += 1
        self.stats["fallback_active"] = 1

    def reset_fallback(self) -> None:
        """Trust the learned model again (the guard's re-arming, or an operator's decision)."""
        self.fallback_reason = self.fallback_type = None
        self.stats["fallback_active"] = 0

    # -- snapshots ---------------------------------------------------------------------------

    def snapshot_due(self, now_ts: float) -> bool:
        """Every `snapshot_every_labels` labels, or after `snapshot_interval_seconds` of event time."""
        new = self.n_learned - self._labels_at_snapshot
        if new <= 0:
            return False
        if new >= self.snapshot_every_labels or self._last_snapshot_ts is None:
            return True
        return now_ts - self._last_snapshot_ts >= self.snapshot_interval_seconds

    def to_snapshot(self, now_ts: float) -> dict[str, Any]:
        """A sealed snapshot of the learned model, its counters and any fallback."""
        body = {
            "prior_id": self.prior_id,
            "version": self.version,
            "n_learned": self.n_learned,
            "created_ts": float(now_ts),
            "fallback_reason": self.fallback_reason,
            "fallback_type": self.fallback_type,
            "model": self.learned.to_dict(),
        }
        self._labels_at_snapshot = self.n_learned
        self._last_snapshot_ts = now_ts
        self.stats["snapshots_sealed"] += 1
        return seal(json.loads(canonical_json(body)), self.key)

    def restore(self, doc: Any) -> str:
        """Resume from a sealed snapshot; on any problem raise `SnapshotError` and keep the model."""
        try:
            body = unseal(doc, self.key)
            n_learned = int(body["n_learned"])
            reason = body.get("fallback_reason")
            model = self.loader(body["model"])
            created_ts = float(body["created_ts"])
        except SnapshotError:
            self.stats["snapshots_refused"] += 1
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.stats["snapshots_refused"] += 1
            raise SnapshotError(f"snapshot content is not a model ({type(exc).__name__}: {exc}): refused") from None
        if body.get("prior_id") != self.prior_id:
            self.stats["snapshots_other_prior"] += 1  # learned on another prior: still ours (signed)
        self.learned, self.n_learned = model, n_learned
        self._labels_at_snapshot, self._last_snapshot_ts = n_learned, created_ts
        self.fallback_reason = str(reason) if reason else None
        self.fallback_type = str(body["fallback_type"]) if reason and body.get("fallback_type") else None
        self.stats["fallback_active"] = int(self.fallen_back)
        self.stats["snapshots_restored"] += 1
        return self.version


def _forwards(model: LearningModel, x: Mapping[str, Any], alarm_type: str) -> bool:
    p = model.predict_proba_one(x, alarm_type)[True]
    return bool(p >= model.thresholds.get(alarm_type, 0.0))


class SnapshotStore:
    """Signed snapshots in a directory (e.g. ``ALARMFILTER_DATA_DIR/models``); a driver's tool.

    Files are written atomically (temp file + rename) as ``snapshot-<n>.json``; the newest
    ``keep`` stay.
    """

    def __init__(self, directory: str | Path, keep: int = 5) -> None:
        self.directory = Path(directory)
        self.keep = keep

    def paths(self) -> list[Path]:
        """Snapshots, newest first."""
        return sorted(self.directory.glob("snapshot-*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)

    def save(self, lifecycle: ModelLifecycle, now_ts: float) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        doc = lifecycle.to_snapshot(now_ts)
        path = self.directory / f"snapshot-{lifecycle.n_learned:09d}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
        for old in self.paths()[self.keep:]:
            old.unlink(missing_ok=True)
        return path

    def maybe_save(self, lifecycle: ModelLifecycle, now_ts: float) -> Path | None:
        """The periodic snapshot: call from the driver's loop or timer with event (or wall) time."""
        return self.save(lifecycle, now_ts) if lifecycle.snapshot_due(now_ts) else None

    def load(self, lifecycle: ModelLifecycle, path: str | Path) -> str:
        """Restore one file; `SnapshotError` (model kept) if unreadable, unsigned or not a model."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            lifecycle.stats["snapshots_refused"] += 1
            raise SnapshotError(f"snapshot {Path(path).name} is unreadable ({type(exc).__name__}): refused") from None
        try:
            return lifecycle.restore(doc)
        except SnapshotError as exc:
            raise SnapshotError(f"snapshot {Path(path).name}: {exc}") from None

    def restore_latest(self, lifecycle: ModelLifecycle) -> tuple[Path | None, list[str]]:
        """Restore the newest snapshot that verifies; returns it (or None) and why newer ones were refused."""
        errors: list[str] = []
        for path in self.paths():
            try:
                self.load(lifecycle, path)
                return path, errors
            except SnapshotError as exc:
                errors.append(str(exc))
        return None, errors
