"""HTTP routes of the chat: whether it is open, how long the queue is, the quick exit, and the
supervisors' figures and export of the advisors' feedback on risk signals."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import date, timedelta

import structlog
from aiohttp import web

from chat.service import ChatService
from chat.sockets import Dispatcher
from contact.errors import DomainError
from contact.http import SETTINGS, agent_from_request
from contact.web import single_query
from routing.rules import CALLER_TYPES

log = structlog.get_logger(__name__)

CHAT = web.AppKey("chat", ChatService)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)

# What the quick exit asks the browser to forget of our origin. Sent whatever the body was.
EXIT_HEADERS = {"Clear-Site-Data": '"cache", "storage"', "Cache-Control": "no-store"}
EXIT_BODY_MAX = 4096  # a resume token in a little JSON; anything longer is not read
EXIT_READ_TIMEOUT_S = 2.0


async def status(request: web.Request) -> web.Response:
    """GET /api/status[?caller_type=|team=]: `chat` for that caller's team, `teams` for each."""
    chat = request.app[CHAT]
    caller_type, team = single_query(request, "caller_type"), single_query(request, "team")
    if caller_type is not None and caller_type not in CALLER_TYPES:
        raise DomainError("invalid_input", field="caller_type")
    if team is not None and (caller_type is not None or team not in chat.rules.teams):
        raise DomainError("invalid_input", field="team")
    body = await chat.status(caller_type, team)
    body["widget"] = {"quick_exit_url": request.app[SETTINGS].quick_exit_url}
    return web.json_response(body)


async def _small_body(request: web.Request) -> bytes | None:
    """At most EXIT_BODY_MAX bytes of the body, or None when it is longer, slow or broken.
    Never raises: the quick exit must answer whatever arrives."""
    if request.content_length is not None and request.content_length > EXIT_BODY_MAX:
        return None
    data = bytearray()
    try:
        async with asyncio.timeout(EXIT_READ_TIMEOUT_S):
            while len(data) <= EXIT_BODY_MAX:
                chunk = await request.content.read(EXIT_BODY_MAX + 1 - len(data))
                if not chunk:
                    break
                data += chunk
    except Exception:  # a timeout, a broken or half-sent body: the exit answers all the same
        return None
    return bytes(data) if len(data) <= EXIT_BODY_MAX else None


def _resume_token(raw: bytes | None) -> str | None:
    """The `resume_token` of `{"resume_token": "..."}` (sent as text/plain by sendBeacon), else None."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # junk, bad UTF-8, or "[[[[..." nested too deep
        return None
    token = data.get("resume_token") if isinstance(data, dict) else None
    return token if isinstance(token, str) and 0 < len(token) <= 128 else None


async def _end_as_quick_exit(request: web.Request, resume_token: str | None) -> None:
    """End the conversation of `resume_token` as a quick exit, for when the widget's socket
    could not say it (offline a moment ago, or the page went first): the advisor learns the
    visitor fled and may record the outcome. Silent whatever happens: the answer is the same
    204 for a known, unknown or missing token, and neither the token nor the body is logged."""
    if resume_token is None:
        return
    try:
        emits = await request.app[CHAT].quick_exit(resume_token)
        await request.app[DISPATCHER].send(emits)
    except Exception as exc:  # the page is gone already: nothing to answer but the 204
        log.error("quick_exit_failed", error=type(exc).__name__)


async def visitor_exit(request: web.Request) -> web.Response:
    """POST /api/visitor/exit: the widget's quick exit calls this (sendBeacon or keepalive
    fetch) before it replaces the page. Always 204 with Clear-Site-Data and no-store."""
    token = _resume_token(await _small_body(request))
    await _end_as_quick_exit(request, token)
    return web.Response(status=204, headers=EXIT_HEADERS)


def _day(request: web.Request, name: str, default: date) -> date:
    value = single_query(request, name)
    if value is None:
        return default
    try:
        if len(value) == 10 and value.isascii():  # YYYY-MM-DD only, not the other forms fromisoformat takes
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise DomainError("invalid_input", field=name)


async def risk_concepts(request: web.Request) -> web.Response:
    """GET /api/supervisor/risk/concepts?from=&to=: per concept fired, marked wrong, reported missed
    (default: the last 30 days up to today, local)."""
    agent = await agent_from_request(request)
    chat = request.app[CHAT]
    today = chat.clock.now().astimezone(chat.handoffs.tz).date()
    last = _day(request, "to", today)
    first = _day(request, "from", last - timedelta(days=29))
    return web.json_response(await chat.risk_concept_counts(agent, first, last))


EXPORT_COLUMNS = ("date", "kind", "concept", "level", "agent_role", "text")


async def risk_feedback_export(request: web.Request) -> web.Response:
    """GET /api/supervisor/risk/feedback?format=csv|json: the marked examples with their text."""
    agent = await agent_from_request(request)
    fmt = single_query(request, "format") or "json"
    if fmt not in ("csv", "json"):
        raise DomainError("invalid_input", field="format")
    examples = await request.app[CHAT].risk_feedback_export(agent, fmt)
    if fmt == "json":
        return web.json_response({"examples": examples})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(examples)
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="risicosignalen-feedback.csv"'},
    )


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/status", status),
        web.post("/api/visitor/exit", visitor_exit),
        web.get("/api/supervisor/risk/concepts", risk_concepts),
        web.get("/api/supervisor/risk/feedback", risk_feedback_export),
    ]
