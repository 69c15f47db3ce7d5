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
# The chart library of the Cijfers view, installed from npm at set-up and served by us.
UPLOT = Path(__file__).resolve().parent.parent / "node_modules" / "uplot" / "dist"
VENDOR = {
    "uplot.esm.js": ("uPlot.esm.js", "text/javascript; charset=utf-8"),
    "uplot.min.css": ("uPlot.min.css", "text/css; charset=utf-8"),
}

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


async def vendor(request: web.Request) -> web.StreamResponse:
    """GET /console/vendor/{name}: uPlot's ES module and its style sheet (npm, never a CDN)."""
    known = VENDOR.get(request.match_info["name"])
    if known is None or not (UPLOT / known[0]).is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(
        UPLOT / known[0], headers={"Content-Type": known[1], "Cache-Control": "public, max-age=86400"}
    )


async def config(request: web.Request) -> web.Response:
    """GET /api/agent/config: for any agent who is logged in; `unauthorized` otherwise."""
    await agent_from_request(request)
    return web.json_response(config_view(request))


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/console", console_page),
        web.get("/api/agent/config", config),
        web.get("/console/vendor/{name}", vendor),
        web.static("/console/static", STATIC, follow_symlinks=False, show_index=False),
    ]
