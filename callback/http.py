"""HTTP routes of callbacks: tijdvakken, booking and the caller's manage link; the advisors'
work list, claim, attempts and close; the roster. Thin: validate, call the service, answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from callback.model import KINDS
from callback.service import Booking, CallbackService
from cases.outcome import Outcome
from contact.emits import Outgoing
from contact.errors import DomainError
from contact.http import LIMITER, SETTINGS, agent_from_request, reader_of
from contact.phone import normalise_email
from contact.validation import Line, Text, id_ok
from contact.web import client_ip, path_value, query_int, read_json, single_query

CALLBACKS = web.AppKey("callbacks", CallbackService)
# What sends a use case's events after its commit (the chat's dispatcher, set by app/): a
# callback close hands off like a chat's close, and its `HandoffCreated` wakes the delivery.
Sender = Callable[[Sequence[Outgoing]], Awaitable[None]]
SEND: web.AppKey[Sender] = web.AppKey("callback_send")

Kind = Literal["terugbellen", "adviesgesprek"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _aware(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("give the time with its offset, e.g. 2026-12-01T09:00:00+01:00")
    return moment


class BookingBody(_Body):
    kind: Kind
    slot_start: Annotated[Line, StringConstraints(min_length=10, max_length=40)]
    phone: Annotated[Line, StringConstraints(min_length=1, max_length=32)]
    caller_type: Literal["kind", "jongere", "volwassene", "professional"]
    safe_to_leave_voicemail: bool
    name: Annotated[Text, StringConstraints(max_length=100, strip_whitespace=True)] | None = None
    topic: Annotated[Text, StringConstraints(max_length=500, strip_whitespace=True)] | None = None
    email: Annotated[Line, StringConstraints(max_length=254, strip_whitespace=True)] | None = None
    organisation: Annotated[Text, StringConstraints(max_length=200, strip_whitespace=True)] | None = None

    @field_validator("slot_start")
    @classmethod
    def _when(cls, value: str) -> str:
        _aware(value)
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if normalise_email(value) is None:
            raise ValueError("not an e-mail address")
        return value


class RescheduleBody(_Body):
    slot_start: Annotated[Line, StringConstraints(min_length=10, max_length=40)]

    @field_validator("slot_start")
    @classmethod
    def _when(cls, value: str) -> str:
        _aware(value)
        return value


# The references of requests on the card ("VT-ABC234") an attempt or outcome applies to;
# left out: the request being called.
Selection = Annotated[
    list[Annotated[Line, StringConstraints(min_length=1, max_length=16)]], Field(min_length=1, max_length=50)
]


class AttemptBody(_Body):
    result: Literal["bereikt", "geen_gehoor", "voicemail", "onjuist_nummer"]
    requests: Selection | None = None


class CloseBody(_Body):
    outcome: Outcome
    requests: Selection | None = None


class RosterBody(_Body):
    date: Annotated[Line, StringConstraints(min_length=10, max_length=10)]
    slot_start: Annotated[Line, StringConstraints(min_length=4, max_length=40)]
    kind: Kind
    capacity: Annotated[int, Field(ge=0, le=1000)]


def _parse_date(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    try:
        if len(value) == 10 and value.isascii():  # YYYY-MM-DD only, not the other forms fromisoformat takes
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise DomainError("invalid_input", field=field)


async def list_slots(request: web.Request) -> web.Response:
    kind = single_query(request, "kind")
    if kind not in KINDS:
        raise DomainError("invalid_input", field="kind")
    first = _parse_date(single_query(request, "from"), "from")
    days = query_int(request, "days", default=14, minimum=1, maximum=90)
    return web.json_response(await request.app[CALLBACKS].slots(kind, first, days or 14))


async def book(request: web.Request) -> web.Response:
    body = await read_json(request, BookingBody)
    settings = request.app[SETTINGS]
    key = f"callback:{client_ip(request, settings.trusted_proxies)}"
    if not await request.app[LIMITER].hit(key, settings.callback_limit_per_ip, settings.callback_limit_window_s):
        raise DomainError("rate_limited")
    answer = await request.app[CALLBACKS].book(
        Booking(
            kind=body.kind,
            slot_start=_aware(body.slot_start),
            phone=body.phone,
            caller_type=body.caller_type,
            safe_to_leave_voicemail=body.safe_to_leave_voicemail,
            name=body.name or None,
            topic=body.topic or None,
            email=body.email,
            organisation=body.organisation or None,
        )
    )
    return web.json_response(answer, status=201)


async def view(request: web.Request) -> web.Response:
    return web.json_response(await request.app[CALLBACKS].view(path_value(request, "token", 128)))


async def cancel(request: web.Request) -> web.Response:
    return web.json_response(await request.app[CALLBACKS].cancel(path_value(request, "token", 128)))


async def reschedule(request: web.Request) -> web.Response:
    body = await read_json(request, RescheduleBody)
    answer = await request.app[CALLBACKS].reschedule(path_value(request, "token", 128), _aware(body.slot_start))
    return web.json_response(answer)


async def calendar(request: web.Request) -> web.Response:
    ics = await request.app[CALLBACKS].calendar(path_value(request, "token", 128))
    return web.Response(
        text=ics,
        content_type="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="veilig-thuis-afspraak.ics"'},
    )


async def work_list(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    service = request.app[CALLBACKS]
    day = _parse_date(single_query(request, "date"), "date") or service.schedule.local_day(service.clock.now())
    team = single_query(request, "team")
    if team is not None and not id_ok(team):
        raise DomainError("invalid_input", field="team")
    return web.json_response(await service.work_list(agent, day, reader_of(request, agent), team))


async def claim(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    return web.json_response(await request.app[CALLBACKS].claim(agent, _id(request)))


async def attempt(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    body = await read_json(request, AttemptBody)
    result = await request.app[CALLBACKS].attempt(agent, _id(request), body.result, body.requests)
    await request.app[SEND](result.emits)
    return web.json_response(result.ack)


async def close(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    body = await read_json(request, CloseBody)
    result = await request.app[CALLBACKS].close(agent, _id(request), body.outcome.model_dump(), body.requests)
    await request.app[SEND](result.emits)
    return web.json_response(result.ack)


async def roster(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    body = await read_json(request, RosterBody)
    service = request.app[CALLBACKS]
    day = _parse_date(body.date, "date")
    assert day is not None
    if not body.slot_start.isascii():  # ASCII digits only: int("٣") is 3
        raise DomainError("invalid_input", field="slot_start")
    try:
        if len(body.slot_start) == 5:  # "09:00" on that date, local time
            hour, minute = (int(p) for p in body.slot_start.split(":"))
            start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=service.tz)
        else:
            start = _aware(body.slot_start)
    except ValueError:
        raise DomainError("invalid_input", field="slot_start") from None
    if service.schedule.local_day(start) != day:
        raise DomainError("invalid_input", field="slot_start", reason="not_on_date")
    return web.json_response(await service.set_roster(agent, body.kind, start, body.capacity))


def _id(request: web.Request) -> str:
    return path_value(request, "id", 64)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/callbacks/slots", list_slots),
        web.post("/api/callbacks", book),
        web.get("/api/callbacks/{token}", view),
        web.post("/api/callbacks/{token}/cancel", cancel),
        web.post("/api/callbacks/{token}/reschedule", reschedule),
        web.get("/api/callbacks/{token}/calendar.ics", calendar),
        web.get("/api/agent/callbacks", work_list),
        web.post("/api/agent/callbacks/{id}/claim", claim),
        web.post("/api/agent/callbacks/{id}/attempts", attempt),
        web.post("/api/agent/callbacks/{id}/close", close),
        web.put("/api/admin/roster", roster),
    ]
