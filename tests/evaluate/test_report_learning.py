"""The prequential report shows the ward experiment: feedback teaching what the prior cannot know."""

from __future__ import annotations

import re

from alarmfilter.evaluate.report import _ward_experiment


def test_ward_experiment_section_shows_suppression_rising_and_the_audit_estimate():
    html = "\n".join(_ward_experiment(seed=0))
    rows = re.findall(r"<td>Q(\d)</td><td>\d+</td><td>\d+/\d+ \((\d+) %\)</td><td>\d+/\d+ \(([\d.]+) %\)</td>", html)
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]
    suppressed = [int(r[1]) for r in rows]
    assert suppressed[-1] > suppressed[0] + 30, suppressed  # learning, not a fixed rule
    assert min(float(r[2]) for r in rows) >= 99.0  # without giving up sensitivity
    assert "audit estimate" in html and "truth" in html
