"""The review station under a full unit: 50 beds x 24 h of decisions (187 alarms per bed-day,
Drew 2014), waveform streamed around every alarm, then 12 h more to show memory stays bounded.
The pages are served by the real app (uvicorn on 127.0.0.1) and timed over HTTP with keep-alive.

Reports per page p50/p99 latency (target: p99 <= 200 ms) and the store's traced memory
(tracemalloc: Python and numpy allocations) at 24 h and 36 h.
Run: ``python benchmarks/bench_review.py [--beds 50] [--hours 24] [--requests 200]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.client
import json
import random
import threading
import time
import tracemalloc
from typing import Any

import numpy as np

from alarmfilter.events import AlarmType, Waveform
from alarmfilter.review.access import Access
from alarmfilter.review.store import ReviewStore
from alarmfilter.review.web import ReviewApp

ALARMS_PER_BED_DAY = 187.0
T0 = 1_764_150_000.0
FS = 250.0
TYPES = [t.value for t in AlarmType]


def _chunks(rng: np.random.Generator, n: int = 16) -> list[dict[str, list[float]]]:
    t = np.arange(int(FS)) / FS
    out = []
    for _ in range(n):
        ecg = np.sin(2 * np.pi * 1.2 * t) ** 15 * 1.2 + 0.05 * rng.standard_normal(t.size)
        out.append({"II": ecg.round(4).tolist(), "V": (0.7 * ecg).round(4).tolist(),
                    "PLETH": (0.5 + 0.4 * np.sin(2 * np.pi * 1.2 * t)).round(4).tolist(),
                    "ABP": (90 + 30 * np.sin(2 * np.pi * 1.2 * t)).round(2).tolist()})
    return out


def load(store: ReviewStore, beds: int, from_h: float, to_h: float, seed: int = 0) -> int:
    """Alarms as a Poisson stream per bed; 20 s of waveform before and 5 s after each; the decision."""
    rng = np.random.default_rng(seed)
    chunks = _chunks(rng)
    units = {"II": "mV", "V": "mV", "PLETH": "NU", "ABP": "mmHg"}
    events: list[tuple[float, int, Any]] = []
    rate = ALARMS_PER_BED_DAY / 86400.0
    for b in range(beds):
        bed = f"ICU1-{b + 1:02d}"
        ts = T0 + from_h * 3600.0
        while True:
            ts += rng.exponential(1 / rate)
            if ts >= T0 + to_h * 3600.0:
                break
            aid = f"{bed}-{ts:.0f}"
            for k in range(-20, 5):
                events.append((ts + k, 0, (bed, ts + k)))
            t = random.Random(aid).choice(TYPES)
            sup = rng.random() < 0.45
            events.append((ts + 0.5, 1, {"kind": "decision", "alarm_id": aid, "bed": bed, "type": t, "priority": "high",
                                         "alarm_ts": ts, "decision": "suppress" if sup else "forward",
                                         "score": float(rng.random()), "reason_code": "evidence_against",
                                         "reasons": ["regular pulse on ABP through the window"], "decided_ts": ts,
                                         "model_version": "m-bench", "audit_sample": bool(rng.random() < 0.05)}))
    events.sort(key=lambda e: (e[0], e[1]))
    n = 0
    for _, kind, item in events:
        if kind == 0:
            bed, ts = item
            w = Waveform.model_construct(schema_version=1, kind="waveform", bed=bed, ts=ts, fs_hz=FS,
                                         signals=chunks[int(ts) % len(chunks)], units=units)
            store.add_waveform(w)
        else:
            store.add_decision(item, wall_now=0.0)
            n += 1
    return n


class Server:
    """The app on 127.0.0.1 in a thread of its own."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="off", access_log=False))
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    def __enter__(self) -> int:
        self.server.config.install_signal_handlers = False  # not the main thread
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("server did not start")
            time.sleep(0.05)
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def time_pages(port: int, token: str, paths: dict[str, list[str]], requests: int) -> dict[str, dict[str, float]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {token}"}
    out = {}
    for page, candidates in paths.items():
        ms = []
        for k in range(requests):
            t = time.perf_counter()
            conn.request("GET", candidates[k % len(candidates)], headers=headers)
            r = conn.getresponse()
            body = r.read()
            ms.append(1000 * (time.perf_counter() - t))
            assert r.status == 200, (page, r.status, body[:200])
        a = np.array(ms)
        out[page] = {"p50_ms": round(float(np.percentile(a, 50)), 1), "p99_ms": round(float(np.percentile(a, 99)), 1),
                     "max_ms": round(float(a.max()), 1), "bytes": len(body)}
    conn.close()
    return out


def run(beds: int = 50, hours: float = 24.0, more_hours: float = 12.0, requests: int = 200) -> dict[str, Any]:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    store = ReviewStore()
    t = time.perf_counter()
    n = load(store, beds, 0.0, hours)
    load_s = time.perf_counter() - t
    gc.collect()
    mem_at = (tracemalloc.get_traced_memory()[0] - base) / 1e6
    load(store, beds, hours, hours + more_hours, seed=1)
    gc.collect()
    mem_end = (tracemalloc.get_traced_memory()[0] - base) / 1e6
    tracemalloc.stop()
    access = Access("bench-token")

    async def refuse(bed: str, event: dict[str, Any]) -> None:
        raise RuntimeError("the benchmark does not label")

    app = ReviewApp(store, refuse, access, board_hours=24.0)
    with_strip = [a for a in store.alarms if a in store.strips]
    paths = {"board": ["/"], "board_fragment": ["/board.fragment"], "queue": ["/queue"],
             "alarm_page": [f"/alarms/{a}" for a in with_strip[-200:]]}
    with Server(app.app) as port:
        time_pages(port, access.token, paths, 10)  # warm up
        pages = time_pages(port, access.token, paths, requests)
    return {
        "beds": beds, "hours": hours, "decisions_loaded": n, "alarms_kept": len(store.alarms),
        "strips_kept": len(store.strips), "queue_size": store.queue_size(), "load_seconds": round(load_s, 1),
        "memory_mb_at_hours": round(mem_at, 1), "memory_mb_after_more_hours": round(mem_end, 1),
        "more_hours": more_hours, "pages": pages,
        "p99_ms_worst_page": max(p["p99_ms"] for p in pages.values()), "target_p99_ms": 200.0,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--beds", type=int, default=50)
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--more-hours", type=float, default=12.0)
    p.add_argument("--requests", type=int, default=200)
    a = p.parse_args()
    print(json.dumps(run(a.beds, a.hours, a.more_hours, a.requests)))


if __name__ == "__main__":
    main()
