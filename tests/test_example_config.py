"""config/alarmfilter.example.yaml lists every setting with its default: it loads, and it is current."""

from __future__ import annotations

from pathlib import Path

import yaml

from alarmfilter.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "alarmfilter.example.yaml"


def test_example_config_loads_and_equals_the_defaults(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("ALARMFILTER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ALARMFILTER_CONFIG_FILE", str(EXAMPLE))
    from_file = Settings(_env_file=None)
    defaults = Settings.model_construct()
    listed = yaml.safe_load(EXAMPLE.read_text())
    for name in listed:
        assert getattr(from_file, name) == getattr(defaults, name), name


def test_example_config_names_every_setting():
    text = EXAMPLE.read_text()
    missing = [name for name in Settings.model_fields if f"{name}:" not in text]
    assert missing == [], f"add to config/alarmfilter.example.yaml: {missing}"
