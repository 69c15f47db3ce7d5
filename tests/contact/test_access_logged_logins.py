"""NEN 7513: logins, failed logins, logouts and account changes are in the access log, without
the name that was tried or the address in clear."""

from __future__ import annotations

from aiohttp import ClientSession

from tests.support.server import RunningServer, add_agent, login


async def _entries(server: RunningServer, token: str, **query: str) -> list[dict]:
    async with ClientSession() as http:
        async with http.get(
            server.url + "/api/audit", params=query, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 200, await resp.text()
            return (await resp.json())["entries"]


async def test_login_logout_and_a_failed_login_are_in_the_access_log(server: RunningServer) -> None:
    advisor, password = await add_agent(server.settings.database_url, role="advisor")
    boss, boss_password = await add_agent(server.settings.database_url, role="admin")
    token = await login(server.url, advisor.username, password)
    async with ClientSession() as http:
        wrong = {"username": advisor.username, "password": "not-the-password-1"}
        async with http.post(server.url + "/api/agent/login", json=wrong) as resp:
            assert resp.status == 401
        async with http.post(server.url + "/api/agent/logout", headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status == 200
    admin_token = await login(server.url, boss.username, boss_password)
    async with ClientSession() as http:
        async with http.post(
            server.url + f"/api/admin/agents/{advisor.username}/disable",
            headers={"Authorization": f"Bearer {admin_token}"},
        ) as resp:
            assert resp.status == 200, await resp.text()

    mine = await _entries(server, admin_token, agent=advisor.id)
    actions = [e["action"] for e in mine]
    assert actions[:2] == ["login", "logout"], actions
    assert all(e["role"] == "advisor" and e["address_hash"] for e in mine[:2])
    changes = [e for e in await _entries(server, admin_token, agent=boss.id) if e["action"] == "account_change"]
    assert changes and changes[-1]["detail"] == {
        "target": advisor.username,
        "target_agent_id": advisor.id,
        "change": "disable",
        "active": False,
    }
    # The failed try names nobody: not the agent, not the name that was typed.
    everything = str(mine) + str(changes)
    assert "not-the-password-1" not in everything and "127.0.0.1" not in everything
