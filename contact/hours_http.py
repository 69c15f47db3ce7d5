"""HTTP routes of the opening hours per team, for supervisors and admins: the overview, a
team's week pattern (read, replace, back to VT_CHAT_HOURS), its exceptions (list, add,
delete) and the quick "closed now until". Thin: validate the shape, call the service, answer."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from contact.http import agent_from_request
from contact.opening import OpeningHours
from contact.web import if_match, path_value, read_json

HOURS = web.AppKey("opening_hours", OpeningHours)

Moment = Annotated[str, StringConstraints(min_length=1, max_length=40)]
# Longer than the model's limit, so an over-long text gets the model's Dutch message.
ReasonText = Annotated[str, StringConstraints(max_length=1000)]
ReasonCode = Annotated[str, StringConstraints(min_length=1, max_length=16)]


class PatternBody(BaseModel):
    """`days`: per weekday (`mon` … `sun`) a list of `{"opens": "HH:MM", "closes": "HH:MM"}`;
    a day left out is closed. `closed_on_holidays` (default true): Dutch public holidays closed."""

    model_config = ConfigDict(extra="forbid", strict=True)
    days: dict[str, Any]
    closed_on_holidays: bool = True


class ExceptionBody(BaseModel):
    """A date (`2026-12-24`, the whole day) or date-time (`2026-12-24T19:00`, local unless it has
    an offset) range; `open` true adds opening time, false closes (with an optional public reason)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    starts_at: Moment
    ends_at: Moment
    open: bool
    reason: ReasonCode | None = None
    reason_text: ReasonText | None = None
    reason_text_en: ReasonText | None = None


class CloseNowBody(BaseModel):
    """Closed from now until `until` (a date-time, local unless it has an offset; a date: to the
    end of that day). `reason`: incident, training, holiday, busy, or other with `reason_text`."""

    model_config = ConfigDict(extra="forbid", strict=True)
    until: Moment
    reason: ReasonCode | None = None
    reason_text: ReasonText | None = None
    reason_text_en: ReasonText | None = None


def _team(request: web.Request) -> str:
    return path_value(request, "team", 32)


def _team_view(view: dict[str, Any]) -> web.Response:
    return web.json_response(view, headers={"ETag": f'"{view["pattern_version"]}"'})


async def overview(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    return web.json_response(await request.app[HOURS].overview(agent))


async def team_hours(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    return _team_view(await request.app[HOURS].team(agent, _team(request)))


async def put_pattern(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    team = _team(request)
    body = await read_json(request, PatternBody)
    view = await request.app[HOURS].set_pattern(
        agent, team, body.days, body.closed_on_holidays, based_on=if_match(request)
    )
    return _team_view(view)


async def reset_pattern(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    return _team_view(await request.app[HOURS].reset_pattern(agent, _team(request), based_on=if_match(request)))


async def list_exceptions(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    view = await request.app[HOURS].team(agent, _team(request))
    return web.json_response({"team": view["team"], "exceptions": view["exceptions"]})


async def add_exception(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    team = _team(request)
    body = await read_json(request, ExceptionBody)
    view = await request.app[HOURS].add_exception(agent, team, **body.model_dump())
    return web.json_response(view, status=201)


async def delete_exception(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    team = _team(request)
    exception_id = path_value(request, "id", 64)
    return web.json_response(await request.app[HOURS].delete_exception(agent, team, exception_id))


async def close_now(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    team = _team(request)
    body = await read_json(request, CloseNowBody)
    return web.json_response(await request.app[HOURS].close_now(agent, team, **body.model_dump()))


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/supervisor/hours", overview),
        web.get("/api/supervisor/hours/{team}", team_hours),
        web.put("/api/supervisor/hours/{team}/pattern", put_pattern),
        web.delete("/api/supervisor/hours/{team}/pattern", reset_pattern),
        web.get("/api/supervisor/hours/{team}/exceptions", list_exceptions),
        web.post("/api/supervisor/hours/{team}/exceptions", add_exception),
        web.delete("/api/supervisor/hours/{team}/exceptions/{id}", delete_exception),
        web.post("/api/supervisor/hours/{team}/close", close_now),
    ]
