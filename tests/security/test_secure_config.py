"""Secure configuration: TLS/SASL reach the Kafka clients the worker builds, secrets never reach a
repr or a log line, and nothing in the package unpickles or evaluates input."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from alarmfilter.kafka.app import make_app
from alarmfilter.kafka.client import aiokafka_options
from alarmfilter.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "alarmfilter"
PASSWORD = "pw-7Qx9-never-logged"
SNAPSHOT_KEY = "snapkey-3Kd8-never-logged-0123456789"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith("ALARMFILTER_"):
            monkeypatch.delenv(k)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA-signed-by-itself certificate and key (openssl), enough to build an SSL context."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "client.pem", d / "client.key"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                        str(cert), "-days", "1", "-subj", "/CN=alarmfilter-test"], check=False, capture_output=True, timeout=60)
    if r.returncode != 0:
        pytest.skip(f"openssl could not make a test certificate: {r.stderr.decode()[:200]}")
    return {"ssl_cafile": cert, "ssl_certfile": cert, "ssl_keyfile": key}


def test_sasl_ssl_from_the_environment_reaches_the_faust_consumer_and_producer(tls_files, tmp_path, monkeypatch):
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    env = {"SECURITY_PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "SCRAM-SHA-256", "SASL_USERNAME": "ward7",
           "SASL_PASSWORD": PASSWORD, "DATA_DIR": str(tmp_path), "BROKER": "kafka://k1:9093,k2:9093",
           **{k.upper(): str(v) for k, v in tls_files.items()}}
    for k, v in env.items():
        monkeypatch.setenv(f"ALARMFILTER_{k}", v)
    settings = load_settings()
    app = make_app(settings)
    # what faust's aiokafka driver hands to AIOKafkaConsumer/AIOKafkaProducer for these credentials
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials)
    assert auth["security_protocol"] == "SASL_SSL"
    assert (auth["sasl_mechanism"], auth["sasl_plain_username"], auth["sasl_plain_password"]) == (
        "SCRAM-SHA-256", "ward7", PASSWORD)
    ctx = auth["ssl_context"]
    assert ctx is not None and ctx.verify_mode.name == "CERT_REQUIRED" and ctx.check_hostname
    assert ctx.get_ca_certs() and ctx.get_ca_certs()[0]["subject"] == ((("commonName", "alarmfilter-test"),),)
    assert [str(u) for u in app.conf.broker] == ["kafka://k1:9093", "kafka://k2:9093"]
    # the worker's own clients (topic creation, decision read-back, simulator producer) get the same
    opts = aiokafka_options(settings)
    assert opts["security_protocol"] == "SASL_SSL" and opts["sasl_plain_password"] == PASSWORD
    assert opts["ssl_context"].get_ca_certs() == ctx.get_ca_certs()


def test_ssl_only_and_plaintext(tls_files, tmp_path):
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    s = Settings(security_protocol="SSL", data_dir=tmp_path, **tls_files)
    auth = credentials_to_aiokafka_auth(make_app(s).conf.broker_credentials)
    assert auth["security_protocol"] == "SSL" and auth["ssl_context"].get_ca_certs()
    assert make_app(Settings(data_dir=tmp_path / "p")).conf.broker_credentials is None


def test_secrets_stay_out_of_reprs_dumps_and_error_messages(monkeypatch):
    monkeypatch.setenv("ALARMFILTER_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("ALARMFILTER_SNAPSHOT_KEY", SNAPSHOT_KEY)
    s = load_settings(security_protocol="SASL_PLAINTEXT", sasl_username="ward7")
    shown = [repr(s), str(s), s.model_dump_json(), repr(s.model_dump()), f"{s}", repr(s.sasl_password)]
    for text in shown:
        assert PASSWORD not in text and SNAPSHOT_KEY not in text
    monkeypatch.setenv("ALARMFILTER_PARTITIONS", "zero")  # a bad setting next to the secrets
    with pytest.raises(ValueError) as err:
        load_settings()
    assert PASSWORD not in str(err.value) and SNAPSHOT_KEY not in str(err.value)


def test_worker_logs_at_debug_carry_no_secret(tmp_path):
    """The real CLI worker, debug logging, secrets in its environment, no broker to reach: whatever
    it prints on the way to its one-line error holds neither secret."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "ALARMFILTER_BROKER": "kafka://127.0.0.1:9", "ALARMFILTER_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
           "ALARMFILTER_SASL_USERNAME": "ward7", "ALARMFILTER_SASL_PASSWORD": PASSWORD,
           "ALARMFILTER_SNAPSHOT_KEY": SNAPSHOT_KEY, "ALARMFILTER_LOG_LEVEL": "debug",
           "ALARMFILTER_DATA_DIR": str(tmp_path / "data"), "ALARMFILTER_METRICS_PORT": "0"}
    r = subprocess.run([sys.executable, "-m", "alarmfilter", "worker", "--broker-wait", "2"], env=env,
                       check=False, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.returncode == 2, r.stderr[-500:]
    assert "no broker" in r.stderr
    for text in (r.stdout, r.stderr):
        assert PASSWORD not in text and SNAPSHOT_KEY not in text


def test_client_construction_logs_no_secret(caplog, tmp_path):
    s = Settings(security_protocol="SASL_PLAINTEXT", sasl_username="ward7", sasl_password=PASSWORD,
                 snapshot_key=SNAPSHOT_KEY, data_dir=tmp_path)
    with caplog.at_level(logging.DEBUG):
        from alarmfilter.cli.engines import engine_factory
        from alarmfilter.kafka.app import KafkaWorker

        KafkaWorker(s, engine_factory(s.engine_config()))
        logging.getLogger("alarmfilter").debug("settings %s", s)  # even an operator's careless log line
    assert caplog.records and PASSWORD not in caplog.text and SNAPSHOT_KEY not in caplog.text


# -- static checks over the package source ---------------------------------------------------------

def sources() -> list[tuple[Path, str]]:
    return [(p, p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*.py"))]


def test_secret_values_are_unwrapped_only_where_a_client_needs_them():
    allowed = {"kafka/client.py", "cli/worker.py", "review/station.py"}  # the review station checks its token
    found = {str(p.relative_to(PACKAGE)) for p, text in sources() if "get_secret_value()" in text}
    assert found and found <= allowed, found - allowed
    for p, text in sources():
        for line in text.splitlines():
            if re.search(r"\b(log|logger|logging)\.\w+\(|print\(", line):
                assert not re.search(r"password|secret|snapshot_key|credentials", line, re.IGNORECASE), f"{p}: {line.strip()}"


def test_nothing_unpickles_or_evaluates_input():
    banned = [r"^\s*import pickle|^\s*from pickle|\bpickle\.loads?\(", r"\bmarshal\.loads?\(", r"\bshelve\.",
              r"yaml\.load\((?!.*SafeLoader)", r"yaml\.unsafe_load", r"allow_pickle\s*=\s*True",
              r"(?<![\w.])eval\(", r"(?<![\w.])exec\(", r"torch\.load\(", r"joblib\.load\("]
    hits = [(str(p.relative_to(PACKAGE)), pat) for p, text in sources() for pat in banned
            if re.search(pat, text, re.MULTILINE)]
    assert hits == []
