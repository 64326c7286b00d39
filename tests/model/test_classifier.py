"""River prior: JSON round trip, determinism, online learning after load, fail-open."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alarmfilter.model import PRIOR_PATH, load_prior
from alarmfilter.model.classifier import AlarmModel, fit_prior
from alarmfilter.model.crossval import cross_validate, stratified_folds, summarise


def _rows(n: int = 80, seed: int = 0) -> list[tuple[str, dict[str, float], bool]]:
    """Asystole rows where a long ECG pause and no pulse mean a true alarm."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        y = bool(i % 4 == 0)
        gap = rng.uniform(4.0, 9.0) if y else rng.uniform(0.5, 2.5)
        pulse = gap + rng.normal(0, 0.3) if y or i % 3 else -999.0
        out.append(("asystole", {"asy_ecg_gap_min_s": gap, "floor_ecg_qrs_gap_s": gap, "asy_pulse_gap_min_s": pulse,
                                 "n_ecg_usable": 2.0, "n_pulse_usable": 1.0}, y))
    return out


def test_fit_prior_separates_and_is_deterministic() -> None:
    rows = _rows()
    m1, m2 = fit_prior(rows), fit_prior(list(reversed(rows)))
    assert m1.to_dict() == m2.to_dict()
    p_true = m1.predict_proba_one({"asy_ecg_gap_min_s": 7.0, "asy_pulse_gap_min_s": 7.0}, "asystole")[True]
    p_false = m1.predict_proba_one({"asy_ecg_gap_min_s": 1.0, "asy_pulse_gap_min_s": 0.9}, "asystole")[True]
    assert p_true > 0.9 and p_false < 0.1


def test_json_round_trip_scores_and_learns_identically() -> None:
    m = fit_prior(_rows())
    m.thresholds = {"asystole": 0.3}
    m2 = AlarmModel.from_dict(json.loads(json.dumps(m.to_dict())))
    assert m2.version == m.version and m2.thresholds == m.thresholds
    x = {"asy_ecg_gap_min_s": 3.0, "asy_pulse_gap_min_s": 2.0, "alarm_type": "asystole"}
    assert m2.predict_proba_one(x) == m.predict_proba_one(x)
    base_version, before = m.version, m.predict_proba_one(x)[True]
    for mm in (m, m2):
        for _ in range(20):
            mm.learn_one(x, True)
    assert m2.predict_proba_one(x) == pytest.approx(m.predict_proba_one(x))
    assert m2.predict_proba_one(x)[True] > before + 0.01  # 20 true labels raise p(true) for these features
    assert "+" not in base_version and m.version == m2.version == f"{base_version}+20"


def test_learning_moves_probability_towards_label() -> None:
    m = fit_prior(_rows())
    x = {"asy_ecg_gap_min_s": 3.0, "asy_pulse_gap_min_s": 3.0}
    before = m.predict_proba_one(x, "asystole")[True]
    for _ in range(30):
        m.learn_one(x, False, "asystole")
    assert m.predict_proba_one(x, "asystole")[True] < before


def test_unknown_type_and_no_signal_fail_open() -> None:
    m = fit_prior(_rows())
    assert m.predict_proba_one({"x": 1.0}, "spo2_low") == {False: 0.0, True: 1.0}
    dead = {"asy_ecg_gap_min_s": 0.5, "n_ecg_usable": 0.0, "n_pulse_usable": 0.0}
    assert m.predict_proba_one(dead, "asystole")[True] == 1.0


def test_stratified_folds_balance_types_and_labels() -> None:
    rows = [{"record": f"r{i}", "type": "a" if i % 2 else "b", "label": i % 3 == 0, "features": {}} for i in range(60)]
    f = stratified_folds(rows, 5, seed=1)
    assert sorted(np.bincount(f).tolist()) == [12] * 5
    for t in ("a", "b"):
        for y in (True, False):
            counts = np.bincount([g for g, r in zip(f, rows) if r["type"] == t and r["label"] == y], minlength=5)
            assert counts.max() - counts.min() <= 1
    assert (stratified_folds(rows, 5, seed=1) == f).all()


def test_cross_validation_runs_and_scores() -> None:
    rows = [{"record": f"r{i}", "type": t, "label": y, "features": x} for i, (t, x, y) in enumerate(_rows(100))]
    res = summarise(cross_validate(rows, k=4, seed=0))
    o = res["overall"]
    assert o["TP"] + o["FN"] == 25 and o["TN"] + o["FP"] == 75
    assert o["TPR"] >= 0.9 and o["TNR"] > 0.8


def test_shipped_prior_loads_and_has_thresholds() -> None:
    assert PRIOR_PATH.exists(), f"the shipped prior {PRIOR_PATH} is missing: run `make model` and commit it"
    m = load_prior()
    assert set(m.thresholds) >= {"asystole", "ventricular_flutter_fib", "ventricular_tachycardia"}
    assert m.version.startswith("prior-")
    assert len(PRIOR_PATH.read_bytes()) < 50_000


def test_weights_keep_their_physiological_sign_in_fit_and_online() -> None:
    """Four odd tachycardia records must not teach that a faster rate argues against tachycardia."""
    rows = [("extreme_tachycardia", {"tachy_hr17_median_bpm": hr}, y)
            for hr, y in [(150, True), (155, True), (160, True), (145, True), (200, False), (210, False)]]
    m = fit_prior(rows)
    assert m.types["extreme_tachycardia"].logreg.weights["tachy_hr17_median_bpm"] >= 0.0
    for _ in range(50):
        m.learn_one({"tachy_hr17_median_bpm": 230.0}, False, "extreme_tachycardia")
    assert m.types["extreme_tachycardia"].logreg.weights["tachy_hr17_median_bpm"] >= 0.0
    m2 = fit_prior(_rows())
    assert m2.types["asystole"].logreg.weights["asy_ecg_gap_min_s"] > 0.0


def test_snapshot_keeps_its_input_recipe_when_code_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    import alarmfilter.model.features as feats

    m = fit_prior(_rows())
    d = json.loads(json.dumps(m.to_dict()))
    x = {"asy_ecg_gap_min_s": 9.0, "asy_pulse_gap_min_s": 9.0}
    p = m.predict_proba_one(x, "asystole")[True]
    # a later code version clips pauses at 3 s: the stored model must not change its mind
    monkeypatch.setitem(feats.MODEL_SPEC, "asystole", (("asy_ecg_gap_min_s", 0.0, 3.0), ("asy_pulse_gap_min_s", 0.0, 3.0)))
    assert AlarmModel.from_dict(d).predict_proba_one(x, "asystole")[True] == p
    # a snapshot written before specs were stored falls back to the current recipe
    for t in d["types"].values():
        del t["spec"]
    assert AlarmModel.from_dict(d).predict_proba_one(x, "asystole")[True] != p
