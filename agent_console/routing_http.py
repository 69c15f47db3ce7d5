"""HTTP route of the routing configuration: the teams and expertise of the loaded routing file,
so the console builds its forms from the one source (nothing hard-coded there)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contact.http import agent_from_request
from routing.rules import RoutingRules

RULES = web.AppKey("routing_rules", RoutingRules)


def routing_view(rules: RoutingRules) -> dict[str, Any]:
    """Teams and expertise in the order of the routing file, with the names people read."""
    return {
        "teams": [
            {"id": slug, "name": team.name, "crisis": slug == rules.crisis_team} for slug, team in rules.teams.items()
        ],
        "expertise": [{"id": code, "name": name} for code, name in rules.expertise.items()],
    }


async def routing(request: web.Request) -> web.Response:
    """For any agent who is logged in; `unauthorized` otherwise."""
    await agent_from_request(request)
    return web.json_response(routing_view(request.app[RULES]))


def routes() -> list[web.RouteDef]:
    return [web.get("/api/agent/routing", routing)]
