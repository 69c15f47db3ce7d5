"""A server for the callback tests: its own database and a clock the test sets (a Monday
morning in late November 2026, so the tijdvakken ahead are known)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import ClientSession

from contact.clock import ManualClock
from contact.migrate import upgrade
from tests.support.server import RunningServer, add_agent, login, make_settings, migrated_sqlite

# Monday 30 November 2026, 08:00 in Amsterdam (UTC+1).
MONDAY_8 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


class Api:
    """HTTP calls against the server, answering (status, json body)."""

    def __init__(self, base: str, http: ClientSession) -> None:
        self.base = base
        self.http = http

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = None, **kw: Any
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.base + path, json=body, headers=headers, **kw) as r:
            data = await r.json() if r.content_type == "application/json" else await r.text()
            return r.status, data


async def _started(url: str) -> RunningServer:
    clock = ManualClock(MONDAY_8)
    server = await RunningServer(
        # A wide work-list window: these tests look weeks ahead (need to know: tests/callback/test_need_to_know.py).
        make_settings(
            url,
            callback_capacity=2,
            adviesgesprek_capacity=1,
            callback_check_s=0.1,
            hash_key="k" * 32,
            worklist_window_days=60,
        ),
        clock,
    ).start()
    server.clock = clock  # type: ignore[attr-defined]
    return server


@pytest.fixture
async def callback_server(tmp_path) -> AsyncIterator[RunningServer]:
    server = await _started(await migrated_sqlite(str(tmp_path / "callbacks.db")))
    yield server
    await server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
async def both_servers(request, tmp_path) -> AsyncIterator[RunningServer]:
    """The same server as `callback_server`, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = await migrated_sqlite(str(tmp_path / "callbacks.db"))
    else:
        url = request.getfixturevalue("postgres").create_database(f"cb_{uuid.uuid4().hex[:8]}")
        await asyncio.to_thread(upgrade, url)
    server = await _started(url)
    yield server
    await server.stop()


@pytest.fixture
async def api(callback_server: RunningServer) -> AsyncIterator[Api]:
    async with ClientSession() as http:
        yield Api(callback_server.url, http)


async def agent_token(server: RunningServer, role: str = "advisor", name: str | None = None) -> tuple[Any, str]:
    identity, password = await add_agent(server.settings.database_url, role=role, name=name)
    return identity, await login(server.url, identity.username, password)


def booking(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "terugbellen",
        "slot_start": "2026-11-30T10:00:00+01:00",
        "phone": "06 12345678",
        "caller_type": "volwassene",
        "safe_to_leave_voicemail": False,
    }
    body.update(overrides)
    return body
