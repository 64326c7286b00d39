"""The review station end to end: a real Tansu broker, a real worker, `alarmfilter review` as a
process, a simulated ward published to the broker, and the pages driven in headless Chromium
through Selenium (skipped, saying why, when chromium or chromedriver is not installed).

`ALARMFILTER_SCREENSHOTS=docs` writes the board and an alarm page as PNG there (the README's).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alarmfilter.events import Waveform
from alarmfilter.settings import Settings
from alarmfilter.sim import SimConfig, simulate
from tests.kafka.conftest import ALARMFILTER, REPO, Tansu, WorkerProc, free_port, read_outputs

pytestmark = pytest.mark.slow

TOKEN = "review-test-token-" + uuid.uuid4().hex[:8]
SCREENSHOTS = os.environ.get("ALARMFILTER_SCREENSHOTS")


class Ward:
    """What was sent: the events, and the decisions the worker made."""

    def __init__(self, events: list[Any], decisions: list[dict[str, Any]]) -> None:
        self.events = events
        self.decisions = decisions

    def samples(self, bed: str, channel: str, start_ts: float, fs_hz: float, n: int) -> np.ndarray:
        """The input waveform of one bed and channel at the strip's sample times (NaN = none sent)."""
        out = np.full(n, np.nan)
        for e in self.events:
            if isinstance(e, Waveform) and e.bed == bed and channel in e.signals:
                offset = round((e.ts - start_ts) * fs_hz)
                for k, v in enumerate(e.signals[channel]):
                    if 0 <= offset + k < n and v is not None:
                        out[offset + k] = v
        return out


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Broker, one worker (with /metrics), the review station; a short seeded ward published to it."""
    tmp = tmp_path_factory.mktemp("review")
    external = os.environ.get("ALARMFILTER_TEST_KAFKA")
    broker = None
    if external:
        url = external if "://" in external else f"kafka://{external}"
    else:
        broker = Tansu(tmp)
        broker.start()
        url = broker.url
    tag = uuid.uuid4().hex[:8]
    settings = Settings(broker=url, topic_prefix=f"r{tag}.", consumer_group=f"af-{tag}", partitions=2,
                        metrics_port=0, _env_file=None)
    metrics_port = free_port()
    worker = WorkerProc(settings, tmp, "worker", metrics_port=metrics_port)
    port = free_port()
    env = {**worker.env, "ALARMFILTER_REVIEW_TOKEN": TOKEN, "ALARMFILTER_REVIEW_PORT": str(port),
           "ALARMFILTER_METRICS_PORT": "0"}
    log = tmp / "review.log"
    review = None
    try:
        worker.start()
        with log.open("ab") as f:
            review = subprocess.Popen([ALARMFILTER, "review", "--broker-wait", "20"], env=env, stdout=f,
                                      stderr=subprocess.STDOUT, cwd=REPO)
        _wait(lambda: "alarm review station: http://127.0.0.1:" in log.read_text(), 30, lambda: log.read_text())
        worker.wait_assigned(40)
        sim = simulate(SimConfig(beds=3, hours=0.2, seed=3, audible_alarms_per_bed_day=187.0 * 8))
        events = list(sim.events())
        n_alarms = sum(1 for e in events if e.kind == "alarm")
        from alarmfilter.kafka.producer import produce_events

        asyncio.run(produce_events(settings, events))
        out = asyncio.run(read_outputs(settings, lambda o: len(o["decision"]) >= n_alarms, 60))
        assert len(out["decision"]) == n_alarms, f"{len(out['decision'])} decisions of {n_alarms} alarms"
        yield {"url": f"http://127.0.0.1:{port}", "settings": settings, "ward": Ward(events, out["decision"]),
               "metrics_port": metrics_port, "review_log": log, "worker": worker}
    finally:
        if review is not None and review.poll() is None:
            review.terminate()
            review.wait(10)
        worker.stop()
        if broker is not None:
            broker.stop()
    # uvicorn stops gracefully on SIGTERM, then re-raises it: -15 is a clean stop; a traceback is not
    assert review is not None and review.returncode in (0, -15), f"review exit {review.returncode}:\n{log.read_text()[-2000:]}"
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def _wait(cond: Any, timeout_seconds: float, detail: Any = lambda: "") -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout_seconds} s: {detail()}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("chromium and chromedriver are not installed (bash .ci/install-browser installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1000",
                f"--user-data-dir={tempfile.mkdtemp(prefix='af-chromium-')}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(driver_path))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _login(browser: Any, stack: dict[str, Any], path: str = "/") -> None:
    browser.get(f"{stack['url']}{path}{'&' if '?' in path else '?'}token={TOKEN}")


def _until(browser: Any, cond: Any, timeout_seconds: float = 30.0) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout_seconds, poll_frequency=0.2).until(cond)


def _shot(browser: Any, name: str, width: int = 1400, height: int = 1000) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        browser.set_window_size(width, height)
        browser.save_screenshot(str(Path(SCREENSHOTS) / name))
        browser.set_window_size(1400, 1000)


def test_the_board_lists_the_simulators_alarms(stack: dict[str, Any], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    ward: Ward = stack["ward"]
    wanted = {d["alarm_id"] for d in ward.decisions}
    _login(browser, stack)

    def listed(d: Any) -> bool:
        rows = d.find_elements(By.CSS_SELECTOR, "#alarms tr.alarm")
        return {r.get_attribute("data-alarm-id") for r in rows} >= wanted

    _until(browser, listed)  # the board polls its own data, so this also shows the live update
    beds = {r.get_attribute("data-bed") for r in browser.find_elements(By.CSS_SELECTOR, "#beds tr.bed")}
    assert beds == {d["bed"] for d in ward.decisions} | {e.bed for e in ward.events if e.kind == "waveform"}
    held = sum(d["decision"] == "suppress" and d["reason_code"] != "technical_alarm" for d in ward.decisions)
    total = browser.find_element(By.CSS_SELECTOR, "#beds tr.total").text.split()
    assert int(total[2 + 3]) == held  # "all beds" + clinical, forwarded, audit, held back
    assert "awaiting" in browser.find_element(By.ID, "alarms").text
    _shot(browser, "review-board.png")


def _held_back(stack: dict[str, Any]) -> list[dict[str, Any]]:
    held = [d for d in stack["ward"].decisions if d["decision"] == "suppress" and d["reason_code"] != "technical_alarm"]
    assert held, "the seeded ward has no held-back alarm to review"
    return sorted(held, key=lambda d: d["alarm_ts"])


def test_an_alarm_page_draws_exactly_the_input_waveform(stack: dict[str, Any], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    d = _held_back(stack)[0]
    _login(browser, stack, f"/alarms/{d['alarm_id']}")
    svg = _until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "svg.strip"))[0]
    fs = float(svg.get_attribute("data-fs-hz"))
    start = float(svg.get_attribute("data-start-ts"))
    mm_per_s = float(svg.get_attribute("data-mm-per-s"))
    x0 = float(svg.get_attribute("data-x0-mm"))
    per_mm = float(svg.get_attribute("data-trace-units-per-mm"))
    assert start <= d["alarm_ts"] - 16.0 + 1.0 / fs, "the strip shows at least the 16 s before the alarm"
    assert browser.find_element(By.ID, "probability").text.startswith(f"{d['score']:.2f}")
    assert browser.find_element(By.ID, "model-version").text == d["model_version"]
    assert d["reasons"][0] in browser.find_element(By.ID, "reasons").text
    channels = svg.find_elements(By.CSS_SELECTOR, "g.channel")
    assert channels
    for g in channels:
        name = g.get_attribute("data-channel")
        per_unit = float(g.get_attribute("data-mm-per-unit"))
        ref_v, ref_y = float(g.get_attribute("data-ref-value")), float(g.get_attribute("data-ref-y-mm"))
        if g.get_attribute("data-unit") == "mV":
            assert per_unit == 10.0  # 10 mm/mV, whatever the signal
        drawn: dict[int, float] = {}
        for line in g.find_elements(By.CSS_SELECTOR, "polyline.trace"):
            v = [float(u) / per_mm for u in line.get_attribute("points").split()]
            for x, y in zip(v[0::2], v[1::2]):
                drawn[round((x - x0) / mm_per_s * fs)] = ref_v + (ref_y - y) / per_unit
        n = max(drawn) + 1
        sent = stack["ward"].samples(d["bed"], name, start, fs, n)
        assert sorted(drawn) == np.flatnonzero(np.isfinite(sent)).tolist(), f"{name}: drawn samples are not the sent ones"
        got = np.array([drawn[i] for i in sorted(drawn)])
        want = sent[np.isfinite(sent)]
        tol = 0.00051 / per_unit + 1e-6 * np.abs(want)  # 1 um on the page, float32 in the ring
        assert np.all(np.abs(got - want) <= tol), f"{name}: max error {np.max(np.abs(got - want))}"
    _shot(browser, "review-alarm.png", width=2000, height=1150)  # the whole 20 s strip at 25 mm/s


def _metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(m.group(1)) for m in re.finditer(rf"^{name}\{{[^}}]*\}} ([0-9.e+]+)$", text, re.MULTILINE))


def _feedback_events(settings: Settings, timeout_seconds: float = 10.0) -> list[dict[str, Any]]:
    """Everything on the feedback topic now: read from the start up to the end offsets."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def read() -> list[dict[str, Any]]:
        c = AIOKafkaConsumer(bootstrap_servers=settings.broker_hosts, group_id=None, enable_auto_commit=False)
        await c.start()
        try:
            tps = [TopicPartition(settings.topics.feedback, p) for p in range(settings.partitions)]
            c.assign(tps)
            await c.seek_to_beginning(*tps)
            ends = await c.end_offsets(tps)
            got: list[dict[str, Any]] = []
            deadline = time.monotonic() + timeout_seconds
            while any([await c.position(tp) < ends[tp] for tp in tps]):
                assert time.monotonic() < deadline, "feedback topic not read to its end in time"
                for records in (await c.getmany(timeout_ms=200)).values():
                    got += [json.loads(r.value) for r in records]
            return got
        finally:
            await c.stop()

    return asyncio.run(read())


