"""One model per care unit shared through a label log, without a broker (engine/shared.py).

Two `UnitModels` replicas stand for two workers; the label log is a list both read in order.
"""

from __future__ import annotations

import json

import pytest

from alarmfilter.engine import EngineConfig
from alarmfilter.engine.shared import BedUnits, UnitModels, seal_label, shared_engine_factory
from alarmfilter.events.types import ReasonCode
from alarmfilter.replay import Ward
from alarmfilter.sim.learning_experiment import run_feedback_experiment
from tests.shared_scenario import events_of, hr_alarms, labels_of

KEY = b"unit-model-key-0123456789"
BEDS_A = ["ICU1-01", "ICU1-02", "ICU1-03", "ICU1-04"]
BEDS_B = ["ICU1-05", "ICU1-06", "ICU1-07", "ICU1-08"]


#: threshold alarms decided at the alarm (no hold): these tests are about learning, not holds
CONFIG = EngineConfig(threshold_hold_seconds=0.0)


def replica(key: bytes = KEY) -> UnitModels:
    r = UnitModels(key, config=CONFIG)
    r.ready = True
    return r


def decide(ward: Ward, events: list) -> dict[str, tuple[str, str, str]]:
    out = {}
    for e in events:
        for o in ward.feed(e):
            if o.kind == "decision":
                out[o.alarm_id] = (o.decision, o.model_version, o.reason_code)
    return out


def sync(log: list[bytes], *replicas: UnitModels) -> None:
    for r in replicas:
        log.extend(rec.model_dump_json().encode() for rec in r.take_outbox())
    for r in replicas:
        for offset in range(r.position.get(0, 0), len(log)):
            r.apply(log[offset], 0, offset)


@pytest.fixture(scope="module")
def trained() -> tuple[UnitModels, UnitModels, list[bytes]]:
    """Worker A decides and gets labels for 50 hr_high alarms of its beds; both read the log."""
    a, b = replica(), replica()
    ward_a = Ward(shared_engine_factory(None, a))
    train = hr_alarms(BEDS_A, 50, seed=1, tag="train")
    decide(ward_a, events_of(train, 1))
    log: list[bytes] = []
    for fb in labels_of(train):
        ward_a.feed(fb)
    sync(log, a, b)
    return a, b, log


def test_labels_on_worker_a_change_decisions_of_worker_b(trained: tuple[UnitModels, UnitModels, list[bytes]]) -> None:
    a, b, log = trained
    assert len(log) == 50 and a.versions() == b.versions() == {"ICU1": 50}
    assert a.for_bed("ICU1-01").version == b.for_bed("ICU1-05").version
    test = events_of(hr_alarms(BEDS_B, 20, seed=2, tag="test", false_only=True), 2)
    before = decide(Ward(shared_engine_factory(None, replica())), test)  # a worker that never read the log
    after = decide(Ward(shared_engine_factory(None, b)), test)
    assert {d for d, _, _ in before.values()} == {"forward"}  # the prior forwards threshold alarms until learned
    suppressed = [i for i, (d, _, _) in after.items() if d == "suppress"]
    assert len(suppressed) >= 10, after
    assert {v for _, v, _ in after.values()} == {b.for_bed("ICU1-05").version}
    assert b.for_bed("ICU1-05").version.startswith("ICU1/") and b.for_bed("ICU1-05").version.endswith("+50")
    # another care unit has its own model: ICU1's labels do not touch it
    other = decide(Ward(shared_engine_factory(None, b)), events_of(hr_alarms(["ICU2-01"], 5, 3, "icu2", false_only=True), 3))
    assert {d for d, _, _ in other.values()} == {"forward"} and b.versions()["ICU2"] == 0


def test_an_empty_replica_replays_the_log_to_the_same_model(trained: tuple[UnitModels, UnitModels, list[bytes]]) -> None:
    a, _b, log = trained
    fresh = UnitModels(KEY, config=CONFIG)
    for offset, raw in enumerate(log):
        fresh.apply(raw, 0, offset)
    assert fresh.versions() == a.versions()
    assert fresh.for_bed("ICU1-09").lifecycle.learned.to_dict() == a.for_bed("ICU1-01").lifecycle.learned.to_dict()
    fresh.apply(log[3], 0, 3)  # read again after a reconnect: not applied twice
    assert fresh.versions() == {"ICU1": 50} and fresh.stats["refused:duplicate"] == 0


def test_until_the_log_is_read_decisions_forward_as_catching_up(trained: tuple[UnitModels, UnitModels, list[bytes]]) -> None:
    fresh = UnitModels(KEY, config=CONFIG)  # ready stays False: the driver has not read the log to its end
    test = events_of(hr_alarms(BEDS_B, 6, seed=4, tag="cu", false_only=True), 4)
    out = decide(Ward(shared_engine_factory(None, fresh)), test)
    assert {(d, r) for d, _, r in out.values()} == {("forward", ReasonCode.MODEL_CATCHING_UP.value)}


