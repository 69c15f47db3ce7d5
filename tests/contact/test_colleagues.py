"""`GET /api/agent/colleagues`: the agents one can transfer to, and who has a console open."""

from __future__ import annotations

from aiohttp import ClientSession

from tests.support.server import add_agent, agent_client, login


async def test_colleagues_with_their_teams_and_presence(server):
    me, password = await add_agent(server.settings.database_url, name="Anouk Visser")
    online, online_pw = await add_agent(server.settings.database_url, teams=("crisis",), role="crisis")
    offline, _ = await add_agent(server.settings.database_url, teams=("jeugd",))
    token = await login(server.url, me.username, password)
    console = await agent_client(server.url, await login(server.url, online.username, online_pw))
    async with ClientSession() as http:
        async with http.get(f"{server.url}/api/agent/colleagues", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200
            found = {a["id"]: a for a in (await r.json())["agents"]}
    assert found[online.id]["online"] is True and found[online.id]["teams"] == ["crisis"]
    assert found[offline.id]["online"] is False and found[offline.id]["role"] == "advisor"
    assert set(found[me.id]) == {"id", "name", "role", "teams", "online"}  # no username, no hash
    await console.disconnect()


async def test_colleagues_needs_a_valid_token(server):
    async with ClientSession() as http:
        for headers in (
            {},
            {"Authorization": "Bearer"},
            {"Authorization": "Basic eDp5"},
            {"Authorization": "Bearer forged"},
        ):
            async with http.get(f"{server.url}/api/agent/colleagues", headers=headers) as r:
                assert r.status == 401
                assert (await r.json())["error"]["code"] == "unauthorized"