def test_one_click_puts_one_feedback_event_and_the_worker_counts_it(stack: dict[str, Any], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    d = _held_back(stack)[-1]
    before = _metric(stack["metrics_port"], "alarmfilter_feedback_total")
    _login(browser, stack, "/queue")
    item = _until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, f".queue-item[data-alarm-id='{d['alarm_id']}']"))[0]
    item.find_element(By.NAME, "note").send_keys("motion on the pleth")
    item.find_element(By.CSS_SELECTOR, "button[value=artefact]").click()
    status = item.find_element(By.CSS_SELECTOR, ".status")
    _until(browser, lambda b: "confirmed by the broker" in status.text)
    # the same alarm labelled again (a second tab, a reload, a double click): nothing more is sent
    _login(browser, stack, f"/alarms/{d['alarm_id']}")
    assert "artefact" in browser.find_element(By.ID, "label").text
    browser.find_element(By.CSS_SELECTOR, "form.label-form button[value=not_actionable]").click()
    _until(browser, lambda b: "already labelled" in b.find_element(By.CSS_SELECTOR, ".status").text)

    events = [e for e in _feedback_events(stack["settings"]) if e["alarm_id"] == d["alarm_id"]]
    assert len(events) == 1, events
    e = events[0]
    assert (e["kind"], e["bed"], e["actionable"], e["label"], e["note"]) == \
        ("feedback", d["bed"], False, "artefact", "motion on the pleth")
    assert e["ts"] >= d["decided_ts"]
    _wait(lambda: _metric(stack["metrics_port"], "alarmfilter_feedback_total") >= before + 1, 20,
          lambda: f"feedback metric {_metric(stack['metrics_port'], 'alarmfilter_feedback_total')}, was {before}")
    text = urllib.request.urlopen(f"http://127.0.0.1:{stack['metrics_port']}/metrics", timeout=5).read().decode()
    lines = [x for x in text.splitlines() if x.startswith("alarmfilter_feedback_total{")]
    assert any('decision="suppress"' in x and 'actionable="false"' in x and x.endswith(" 1.0") for x in lines), lines


