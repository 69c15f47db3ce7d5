"""The console's HTTP side: `GET /api/agent/config` (the configured values the console shows,
nothing of them in its JavaScript) and its native ES modules, served with a JavaScript MIME type
(a browser refuses to run a module script without one)."""

from __future__ import annotations

import re

from aiohttp import ClientSession

from routing.rules import DEFAULT_RULES, RoutingRules
from tests.support.server import add_agent, login


async def _config(url: str, headers: dict[str, str]) -> tuple[int, dict]:
    async with ClientSession() as http:
        async with http.get(f"{url}/api/agent/config", headers=headers) as r:
            assert r.headers["Cache-Control"] == "no-store"
            return r.status, await r.json()


async def test_config_gives_teams_expertise_phone_numbers_and_hours(server):
    me, password = await add_agent(server.settings.database_url)
    token = await login(server.url, me.username, password)
    status, body = await _config(server.url, {"Authorization": f"Bearer {token}"})
    assert status == 200
    assert set(body) == {"teams", "expertise", "phone", "chat_hours", "callback_hours", "timezone"}
    shipped = RoutingRules.load(DEFAULT_RULES)
    assert [t["id"] for t in body["teams"]] == list(shipped.teams)
    assert {t["id"]: t["crisis"] for t in body["teams"]}["crisis"] is True
    assert {e["id"]: e["name"] for e in body["expertise"]} == shipped.expertise
    assert body["phone"] == {"advice": "0800-2000", "emergency": "112"}
    assert body["chat_hours"] == server.settings.chat_hours
    assert body["timezone"] == "Europe/Amsterdam"
    # The same numbers as the widget reads from /api/status: one source.
    async with ClientSession() as http:
        async with http.get(f"{server.url}/api/status") as r:
            assert (await r.json())["phone"] == body["phone"]


async def test_config_needs_a_valid_token(server):
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic eDp5"}, {"Authorization": "Bearer x"}):
        status, body = await _config(server.url, headers)
        assert status == 401
        assert set(body) == {"error"}
        assert body["error"]["code"] == "unauthorized" and body["error"]["message"] and body["error"]["message_en"]


async def test_modules_are_served_as_javascript(server):
    async with ClientSession() as http:
        for path in ("js/main.js", "js/i18n/index.js", "js/state/queue.js", "js/net/socket.js", "js/ui/chat.js"):
            async with http.get(f"{server.url}/console/static/{path}") as r:
                assert r.status == 200, path
                assert r.content_type == "text/javascript", path
                assert "export" in await r.text() or path == "js/main.js"
        async with http.get(f"{server.url}/console") as r:
            page = await r.text()
            csp = r.headers["Content-Security-Policy"]
        assert '<script type="module" src="/console/static/js/main.js"></script>' in page
        # Every module preloaded exists and is JavaScript (a stale link would be a 404).
        preloaded = re.findall(r'<link rel="modulepreload" href="([^"]+)">', page)
        assert len(preloaded) > 20
        for href in preloaded:
            async with http.get(f"{server.url}{href}") as r:
                assert r.status == 200 and r.content_type == "text/javascript", href
        assert "script-src 'self';" in csp and "unsafe" not in csp
        # Nothing above the static folder, and no listing of a folder.
        for path in ("js/", "js/../../http.py", "js/%2e%2e/%2e%2e/http.py"):
            async with http.get(f"{server.url}/console/static/{path}") as r:
                assert r.status == 404, path
