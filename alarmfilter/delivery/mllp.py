"""One MLLP connection to an alarm manager, on python-hl7's asyncio streams (`hl7.mllp`).

A reader task reads every block the peer sends: an ACK completes the send waiting for it,
an ORA^R41 (a clinician acknowledged an alert) is answered with an ACK and handed to a
callback, anything unreadable fails the waiting send with `MalformedMessage`. One message
is in flight at a time, so a garbled reply can only belong to that message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from hl7.mllp import InvalidBlockError, open_hl7_connection

from .messages import (
    MalformedMessage,
    Response,
    ResponseKind,
    build_ack,
    parse_message,
    parse_response,
)

log = logging.getLogger(__name__)


class AckTimeout(Exception):
    """No acknowledgement within the timeout: delivery unknown, so the message is sent again."""


def parse_mllp_url(url: str) -> tuple[str, int]:
    """`mllp://HOST:PORT` -> (host, port).

    >>> parse_mllp_url("mllp://127.0.0.1:2575")
    ('127.0.0.1', 2575)
    >>> parse_mllp_url("http://x:1")
    Traceback (most recent call last):
    ...
    ValueError: expected mllp://HOST:PORT, got 'http://x:1'
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "mllp" or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise ValueError(f"expected mllp://HOST:PORT, got {url!r}")
    return parts.hostname, port


class MllpConnection:
    """An open connection; `send` one message and wait for its ACK."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 on_alert_ack: Callable[[Response], None] | None = None) -> None:
        self._reader = reader
        self._writer = writer
        self._on_alert_ack = on_alert_ack
        self._waiting: tuple[str, asyncio.Future[Response]] | None = None
        self._closed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def open(cls, host: str, port: int, connect_timeout_seconds: float,
                   on_alert_ack: Callable[[Response], None] | None = None) -> MllpConnection:
        """Connect, or raise OSError / asyncio.TimeoutError within `connect_timeout_seconds`."""
        reader, writer = await asyncio.wait_for(open_hl7_connection(host, port, encoding="utf-8"),
                                                timeout=connect_timeout_seconds)
        return cls(reader, writer, on_alert_ack)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def send(self, message: str, control_id: str, ack_timeout_seconds: float) -> Response:
        """Write one message; return the ACK for `control_id` (any code), or raise.

        Raises AckTimeout, MalformedMessage (a reply we cannot read) or ConnectionError.
        """
        if self.closed:
            raise ConnectionError("connection is closed")
        fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiting = (control_id, fut)
        try:
            self._writer.writeblock(message.encode("utf-8"))  # type: ignore[attr-defined]
            await self._writer.drain()
            return await asyncio.wait_for(asyncio.shield(fut), timeout=ack_timeout_seconds)
        except TimeoutError:
            raise AckTimeout(f"no ACK for {control_id} within {ack_timeout_seconds:g} s") from None
        finally:
            self._waiting = None

    def _resolve(self, result: Response | None = None, error: BaseException | None = None) -> None:
        if self._waiting is None:
            return
        _, fut = self._waiting
        if fut.done():
            return
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(result)  # type: ignore[arg-type]

    async def _read_loop(self) -> None:
        try:
            while True:
                try:
                    block = await self._reader.readblock()  # type: ignore[attr-defined]
                except InvalidBlockError as exc:
                    self._resolve(error=MalformedMessage(f"bad MLLP framing: {exc}"))
                    continue
                except ValueError as exc:  # over the stream limit
                    self._resolve(error=MalformedMessage(f"reply too large: {exc}"))
                    continue
                try:
                    resp = parse_response(block)
                except MalformedMessage as exc:
                    self._resolve(error=exc)
                    continue
                if resp.kind is ResponseKind.ALERT_ACK:
                    await self._answer(block)
                    if self._on_alert_ack is not None:
                        self._on_alert_ack(resp)
                    continue
                if self._waiting is not None and resp.acked_control_id == self._waiting[0]:
                    self._resolve(resp)
                else:
                    log.info("ignoring ACK for %s (not the message in flight)", resp.acked_control_id)
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            self._resolve(error=ConnectionError(f"connection lost: {exc.__class__.__name__}"))
        except asyncio.CancelledError:
            self._resolve(error=ConnectionError("connection closed"))
            raise
        finally:
            self._closed.set()

    async def _answer(self, block: bytes) -> None:
        try:
            ack = build_ack(parse_message(block))
            self._writer.writeblock(str(ack).encode("utf-8"))  # type: ignore[attr-defined]
            await self._writer.drain()
        except (MalformedMessage, ConnectionError, OSError) as exc:
            log.warning("could not ACK an ORA^R41: %s", exc)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await self._task
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), timeout=1.0)
        except (TimeoutError, ConnectionError, OSError):
            pass
