"""Settings: env over config file over defaults; TLS/SASL passed through; bad values are one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from alarmfilter.kafka.client import aiokafka_options, faust_credentials
from alarmfilter.settings import Settings, load_settings

from .conftest import ALARMFILTER, REPO


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for k in list(os.environ):
        if k.startswith("ALARMFILTER_"):
            monkeypatch.delenv(k)


def test_defaults_follow_the_design() -> None:
    s = Settings()
    assert s.broker_hosts == ["localhost:9092"]
    assert s.topics.inputs == ("icu.vitals", "icu.waveforms", "icu.alarms", "icu.feedback")
    assert s.topics.outputs == ("icu.alerts", "icu.alarm-decisions", "icu.technical", "icu.deadletter")
    assert s.metrics_port == 9464
    assert s.metrics_addr == "127.0.0.1"  # /metrics is not on every interface unless asked


def test_env_overrides_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "alarmfilter.yaml"
    cfg.write_text("broker: kafka://from-file:9092\ntopic_prefix: ward7.\npartitions: 12\n"
                   "hold_seconds: {hr_high: 4}\ntopic_alerts: paging.alerts\n")
    monkeypatch.setenv("ALARMFILTER_CONFIG_FILE", str(cfg))
    monkeypatch.setenv("ALARMFILTER_BROKER", "kafka://k1:9092,kafka://k2:9093")
    s = Settings()
    assert s.broker_hosts == ["k1:9092", "k2:9093"]
    assert (s.partitions, s.topics.vitals, s.topics.alerts) == (12, "ward7.vitals", "paging.alerts")
    assert s.engine_config().hold_for("hr_high") == 4.0


def test_an_empty_snapshot_key_means_no_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALARMFILTER_SNAPSHOT_KEY", "")
    assert Settings().snapshot_key is None
    monkeypatch.setenv("ALARMFILTER_SNAPSHOT_KEY", "k" * 32)
    assert Settings().snapshot_key.get_secret_value() == "k" * 32  # type: ignore[union-attr]


def test_bad_values_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALARMFILTER_BROKER", "kafka://nohostport")
    with pytest.raises(ValueError, match="setting broker: .*host:port"):
        load_settings()
    monkeypatch.setenv("ALARMFILTER_BROKER", "kafka://k:9092")
    monkeypatch.setenv("ALARMFILTER_HOLD_SECONDS", '{"asystole": 60}')
    with pytest.raises(ValueError):
        load_settings().engine_config()  # above the 10 s hold ceiling


def test_worker_with_a_bad_setting_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "ALARMFILTER_PARTITIONS": "zero"}
    r = subprocess.run([ALARMFILTER, "worker"], env=env, cwd=REPO, capture_output=True, text=True, timeout=30, check=False)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("alarmfilter worker: error: setting partitions")


def test_tls_and_sasl_are_passed_to_the_clients(tmp_path: Path) -> None:
    s = Settings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                 sasl_username="ward", sasl_password="s3cret")
    opts = aiokafka_options(s)
    assert opts["security_protocol"] == "SASL_PLAINTEXT"
    assert (opts["sasl_mechanism"], opts["sasl_plain_username"], opts["sasl_plain_password"]) == (
        "SCRAM-SHA-512", "ward", "s3cret")
    creds = faust_credentials(s)
    assert creds.username == "ward" and creds.mechanism.value == "SCRAM-SHA-512"
    assert "s3cret" not in repr(s)  # secrets stay out of logs
    missing = Settings(security_protocol="SSL", ssl_cafile=tmp_path / "nope.pem")
    with pytest.raises(FileNotFoundError):
        aiokafka_options(missing)


def test_worker_without_a_broker_exits_2_with_one_line() -> None:
    from .conftest import free_port

    env = {"PATH": "/usr/bin:/bin", "ALARMFILTER_BROKER": f"kafka://127.0.0.1:{free_port()}",
           "ALARMFILTER_METRICS_PORT": "0"}
    r = subprocess.run([ALARMFILTER, "worker", "--broker-wait", "1"], env=env, cwd=REPO, capture_output=True,
                       text=True, timeout=60, check=False)
    assert r.returncode == 2, r.stderr
    *retries, error = r.stderr.splitlines()  # each failed attempt as it happens, then the one-line error
    assert error.startswith("alarmfilter worker: error: no broker at kafka://127.0.0.1:"), r.stderr
    assert retries and all("WARNING" in x and "not reachable" in x for x in retries), r.stderr
