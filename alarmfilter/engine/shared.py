"""One learned model per care unit, shared by every worker: event-sourced from a signed label log.

A worker that joins a clinician's feedback to its decision does not learn the label itself: it
publishes a signed `LabelRecord` (unit, bed, alarm id, type, the features the model saw, label,
decision, model version, recipe, HMAC) to the label log (`icu.labels` on Kafka, keyed by unit, one
partition per unit). Every worker reads the whole log and applies each record, in log order, to
its replica of the unit's `ModelLifecycle`; the same records in the same order give the same model,
so the version is the unit plus the number of labels applied (``ICU1/m…+37``). Whatever learning
does — the guard-rail's fallback, re-arming — happens identically on every replica, so it holds
for the whole unit, and the guard sees every label of the unit.

A record is applied only if it verifies: signed with the ward's key (HMAC-SHA256 over its canonical
JSON), a valid label, and for this replica's recipe (the prior its features and model belong to).
Anything else is refused and counted, never applied. A record already applied (same bed and alarm
id: a label re-published after a crash) is skipped and counted.

`UnitModels` is a plain object: the driver feeds it the log (`apply`), drains its `outbox` of records
to publish, and says when it has read the log to its end (`ready`); until then decisions forward
(`ReasonCode.MODEL_CATCHING_UP`). No clock, no socket.
"""

from __future__ import annotations

import hmac
import json
import math
import re
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..events.labels import LabelRecord
from ..events.types import AlarmType, Decision, ReasonCode
from ..model.lifecycle import ModelLifecycle, sign, snapshot_key
from ..model.loading import ward_model_lifecycle
from .config import EngineConfig
from .learning import LearningPolicy
from .scoring import Assessment, LabelledAlarm, Verdict

if TYPE_CHECKING:
    from .bed import BedEngine

#: a unit name as it may appear in versions and metric labels
_UNIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]{0,31}$")
#: why a record was not applied (a bounded set: metric label values)
REFUSALS = ("malformed", "unsigned", "bad_signature", "invalid", "wrong_recipe", "unit_limit", "duplicate")


@dataclass(frozen=True, slots=True)
class BedUnits:
    """The care unit of a bed: an explicit mapping first, else the bed id before its first ``-``.

    >>> units = BedUnits({"ED-1": "ICU2"}, default="ICU")
    >>> units("ICU1-07"), units("ED-1"), units("bed7"), units("-7"), units("A B-1")
    ('ICU1', 'ICU2', 'ICU', 'ICU', 'ICU')
    """

    mapping: Mapping[str, str] = field(default_factory=dict)
    default: str = "icu"

    def __call__(self, bed: str) -> str:
        unit = self.mapping.get(bed)
        if unit is None:
            prefix = bed.split("-", 1)[0] if "-" in bed else ""
            unit = prefix if _UNIT_NAME.match(prefix) else self.default
        return unit


