"""How many advisors are online (a count, nothing about who): in `/api/status`, the `start` ack,
the `resume` ack and every `queue` event, so the widget can say that nobody is there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession

from tests.support.server import (
    RunningServer,
    add_agent,
    agent_client,
    login,
    make_settings,
    migrated_sqlite,
    start_payload,
    visitor,
)


@pytest.fixture
async def own_server(tmp_path: Any) -> AsyncIterator[RunningServer]:
    """A server of its own: on the shared one other tests' advisors may be online."""
    url = await migrated_sqlite(str(tmp_path / "online.db"))
    running = await RunningServer(make_settings(url)).start()
    yield running
    await running.stop()


async def chat_status(server: RunningServer) -> dict[str, Any]:
    async with ClientSession() as http, http.get(f"{server.url}/api/status") as r:
        assert r.status == 200
        return (await r.json())["chat"]


async def test_advisors_online_counts_open_consoles(own_server):
    server = own_server
    assert (await chat_status(server))["advisors_online"] == 0

    v = await visitor(server.url)
    ack = await v.call("start", start_payload())
    assert ack["queue"]["advisors_online"] == 0
    resumed = await (await visitor(server.url)).call("resume", {"resume_token": ack["resume_token"], "after_seq": 0})
    assert resumed["queue"]["advisors_online"] == 0

    identity, password = await add_agent(server.settings.database_url, name="Bram Jansen")
    agent = await agent_client(server.url, await login(server.url, identity.username, password))
    # The waiting visitor learns it without anything else in the queue changing.
    told = await v.wait_for("queue", lambda q: q["advisors_online"] == 1)
    assert set(told) == {"position", "estimated_wait_s", "advisors_online"}  # a count, nobody's name or id
    assert (await chat_status(server))["advisors_online"] == 1

    # A second console of the same advisor is still one advisor; a colleague makes two.
    second_console = await agent_client(server.url, agent.sio.connection_auth["token"])
    other, other_pw = await add_agent(server.settings.database_url)
    colleague = await agent_client(server.url, await login(server.url, other.username, other_pw))
    await v.wait_for("queue", lambda q: q["advisors_online"] == 2)
    later = await visitor(server.url)
    assert (await later.call("start", start_payload()))["queue"]["advisors_online"] == 2

    for c in (second_console, colleague, agent):
        await c.disconnect()
    await v.wait_for("queue", lambda q: q is v.events["queue"][-1] and q["advisors_online"] == 0)
    assert (await chat_status(server))["advisors_online"] == 0
    for c in (v, later):
        await c.disconnect()