def _forwarded(stack: dict[str, Any]) -> list[dict[str, Any]]:
    fwd = [d for d in stack["ward"].decisions if d["decision"] == "forward" and d["reason_code"] != "technical_alarm"]
    assert len(fwd) >= 2, "the seeded ward forwarded fewer than two clinical alarms"
    return sorted(fwd, key=lambda d: d["alarm_ts"])


def test_a_double_click_sends_one_event(stack: dict[str, Any], browser: Any) -> None:
    d = _forwarded(stack)[0]  # a forwarded alarm may be labelled too (from its page)
    _login(browser, stack, "/queue")
    # two posts of the same label in flight at once, as a double click without the page's guard sends them
    answers = browser.execute_async_script("""
        const [id, done] = arguments;
        const post = () => { const body = new FormData(); body.set("csrf", CSRF); body.set("label", "actionable");
            return fetch("/alarms/" + encodeURIComponent(id) + "/label", {method: "POST", body,
                         headers: {"Accept": "application/json"}}).then(r => r.json()); };
        Promise.all([post(), post()]).then(done, e => done(String(e)));""", d["alarm_id"])
    assert sorted(a["already"] for a in answers) == [False, True], answers
    events = [e for e in _feedback_events(stack["settings"]) if e["alarm_id"] == d["alarm_id"]]
    assert len(events) == 1 and events[0]["actionable"] is True, events


def _status(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_requests_without_the_token_or_the_form_token_are_refused(stack: dict[str, Any]) -> None:
    url = stack["url"]
    d = _forwarded(stack)[-1]
    sent_before = len([e for e in _feedback_events(stack["settings"]) if e["alarm_id"] == d["alarm_id"]])
    assert _status(f"{url}/") == 401
    assert _status(f"{url}/alarms/{d['alarm_id']}?token=wrong") == 401
    assert _status(f"{url}/queue", headers={"Authorization": "Bearer wrong"}) == 401
    assert _status(f"{url}/queue", headers={"Authorization": f"Bearer {TOKEN}"}) == 200
    form = b"label=actionable&csrf=forged"
    assert _status(f"{url}/alarms/{d['alarm_id']}/label", form) == 401
    assert _status(f"{url}/alarms/{d['alarm_id']}/label", form,
                   {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-www-form-urlencoded"}) == 403
    assert len([e for e in _feedback_events(stack["settings"]) if e["alarm_id"] == d["alarm_id"]]) == sent_before
