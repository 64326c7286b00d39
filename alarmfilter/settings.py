"""Deployment settings for every driver: environment `ALARMFILTER_*`, over an optional config file.

Precedence (highest first): keyword arguments, environment variables, the YAML/JSON file named by
`ALARMFILTER_CONFIG_FILE`, the defaults below. Drivers read a `Settings` once at start and pass the
parts on (`engine_config()`, `topics`, `kafka_client_options()`); nothing reads it as a global.
Other drivers add their own fields here.

>>> s = Settings(_env_file=None, broker="kafka://k1:9092,k2:9092", topic_prefix="w3.")
>>> s.broker_hosts
['k1:9092', 'k2:9092']
>>> s.topics.alarms, s.topics.decisions
('w3.alarms', 'w3.alarm-decisions')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    JsonConfigSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from .engine import HOLD_CEILING_SECONDS, EngineConfig

CONFIG_FILE_ENV = "ALARMFILTER_CONFIG_FILE"


class SecurityProtocol(str, Enum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(str, Enum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names; every topic is keyed by bed id and has the same partition count."""

    vitals: str
    waveforms: str
    alarms: str
    feedback: str
    alerts: str
    decisions: str
    technical: str
    deadletter: str
    labels: str = ""  # the shared model's label log (keyed by care unit; not an input or output of a bed)

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.vitals, self.waveforms, self.alarms, self.feedback)

    @property
    def outputs(self) -> tuple[str, ...]:
        return (self.alerts, self.decisions, self.technical, self.deadletter)

    def for_kind(self, kind: str) -> str:
        """Output topic of an output `kind` (alert, decision, technical, deadletter), or input event kind."""
        return {
            "vitals": self.vitals, "waveform": self.waveforms, "alarm": self.alarms, "feedback": self.feedback,
            "alert": self.alerts, "decision": self.decisions, "technical": self.technical,
            "deadletter": self.deadletter,
        }[kind]


