"""`alarmfilter worker`: the faust worker. Broker, topics and engine settings come from `ALARMFILTER_*`.

Start as many as there are partitions to share; they form one consumer group.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from . import CliError, service_settings

log = logging.getLogger("alarmfilter.worker")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "worker",
        help="run the Kafka worker (settings from ALARMFILTER_* env / ALARMFILTER_CONFIG_FILE)",
        description="Consume vitals/waveforms/alarms/feedback, decide every alarm, produce alerts, "
        "alarm-decisions, technical and deadletter. Settings: ALARMFILTER_BROKER, ALARMFILTER_TOPIC_PREFIX, "
        "ALARMFILTER_METRICS_PORT, ALARMFILTER_DATA_DIR, ... (see alarmfilter/settings.py).",
    )
    p.add_argument("--broker-wait", type=float, default=None, metavar="S",
                   help="seconds to retry an unreachable broker at start (default ALARMFILTER_BROKER_WAIT_SECONDS, 60)")
    p.add_argument("--no-create-topics", action="store_true", help="do not create missing topics")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = service_settings()
    if args.broker_wait is not None and args.broker_wait <= 0:
        raise CliError("--broker-wait must be positive")
    from ..kafka.delivery_hook import delivery_config

    try:
        hl7 = delivery_config(settings)  # HL7 delivery of forwarded alerts, when hl7_url / hl7_config is set
    except ValueError as exc:
        raise CliError(f"setting hl7_config: {exc}") from None

    from ..kafka.client import TopicLayoutError, ensure_topics, wait_for_broker

    shared = settings.snapshot_key is not None and settings.model_store == "kafka"
    broker_wait = args.broker_wait if args.broker_wait is not None else settings.broker_wait_seconds

    async def prepare() -> None:
        await wait_for_broker(settings, broker_wait, report=log.warning)
        if not args.no_create_topics:
            await ensure_topics(settings)
            if shared:
                from ..kafka.labels import ensure_labels_topic

                await ensure_labels_topic(settings)

    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # "unable to connect" while waiting: wait_for_broker reports each attempt
    try:
        asyncio.run(prepare())
    except (TimeoutError, TopicLayoutError) as exc:
        raise CliError(str(exc)) from None
    finally:
        quiet.setLevel(level)

    from ..kafka.app import BoundedStopWorker, KafkaWorker
    from .engines import engine_factory

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    metrics, metrics_port = _metrics(settings)
    snapshots = models = None
    if shared:
        # one model per care unit, shared by every worker: learned from the label log on Kafka
        from ..engine.shared import BedUnits, UnitModels, shared_engine_factory

        assert settings.snapshot_key is not None
        models = UnitModels(settings.snapshot_key.get_secret_value(), BedUnits(settings.bed_units, settings.unit),
                            config=settings.engine_config(), max_units=settings.max_units)
        factory = shared_engine_factory(settings.engine_config(), models)
    elif settings.snapshot_key is not None:
        # learn from feedback through the model lifecycle; snapshots survive restarts
        from ..kafka.snapshots import SnapshotKeeper
        from ..model.loading import ward_model_lifecycle

        lifecycle = ward_model_lifecycle(settings.snapshot_key.get_secret_value().encode())
        factory = engine_factory(settings.engine_config(), model=lifecycle, learning=True)
        snapshots = SnapshotKeeper(lifecycle, settings.data_dir / "models")
    else:
        factory = engine_factory(settings.engine_config(), learning=True)
    worker = KafkaWorker(settings, factory, metrics, snapshots, models)
    if hl7 is not None:
        from ..kafka.delivery_hook import WorkerDelivery

        WorkerDelivery(hl7, settings.data_dir, settings.tick_interval_seconds).attach(worker)
    log.info("%s", startup_summary(settings, metrics_port, hl7, model_version(factory), snapshots is not None))
    BoundedStopWorker(worker, settings.log_level).execute_from_commandline()
    return 0


def startup_summary(settings: Any, metrics_port: int | None, hl7: Any, model: str, snapshots: bool) -> str:
    """The one line that says what this worker does: broker, topics, group, ports, HL7, unit, model, data."""
    t = settings.topics
    metrics = f"http://{settings.metrics_addr}:{metrics_port}/metrics" if metrics_port else "off"
    if hl7 is None:
        delivery = "off"
    else:
        delivery = " -> ".join(d.url for d in hl7.destinations)
    learning = "learning from feedback, signed snapshots" if snapshots else "learning from feedback, no snapshots"
    return (f"alarmfilter worker starting: broker {','.join(settings.broker_hosts)}; "
            f"in {','.join(t.inputs)}; out {','.join(t.outputs)}; {settings.partitions} partitions each; "
            f"group {settings.consumer_group}; metrics {metrics}; HL7 {delivery}; unit {settings.unit}; "
            f"model {model} ({learning}); data dir {settings.data_dir.resolve()}; "
            f"status every {settings.status_interval_seconds:g} s")


def model_version(factory: Any) -> str:
    """Version of the model the engines decide with (a throw-away engine asks its scorer)."""
    try:
        scorer = factory("startup-probe").scorer
    except Exception as exc:  # noqa: BLE001 -- the summary must not stop the worker
        return f"unknown ({type(exc).__name__})"
    model = getattr(scorer, "model", None)
    version = getattr(model, "version", None)
    return str(version) if version else "none (evidence-free policy: every alarm forwarded)"


def _metrics(settings: Any) -> tuple[Any, int | None]:
    """DriverMetrics (serving /metrics unless the port is 0) and the bound port."""
    from ..metrics import DriverMetrics

    port = settings.metrics_port
    metrics = DriverMetrics(unit=settings.unit)
    bound = None
    if port:
        try:
            bound = metrics.serve(port, settings.metrics_addr)
        except OSError as exc:
            raise CliError(f"metrics port {port}: {exc.strerror or exc}") from None
    return metrics, bound
