"""HTTP routes of the built-in case register: the list by deadline and one case whole."""

from __future__ import annotations

from aiohttp import web

from cases.service import STATUSES, CaseRegister
from contact.errors import DomainError
from contact.http import ACCESS_LOG, agent_from_request, reader_of
from contact.web import path_value, query_int, single_query

CASES = web.AppKey("cases", CaseRegister)


async def list_cases(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    status = single_query(request, "status")
    if status is not None and status not in STATUSES:
        raise DomainError("invalid_input", field="status")
    within = query_int(request, "due_within_days", maximum=366)
    overdue = single_query(request, "overdue")
    if overdue not in (None, "true", "false"):
        raise DomainError("invalid_input", field="overdue")
    answer = await request.app[CASES].list(agent, status=status, due_within_days=within, overdue=overdue == "true")
    return web.json_response(answer)


async def get_case(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    handoff_id = path_value(request, "id", 64)
    answer = await request.app[CASES].get(agent, handoff_id)
    # The dossier is read: its access-log entry is written before it is answered (no entry, no data).
    await request.app[ACCESS_LOG].write(
        reader_of(request, agent), "case_view", contact_type="case", contact_id=handoff_id
    )
    return web.json_response(answer)


def routes() -> list[web.RouteDef]:
    return [web.get("/api/agent/cases", list_cases), web.get("/api/agent/cases/{id}", get_case)]