def test_forged_unsigned_and_wrong_recipe_records_are_refused_and_counted(
        trained: tuple[UnitModels, UnitModels, list[bytes]]) -> None:
    _a, _b, log = trained
    r = UnitModels(KEY)
    genuine = json.loads(log[0])
    flipped = dict(genuine, actionable=not genuine["actionable"])  # content changed, signature kept
    unsigned = {k: v for k, v in genuine.items() if k != "hmac_sha256"}
    fields = {k: v for k, v in genuine.items() if k not in ("hmac_sha256", "schema_version", "kind")}
    other_key = seal_label(fields, b"another-ward-key-0123456789").model_dump_json()
    other_recipe = seal_label(dict(fields, recipe="m000000000000"), KEY).model_dump_json()
    nan_features = json.dumps(genuine).replace('"hmac_sha256"', '"x": NaN, "hmac_sha256"')
    bad = [json.dumps(flipped), json.dumps(unsigned), other_key, other_recipe, b"{not json", nan_features, "[]"]
    outcomes = [r.apply(raw, 0, i).outcome for i, raw in enumerate(bad)]
    assert outcomes == ["bad_signature", "unsigned", "bad_signature", "wrong_recipe", "malformed", "malformed",
                        "malformed"]
    assert r.versions() in ({}, {"ICU1": 0})  # nothing learned
    assert r.stats["refused:bad_signature"] == 2 and r.stats["refused:wrong_recipe"] == 1
    assert r.apply(log[0], 0, len(bad)).outcome == "applied"
    assert r.apply(log[0], 0, len(bad) + 1).outcome == "duplicate"  # re-published after a crash: learned once
    assert r.versions() == {"ICU1": 1}


def test_unit_of_a_bed() -> None:
    units = BedUnits({"SPARE-1": "ICU2"}, default="icu")
    assert [units(b) for b in ("ICU1-07", "NICU-12-a", "SPARE-1", "bed9", "x y-1")] == \
        ["ICU1", "NICU", "ICU2", "icu", "icu"]
    r = UnitModels(KEY, BedUnits(default="icu"), max_units=2)
    assert [r.unit_of(b) for b in ("A-1", "B-1")] == ["A", "B"]
    r.for_bed("A-1"), r.for_bed("B-1")
    assert r.unit_of("C-1") == "icu"  # past max_units, invented units share the default unit's model


def test_prequential_experiment_through_two_workers_matches_one_ward() -> None:
    """The ward experiment with its beds split over two workers sharing the label log: same
    false-alarm suppression per quarter as one in-process ward (within 2 points), one model version."""
    one = run_feedback_experiment(seed=0)
    two = run_feedback_experiment(seed=0, workers=2)
    pct1 = [q.false_suppressed_pct for q in one.quarters]
    pct2 = [q.false_suppressed_pct for q in two.quarters]
    assert all(abs(x - y) <= 2.0 for x, y in zip(pct1, pct2, strict=True)), (pct1, pct2)
    assert pct2[-1] > pct2[0] + 30  # it did learn
    assert len(set(two.replica_versions)) == 1 and two.replica_versions[0].endswith(one.final_version.split("/")[-1])
    assert two.sensitivity >= 0.99


def test_a_label_given_after_the_bed_moved_to_another_worker_still_joins_its_features() -> None:
    """Worker A decides; A dies (or the partition moves); worker B reads A's decisions back from the
    decisions topic and a clinician's label then given is published by B with what A's model saw."""
    from alarmfilter.kafka.core import WorkerCore
    from alarmfilter.settings import Settings

    settings = Settings(_env_file=None, partitions=4, reorder_max_wait_seconds=0.0)
    a, b = replica(), replica()
    core_a = WorkerCore(shared_engine_factory(None, a), settings)
    core_b = WorkerCore(shared_engine_factory(None, b), settings)
    alarms = hr_alarms(["ICU1-01"], 3, seed=6, tag="moved")
    decisions = []
    for offset, e in enumerate(events_of(alarms, 6)):
        out = core_a.receive(settings.topics.for_kind(e.kind), 1, offset, e.model_dump_json(), None, 0.0)
        decisions += [o.value for o in out if o.topic == settings.topics.decisions]
    assert len(decisions) == 3 and all(b'"features":{' in d for d in decisions)
    assert core_b.restore_decided(1, decisions, 0.0) == 3
    for offset, fb in enumerate(labels_of(alarms)):
        core_b.receive(settings.topics.feedback, 1, offset, fb.model_dump_json(), None, 1.0)
    published = b.take_outbox()
    assert [r.alarm_id for r in published] == [a for _, a in alarms]
    seen_by_a = {d["alarm_id"]: d["features"] for d in map(json.loads, decisions)}
    assert all(r.features == seen_by_a[r.alarm_id] for r in published)
    assert all(r.model_version == json.loads(decisions[0])["model_version"] for r in published)
    assert a.take_outbox() == []  # A never saw the labels
