"""Delivery settings (config/delivery.yaml): destinations in escalation order, timeouts, site identity."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .escalation import EscalationPolicy
from .messages import Site
from .mllp import parse_mllp_url


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Destination(_Strict):
    """An alarm manager / paging gateway reachable over MLLP; `name` is what audit lines show."""

    name: str
    url: str

    @field_validator("url")
    @classmethod
    def _mllp(cls, v: str) -> str:
        parse_mllp_url(v)
        return v

    @property
    def address(self) -> tuple[str, int]:
        return parse_mllp_url(self.url)


class Transport(_Strict):
    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    ack_timeout_seconds: float = Field(default=5.0, gt=0)
    backoff_initial_seconds: float = Field(default=0.2, gt=0)
    backoff_max_seconds: float = Field(default=10.0, gt=0)
    max_error_retries: int = Field(default=3, ge=0)  # AE answers before the message counts as refused

    def backoff_seconds(self, failures: int) -> float:
        """Exponential backoff after `failures` consecutive failures.

        >>> [Transport().backoff_seconds(n) for n in (1, 2, 3, 10)]
        [0.2, 0.4, 0.8, 10.0]
        """
        return float(min(self.backoff_max_seconds, self.backoff_initial_seconds * 2 ** max(0, failures - 1)))


class SiteConfig(_Strict):
    sending_application: str = "ALARMFILTER"
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    point_of_care: str = ""
    patient_ids: dict[str, str] = Field(default_factory=dict)  # bed -> patient id, only if the site maps one
    patient_id_authority: str = ""

    def site(self) -> Site:
        return Site(self.sending_application, self.sending_facility, self.receiving_application,
                    self.receiving_facility, self.point_of_care, tuple(sorted(self.patient_ids.items())),
                    self.patient_id_authority)


class QueueConfig(_Strict):
    dir: str | None = None  # default: $ALARMFILTER_DATA_DIR/delivery-queue
    max_items: int = Field(default=10_000, ge=1)


class DeliveryConfig(_Strict):
    schema_version: Literal[1] = 1
    destinations: list[Destination] = Field(min_length=1)
    escalation: EscalationPolicy = EscalationPolicy()
    site: SiteConfig = SiteConfig()
    transport: Transport = Transport()
    queue: QueueConfig = QueueConfig()
    #: where alarm managers that report status (PCD-05 ORA^R41) on their own connection reach us
    status_listener: str | None = None

    @field_validator("status_listener")
    @classmethod
    def _listener(cls, v: str | None) -> str | None:
        if v is not None:
            parse_mllp_url(v)
        return v

    @classmethod
    def from_yaml(cls, path: str | Path) -> DeliveryConfig:
        """Load and validate; any problem is a ValueError naming the file."""
        try:
            data = yaml.safe_load(Path(path).read_text("utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{path}: {exc}") from None
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise ValueError(f"{path}: {where}: {first['msg']}") from None

    def queue_path(self, data_dir: str | Path) -> Path:
        """Where the queue lives: `queue.dir`, else `<data_dir>/delivery-queue` (Settings.data_dir).

        >>> DeliveryConfig(destinations=[Destination(name="a", url="mllp://h:1")]).queue_path("/var/af")
        PosixPath('/var/af/delivery-queue')
        """
        return Path(self.queue.dir) if self.queue.dir else Path(data_dir) / "delivery-queue"

    def with_destinations(self, urls: list[str]) -> DeliveryConfig:
        """The same policy pointed at other receivers (e.g. `demo --hl7 URL`)."""
        dests = [Destination(name=f"dest{i}", url=u) for i, u in enumerate(urls)]
        return self.model_copy(update={"destinations": dests})
