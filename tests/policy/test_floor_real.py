"""The safety property on real data: every true asystole and VF is forwarded, and learning cannot undo it.

Real records from ../shared/data (skipped, saying so, when absent): the vfdb dev half (real VF,
flutter, asystole and VT, ECG only) and the challenge2015-dev asystole and VF alarms, by the
shipped prior, under both lead namings, and in cross-validation (prior and thresholds refitted
without the record). Then the adversarial case: a ward model taught that every one of these
alarms was not actionable still forwards every alarm the floor holds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from alarmfilter.datasets.challenge import read_alarms, read_challenge
from alarmfilter.engine.learning import LearningPolicy
from alarmfilter.engine.scoring import Assessment
from alarmfilter.events.types import AlarmType, Decision, ReasonCode
from alarmfilter.model.crossval import cross_validate, extract_rows, summarise
from alarmfilter.model.loading import ward_model_lifecycle
from alarmfilter.policy.floor import check_floor, forwards
from alarmfilter.signals.evidence import extract_evidence
from alarmfilter.signals.preprocess import channel_kind
from tests.datasets.vfdb_records import ASYSTOLE, VF, VT, suppressed, vfdb_alarm_records

DEV = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "challenge2015-dev"
LETHAL = ("asystole", "ventricular_flutter_fib")


@pytest.fixture(scope="module")
def lethal_rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """Evidence of every challenge2015-dev asystole and VF alarm (data up to the alarm)."""
    if not DEV.exists():
        pytest.skip("../shared/data/challenge2015-dev is absent: real-data floor tests skipped")
    names = [n for n, (t, _) in read_alarms(DEV).items() if t in LETHAL]
    sub = tmp_path_factory.mktemp("lethal")
    for n in names:
        for ext in (".hea", ".mat"):
            (sub / (n + ext)).symlink_to((DEV / (n + ext)).resolve())
    (sub / "RECORDS").write_text("\n".join(names) + "\n")
    return extract_rows(sub, workers=2)


@pytest.mark.slow
@pytest.mark.parametrize("leads", ["monitor", "ecg"])
def test_every_true_vfdb_vf_and_asystole_is_forwarded(leads: str) -> None:
    recs = vfdb_alarm_records(types=(VF, ASYSTOLE), label=True, leads=leads)
    assert len(recs) == 10  # 8 VF/flutter episodes, 2 asystoles in the dev half
    assert suppressed(recs) == []


@pytest.mark.slow
def test_vfdb_vt_sensitivity_and_noise_alarms() -> None:
    true_vt = vfdb_alarm_records(types=(VT,), label=True)
    assert len(suppressed(true_vt)) <= 0.03 * len(true_vt)  # VT sensitivity >= 0.97
    noise = vfdb_alarm_records(label=False)
    assert len(suppressed(noise)) >= len(noise) / 2  # at least half the noise alarms held back


@pytest.mark.slow
def test_taking_the_pulse_away_never_lets_a_true_challenge_vt_go() -> None:
    """vfdb's blind half is ECG only: a true VT forwarded with its pulse must stay forwarded without it.

    Fails without the pulse-free vouching rule: v194s, v290s and v772s were held by the learned score's
    pulse features alone, because the 15-40 Hz matched filter found "usual QRS" among the VT beats.
    """
    if not DEV.exists():
        pytest.skip("../shared/data/challenge2015-dev is absent: real-data floor tests skipped")
    true_vt = [read_challenge(DEV / n) for n, (t, y) in read_alarms(DEV).items()
               if t == "ventricular_tachycardia" and y]
    ecg_only = [r._replace(signals={k: v for k, v in r.signals.items()
                                    if channel_kind(k, r.units.get(k, "")) == "ecg"}) for r in true_vt]
    assert len(true_vt) == 36 and all(len(e.signals) < len(r.signals) for r, e in zip(true_vt, ecg_only))
    with_pulse = set(suppressed(true_vt))
    assert len(with_pulse) <= 1  # v534s: its ECG shows the usual QRS every 0.5 s by both looks
    assert set(suppressed(ecg_only)) <= with_pulse


def test_shipped_prior_forwards_every_true_challenge_asystole_and_vf(lethal_rows: list[dict]) -> None:
    from alarmfilter.model import load_prior

    prior = load_prior()
    missed = [r["record"] for r in lethal_rows if r["label"] and not forwards(
        check_floor(r["type"], r["features"]), prior.predict_proba_one(r["features"], r["type"])[True],
        prior.thresholds[r["type"]])]
    assert sum(r["label"] for r in lethal_rows) == 11 and missed == []


def test_cross_validated_floor_forwards_every_true_challenge_asystole_and_vf(lethal_rows: list[dict]) -> None:
    for seed in range(3):
        res = summarise(cross_validate(lethal_rows, k=3, seed=seed))
        assert res["asystole"]["FN"] == 0 and res["ventricular_flutter_fib"]["FN"] == 0, seed
        assert res["asystole"]["TN"] > 0  # the floor is not "forward everything"


def test_no_learned_update_suppresses_an_alarm_the_floor_forwards(lethal_rows: list[dict]) -> None:
    held = [r for r in lethal_rows if not check_floor(r["type"], r["features"]).may_suppress]
    assert any(r["label"] for r in held)
    lifecycle = ward_model_lifecycle()
    policy = LearningPolicy(lifecycle)
    for _ in range(20):  # a ward that calls every lethal alarm a false one
        for r in lethal_rows:
            lifecycle.learn_one(r["features"], False, r["type"])
    assert lifecycle.n_learned == 20 * len(lethal_rows) and not lifecycle.fallen_back
    for r in held:
        t = AlarmType(r["type"])
        p = lifecycle.predict_proba_one(r["features"], r["type"])[True]
        v = policy.decide(t, Assessment(p, r["features"], r.get("findings", {}), lifecycle.version))
        assert v.decision == Decision.FORWARD and v.reason_code == ReasonCode.SAFETY_FLOOR, (r["record"], p)


#: changes to the ECG that keep every alarm's truth: monitor gain, mains pick-up, breathing wander
ECG_PERTURBATIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "gain x0.5": lambda x, t: 0.5 * x,
    "gain x2": lambda x, t: 2.0 * x,
    "60-Hz mains, 50 uV": lambda x, t: x + 0.05 * np.sin(2 * np.pi * 60.0 * t),
    "baseline wander, 0.5 mV at 0.3 Hz": lambda x, t: x + 0.5 * np.sin(2 * np.pi * 0.3 * t),
}


@pytest.fixture(scope="module")
def true_lethal() -> list:
    """Every true asystole, VT and VF alarm of both dev sets."""
    if not DEV.exists():
        pytest.skip("../shared/data/challenge2015-dev is absent: real-data floor tests skipped")
    recs = [read_challenge(DEV / n) for n, (t, y) in read_alarms(DEV).items()
            if y and t in (*LETHAL, "ventricular_tachycardia")]
    return recs + vfdb_alarm_records(types=(VF, ASYSTOLE, VT), label=True)


def _missed(records: list) -> set[str]:
    from alarmfilter.model import load_prior

    prior = load_prior()
    out = set()
    for r in records:
        ev = extract_evidence(r.alarm_type, r.signals, r.units, r.fs_hz, min(len(v) for v in r.signals.values()))
        p = prior.predict_proba_one(ev.features, r.alarm_type)[True]
        if not forwards(check_floor(r.alarm_type, ev.features, ev.findings), p, prior.thresholds[r.alarm_type]):
            out.add(r.name)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("change", ECG_PERTURBATIONS)
def test_an_ecg_change_that_keeps_the_truth_loses_no_true_lethal_alarm(true_lethal: list, change: str) -> None:
    before = _missed(true_lethal)
    assert len(true_lethal) == 68 and before <= {"v534s"}
    f = ECG_PERTURBATIONS[change]
    changed = [r._replace(signals={k: f(v, np.arange(len(v)) / r.fs_hz)
                                   if channel_kind(k, r.units.get(k, "")) == "ecg" else v
                                   for k, v in r.signals.items()}) for r in true_lethal]
    assert _missed(changed) <= before
