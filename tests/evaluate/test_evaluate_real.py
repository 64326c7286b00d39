"""The evaluator on real PhysioNet/CinC 2015 records (skipped when ../shared/data is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alarmfilter.cli.engines import engine_factory, shipped_model
from alarmfilter.datasets.challenge import record_names
from alarmfilter.datasets.location import CHALLENGE, find_dataset
from alarmfilter.evaluate.runner import decide, load
from alarmfilter.evaluate.session import FILTER, FILTER_FROZEN, MONITOR_DELAY, Options, evaluate

#: long records (30 s after the alarm) of every type, true and false
HANDFUL = ("a103l", "a161l", "b183l", "b227l", "t418l", "t479l", "v131l", "v803l", "f543l", "v127l", "t305l",
           "v453l")


@pytest.fixture(scope="module")
def dev() -> Path:
    loc = find_dataset(CHALLENGE)
    if loc is None:
        pytest.skip("../shared/data/challenge2015-dev is absent: real-data evaluation tests skipped")
    return loc.dataset(CHALLENGE)


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    m, problem = shipped_model()
    if m is None:
        pytest.fail(f"shipped prior unusable: {problem}")
    return m


def test_truncating_at_the_alarm_changes_no_hold0_decision(dev: Path, model) -> None:  # type: ignore[no-untyped-def]
    names = tuple(n for n in HANDFUL if (dev / f"{n}.hea").exists())
    assert len(names) >= 8
    full = evaluate(Options(dev, records=names, jobs=2), model)  # processes change nothing either
    cut = evaluate(Options(dev, records=names, truncate=0.0), model)
    got = [(o.record, o.forwarded, o.score, o.reasons) for o in full.outcomes[FILTER]]
    assert got == [(o.record, o.forwarded, o.score, o.reasons) for o in cut.outcomes[FILTER]]
    assert all(o.features for o in full.outcomes[FILTER])  # every record was really scored
    # the data after the alarm did reach the engines: the 10-s monitor delay, which may use it, changes
    monitor_full = [(o.forwarded, o.reasons) for o in full.outcomes[MONITOR_DELAY]]
    assert monitor_full != [(o.forwarded, o.reasons) for o in cut.outcomes[MONITOR_DELAY]]


def test_decisions_use_no_data_beyond_the_hold(dev: Path, model) -> None:  # type: ignore[no-untyped-def]
    """The monitor-delay baseline reads the seconds after the alarm: its engines must stop at the delay."""
    names = tuple(n for n in HANDFUL if (dev / f"{n}.hea").exists())
    opts = {"records": names, "monitor_delay_seconds": 6.0, "hold_seconds": 6.0}
    full = evaluate(Options(dev, **opts), model)  # type: ignore[arg-type]
    cut = evaluate(Options(dev, truncate=6.0, **opts), model)  # type: ignore[arg-type]
    for name in (MONITOR_DELAY, FILTER):
        assert [(o.forwarded, o.score, o.reasons) for o in full.outcomes[name]] == \
            [(o.forwarded, o.score, o.reasons) for o in cut.outcomes[name]]
    assert any("6 s after the alarm" in " ".join(o.reasons) for o in full.outcomes[MONITOR_DELAY])


def test_shipped_prior_forwards_every_true_asystole_and_vf(dev: Path, model) -> None:  # type: ignore[no-untyped-def]
    """The safety claim on real data: the frozen shipped prior misses no true asystole or VF of the dev set."""
    lethal = ("asystole", "ventricular_flutter_fib")
    names = tuple(n for n in record_names(dev) if n[0] in "af")  # a = asystole, f = VF (challenge naming)
    ev = evaluate(Options(dev, records=names, jobs=2, baselines=False), model)
    outcomes = [o for o in ev.outcomes[FILTER] if o.alarm_type in lethal]
    assert {o.alarm_type for o in outcomes} == set(lethal) and sum(o.label is True for o in outcomes) >= 10
    missed = [o.record for o in outcomes if o.label and not o.forwarded]
    assert missed == []


def test_prequential_learns_after_each_decision(dev: Path, model) -> None:  # type: ignore[no-untyped-def]
    names = tuple(sorted(p.stem for p in dev.glob("v*.hea"))[:30])
    ev = evaluate(Options(dev, mode="prequential", seed=3, records=names, baselines=False), model)
    learned, frozen = ev.outcomes[FILTER], ev.outcomes[FILTER_FROZEN]
    assert ev.names != sorted(ev.names)  # seeded shuffle
    assert learned[0].score == frozen[0].score  # nothing learned before the first decision
    assert any(a.score != b.score for a, b in zip(learned[1:], frozen[1:]))
    assert ev.model_version.endswith(f"+{len(names)}")
    assert model.version.endswith(model.version.split("+")[0])  # the shipped object is untouched
    assert "+" not in model.version


def test_missing_prior_fails_open_and_says_so(dev: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "prior.json"
    bad.write_text("{not json")
    factory = engine_factory(prior_path=bad)
    assert "unreadable" in capsys.readouterr().err
    out = decide(load(dev / "v131l"), factory, context_seconds=40.0)
    assert out.forwarded and out.reason_code == "no_evidence_policy"
    out = decide(load(dev / "v131l"), engine_factory(), context_seconds=40.0)
    assert out.reason_code in ("evidence_supports", "evidence_against", "safety_floor") and out.features
