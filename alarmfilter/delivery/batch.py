"""Send a finished run's alerts to one MLLP receiver and summarise the outcome (`demo --hl7`).

A driver for batch runs: same `AlertDelivery` (durable queue, ACK handling, re-sends), one
destination and no escalation chain. If the receiver does not take everything within the
timeout, the queue directory is kept and named in the summary: nothing is silently dropped.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..events.outputs import Alert
from .config import DeliveryConfig, Destination
from .mllp import parse_mllp_url
from .service import AlertDelivery, DeliveryRecord


def check_url(url: str) -> str:
    """Validate an `mllp://HOST:PORT` argument early (ValueError with a readable message)."""
    parse_mllp_url(url)
    return url


def deliver_alerts(alerts: Iterable[Alert], url: str, timeout_seconds: float = 60.0,
                   queue_dir: str | Path | None = None) -> dict[str, Any]:
    """Deliver every alert to `url`; returns counts per outcome, rate, and what is still pending."""
    config = DeliveryConfig(destinations=[Destination(name="hl7", url=check_url(url))])
    own_dir = queue_dir is None
    qdir = Path(tempfile.mkdtemp(prefix="alarmfilter-hl7-")) if own_dir else Path(queue_dir)  # type: ignore[arg-type]
    outcomes: Counter[str] = Counter()

    def audit(r: DeliveryRecord) -> None:
        outcomes[str(r.outcome)] += 1

    async def main() -> tuple[int, float]:
        delivery = AlertDelivery(config, qdir, audit, escalate=False)
        stop = asyncio.Event()
        task = asyncio.create_task(delivery.run(stop))
        n = 0
        for a in alerts:
            delivery.submit(a)
            n += 1
        started = time.perf_counter()
        await delivery.drain(timeout_seconds)
        elapsed = time.perf_counter() - started
        stop.set()
        await task
        return n, elapsed

    n, elapsed = asyncio.run(main())
    pending = len(list((qdir / "pending").glob("*.json")))
    failed = len(list((qdir / "failed").glob("*.json")))
    summary: dict[str, Any] = {
        "url": url, "alerts": n, "accepted": outcomes["accepted"], "rejected": outcomes["rejected"],
        "gave_up": outcomes["gave_up"], "resent": outcomes["no_ack"] + outcomes["malformed_ack"] + outcomes["error"],
        "pending": pending, "elapsed_seconds": round(elapsed, 2),
        "messages_per_second": round(outcomes["accepted"] / elapsed, 1) if elapsed > 0 else None,
    }
    if pending or failed:
        summary["queue_dir"] = str(qdir)  # kept: re-run delivery from it, or inspect failed/
    elif own_dir:
        shutil.rmtree(qdir, ignore_errors=True)
    return summary
