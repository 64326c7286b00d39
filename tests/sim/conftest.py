"""Shared simulated wards for the sim tests: planned once per session (planning is cheap, imports are not)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alarmfilter.sim import SimConfig, SimRun, simulate
from alarmfilter.sim.realdata import RealData, find_real_data

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def real_data() -> RealData:
    real = find_real_data(str(SHARED)) if SHARED.is_dir() else None
    if real is None or real.records is None or real.records.folder is None or not real.bidmc:
        pytest.skip(f"real data absent: {SHARED} (challenge records and BIDMC numerics) not found")
    return real


@pytest.fixture(scope="session")
def big_synthetic() -> SimRun:
    """600 bed-hours, fully synthetic: enough alarms to test rates against the claims."""
    return simulate(SimConfig(beds=100, hours=6, seed=11, use_real_data=False))


@pytest.fixture(scope="session")
def small_synthetic() -> SimRun:
    return simulate(SimConfig(beds=6, hours=0.5, seed=5, use_real_data=False))


@pytest.fixture(scope="session")
def medium_synthetic() -> SimRun:
    return simulate(SimConfig(beds=20, hours=1, seed=9, use_real_data=False))
