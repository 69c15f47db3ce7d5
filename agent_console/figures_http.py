"""HTTP route of the management figures: `GET /api/supervisor/figures` as JSON or CSV, for
supervisors and admins (contact/permissions.py `figures`)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from aiohttp import web

from agent_console.figures import FiguresService
from agent_console.figures_model import COLUMNS, GROUPS, csv_cell, parse_day
from contact.errors import DomainError
from contact.http import agent_from_request
from contact.web import single_query

FIGURES = web.AppKey("figures", FiguresService)
TEAM_ID = re.compile(r"[a-z0-9_-]{1,40}")


def _choice(request: web.Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = single_query(request, name)
    if value is None:
        return default
    if value not in allowed:
        raise DomainError("invalid_input", field=name)
    return value


async def figures(request: web.Request) -> web.Response:
    """GET /api/supervisor/figures?from=&to=&group=day|week|month&team=&format=json|csv
    (default: the last 30 days up to today, per day, every team, JSON)."""
    agent = await agent_from_request(request)
    service = request.app[FIGURES]
    last = parse_day(single_query(request, "to"), "to", service.today())
    first = parse_day(single_query(request, "from"), "from", last - timedelta(days=29))
    group = _choice(request, "group", GROUPS, "day")
    fmt = _choice(request, "format", ("json", "csv"), "json")
    team = single_query(request, "team")
    if team is not None and not TEAM_ID.fullmatch(team):
        raise DomainError("invalid_input", field="team")
    body = await service.figures(agent, first, last, group, team)
    if fmt == "json":
        return web.json_response(body)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in body["rows"] + body["totals"]:
        writer.writerow([csv_cell(r[name]) for name in COLUMNS])
    name = f"cijfers-{body['from']}-{body['to']}.csv"
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def routes() -> list[web.AbstractRouteDef]:
    return [web.get("/api/supervisor/figures", figures)]
