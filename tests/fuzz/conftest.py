"""Report how many inputs each fuzz target generated (at least 10,000 in all in the CI-sized run)."""

from __future__ import annotations

from typing import Any

from .budget import INPUTS, OUTCOMES, SCALE


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not INPUTS:
        return
    parts = ", ".join(f"{k} {v}" for k, v in sorted(INPUTS.items()))
    terminalreporter.write_line(f"fuzz inputs (scale {SCALE}): {sum(INPUTS.values())} in all: {parts}")
    if OUTCOMES:
        terminalreporter.write_line("fuzz outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(OUTCOMES.items())))
