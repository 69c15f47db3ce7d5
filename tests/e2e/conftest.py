"""Real headless Chromium (Debian's, driven by Playwright) against the real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from tests.support.server import RunningServer, make_settings, migrated_sqlite
from tests.support.services import service_missing

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    if not Path(CHROMIUM).exists():  # noqa: ASYNC240 (one stat at start-up)
        service_missing("chromium (Debian package)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        await b.close()


@pytest.fixture(scope="session")
async def neutral_site() -> AsyncIterator[str]:
    """Stands in for the neutral weather site that quick exit goes to (no request leaves this machine)."""

    async def weather(request: web.Request) -> web.Response:
        return web.Response(
            text="<!doctype html><title>Het weer</title><h1>Het weer vandaag</h1>", content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/", weather)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    await runner.cleanup()


@pytest.fixture(scope="session")
async def web_server(tmp_path_factory: pytest.TempPathFactory, neutral_site: str) -> AsyncIterator[RunningServer]:
    """The server the browser tests share: open 24/7, quick exit to the stand-in weather site."""
    url = await migrated_sqlite(str(tmp_path_factory.mktemp("e2e") / "e2e.db"))
    running = await RunningServer(make_settings(url, quick_exit_url=neutral_site)).start()
    yield running
    await running.stop()


class RequestLog:
    """Every URL a page asked for, to prove that nothing left localhost."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def attach(self, context: object) -> None:
        context.on("request", lambda r: self.urls.append(r.url))  # type: ignore[attr-defined]

    def foreign(self) -> list[str]:
        return [
            u
            for u in self.urls
            if urlsplit(u).scheme in ("http", "https", "ws", "wss")
            and urlsplit(u).hostname not in ("127.0.0.1", "localhost")
        ]


@pytest.fixture
async def context(browser: object) -> AsyncIterator[tuple[object, RequestLog]]:
    """A fresh browser profile (no cookies, no storage) whose requests are logged."""
    ctx = await browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    log = RequestLog()
    log.attach(ctx)
    yield ctx, log
    await ctx.close()


def screenshot_path(name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")
