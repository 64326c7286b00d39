"""`alarmfilter worker`: the faust worker. Broker, topics and engine settings come from `ALARMFILTER_*`.

Start as many as there are partitions to share; they form one consumer group.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from . import CliError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "worker",
        help="run the Kafka worker (settings from ALARMFILTER_* env / ALARMFILTER_CONFIG_FILE)",
        description="Consume vitals/waveforms/alarms/feedback, decide every alarm, produce alerts, "
        "alarm-decisions, technical and deadletter. Settings: ALARMFILTER_BROKER, ALARMFILTER_TOPIC_PREFIX, "
        "ALARMFILTER_METRICS_PORT, ALARMFILTER_DATA_DIR, ... (see alarmfilter/settings.py).",
    )
    p.add_argument("--broker-wait", type=float, default=60.0, metavar="S",
                   help="seconds to wait for the broker at start (default 60)")
    p.add_argument("--no-create-topics", action="store_true", help="do not create missing topics")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..settings import load_settings

    try:
        settings = load_settings()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ..kafka.delivery_hook import delivery_config

    try:
        hl7 = delivery_config(settings)  # HL7 delivery of forwarded alerts, when hl7_url / hl7_config is set
    except ValueError as exc:
        raise CliError(f"setting hl7_config: {exc}") from None

    from ..kafka.client import TopicLayoutError, ensure_topics, wait_for_broker

    async def prepare() -> None:
        await wait_for_broker(settings, args.broker_wait)
        if not args.no_create_topics:
            await ensure_topics(settings)

    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # "unable to connect" while waiting: the CLI says it once
    try:
        asyncio.run(prepare())
    except (TimeoutError, TopicLayoutError) as exc:
        raise CliError(str(exc)) from None
    finally:
        quiet.setLevel(level)

    import faust

    from ..kafka.app import KafkaWorker
    from .engines import engine_factory

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    metrics = _metrics(settings)
    snapshots = None
    if settings.snapshot_key is not None:
        # learn from feedback through the model lifecycle; snapshots survive restarts
        from ..kafka.snapshots import SnapshotKeeper
        from ..model.loading import ward_model_lifecycle

        lifecycle = ward_model_lifecycle(settings.snapshot_key.get_secret_value().encode())
        factory = engine_factory(settings.engine_config(), model=lifecycle, learning=True)
        snapshots = SnapshotKeeper(lifecycle, settings.data_dir / "models")
    else:
        factory = engine_factory(settings.engine_config(), learning=True)
    worker = KafkaWorker(settings, factory, metrics, snapshots)
    if hl7 is not None:
        from ..kafka.delivery_hook import WorkerDelivery

        WorkerDelivery(hl7, settings.data_dir, settings.tick_interval_seconds).attach(worker)
    faust.Worker(worker.app, loglevel=settings.log_level, quiet=True).execute_from_commandline()
    return 0


def _metrics(settings: object) -> object | None:
    """DriverMetrics serving /metrics, or None when the port is 0."""
    from ..metrics import DriverMetrics

    port = settings.metrics_port
    metrics = DriverMetrics(unit=settings.unit)
    if port:
        try:
            metrics.serve(port, settings.metrics_addr)
        except OSError as exc:
            raise CliError(f"metrics port {port}: {exc.strerror or exc}") from None
    return metrics
