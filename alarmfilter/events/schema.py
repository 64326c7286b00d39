"""Generate the JSON Schema files of wire format v1 from the models: `python -m alarmfilter.events.schema DIR`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .labels import LabelRecord
from .outputs import OUTPUT_MODELS
from .wire import EVENT_MODELS


def schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, one per input event kind and output kind, and the shared model's label record."""
    out = {}
    for model in (*EVENT_MODELS, *OUTPUT_MODELS, LabelRecord):
        kind = model.model_fields["kind"].annotation.__args__[0]  # type: ignore[union-attr]
        schema = model.model_json_schema(mode="validation" if model in EVENT_MODELS else "serialization")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"alarmfilter/v1/{kind}.json"
        out[f"{kind}.v1.json"] = schema
    return out


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, schema in schemas().items():
        path = directory / name
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write(Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")):
        print(p)
