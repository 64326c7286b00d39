"""Fuzzing model snapshot loading: anything but a snapshot we signed is refused, and the model kept."""

from __future__ import annotations

import copy
import functools
import json
import math
import random
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from alarmfilter.model import load_prior
from alarmfilter.model.lifecycle import (
    SNAPSHOT_SCHEMA,
    ModelLifecycle,
    SnapshotError,
    SnapshotStore,
    seal,
)
from alarmfilter.model.numerics_model import WardModel

from .budget import count, fuzz_settings
from .strategies import json_values
from .test_codec_fuzz import mutants

KEY = b"fuzz-key-0123456789abcdef"
X = {"num_max_step_per_s": 0.5, "num_persist_seconds": 30.0, "hr_pulse_gap_bpm": 1.0}


def lifecycle() -> ModelLifecycle:
    return ModelLifecycle(WardModel(load_prior()).to_dict(), WardModel.from_dict, KEY)


@functools.cache
def good_snapshot() -> str:
    lc = lifecycle()
    for i in range(30):
        lc.learn_one(X, bool(i % 3), "spo2_low")
    return json.dumps(lc.to_snapshot(now_ts=1.0), sort_keys=True)


def refused_and_kept(lc: ModelLifecycle, doc: object) -> bool:
    before = (lc.version, lc.predict_proba_one(X, "spo2_low")[True])
    try:
        lc.restore(doc)
    except SnapshotError as exc:
        assert str(exc).rstrip().endswith("refused"), str(exc)
        assert (lc.version, lc.predict_proba_one(X, "spo2_low")[True]) == before
        return True
    return False


def leaves(obj: object, path: tuple = ()) -> list[tuple]:
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in leaves(v, (*path, k))]
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in leaves(v, (*path, i))]
    return [path]


@fuzz_settings(300)
@given(st.one_of(json_values, st.fixed_dictionaries({"schema": st.just(SNAPSHOT_SCHEMA), "body": json_values,
                                                     "hmac_sha256": st.text(max_size=64)})))
def test_unsigned_documents_are_refused(doc):
    count("snapshot: unsigned documents")
    assert refused_and_kept(lifecycle(), doc)


@fuzz_settings(150)
@given(st.integers(0, 2**32 - 1), st.one_of(json_values, st.sampled_from([0, -1, 1e300, "x", None, True])))
def test_any_change_to_a_signed_snapshot_is_refused(seed, value):
    count("snapshot: tampered leaves")
    doc = json.loads(good_snapshot())
    paths = leaves(doc["body"])
    path = random.Random(seed).choice(paths)
    target = doc["body"]
    for p in path[:-1]:
        target = target[p]
    if target[path[-1]] == value:
        return
    target[path[-1]] = value
    assert refused_and_kept(lifecycle(), doc), f"a change at {path} was accepted"


@fuzz_settings(150)
@given(st.fixed_dictionaries({"n_learned": json_values, "created_ts": json_values, "model": json_values},
                             optional={"fallback_reason": json_values, "fallback_type": json_values, "prior_id": json_values}))
def test_signed_but_malformed_bodies_are_refused_or_yield_a_working_model(body):
    count("snapshot: signed malformed bodies")
    try:
        doc = seal(body, KEY)
    except ValueError:
        return  # not canonical JSON: we could never have signed it
    lc = lifecycle()
    if not refused_and_kept(lc, copy.deepcopy(doc)):
        p = lc.predict_proba_one(X, "spo2_low")[True]
        assert math.isfinite(p) and 0.0 <= p <= 1.0


@fuzz_settings(60)
@given(st.integers(0, 2**32 - 1))
def test_corrupted_snapshot_files_are_refused(seed):
    batch = mutants(good_snapshot(), random.Random(seed), 10)
    count("snapshot: corrupted files", len(batch))
    with tempfile.TemporaryDirectory() as d:
        store = SnapshotStore(Path(d))
        lc = lifecycle()
        for i, data in enumerate(batch):
            path = Path(d) / f"snapshot-{i:09d}.json"
            path.write_bytes(data)
            try:
                store.load(lc, path)
            except SnapshotError as exc:
                assert "refused" in str(exc)
            else:
                assert json.loads(data) == json.loads(good_snapshot())  # only a harmless change (whitespace) loads
