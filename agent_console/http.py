"""HTTP routes of the advisors' console: one page and its assets."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().parent / "static"


async def console_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(
        STATIC / "console.html", headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"}
    )


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/console", console_page),
        web.static("/console/static", STATIC, follow_symlinks=False, show_index=False),
    ]