class Settings(BaseSettings):
    """Everything an operator may set; env names are `ALARMFILTER_<FIELD>` (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="ALARMFILTER_", extra="ignore", frozen=True)

    # -- broker and topics ----------------------------------------------------------------------
    broker: str = Field("kafka://localhost:9092", description="broker URL(s), comma separated")
    topic_prefix: str = Field("icu.", max_length=100)
    topic_vitals: str | None = None
    topic_waveforms: str | None = None
    topic_alarms: str | None = None
    topic_feedback: str | None = None
    topic_alerts: str | None = None
    topic_decisions: str | None = None
    topic_technical: str | None = None
    topic_deadletter: str | None = None
    topic_labels: str | None = None
    partitions: int = Field(8, ge=1, le=1024, description="partitions of every topic (created if missing)")
    replication_factor: int = Field(1, ge=1, le=16)
    consumer_group: str = Field("alarmfilter", min_length=1, description="faust app id = consumer group")

    # -- TLS / SASL, passed through to the Kafka client -----------------------------------------
    security_protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    sasl_mechanism: SaslMechanism = SaslMechanism.PLAIN
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    # -- worker behaviour -----------------------------------------------------------------------
    session_timeout_seconds: float = Field(6.0, gt=0, description="consumer group session timeout")
    rebalance_timeout_seconds: float = Field(6.0, gt=0)
    heartbeat_interval_seconds: float = Field(1.0, gt=0)
    commit_interval_seconds: float = Field(1.0, gt=0, description="how often processed offsets are committed")
    fetch_max_wait_seconds: float = Field(
        0.02, gt=0, le=5,
        description="longest a fetch waits for data; Kafka answers as soon as data is there, some brokers only then",
    )
    tick_interval_seconds: float = Field(0.1, gt=0, description="timer: holds, stalled streams, acks")
    reorder_max_wait_seconds: float = Field(
        1.0, ge=0, description="wall time an event may wait for the bed's other streams before it is fed anyway"
    )
    reorder_max_events: int = Field(2000, ge=1, description="events buffered per bed for event-time ordering")
    stream_idle_seconds: float = Field(
        5.0, gt=0, description="event time after which a silent stream stops holding back the bed's watermark"
    )
    vitals_interval_seconds: float = Field(1.0, gt=0, description="expected numerics period per bed")
    recovery_lookback_seconds: float = Field(
        3600.0, gt=0, description="decisions re-read on partition assignment, to keep decisions idempotent"
    )
    warm_up_lookback_seconds: float = Field(
        45.0, ge=0, description="committed waveforms/numerics re-read by a partition's new owner to warm its buffers"
    )
    max_remembered_decisions: int = Field(200_000, ge=1000, description="alarm ids remembered per worker")

    # -- metrics and state ----------------------------------------------------------------------
    metrics_port: int = Field(9464, ge=0, le=65535, description="0 disables the /metrics endpoint")
    metrics_addr: str = Field(
        "127.0.0.1", min_length=1, description="listen address of /metrics (0.0.0.0 inside a container)"
    )
    data_dir: Path = Field(Path("./alarmfilter-data"), description="state and model snapshots")
    snapshot_key: SecretStr | None = Field(
        None, description="signs model snapshots; set it to learn through a lifecycle with snapshots in data_dir/models"
    )
    unit: str = Field(
        "icu", min_length=1, max_length=64,
        description="care unit label on metrics, and the unit of a bed whose id names none (shared model)",
    )
    bed_units: dict[str, str] = Field(
        default_factory=dict, description="bed id -> care unit, over the default (bed id before its first '-')"
    )
    model_store: Literal["kafka", "disk"] = Field(
        "kafka", description="with snapshot_key: kafka = one model per care unit shared by every worker through the "
        "label log topic; disk = each worker learns alone, snapshots in data_dir/models",
    )
    label_partitions: int = Field(1, ge=1, le=1024, description="partitions of the label log (a unit's labels in one)")
    label_catchup_seconds: float = Field(
        30.0, ge=0, description="at start, longest the worker waits to read the label log before deciding "
        "(after that it decides, forwarding as model_catching_up until the log is read)",
    )
    max_units: int = Field(32, ge=1, le=1000, description="care units with a shared model on one worker")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="debug also shows faust/aiokafka start-up and rebalance chatter")
    log_format: Literal["text", "json"] = Field("text", description="json: one JSON object per line, for log shippers")
    status_interval_seconds: float = Field(
        60.0, ge=0, description="a status line (alarms decided, lag, HL7 queue) this often; 0 = none")
    broker_wait_seconds: float = Field(
        60.0, gt=0, description="how long the worker retries an unreachable broker at start before it gives up")
    shutdown_timeout_seconds: float = Field(
        6.0, gt=0, le=60, description="after SIGTERM: state is saved at once; the worker exits after this "
        "even if the broker does not answer (unconfirmed messages are replayed by the next owner)")

    # -- the alarm review station (alarmfilter review) -------------------------------------------
    review_host: str = Field("127.0.0.1", description="address the review station listens on")
    review_port: int = Field(8765, ge=0, le=65535)
    review_token: SecretStr | None = Field(
        None, description="access token of the review station (bearer, basic-auth password or ?token=); "
        "unset = a random one, printed in the URL at start",
    )

    # -- hold and safety (engine) ---------------------------------------------------------------
    hold_seconds: dict[str, float] = Field(default_factory=dict, description="per alarm type")
    default_hold_seconds: float = Field(0.0, ge=0, le=HOLD_CEILING_SECONDS)
    threshold_hold_seconds: float = Field(
        10.0, ge=0, le=HOLD_CEILING_SECONDS,
        description="hold of SpO2/HR/ABP/RR alarms without a per-type hold (apnea is never held)",
    )
    threshold_limits: dict[str, float] = Field(
        default_factory=dict, description="per threshold type: the unit's monitor limit, e.g. {\"spo2_low\": 88}",
    )
    critical_bounds: dict[str, float] = Field(
        default_factory=dict, description="per threshold type: forward at once beyond this, e.g. {\"spo2_low\": 80}",
    )
    severity_budget_seconds: float = Field(
        2.0, gt=0, le=HOLD_CEILING_SECONDS, description="seconds at the critical bound that forward before the hold ends",
    )
    warmup_seconds: float = Field(8.0, ge=0)
    audit_fraction: float = Field(0.05, ge=0, le=1)
    seed: int = 0

    # -- clinician alert delivery: HL7 v2 ORU^R40 over MLLP (alarmfilter/delivery) ---------------
    hl7_url: str | None = Field(
        None, description="mllp://HOST:PORT, or a comma list in escalation order: every forwarded alert goes "
        "there (replaces the destinations of hl7_config); unset with hl7_config unset = no delivery",
    )
    hl7_config: Path | None = Field(
        None, description="delivery YAML (format of config/delivery.yaml): escalation, site, transport, queue, "
        "and the destinations when hl7_url is unset; unset = the delivery package's defaults",
    )

    @field_validator("hl7_url", mode="before")
    @classmethod
    def _mllp_urls(cls, v: object) -> object:
        """Every URL must be mllp://HOST:PORT (checked at load: one line, not at the first alert)."""
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        if isinstance(v, str):
            from .delivery.mllp import parse_mllp_url

            urls = [u.strip() for u in v.split(",") if u.strip()]
            for u in urls:
                parse_mllp_url(u)
            return ",".join(urls)
        return v

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.lower() if isinstance(v, str) else v

    @field_validator("snapshot_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("broker")
    @classmethod
    def _broker_urls(cls, v: str) -> str:
        hosts = _split_hosts(v)
        if not hosts:
            raise ValueError("no broker given; expected e.g. kafka://localhost:9092")
        for h in hosts:
            host, _, port = h.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"broker {h!r} must be host:port")
        return v

    @property
    def broker_hosts(self) -> list[str]:
        """`host:port` of every bootstrap broker."""
        return _split_hosts(self.broker)

    @property
    def topics(self) -> Topics:
        p = self.topic_prefix
        return Topics(
            vitals=self.topic_vitals or f"{p}vitals",
            waveforms=self.topic_waveforms or f"{p}waveforms",
            alarms=self.topic_alarms or f"{p}alarms",
            feedback=self.topic_feedback or f"{p}feedback",
            alerts=self.topic_alerts or f"{p}alerts",
            decisions=self.topic_decisions or f"{p}alarm-decisions",
            technical=self.topic_technical or f"{p}technical",
            deadletter=self.topic_deadletter or f"{p}deadletter",
            labels=self.topic_labels or f"{p}labels",
        )

    def engine_config(self) -> EngineConfig:
        """The engine's part of the settings (validated again by `EngineConfig`)."""
        return EngineConfig(
            hold_seconds=self.hold_seconds,
            default_hold_seconds=self.default_hold_seconds,
            threshold_hold_seconds=self.threshold_hold_seconds,
            threshold_limits=self.threshold_limits,
            critical_bounds=self.critical_bounds,
            severity_budget_seconds=self.severity_budget_seconds,
            warmup_seconds=self.warmup_seconds,
            audit_fraction=self.audit_fraction,
            seed=self.seed,
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get(CONFIG_FILE_ENV)
        if path:
            sources.append(_file_source(settings_cls, Path(path)))
        return tuple(sources)


def _split_hosts(urls: str) -> list[str]:
    """`kafka://a:9092,b:9092` or `a:9092, kafka://b:9092` -> host:port list.

    >>> _split_hosts("kafka://a:9092, b:9093")
    ['a:9092', 'b:9093']
    """
    out = []
    for part in urls.split(","):
        part = part.strip()
        if "://" in part:
            part = part.split("://", 1)[1]
        part = part.rstrip("/")
        if part:
            out.append(part)
    return out


def _file_source(settings_cls: type[BaseSettings], path: Path) -> PydanticBaseSettingsSource:
    if not path.is_file():
        raise ValueError(f"{CONFIG_FILE_ENV}={path}: no such file")
    _check_config_file(path)
    if path.suffix.lower() == ".json":
        return JsonConfigSettingsSource(settings_cls, json_file=path)
    return YamlConfigSettingsSource(settings_cls, yaml_file=path)


def _check_config_file(path: Path) -> None:
    """Refuse a config file that is not a mapping of setting names, in one line (the sources would
    raise TypeError/AttributeError or a multi-line parser error on it)."""
    import json

    import yaml

    is_json = path.suffix.lower() == ".json"
    try:
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text) if is_json else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"{CONFIG_FILE_ENV}={path}: unreadable ({' '.join(str(exc).split())[:200]})") from None
    empty_yaml = doc is None and not is_json
    if not empty_yaml and not (isinstance(doc, dict) and all(isinstance(k, str) for k in doc)):
        raise ValueError(f"{CONFIG_FILE_ENV}={path}: must hold a mapping of setting names to values")


def load_settings(**overrides: Any) -> Settings:
    """Settings from env and config file; a bad value becomes a ValueError with a one-line reason."""
    from pydantic import ValidationError

    try:
        settings = Settings(**overrides)
        settings.engine_config()  # engine limits (hold ceiling, NaN) checked at load, not at first use
        return settings
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"setting {loc or '(file)'}: {err['msg']}") from None
