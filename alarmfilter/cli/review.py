"""`alarmfilter review`: the alarm review station (web pages over the output topics; labels to icu.feedback).

Broker and topics from `ALARMFILTER_*` as for the worker; `ALARMFILTER_REVIEW_HOST/PORT/TOKEN`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from . import CliError, service_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("review", help="serve the alarm review station (board, alarm strips, review queue)")
    p.add_argument("--host", default=None, help="listen address (default $ALARMFILTER_REVIEW_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default $ALARMFILTER_REVIEW_PORT or 8765; 0 = any)")
    p.add_argument("--broker-wait", type=float, default=60.0, metavar="S",
                   help="seconds to wait for the broker at start (default 60)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = service_settings()
    from ..kafka.client import TopicLayoutError, wait_for_broker
    from ..review.station import serve, station_access, station_url

    host = args.host or settings.review_host
    port = settings.review_port if args.port is None else args.port
    if not 0 <= port <= 65535:
        raise CliError(f"--port {port}: not a port number")
    _check_port(host, port)
    access, generated = station_access(settings)

    def ready(bound: int) -> None:
        print(f"alarm review station: {station_url(host, bound, access if generated else None)}", flush=True)

    async def main() -> None:
        quiet = logging.getLogger("aiokafka")
        quiet.setLevel(logging.CRITICAL)  # "unable to connect" while waiting: said once, below
        await wait_for_broker(settings, args.broker_wait)
        quiet.setLevel(logging.ERROR)
        await serve(settings, access, host, port, on_ready=ready)

    try:
        asyncio.run(main())
    except (TimeoutError, TopicLayoutError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{host}:{port}: {exc.strerror or exc}") from None
    return 0


def _check_port(host: str, port: int) -> None:
    """Refuse a taken port in one line before connecting to anything (uvicorn would exit with a log)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            raise CliError(f"{host}:{port}: {exc.strerror or exc}") from None
