"""The review station's pages (Starlette + Jinja2, no front-end build): the unit board, an alarm's
page with its strip chart, the review queue and the label endpoint. A thin shell: views come
from `ReviewStore`, strips from `strip.render_strip`, labels go out through `send`, an async
callable that returns once the broker acknowledged the feedback event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from .access import COOKIE, Access
from .labels import clean_note, feedback_event
from .store import AlarmRecord, Label, ReviewStore
from .strip import render_strip

log = logging.getLogger(__name__)

#: sends one feedback event (bed, event); returns once the broker has it, raises otherwise
Send = Callable[[str, dict[str, Any]], Awaitable[None]]

REASON_WORDS = {
    "evidence_supports": "the signals support the alarm",
    "evidence_against": "the signals argue against the alarm",
    "no_evidence_policy": "no model for this alarm type yet: forwarded by policy",
    "audit_sample": "would have been held back; forwarded at random as an audit sample",
    "technical_alarm": "technical alarm: routed to the bedside nurse",
    "unknown_type": "unknown alarm type: forwarded",
    "no_signal": "no usable signal: forwarded",
    "stale_signal": "the signal stopped before the alarm: forwarded",
    "warming_up": "not enough signal seen yet: forwarded",
    "scorer_error": "the model failed: forwarded",
    "policy_error": "the policy failed: forwarded",
    "engine_error": "the engine failed: forwarded",
    "merged": "a repeat of an alarm already decided",
}


def _utc(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


def _prob(p: float | None) -> str:
    return "none (not scored)" if p is None else f"{p:.2f} ({100 * p:.0f} %)"


def _badge(a: AlarmRecord) -> Markup:
    if a.decision is None:
        return Markup('<span class="muted">awaiting decision</span>')
    if a.technical:
        return Markup('<span class="tech">technical</span>')
    if a.decision == "forward":
        extra = ' <span class="audit">audit sample</span>' if a.audit_sample else ""
        return Markup(f'<span class="fwd">forwarded</span>{extra}')
    return Markup('<span class="sup">held back</span>')


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("alarmfilter.review", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(utc=_utc, prob=_prob, badge=_badge,
                       words=lambda t: str(t).replace("_", " "),
                       reason_words=lambda c: REASON_WORDS.get(str(c), str(c).replace("_", " ")))
    return env


class ReviewApp:
    """The ASGI app (`.app`) over a store and a feedback sender."""

    def __init__(self, store: ReviewStore, send: Send, access: Access, unit: str = "icu",
                 board_hours: float = 4.0, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.send = send
        self.access = access
        self.unit = unit
        self.board_hours = board_hours
        self.clock = clock
        self.env = _environment()
        self._locks: dict[str, asyncio.Lock] = {}
        self.app = Starlette(routes=[
            Route("/", self._guard(self.board)),
            Route("/board.fragment", self._guard(self.board_fragment)),
            Route("/queue", self._guard(self.queue)),
            Route("/queue.count", self._guard(self.queue_count)),
            Route("/alarms/{alarm_id:path}/strip.svg", self._guard(self.strip_svg)),
            Route("/alarms/{alarm_id:path}/label", self._guard(self.label), methods=["POST"]),
            Route("/alarms/{alarm_id:path}", self._guard(self.alarm)),
            Route("/healthz", self.healthz),
        ])

    # -- access ----------------------------------------------------------------------------------

    def _guard(self, endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            token = request.query_params.get("token")
            if token is not None and request.method == "GET" and self.access.token_ok(token):
                rest = {k: v for k, v in request.query_params.items() if k != "token"}
                resp = RedirectResponse(request.url.path + ("?" + urlencode(rest) if rest else ""), status_code=303)
                resp.set_cookie(COOKIE, self.access.cookie_value, httponly=True, samesite="strict", path="/")
                return resp
            if not self.access.allowed(request.headers, request.cookies):
                return PlainTextResponse("the review station needs its access token (ask whoever runs it)\n",
                                         status_code=401, headers={"WWW-Authenticate": 'Basic realm="alarm review"'})
            resp = await endpoint(request)
            resp.headers.setdefault("Cache-Control", "no-store")
            resp.headers.setdefault("X-Frame-Options", "DENY")
            resp.headers.setdefault("Referrer-Policy", "same-origin")
            return resp
        return guarded

    def _page(self, template: str, page: str, queue_size: int | None = None, **context: Any) -> HTMLResponse:
        queue_size = self.store.queue_size() if queue_size is None else queue_size
        html = self.env.get_template(template).render(
            page=page, unit=self.unit, csrf=self.access.csrf, queue_size=queue_size, **context)
        return HTMLResponse(html)

    # -- pages -----------------------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def board(self, request: Request) -> Response:
        board = self.store.board(self.board_hours)
        return self._page("board.html", "board", queue_size=board.queue_size, board=board, clock=self.store.clock)

    async def board_fragment(self, request: Request) -> Response:
        html = self.env.get_template("board_live.html").render(board=self.store.board(self.board_hours),
                                                                 clock=self.store.clock)
        return HTMLResponse(html)

    async def queue(self, request: Request) -> Response:
        items = self.store.queue()
        total = self.store.queue_size()
        return self._page("queue.html", "queue", queue_size=total, total=total, items=items,
                          labelled=request.query_params.get("labelled"))

    async def queue_count(self, request: Request) -> Response:
        return JSONResponse({"queue_size": self.store.queue_size()})

    def _strip_svg(self, rec: AlarmRecord) -> str | None:
        strip = self.store.strip(rec.alarm_id)
        if strip is None:
            return None
        title = f"{rec.type} on {rec.bed}"
        return render_strip(strip.signals, strip.units, strip.fs_hz, strip.start_ts, rec.alarm_ts,
                            used_until_ts=rec.decided_ts, title=title)

    async def alarm(self, request: Request) -> Response:
        rec = self.store.get(request.path_params["alarm_id"])
        if rec is None:
            return PlainTextResponse("no such alarm (or older than the station keeps)\n", status_code=404)
        svg = self._strip_svg(rec)
        return self._page("alarm.html", "alarm", a=rec, strip=Markup(svg) if svg else None)

    async def strip_svg(self, request: Request) -> Response:
        rec = self.store.get(request.path_params["alarm_id"])
        svg = self._strip_svg(rec) if rec is not None else None
        if svg is None:
            return PlainTextResponse("no strip for this alarm\n", status_code=404)
        return Response(svg, media_type="image/svg+xml")

    # -- the one write -----------------------------------------------------------------------------

    async def label(self, request: Request) -> Response:
        """Send the label as a feedback event; confirm only after the broker acknowledged it. A repeat
        (double click, second tab, retry) returns the label already given and sends nothing."""
        form = await request.form()
        wants_json = "application/json" in request.headers.get("accept", "")

        def fail(status: int, error: str) -> Response:
            if wants_json:
                return JSONResponse({"error": error}, status_code=status)
            return PlainTextResponse(error + "\n", status_code=status)

        csrf = form.get("csrf")
        if not self.access.write_ok(csrf if isinstance(csrf, str) else None, request.headers.get("origin"),
                                    request.headers.get("host")):
            return fail(403, "refused: this form did not come from the review station")
        try:
            label = Label(str(form.get("label")))
        except ValueError:
            return fail(400, "label must be actionable, not_actionable or artefact")
        alarm_id = request.path_params["alarm_id"]
        rec = self.store.get(alarm_id)
        if rec is None or rec.decision is None:
            return fail(404, "no decided alarm with this id")
        note_raw = form.get("note")
        already = True
        lock = self._locks.setdefault(alarm_id, asyncio.Lock())
        try:
            async with lock:
                if rec.label is None:
                    note = clean_note(note_raw if isinstance(note_raw, str) else None)
                    event = feedback_event(rec, label, note, self.clock())
                    try:
                        await self.send(rec.bed, event)
                    except Exception as exc:  # noqa: BLE001 -- any send failure: the user is told, nothing is recorded
                        log.warning("label of %s not sent: %s: %s", alarm_id, type(exc).__name__, exc)
                        return fail(503, f"the broker did not take the label ({type(exc).__name__})")
                    self.store.set_label(alarm_id, label, note)
                    already = False
        finally:
            if not lock.locked():
                self._locks.pop(alarm_id, None)
        given = rec.label or label
        if wants_json:
            return JSONResponse({"alarm_id": alarm_id, "label": given.value, "label_words": given.words,
                                 "already": already, "confirmed": True})
        nxt = form.get("next")
        target = nxt if isinstance(nxt, str) and nxt.startswith("/") and not nxt.startswith("//") else "/queue"
        sep = "&" if "?" in target else "?"
        return RedirectResponse(f"{target}{sep}{urlencode({'labelled': given.words})}", status_code=303)
