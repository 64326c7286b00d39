"""The safety floor through the engine on a synthetic ward: a lethal alarm whose event window the
waveform does not reach is forwarded, never suppressed on the rhythm from before it."""

from __future__ import annotations

import pytest

from alarmfilter.cli.engines import engine_factory
from alarmfilter.replay import Ward
from alarmfilter.settings import Settings
from tests.kafka.streams import ward_stream

ALARM = "e2e-ICU1-01-6"  # a VT alarm on a normal synthetic rhythm, 2.5 s before the stream ends


def _decide(drop_seconds: float):
    events = ward_stream(beds=4, seconds=30, tag="e2e")
    alarm = next(e for e in events if e.kind == "alarm" and e.alarm_id == ALARM)
    kept = [e for e in events if drop_seconds == 0 or not (
        e.kind == "waveform" and e.bed == alarm.bed and alarm.ts - drop_seconds - 1 < e.ts < alarm.ts + 5)]
    ward = Ward(engine_factory(Settings(_env_file=None).engine_config(), quiet=True))
    out = [o for e in sorted(kept, key=lambda e: e.ts) for o in ward.feed(e)] + ward.flush()
    return next(o for o in out if o.kind == "decision" and o.alarm_id == ALARM)


@pytest.mark.parametrize("drop_seconds", [1.0, 3.0])
def test_a_lethal_alarm_whose_last_seconds_are_unseen_is_forwarded(drop_seconds: float) -> None:
    d = _decide(drop_seconds)
    assert d.decision == "forward" and d.reason_code == "safety_floor", d.reasons
    assert "stops" in d.reasons[0] and "before the alarm" in d.reasons[0]


def test_the_same_alarm_with_its_waveform_is_scored() -> None:
    d = _decide(0.0)  # nothing dropped
    assert d.reason_code in ("safety_floor", "evidence_supports", "evidence_against")
    assert not any("stops" in r for r in d.reasons)
