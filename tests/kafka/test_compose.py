"""docker-compose.yml and Dockerfile, checked part by part (no container engine on this machine).

The compose file is parsed by a spec-complete Compose parser (compose-spec, bindings of the Rust
`compose_spec` crate) after YAML merge keys and `${VAR:-default}` are resolved as `docker compose`
does; then every command, variable, topic, port and mount is checked against the code.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from alarmfilter.cli import build_parser
from alarmfilter.settings import CONFIG_FILE_ENV, Settings, _split_hosts

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
ALARMFILTER_SERVICES = ("worker-1", "worker-2", "simulator")


def interpolate(text: str) -> str:
    """`${VAR:-default}` -> default, `$$` -> `$` (no variables set, as on a fresh host)."""
    text = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", text)
    assert not re.search(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", text.replace("$${", "")), "variable without default"
    return text.replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    raw = COMPOSE.read_text()
    doc = yaml.safe_load(raw)  # resolves the `<<` merge keys like compose does
    return json.loads(interpolate(json.dumps(doc)))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    import os

    for k in list(os.environ):
        if k.startswith("ALARMFILTER_"):
            monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return Settings()


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    from compose_spec import PyCompose

    parsed = PyCompose.from_json(json.dumps(compose))
    assert set(parsed.service_names()) == {
        "kafka", "kafka-init", "worker-1", "worker-2", "simulator", "prometheus", "grafana"}
    with pytest.raises(ValueError):  # and the parser is strict: a typo is refused
        PyCompose.from_json(json.dumps({"services": {"w": {"imagee": "x"}}}))


def test_references_resolve(compose: dict[str, Any], services: dict[str, Any]) -> None:
    volumes = set(compose.get("volumes", {}))
    for name, svc in services.items():
        deps = svc.get("depends_on", [])
        for dep in deps if isinstance(deps, list) else deps.keys():
            assert dep in services, f"{name} depends on unknown {dep}"
        for mount in svc.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in volumes, f"{name} uses undeclared volume {source}"
        image = svc.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image tag ({image!r})"


def test_kafka_runs_in_kraft_mode(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    env = env_of(kafka)
    assert kafka["image"].startswith("apache/kafka:")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "zookeeper" not in json.dumps(services).lower()
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"


def test_topic_creation_makes_the_topics_the_workers_use(services: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    init = services["kafka-init"]
    script = init["command"][0]
    suffixes = re.search(r"for t in ([^;]+);", script).group(1).split()  # type: ignore[union-attr]
    env = env_of(init)
    s = settings_from({k: v for k, v in env.items() if k.startswith("ALARMFILTER_")}, monkeypatch)
    assert {env["ALARMFILTER_TOPIC_PREFIX"] + t for t in suffixes} == {*s.topics.inputs, *s.topics.outputs}
    assert '--partitions "${ALARMFILTER_PARTITIONS}"' in script
    assert "--bootstrap-server kafka:9092" in script
    for name in ALARMFILTER_SERVICES:
        assert env_of(services[name])["ALARMFILTER_TOPIC_PREFIX"] == env["ALARMFILTER_TOPIC_PREFIX"]
        assert env_of(services[name])["ALARMFILTER_PARTITIONS"] == env["ALARMFILTER_PARTITIONS"]


def test_alarmfilter_services_run_real_subcommands_with_real_settings(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    entrypoint = re.search(r"^ENTRYPOINT (.+)$", DOCKERFILE.read_text(), re.MULTILINE).group(1)  # type: ignore[union-attr]
    assert json.loads(entrypoint) == ["alarmfilter"]
    parser = build_parser()
    fields = {f"ALARMFILTER_{f.upper()}" for f in Settings.model_fields} | {CONFIG_FILE_ENV}
    for name in ALARMFILTER_SERVICES:
        svc = services[name]
        assert svc["image"] == services["worker-1"]["image"]
        args = parser.parse_args(svc["command"])  # exits (fails the test) on an unknown option
        assert args.command == svc["command"][0]
        env = env_of(svc)
        unknown = {k for k in env if k.startswith("ALARMFILTER_")} - fields
        assert not unknown, f"{name}: variables no setting reads: {unknown}"
        s = settings_from(env, monkeypatch)
        assert s.broker_hosts == ["kafka:9092"]
        if name == "simulator":
            assert _split_hosts(args.broker) == ["kafka:9092"]
    assert services["worker-1"]["command"] == ["worker"] == services["worker-2"]["command"]
    assert services["worker-1"]["build"]["context"] == "."


def test_prometheus_scrapes_both_workers_on_their_metrics_port(services: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    prom = services["prometheus"]
    mounts = dict(m.split(":")[:2] for m in prom["volumes"])
    config_arg = next(a for a in prom["command"] if a.startswith("--config.file="))
    container_path = config_arg.split("=", 1)[1]
    host_dir = next(src for src, dst in mounts.items() if container_path.startswith(dst + "/"))
    config_file = REPO / host_dir / Path(container_path).relative_to(mounts[host_dir])
    config = yaml.safe_load(config_file.read_text())
    for rule in config.get("rule_files", []):
        assert (config_file.parent / rule).exists()
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    expected = set()
    for name in ("worker-1", "worker-2"):
        s = settings_from(env_of(services[name]), monkeypatch)
        expected.add(f"{services[name].get('hostname', name)}:{s.metrics_port}")
        assert s.metrics_addr == "0.0.0.0", f"{name}: Prometheus scrapes it from another container"
    assert expected <= targets
    assert re.search(r"^EXPOSE 9464$", DOCKERFILE.read_text(), re.MULTILINE)


def test_grafana_gets_the_provisioned_datasource_and_dashboards(services: dict[str, Any]) -> None:
    graf = services["grafana"]
    mounts = {dst: src for src, dst in (m.split(":")[:2] for m in graf["volumes"]) if src.startswith(".")}
    prov = mounts["/etc/grafana/provisioning/dashboards"]
    provider = yaml.safe_load(next((REPO / prov).glob("*.yml")).read_text())
    dash_path = provider["providers"][0]["options"]["path"]
    assert dash_path in mounts, "dashboards are not mounted where the provider looks"
    dashboards = list((REPO / mounts[dash_path]).glob("*.json"))
    assert dashboards and all(json.loads(p.read_text()).get("panels") for p in dashboards)
    ds = yaml.safe_load(next((REPO / mounts["/etc/grafana/provisioning/datasources"]).glob("*.yml")).read_text())
    url = ds["datasources"][0]["url"]
    assert url == "http://prometheus:9090" and "9090:9090" in services["prometheus"]["ports"]


def test_dockerfile_builds_from_the_repo(services: dict[str, Any]) -> None:
    text = DOCKERFILE.read_text()
    base = re.search(r"^FROM python:(\d+\.\d+)", text, re.MULTILINE).group(1)  # type: ignore[union-attr]
    requires = re.search(r'requires-python = ">=(\d+\.\d+)', (REPO / "pyproject.toml").read_text()).group(1)  # type: ignore[union-attr]
    assert base == requires
    for line in re.findall(r"^COPY (.+)$", text, re.MULTILINE):
        *sources, _dest = shlex.split(line)
        for src in sources:
            assert (REPO / src).exists(), f"COPY {src}: not in the repo"
    assert "USER alarmfilter" in text  # not root
    ignore = (REPO / "Dockerfile.dockerignore").read_text().split()
    assert "!alarmfilter/" in ignore and "!pyproject.toml" in ignore
