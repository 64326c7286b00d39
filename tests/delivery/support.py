"""A real MLLP receiver on 127.0.0.1 whose answers a test scripts, plus alert builders."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import hl7
from hl7.mllp import start_hl7_server

from alarmfilter.delivery import AckCode, DeliveryConfig, build_ack
from alarmfilter.delivery.messages import message_type, parse_message
from alarmfilter.events import Alert

T0 = 1_764_150_000.0


def alert(alarm_id: str = "a1", bed: str = "ICU1-07", ts: float = T0, type: str = "asystole",
          priority: str = "high", **kw) -> Alert:
    fields = {"alarm_id": alarm_id, "bed": bed, "ts": ts, "type": type, "priority": priority, "channel": "II",
              "score": 0.91, "reason_code": "evidence_supports", "reasons": ["no QRS on II or V for 4.5 s"],
              "decided_ts": ts + 0.5, "model_version": "prior-test"}
    fields.update(kw)
    return Alert(**fields)


def free_port() -> int:
    """A port nobody listens on right now (for 'receiver down, then up on the same port')."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fast_config(*ports: int, **escalation) -> DeliveryConfig:
    return DeliveryConfig.model_validate({
        "destinations": [{"name": f"d{i}", "url": f"mllp://127.0.0.1:{p}"} for i, p in enumerate(ports)],
        "transport": {"connect_timeout_seconds": 0.5, "ack_timeout_seconds": 0.4, "backoff_initial_seconds": 0.02,
                      "backoff_max_seconds": 0.1, "max_error_retries": 2},
        "escalation": escalation or {},
    })


#: what the receiver does with the n-th copy (0-based) of a message: returns raw blocks to send back
Script = Callable[[hl7.Message, int], list[bytes]]


def answer(code: str = "AA") -> Script:
    return lambda msg, n: [str(build_ack(msg, AckCode(code))).encode()]


def ora_r41(msg: hl7.Message, status: str = "accepted", code: str = "AA") -> bytes:
    """An ORA^R41 acknowledging `msg` (MSA-2 = its control id), as an alarm manager would send."""
    ctrl = str(msg["MSH.10"])
    return (f"MSH|^~\\&|AM||ALARMFILTER||20251126094510||ORA^R41^ORA_R41|ORA{ctrl}"[:200] + "|P|2.6\r"
            f"MSA|{code}|{ctrl}\rPRT|1|AD||RO\rOBX|1|ST|ALERT_STATUS^status^99AM||{status}").encode()


@dataclass
class Receiver:
    """Real socket server; records every message it reads, answers per `script`."""

    script: Script = field(default_factory=answer)
    port: int = 0
    received: list[hl7.Message] = field(default_factory=list)
    acks_received: list[hl7.Message] = field(default_factory=list)  # our ACKs to its ORA^R41
    _server: asyncio.base_events.Server | None = None
    _copies: Counter[str] = field(default_factory=Counter)

    async def start(self) -> Receiver:
        self._server = await start_hl7_server(self._handle, "127.0.0.1", self.port, encoding="utf-8")
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def copies(self, control_id: str) -> int:
        return self._copies[control_id]

    @property
    def control_ids(self) -> list[str]:
        return [str(m["MSH.10"]) for m in self.received]

    @property
    def alarm_ids(self) -> list[str]:
        return [str(m.segment("OBR")(3)(1)(1)) for m in self.received]

    async def _handle(self, reader, writer) -> None:
        try:
            while True:
                block = await reader.readblock()
                msg = parse_message(block)
                if message_type(msg).startswith("ACK"):
                    self.acks_received.append(msg)
                    continue
                n = self.copies(str(msg["MSH.10"]))
                self._copies[str(msg["MSH.10"])] += 1
                self.received.append(msg)
                for raw in self.script(msg, n):
                    if raw == b"<close>":
                        writer.close()
                        return
                    writer.writeblock(raw)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def wait_for(cond: Callable[[], bool], timeout_seconds: float = 5.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_seconds
    while not cond():
        if loop.time() > end:
            return False
        await asyncio.sleep(0.01)
    return True
