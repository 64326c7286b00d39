"""Run the review station: the Kafka feed and the web app on one event loop (uvicorn)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..settings import Settings
from .access import Access
from .feed import KafkaFeed
from .store import ReviewStore
from .web import ReviewApp

log = logging.getLogger(__name__)


def station_access(settings: Settings) -> tuple[Access, bool]:
    """The configured token, or a random one (True: generated, so the URL may show it)."""
    if settings.review_token is not None:
        return Access(settings.review_token.get_secret_value()), False
    return Access.generate(), True


def station_url(host: str, port: int, access: Access | None = None) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={access.token}" if access is not None else "")


async def serve(settings: Settings, access: Access, host: str, port: int,
                on_ready: Callable[[int], None] | None = None, store: ReviewStore | None = None) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn's handlers) or cancellation; `on_ready(port)` once listening."""
    import uvicorn

    store = store or ReviewStore()
    feed = KafkaFeed(settings, store)
    await feed.start()
    web = ReviewApp(store, feed.send, access, unit=settings.unit)
    server = uvicorn.Server(uvicorn.Config(web.app, host=host, port=port, log_level="warning", access_log=False,
                                           lifespan="off"))
    reader = asyncio.create_task(feed.run(), name="review-feed")

    async def announce() -> None:
        while not server.started:
            if reader.done():
                return
            await asyncio.sleep(0.05)
        bound = port
        for s in getattr(server, "servers", []):
            for sock in s.sockets:
                bound = sock.getsockname()[1]
        if on_ready is not None:
            on_ready(bound)

    ready = asyncio.create_task(announce())
    try:
        await server.serve()
        if not server.started:
            raise OSError(f"could not listen on {host}:{port}")
    finally:
        ready.cancel()
        reader.cancel()
        try:
            await reader
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 -- the feed died: report it, then stop cleanly
            log.error("review feed stopped: %s: %s", type(exc).__name__, exc)
        await feed.stop()
