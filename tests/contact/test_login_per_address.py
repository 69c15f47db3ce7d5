"""Login tries are also counted per address (a keyed hash of it), successful ones included:
past `VT_LOGIN_MAX_PER_ADDRESS` in the window every further try from that address answers
`rate_limited`, whatever the name, while another address is not affected."""

from __future__ import annotations

from aiohttp import ClientSession

from tests.support.server import RunningServer, add_agent, make_settings, migrated_sqlite


async def test_the_address_limit_counts_every_try(tmp_path) -> None:
    url = await migrated_sqlite(str(tmp_path / "address.db"))
    server = await RunningServer(make_settings(url, login_max_per_address=3)).start()
    try:
        agents = [await add_agent(url, role="advisor") for _ in range(4)]
        statuses = []
        async with ClientSession() as http:
            for identity, password in agents:
                body = {"username": identity.username, "password": password}
                async with http.post(server.url + "/api/agent/login", json=body) as resp:
                    statuses.append((resp.status, (await resp.json()).get("error", {}).get("code")))
        assert statuses[:3] == [(200, None)] * 3, statuses
        assert statuses[3] == (429, "rate_limited"), statuses
    finally:
        await server.stop()