class LabelRefused(ValueError):
    """A label record that must not be applied; `reason` is one of `REFUSALS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"label record refused ({reason}): {detail}")
        self.reason = reason


def seal_label(fields: Mapping[str, Any], key: bytes) -> LabelRecord:
    """A signed label record from its fields (everything but ``hmac_sha256``)."""
    unsigned = LabelRecord(**fields, hmac_sha256="0" * 64)  # every field as it goes on the wire, defaults too
    body = unsigned.model_dump(mode="json", exclude={"hmac_sha256"})
    return unsigned.model_copy(update={"hmac_sha256": sign(body, key)})


def open_label(raw: bytes | str, key: bytes) -> LabelRecord:
    """The verified record, or `LabelRefused` saying why (signature checked before anything else).

    >>> rec = seal_label(dict(unit="ICU1", bed="ICU1-01", alarm_id="a1", alarm_type="hr_high",
    ...     features={"x": 1.0}, actionable=True, decision="forward", model_version="ICU1/m1",
    ...     ts=1.0, recipe="m1"), b"k" * 16)
    >>> open_label(rec.model_dump_json(), b"k" * 16).alarm_id
    'a1'
    >>> open_label(rec.model_dump_json().replace('"actionable":true', '"actionable":false'), b"k" * 16)
    Traceback (most recent call last):
    ...
    alarmfilter.engine.shared.LabelRefused: label record refused (bad_signature): signature does not match (wrong key or modified content)
    """
    try:
        doc = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise LabelRefused("malformed", f"not JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or doc.get("kind") != "label":
        raise LabelRefused("malformed", "not a label record")
    mac = doc.pop("hmac_sha256", None)
    if not isinstance(mac, str) or not mac:
        raise LabelRefused("unsigned", "no signature")
    try:
        expected = sign(doc, key)
    except (ValueError, TypeError):
        raise LabelRefused("malformed", "body is not canonical JSON") from None
    if not hmac.compare_digest(expected, mac):
        raise LabelRefused("bad_signature", "signature does not match (wrong key or modified content)")
    try:
        record = LabelRecord(**doc, hmac_sha256=mac)
    except ValidationError as exc:
        raise LabelRefused("invalid", exc.errors(include_url=False)[0]["msg"]) from None
    alarm_type = AlarmType.parse(record.alarm_type)
    if alarm_type is None or alarm_type.is_technical:
        raise LabelRefused("invalid", f"not a physiological alarm type: {record.alarm_type!r}")
    return record


@dataclass(frozen=True, slots=True)
class Applied:
    """What `UnitModels.apply` did with one record."""

    outcome: str  # "applied", "replayed" (offset already read), or a refusal reason
    unit: str | None = None
    version: str | None = None
    detail: str = ""
    origin: str = ""  # of an applied label: the decision it labels (forward, suppress) or audit
    actionable: bool | None = None


class UnitModel:
    """One care unit's replica: the lifecycle, and the scorer and policy its beds decide with."""

    def __init__(self, unit: str, lifecycle: ModelLifecycle, owner: UnitModels) -> None:
        from .factory import (
            scorer_and_policy,  # factory imports bed, which imports this package's learning
        )

        self.unit = unit
        self.lifecycle = lifecycle
        self.scorer, policy = scorer_and_policy(owner.config, lifecycle)  # as a single ward's engines decide
        self.scorer.publish = lambda label: owner.publish(unit, label)
        self.policy = CatchUpPolicy(policy, owner)

    @property
    def version(self) -> str:
        return self.lifecycle.version

    @property
    def labels_applied(self) -> int:
        """The version number: labels of the unit applied, in log order."""
        return self.lifecycle.n_learned


class CatchUpPolicy:
    """The unit's policy, except that until the replica has read the label log to its end it forwards."""

    def __init__(self, inner: LearningPolicy, models: UnitModels) -> None:
        self.inner = inner
        self.models = models

    def decide(self, alarm_type: AlarmType, assessment: Assessment | None) -> Verdict:
        if not self.models.ready:
            return Verdict(Decision.FORWARD, ReasonCode.MODEL_CATCHING_UP,
                           ["the unit's model is still reading its label log: forwarded"])
        return self.inner.decide(alarm_type, assessment)


