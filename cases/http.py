"""HTTP routes of the built-in case register: the list by deadline and one case whole."""

from __future__ import annotations

from aiohttp import web

from cases.service import STATUSES, CaseRegister
from contact.errors import DomainError
from contact.http import agent_from_request
from contact.web import single_query

CASES = web.AppKey("cases", CaseRegister)


async def list_cases(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    status = single_query(request, "status")
    if status is not None and status not in STATUSES:
        raise DomainError("invalid_input", field="status")
    within = single_query(request, "due_within_days")
    if within is not None and (not within.isdigit() or int(within) > 366):
        raise DomainError("invalid_input", field="due_within_days")
    overdue = single_query(request, "overdue")
    if overdue not in (None, "true", "false"):
        raise DomainError("invalid_input", field="overdue")
    answer = await request.app[CASES].list(
        agent, status=status, due_within_days=int(within) if within else None, overdue=overdue == "true"
    )
    return web.json_response(answer)


async def get_case(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    handoff_id = request.match_info["id"]
    if not 1 <= len(handoff_id) <= 64:
        raise DomainError("not_found")
    return web.json_response(await request.app[CASES].get(agent, handoff_id))


def routes() -> list[web.RouteDef]:
    return [web.get("/api/agent/cases", list_cases), web.get("/api/agent/cases/{id}", get_case)]
