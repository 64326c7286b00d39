"""`alarmfilter hl7-sink --port P`: a small MLLP receiver that ACKs and prints each message as JSON.

For sites wiring alarmfilter to an alarm manager (point `demo --hl7` or the worker at it
first), and for our tests. One JSON object per received message on stdout; the listening
address on stderr once the socket is bound (`--port 0` picks a free port).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from . import CliError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("hl7-sink", help="MLLP receiver that ACKs and prints each HL7 message as JSON")
    p.add_argument("--port", type=int, required=True, help="TCP port to listen on (0 = any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--ack", choices=["AA", "AE", "AR"], default="AA", help="acknowledgement code to answer with")
    p.add_argument("--count", type=int, default=0, help="exit after this many messages (0 = run until interrupted)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port {args.port}: must be 0..65535")
    if args.count < 0:
        raise CliError("--count must be >= 0")
    return asyncio.run(_serve(args.host, args.port, args.ack, args.count))


async def _serve(host: str, port: int, ack_code: str, count: int) -> int:
    from hl7.mllp import InvalidBlockError, start_hl7_server

    from ..delivery.messages import (
        AckCode,
        MalformedMessage,
        alert_summary,
        build_ack,
        parse_message,
    )

    done = asyncio.Event()
    received = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        try:
            while not reader.at_eof():
                try:
                    block = await reader.readblock()  # type: ignore[attr-defined]
                except asyncio.IncompleteReadError:
                    break
                except (InvalidBlockError, ValueError) as exc:  # bad framing or too large: say so, keep serving
                    _emit({"error": f"bad MLLP block: {exc}", "received_unix": time.time()})
                    continue
                try:
                    msg = parse_message(block)
                except MalformedMessage as exc:
                    _emit({"error": str(exc), "raw": block[:2000].decode("utf-8", "replace"),
                           "received_unix": time.time()})
                    continue
                ack = build_ack(msg, AckCode(ack_code), application="ALARMFILTER-SINK")
                writer.writeblock(str(ack).encode("utf-8"))  # type: ignore[attr-defined]
                await writer.drain()
                summary = alert_summary(msg)
                summary.update(ack=ack_code, received_unix=time.time(), raw=str(msg).split("\r")[:-1])
                _emit(summary)
                received += 1
                if count and received >= count:
                    done.set()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    try:
        server = await start_hl7_server(handle, host, port, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = server.sockets[0].getsockname()
    print(f"alarmfilter hl7-sink: listening on mllp://{bound[0]}:{bound[1]}", file=sys.stderr, flush=True)
    async with server:
        await done.wait()
    return 0


def _emit(obj: dict[str, object]) -> None:
    print(json.dumps(obj), flush=True)
