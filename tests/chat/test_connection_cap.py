"""Concurrent connections from one address are capped (VT_MAX_CONNECTIONS_PER_ADDRESS): a
refused connection gets `connect_error` in the error shape, and a place comes free again when a
connection closes."""

from __future__ import annotations

import pytest

from tests.support.server import Client, RunningServer, add_agent, login, make_settings, migrated_sqlite


@pytest.fixture
async def capped(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "cap.db"))
    server = await RunningServer(make_settings(url, max_connections_per_address=3)).start()
    yield server
    await server.stop()


async def _try(client: Client, url: str, **kw) -> bool:
    try:
        await client.connect(url, **kw)
    except Exception:
        return False
    return True


async def test_the_fourth_connection_from_one_address_is_refused_in_the_error_shape(capped):
    server = capped
    me, password = await add_agent(server.settings.database_url)
    token = await login(server.url, me.username, password)
    clients = [Client("/visitor"), Client("/visitor"), Client("/agent")]
    assert await _try(clients[0], server.url) and await _try(clients[1], server.url)
    assert await _try(clients[2], server.url, auth={"token": token})  # agents count too
    refused = Client("/visitor")
    assert not await _try(refused, server.url)
    assert refused.connect_error["data"]["error"]["code"] == "rate_limited"
    assert "0800-2000" in refused.connect_error["data"]["error"]["message"]
    # A refused agent likewise.
    refused_agent = Client("/agent")
    assert not await _try(refused_agent, server.url, auth={"token": token})
    # One closes: a place is free again, and a refused token never takes one.
    await clients[0].disconnect()
    bad_token = Client("/agent")
    assert not await _try(bad_token, server.url, auth={"token": "nope"})
    assert bad_token.connect_error["data"]["error"]["code"] == "unauthorized"
    again = Client("/visitor")
    assert await _try(again, server.url)
    started = await again.call("start", {"caller_type": "volwassene", "intent": "advies"})
    assert started["status"] == "waiting"
    for c in (clients[1], clients[2], again):
        await c.disconnect()
