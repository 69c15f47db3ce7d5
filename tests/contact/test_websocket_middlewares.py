"""A Socket.IO WebSocket skips the middlewares that have nothing to do on it (contact/web.py
`passes_websockets`): no coroutine of theirs stays alive per idle socket. The error shape stays
on every request, and every other answer still gets the security headers."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.support.server import Client, start_payload


def _chain(task: asyncio.Task[Any]) -> list[str]:
    names = []
    coro: Any = task.get_coro()
    while coro is not None and hasattr(coro, "cr_code"):
        names.append(coro.cr_code.co_qualname)
        coro = coro.cr_await
    return names


def _open_requests() -> list[list[str]]:
    return [c for t in asyncio.all_tasks() if "Application._handle" in (c := _chain(t))]


async def test_an_open_websocket_holds_no_frame_of_the_skipped_middlewares(server):
    client = await Client("/visitor").connect(server.url)
    try:
        assert "conversation_id" in await client.call("start", start_payload())
        chains = _open_requests()  # ours, and any other test's socket still open on this server
        assert chains
        for chain in chains:
            assert "errors_middleware" in chain
            assert not [n for n in chain if n == "count_unavailable" or n.startswith("security_headers")], chain
    finally:
        await client.disconnect()


async def test_other_requests_still_get_the_security_headers(server):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/healthz") as r:
            assert r.headers["X-Content-Type-Options"] == "nosniff"
        # Socket.IO's long-polling goes through the same middlewares as before.
        async with http.get(f"{server.url}/socket.io/?EIO=4&transport=polling") as r:
            assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
