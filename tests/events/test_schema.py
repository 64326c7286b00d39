import json
from pathlib import Path

import jsonschema

from alarmfilter.events import encode
from alarmfilter.events.schema import schemas
from tests.helpers import T0, alarm, feedback, vitals, waveform

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def test_committed_schemas_are_current():
    for name, schema in schemas().items():
        committed = json.loads((SCHEMA_DIR / name).read_text())
        assert committed == json.loads(json.dumps(schema)), f"{name} is stale: run `make schemas`"


def test_events_validate_against_their_schema():
    for ev in (waveform("B1", T0), alarm("B1", T0), vitals("B1", T0), feedback("B1", T0, "a1", True)):
        schema = json.loads((SCHEMA_DIR / f"{ev.kind}.v1.json").read_text())
        jsonschema.validate(json.loads(encode(ev)), schema)


def test_schema_rejects_what_the_decoder_rejects():
    schema = json.loads((SCHEMA_DIR / "alarm.v1.json").read_text())
    bad = json.loads(encode(alarm("B1", T0)))
    bad["priority"] = "urgent"
    try:
        jsonschema.validate(bad, schema)
    except jsonschema.ValidationError as exc:
        assert "urgent" in str(exc)
    else:
        raise AssertionError("schema accepted an invalid priority")
