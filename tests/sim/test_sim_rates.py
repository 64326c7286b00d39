"""The simulated alarm mix and rates against the figures the simulator claims (config.py: Drew 2014)."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from alarmfilter.sim import SimConfig, SimRun, simulate
from alarmfilter.sim.config import (
    ARRHYTHMIA_FALSE_SHARE,
    AUDIBLE_ALARMS_PER_BED_DAY,
    CATEGORY_SHARE,
    arrhythmia_mix,
    arrhythmia_true_share,
)
from alarmfilter.sim.realdata import RealData
from alarmfilter.sim.ward import category


def test_the_claims_add_up() -> None:
    assert math.isclose(sum(CATEGORY_SHARE.values()), 1.0)
    assert math.isclose(sum(arrhythmia_mix().values()), 1.0)
    true_share = sum(arrhythmia_mix()[t] * p for t, p in arrhythmia_true_share().items())
    assert true_share == pytest.approx(1 - ARRHYTHMIA_FALSE_SHARE, abs=1e-4)


def _check_rates(run: SimRun) -> None:
    truths = list(run.truth.values())
    bed_days = run.config.beds * run.config.seconds / 86_400
    expected_total = AUDIBLE_ALARMS_PER_BED_DAY * bed_days
    # Poisson counts: 4 standard deviations either side
    assert abs(len(truths) - expected_total) < 4 * math.sqrt(expected_total), (len(truths), expected_total)
    by_cat = Counter(category(t.type) for t in truths)
    for cat, share in CATEGORY_SHARE.items():
        exp = share * expected_total
        assert abs(by_cat[cat] - exp) < 4 * math.sqrt(exp) + 2, (cat, by_cat[cat], exp)
    arr = [t for t in truths if category(t.type) == "arrhythmia"]
    false_share = sum(not t.actionable for t in arr) / len(arr)
    sd = math.sqrt(ARRHYTHMIA_FALSE_SHARE * (1 - ARRHYTHMIA_FALSE_SHARE) / len(arr))
    assert abs(false_share - ARRHYTHMIA_FALSE_SHARE) < 4 * sd, false_share
    # every type near what the plan claims for it
    expected: Counter[str] = Counter()
    for p in run.plans:
        for t, x in p.expected.items():
            expected[t.value] += x
    assert sum(expected.values()) == pytest.approx(expected_total)
    observed = Counter(t.type for t in truths)
    for t, exp in expected.items():
        assert abs(observed[t] - exp) < 4 * math.sqrt(exp) + 3, (t, observed[t], exp)
    assert set(observed) <= set(expected)


def test_synthetic_ward_matches_its_claims(big_synthetic: SimRun) -> None:
    _check_rates(big_synthetic)
    assert big_synthetic.data_source.startswith("fully synthetic")


def test_real_data_ward_matches_its_claims(real_data: RealData) -> None:
    run = simulate(SimConfig(beds=100, hours=3, seed=12), real_data)
    _check_rates(run)
    sources = Counter(t.source.split(":")[0] for t in run.truth.values() if category(t.type) == "arrhythmia")
    share_real = sources["challenge"] / sum(sources.values())
    assert abs(share_real - run.config.real_arrhythmia_share) < 0.05, sources
    assert all(p.sources[0].startswith("BIDMC") for p in run.plans)


def test_every_episode_raises_exactly_one_alarm_with_its_cause(big_synthetic: SimRun) -> None:
    """Ground truth is only as good as the link between cause and alarm: one item, one alarm."""
    for plan in big_synthetic.plans:
        per_item = Counter(id(a.item) for a in plan.alarms)
        assert all(per_item[id(it)] == 1 for it in plan.items), plan.bed
        for a in plan.alarms:
            assert a.item.alarm_type is a.alarm_type
            assert a.truth.cause is a.item.cause
            assert a.item.start <= a.second <= a.item.start + max(a.item.length, 1)


def test_limit_alarms_fire_after_their_delay_on_the_numerics(big_synthetic: SimRun) -> None:
    """A limit alarm's numeric was beyond the limit for the whole delay before it fired."""

    checked = 0
    for plan in big_synthetic.plans[:30]:
        for a in plan.alarms:
            if a.truth.source != "numerics":
                continue
            lim = plan.limits[a.alarm_type]
            x = plan.measured[lim.key][a.second - int(lim.delay_seconds) : a.second]
            assert (x > lim.limit).all() if lim.high else (x < lim.limit).all(), (a.alarm_type, x)
            checked += 1
    assert checked > 50


def test_parameter_alarm_ground_truth_mix(big_synthetic: SimRun) -> None:
    from alarmfilter.sim.config import PARAMETER_ACTIONABLE_SHARE

    param = [t for t in big_synthetic.truth.values() if category(t.type) == "parameter"]
    share = sum(t.actionable for t in param) / len(param)
    sd = math.sqrt(PARAMETER_ACTIONABLE_SHARE * (1 - PARAMETER_ACTIONABLE_SHARE) / len(param))
    assert abs(share - PARAMETER_ACTIONABLE_SHARE) < 4 * sd
    assert {t.cause.value for t in param} == {"event", "transient", "artefact"}


def test_bed_rate_dispersion_makes_some_beds_loud_and_keeps_the_mean() -> None:
    """Opt-in heterogeneity: per-bed counts overdispersed, the ward mean still the claimed rate."""
    import numpy as np

    run = simulate(SimConfig(beds=200, hours=2, seed=8, use_real_data=False, bed_rate_dispersion=1.0))
    counts = np.array([len(p.alarms) for p in run.plans])
    expected = AUDIBLE_ALARMS_PER_BED_DAY * 2 / 24
    assert counts.var() > 5 * counts.mean()  # Poisson alone: var == mean
    assert abs(counts.mean() - expected) < 4 * np.sqrt(expected + expected**2) / np.sqrt(200)
    flat = simulate(SimConfig(beds=200, hours=2, seed=8, use_real_data=False))
    flat_counts = np.array([len(p.alarms) for p in flat.plans])
    assert flat_counts.var() < 2 * flat_counts.mean()
