"""HTTP routes of the visitor side: the demo page, the embeddable widget and its assets, the
booking and manage pages of adviesgesprekken, and the Socket.IO client (installed from npm at
set-up, served by us: no third-party request)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().parent / "static"
# ES module sources: the booking pages load them as they are; the widget is bundled from them.
SRC = Path(__file__).resolve().parent / "src"
ROOT = Path(__file__).resolve().parent.parent
SOCKET_IO_CLIENT = ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"


def _file(path: Path, content_type: str, cache: str = "no-cache") -> web.FileResponse:
    # A file that is missing (widget.js before `make widget` built it) is a `not_found` of the
    # contract's error shape: FileResponse would only find out while sending, past our middleware.
    if not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": content_type, "Cache-Control": cache})


async def demo_page(request: web.Request) -> web.StreamResponse:
    return _file(STATIC / "demo.html", "text/html; charset=utf-8")


async def booking_page(request: web.Request) -> web.StreamResponse:
    return _file(STATIC / "afspraak.html", "text/html; charset=utf-8")


async def manage_page(request: web.Request) -> web.StreamResponse:
    # The manage token is in the fragment (#...), which the browser never sends: this request
    # carries no secret, and the page's script takes the token out of the address bar at once.
    return _file(STATIC / "beheer.html", "text/html; charset=utf-8")


async def widget_js(request: web.Request) -> web.StreamResponse:
    return _file(STATIC / "widget.js", "text/javascript; charset=utf-8")


async def socket_io_client(request: web.Request) -> web.StreamResponse:
    return _file(SOCKET_IO_CLIENT, "text/javascript; charset=utf-8", cache="public, max-age=86400")


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/", demo_page),
        web.get("/widget.js", widget_js),
        web.get("/afspraak", booking_page),
        web.get("/afspraak/beheer", manage_page),
        web.get("/static/vendor/socket.io.min.js", socket_io_client),
        # No symlinks followed, no directory listing (aiohttp path-traversal advisories).
        # Before /widget: a static route answers 404 itself for a path under its prefix.
        web.static("/widget/src", SRC, follow_symlinks=False, show_index=False),
        web.static("/widget", STATIC, follow_symlinks=False, show_index=False),
    ]
