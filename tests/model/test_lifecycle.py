"""Model lifecycle: versions, signed snapshots (refused when tampered), restart, guard-rail fallback."""

from __future__ import annotations

import json

import pytest

from alarmfilter.model import load_prior
from alarmfilter.model.lifecycle import (
    ModelLifecycle,
    SensitivityGuard,
    SnapshotError,
    SnapshotStore,
    seal,
)
from alarmfilter.model.numerics_model import WardModel

KEY = b"test-key-0123456789abcdef"
REAL = {"num_max_step_per_s": 0.5, "num_persist_seconds": 30.0, "hr_pulse_gap_bpm": 1.0}
ARTEFACT = {"num_max_step_per_s": 25.0, "num_persist_seconds": 1.0, "hr_pulse_gap_bpm": 40.0}


def lifecycle(**guard) -> ModelLifecycle:
    return ModelLifecycle(WardModel(load_prior()).to_dict(), WardModel.from_dict, KEY,
                          guard=SensitivityGuard(**guard) if guard else None, snapshot_every_labels=50)


def teach(lc: ModelLifecycle, n: int, real_label: bool = True) -> None:
    for _ in range(n):
        lc.learn_one(REAL, real_label, "spo2_low")
        lc.learn_one(ARTEFACT, False, "spo2_low")


def p(lc: ModelLifecycle, x: dict[str, float]) -> float:
    return lc.predict_proba_one(x, "spo2_low")[True]


def test_version_names_prior_and_labels_and_learning_changes_scores():
    lc = lifecycle()
    v0 = lc.version
    assert v0.startswith("m") and "+" not in v0
    assert p(lc, ARTEFACT) == pytest.approx(0.95)  # no prior verdict in the evidence: the prior forwards
    teach(lc, 40)
    assert lc.version == f"{v0}+80"
    assert p(lc, ARTEFACT) < lc.thresholds["spo2_low"] < p(lc, REAL)
    assert lifecycle().version == v0  # same prior, same id


def test_snapshot_restores_on_restart_and_decides_the_same(tmp_path):
    lc = lifecycle()
    teach(lc, 40)
    assert lc.snapshot_due(now_ts=1000.0)
    store = SnapshotStore(tmp_path / "models")
    path = store.save(lc, now_ts=1000.0)
    assert not lc.snapshot_due(now_ts=1001.0)
    text = path.read_text()
    assert "hmac_sha256" in text and "pickle" not in text
    restarted = lifecycle()
    found, errors = store.restore_latest(restarted)
    assert found == path and errors == []
    assert restarted.version == lc.version
    assert p(restarted, ARTEFACT) == pytest.approx(p(lc, ARTEFACT))
    assert restarted.stats["snapshots_restored"] == 1


@pytest.mark.parametrize("tamper, message", [
    (lambda d: d["body"]["model"]["numerics"]["thresholds"].update(spo2_low=0.99), "signature does not match"),
    (lambda d: d.update(schema="alarmfilter.snapshot/0"), "schema"),
    (lambda d: d.pop("hmac_sha256"), "lacks its body or signature"),
])
def test_tampered_or_foreign_snapshot_is_refused_and_the_model_kept(tmp_path, tamper, message):
    lc = lifecycle()
    teach(lc, 40)
    doc = lc.to_snapshot(now_ts=5.0)
    tamper(doc)
    fresh = lifecycle()
    before = (fresh.version, p(fresh, ARTEFACT))
    with pytest.raises(SnapshotError, match=message):
        fresh.restore(doc)
    assert (fresh.version, p(fresh, ARTEFACT)) == before
    assert fresh.stats["snapshots_refused"] == 1


def test_signed_but_malformed_model_is_refused(tmp_path):
    lc = lifecycle()
    doc = seal({"n_learned": 3, "created_ts": 1.0, "model": {"format": "alarmfilter.ward-model/1"}}, KEY)
    with pytest.raises(SnapshotError, match="not a model"):
        lc.restore(doc)
    assert lc.n_learned == 0


def test_restore_latest_skips_a_corrupt_newest_file(tmp_path):
    lc = lifecycle()
    store = SnapshotStore(tmp_path)
    teach(lc, 10)
    good = store.save(lc, 1.0)
    teach(lc, 10)
    newest = store.save(lc, 2.0)
    newest.write_text(newest.read_text().replace('"n_learned": 40', '"n_learned": 41'))
    fresh = lifecycle()
    found, errors = store.restore_latest(fresh)
    assert found == good and fresh.n_learned == 20
    assert len(errors) == 1 and "signature" in errors[0] and newest.name in errors[0]
    (tmp_path / "snapshot-999999999.json").write_text("{not json")
    with pytest.raises(SnapshotError, match="unreadable"):
        store.load(fresh, tmp_path / "snapshot-999999999.json")


def test_wrong_key_refused_and_short_key_rejected():
    lc = lifecycle()
    doc = lc.to_snapshot(1.0)
    other = ModelLifecycle(WardModel(load_prior()).to_dict(), WardModel.from_dict, b"another-key-0123456789")
    with pytest.raises(SnapshotError, match="signature"):
        other.restore(json.loads(json.dumps(doc)))
    with pytest.raises(SnapshotError, match="at least 16 bytes"):
        ModelLifecycle({}, WardModel.from_dict, b"short")


def drift(lc: ModelLifecycle, rounds: int = 40) -> None:
    """1 in 20 artefact-looking alarms is a real event: the learned model suppresses those."""
    for _ in range(rounds):
        for _ in range(19):
            lc.learn_one(ARTEFACT, False, "spo2_low")
        lc.learn_one(ARTEFACT, True, "spo2_low")
        lc.learn_one(REAL, True, "spo2_low")
        if lc.fallen_back:
            return


def test_guard_falls_back_to_the_prior_when_learning_costs_sensitivity_and_rearms():
    lc = lifecycle(window_labels=100, min_true=10, rearm_min_true=30)
    teach(lc, 40)  # learns the artefact pattern; real desaturations still forwarded
    assert not lc.fallen_back
    drift(lc)
    assert lc.fallen_back and lc.stats["fallback_active"] == 1 and lc.stats["fallbacks"] == 1
    assert "spo2_low" in lc.fallback_reason and "target 95 %" in lc.fallback_reason
    assert lc.version.endswith(":fallback")
    assert p(lc, ARTEFACT) == pytest.approx(0.95)  # the prior forwards
    # the learned model (a correction on the prior's logit, still learning) scores it around its threshold
    assert lc.learned.predict_proba_one(ARTEFACT, "spo2_low")[True] < 1.1 * lc.learned.thresholds["spo2_low"]
    # once the learned model forwards what is confirmed true again, it is trusted again
    for _ in range(60):
        lc.learn_one(ARTEFACT, True, "spo2_low")
        lc.learn_one(REAL, True, "spo2_low")
        if not lc.fallen_back:
            break
    assert not lc.fallen_back and lc.stats["rearms"] == 1 and lc.stats["fallback_active"] == 0


def test_guard_ignores_a_single_heavy_audit_sample():
    lc = lifecycle()
    teach(lc, 40)
    lc.learn_one(ARTEFACT, True, "spo2_low", weight=20.0)  # one unlucky audit draw
    assert not lc.fallen_back


def test_fallback_survives_a_restart(tmp_path):
    lc = lifecycle(window_labels=100, min_true=10)
    teach(lc, 40)
    drift(lc)
    assert lc.fallen_back
    fresh = lifecycle()
    fresh.restore(lc.to_snapshot(3.0))
    assert fresh.fallen_back and fresh.fallback_reason == lc.fallback_reason
