"""How hard the fuzz tests try: CI size by default, `ALARMFILTER_FUZZ_SCALE=N` (make fuzz) for N times more.

Every test counts the inputs it generated (`count`), so the run can report how many inputs it
actually tried, not only how many hypothesis examples it drew.
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, settings

#: Multiplier of every test's example count; `make fuzz` sets it (default 20).
SCALE = max(1, int(os.environ.get("ALARMFILTER_FUZZ_SCALE", "1") or 1))

#: inputs generated, per fuzz target; printed in the terminal summary by conftest.py
INPUTS: Counter[str] = Counter()


def fuzz_settings(examples: int) -> settings:
    """`examples` per CI run, times SCALE; no deadline (the machine is shared), no slow-data health checks."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


#: what the generated inputs led to (e.g. decision reason codes), to show the fuzz reaches deep code
OUTCOMES: Counter[str] = Counter()


def count(target: str, n: int = 1) -> None:
    INPUTS[target] += n


def outcome(what: str, n: int = 1) -> None:
    OUTCOMES[what] += n
