"""`GET /api/agent/routing`: the teams and expertise of the loaded routing file, for the forms of
the console (one source: a team added to the file appears everywhere)."""

from __future__ import annotations

from aiohttp import ClientSession

from routing.rules import DEFAULT_RULES, RoutingRules
from tests.routing.custom import NEW_EXPERTISE, NEW_TEAM, write_custom_routing
from tests.support.server import RunningServer, add_agent, login, make_settings, migrated_sqlite


async def _routing(url: str, headers: dict[str, str]) -> tuple[int, dict]:
    async with ClientSession() as http:
        async with http.get(f"{url}/api/agent/routing", headers=headers) as r:
            assert r.headers["Cache-Control"] == "no-store"
            return r.status, await r.json()


async def test_routing_serves_teams_and_expertise_of_the_loaded_file(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "routing.db"))
    path = write_custom_routing(tmp_path)
    server = await RunningServer(make_settings(url, routing_file=str(path))).start()
    try:
        me, password = await add_agent(url)
        token = await login(server.url, me.username, password)
        status, body = await _routing(server.url, {"Authorization": f"Bearer {token}"})
    finally:
        await server.stop()
    assert status == 200 and set(body) == {"teams", "expertise"}
    shipped = RoutingRules.load(DEFAULT_RULES)
    teams = {t["id"]: t for t in body["teams"]}
    assert set(teams) == set(shipped.teams) | {NEW_TEAM[0]}
    assert teams[NEW_TEAM[0]] == {"id": NEW_TEAM[0], "name": NEW_TEAM[1], "crisis": False}
    assert teams["crisis"] == {"id": "crisis", "name": "Crisisdienst", "crisis": True}
    assert [t["id"] for t in body["teams"] if t["crisis"]] == ["crisis"]
    expertise = {e["id"]: e["name"] for e in body["expertise"]}
    assert expertise == {**shipped.expertise, NEW_EXPERTISE[0]: NEW_EXPERTISE[1]}
    assert all(set(e) == {"id", "name"} for e in body["expertise"])


async def test_routing_needs_a_valid_token(server):
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic eDp5"}, {"Authorization": "Bearer x"}):
        status, body = await _routing(server.url, headers)
        assert status == 401
        assert body["error"]["code"] == "unauthorized" and body["error"]["message"] and body["error"]["message_en"]
