"""Fuzzing configuration loading: a config file or environment value is a `Settings`, or one line."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st

from alarmfilter.delivery.config import DeliveryConfig
from alarmfilter.settings import CONFIG_FILE_ENV, Settings, load_settings

from .budget import count, fuzz_settings
from .strategies import json_values, nasty

FIELDS = sorted(Settings.model_fields)
settings_docs = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(FIELDS), st.one_of(nasty, json_values), max_size=4),
)


def yaml_texts(doc: object) -> list[str]:
    text = yaml.safe_dump(doc)
    return [text, text[: len(text) // 2], text.replace(":", ": :", 1), "\t" + text, "!!python/object:os.system " + text]


def load_with_file(text: str, suffix: str) -> Settings | None:
    """`load_settings()` with `text` as the config file; None when refused (with a one-line reason)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"alarmfilter{suffix}"
        path.write_text(text, encoding="utf-8")
        old = {k: v for k, v in os.environ.items() if k.startswith("ALARMFILTER_")}
        for k in old:
            del os.environ[k]
        os.environ[CONFIG_FILE_ENV] = str(path)
        try:
            return load_settings()
        except ValueError as exc:
            assert str(exc).strip() and "\n" not in str(exc), str(exc)
            return None
        finally:
            del os.environ[CONFIG_FILE_ENV]
            os.environ.update(old)


@fuzz_settings(120)
@given(settings_docs)
def test_any_config_file_loads_or_is_refused_in_one_line(doc):
    texts = [(t, ".yaml") for t in yaml_texts(doc)] + [(json.dumps(doc), ".json"), (json.dumps(doc)[:-1], ".json")]
    count("config: settings files", len(texts))
    for text, suffix in texts:
        s = load_with_file(text, suffix)
        if s is not None:
            s.engine_config()  # whatever loads is usable by the engine
            assert s.broker_hosts and s.topics.inputs


@fuzz_settings(120)
@given(st.dictionaries(st.sampled_from(["destinations", "escalation", "site", "transport", "queue",
                                        "status_listener", "schema_version"]), json_values, max_size=4))
def test_any_delivery_config_loads_or_is_refused_in_one_line(doc):
    count("config: delivery files", 3)
    with tempfile.TemporaryDirectory() as d:
        for i, text in enumerate([yaml.safe_dump(doc), json.dumps(doc)[:-2], "{" + yaml.safe_dump(doc)]):
            path = Path(d) / f"delivery{i}.yaml"
            path.write_text(text, encoding="utf-8")
            try:
                DeliveryConfig.from_yaml(path)
            except ValueError as exc:
                assert str(exc).strip() and str(path) in str(exc)
