"""HTTP routes of the advisors' console: one page, its assets (native ES modules), and the
configured values the console shows (teams, expertise, phone numbers, chat hours), so no
configured value is written in its JavaScript."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from aiohttp import web, web_fileresponse

from agent_console.routing_http import RULES, routing_view
from contact.http import SETTINGS, agent_from_request
from contact.phone import HELPLINE

STATIC = Path(__file__).resolve().parent / "static"

# Module scripts load only with a JavaScript MIME type, and text/javascript is the one the HTML
# standard names. aiohttp's file responses guess with their own table (application/javascript
# there); tests/agent_console/test_http.py notices if that table moves.
for _types in (mimetypes, getattr(web_fileresponse, "CONTENT_TYPES", mimetypes)):
    _types.add_type("text/javascript", ".js")
    _types.add_type("text/javascript", ".mjs")


async def console_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(
        STATIC / "console.html", headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"}
    )


def config_view(request: web.Request) -> dict[str, Any]:
    """What the console shows that is configured on the server: one source for every form."""
    settings = request.app[SETTINGS]
    return {
        **routing_view(request.app[RULES]),
        "phone": dict(HELPLINE),
        "chat_hours": settings.chat_hours,
        "callback_hours": settings.callback_hours,
        "timezone": settings.timezone,
    }


async def config(request: web.Request) -> web.Response:
    """GET /api/agent/config: for any agent who is logged in; `unauthorized` otherwise."""
    await agent_from_request(request)
    return web.json_response(config_view(request))


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/console", console_page),
        web.get("/api/agent/config", config),
        web.static("/console/static", STATIC, follow_symlinks=False, show_index=False),
    ]