class UnitModels:
    """Every unit's replica on this worker, the log position read, and the labels waiting to be published.

    ``stats`` (for metrics): ``labels_applied``, ``labels_published``, ``refused:<reason>``.
    """

    def __init__(self, key: bytes | str, units: BedUnits | None = None, *,
                 make_lifecycle: Callable[[str, bytes], ModelLifecycle] | None = None,
                 config: EngineConfig | None = None, max_units: int = 32,
                 remember_labels: int = 1_000_000) -> None:
        self.key = snapshot_key(key)
        self.bed_units = units or BedUnits()
        self.config = config or EngineConfig()
        self._make_lifecycle = make_lifecycle or (lambda unit, k: ward_model_lifecycle(k))
        self.max_units = max_units
        self.remember_labels = remember_labels
        self.units: dict[str, UnitModel] = {}
        self.outbox: list[LabelRecord] = []
        self.ready = False  # the driver sets it once the log has been read to the end seen at start
        self.stats: Counter[str] = Counter()
        self._next_offset: dict[int, int] = {}  # log partition -> next offset to apply
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()  # (bed, alarm id) applied

    # -- the model a bed decides with ------------------------------------------------------------

    def unit_of(self, bed: str) -> str:
        unit = self.bed_units(bed)
        if unit not in self.units and len(self.units) >= self.max_units:
            self.stats["unit_limit_beds"] += 1
            return self.bed_units.default  # bounded memory and metric labels whatever bed ids arrive
        return unit

    def model(self, unit: str) -> UnitModel:
        found = self.units.get(unit)
        if found is None:
            lifecycle = self._make_lifecycle(unit, self.key)
            lifecycle.scope = unit
            found = self.units[unit] = UnitModel(unit, lifecycle, self)
        return found

    def for_bed(self, bed: str) -> UnitModel:
        return self.model(self.unit_of(bed))

    def versions(self) -> dict[str, int]:
        """Labels applied per unit (the version number every worker of the unit agrees on)."""
        return {u: m.labels_applied for u, m in sorted(self.units.items())}

    # -- labels out ------------------------------------------------------------------------------

    def publish(self, unit: str, label: LabelledAlarm) -> None:
        """A label this worker joined to its decision: sealed into the outbox, learned when read back."""
        lc = self.model(unit).lifecycle
        features = {k: (float(v) if math.isfinite(v) else None) for k, v in label.features.items()}
        self.outbox.append(seal_label({
            "unit": unit, "bed": label.bed, "alarm_id": label.alarm_id, "alarm_type": label.alarm_type.value,
            "features": features, "actionable": bool(label.actionable), "decision": Decision(label.decision).value,
            "audit_sample": bool(label.audit_sample), "propensity": float(label.propensity),
            "model_version": label.model_version, "ts": float(label.ts), "recipe": lc.prior_id,
        }, self.key))
        self.stats["labels_published"] += 1

    def take_outbox(self) -> list[LabelRecord]:
        out, self.outbox = self.outbox, []
        return out

    # -- labels in -------------------------------------------------------------------------------

    def apply(self, raw: bytes | str, partition: int = 0, offset: int | None = None) -> Applied:
        """One record of the log, in log order. Never raises: a bad record is refused and counted."""
        if offset is not None:
            if offset < self._next_offset.get(partition, 0):
                return Applied("replayed")  # read again after a reconnect: already applied or refused
            self._next_offset[partition] = offset + 1
        try:
            record = open_label(raw, self.key)
        except LabelRefused as exc:
            return self._refuse(exc.reason, None, str(exc))
        if record.unit not in self.units and len(self.units) >= self.max_units:
            return self._refuse("unit_limit", None, f"more than {self.max_units} units")
        um = self.model(record.unit)
        if record.recipe != um.lifecycle.prior_id:
            return self._refuse("wrong_recipe", record.unit, f"recipe {record.recipe} is not {um.lifecycle.prior_id}")
        ident = (record.bed, record.alarm_id)
        if ident in self._seen:
            return self._refuse("duplicate", record.unit, "label already applied")
        self._seen[ident] = None
        while len(self._seen) > self.remember_labels:
            self._seen.popitem(last=False)
        alarm_type = AlarmType.parse(record.alarm_type)
        assert alarm_type is not None  # checked by open_label
        features = {k: (math.nan if v is None else float(v)) for k, v in record.features.items()}
        um.scorer.apply_label(LabelledAlarm(
            alarm_type, features, record.actionable, Decision(record.decision), record.audit_sample,
            record.propensity, bed=record.bed, alarm_id=record.alarm_id, model_version=record.model_version,
            ts=record.ts,
        ))
        self.stats["labels_applied"] += 1
        origin = "audit" if record.audit_sample else str(record.decision)
        return Applied("applied", record.unit, um.version, origin=origin, actionable=record.actionable)

    def _refuse(self, reason: str, unit: str | None, detail: str) -> Applied:
        self.stats[f"refused:{reason}"] += 1
        return Applied(reason, unit, None, detail)

    @property
    def position(self) -> dict[int, int]:
        """Next offset to read per log partition (what the driver resumes from)."""
        return dict(self._next_offset)


def shared_engine_factory(config: EngineConfig | None, models: UnitModels) -> Callable[[str], BedEngine]:
    """Engines whose beds decide with their unit's shared model (one scorer and policy per unit)."""
    from .bed import BedEngine  # bed imports learning, which this module imports

    cfg = config or models.config

    def make(bed: str) -> BedEngine:
        um = models.for_bed(bed)
        return BedEngine(bed, cfg, um.scorer, um.policy)

    return make
