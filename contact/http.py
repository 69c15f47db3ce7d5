"""HTTP routes of the kernel: health, readiness, agent login, the list of colleagues, and the
list of gemeenten the console's melding form offers."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import select

from contact.access_log import AccessLog, Reader
from contact.auth import AgentIdentity, AgentService, agents
from contact.db import Database
from contact.errors import DomainError
from contact.gemeenten import all_gemeenten, as_of
from contact.health import Readiness
from contact.presence import Presence
from contact.ratelimit import RateLimiter
from contact.settings import Settings
from contact.validation import Line, Text
from contact.web import client_ip, read_json

ACCESS_LOG = web.AppKey("access_log", AccessLog)
AGENTS = web.AppKey("agents", AgentService)
DATABASE = web.AppKey("database", Database)
LIMITER = web.AppKey("limiter", RateLimiter)
SETTINGS = web.AppKey("settings", Settings)
PRESENCE = web.AppKey("presence", Presence)
READINESS = web.AppKey("readiness", Readiness)


async def agent_from_request(request: web.Request) -> AgentIdentity:
    """The agent of the `Authorization: Bearer` token, or `unauthorized`."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DomainError("unauthorized")
    return await request.app[AGENTS].from_token(token.strip())


def reader_of(request: web.Request, agent: AgentIdentity) -> Reader:
    """Who reads, for the access log: the agent, their role and a keyed hash of their address."""
    address = client_ip(request, request.app[SETTINGS].trusted_proxies)
    return request.app[ACCESS_LOG].reader(agent.id, agent.role, address)


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    username: Annotated[Line, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[Text, StringConstraints(min_length=1, max_length=1024)]


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def readyz(request: web.Request) -> web.Response:
    """200 when this process can serve: its database takes a write (and, for SQLite, the disk
    has room), Redis answers and the fan-out listens, each within a short timeout; otherwise 503
    naming the parts that failed (`failed`, and false for each). Parts not used are null."""
    answer = await request.app[READINESS].check()
    return web.json_response(answer, status=200 if answer["ok"] else 503)


async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LoginBody)
    settings = request.app[SETTINGS]
    limiter = request.app[LIMITER]
    window = settings.login_window_s
    user_key = f"login:user:{body.username.lower()}"
    ip_key = f"login:ip:{client_ip(request, settings.trusted_proxies)}"
    # Failed tries count, per name and (more of them) per address: guessing is slow either way.
    if await limiter.exceeded(user_key, settings.login_max_failures, window) or await limiter.exceeded(
        ip_key, settings.login_max_failures * 6, window
    ):
        raise DomainError("rate_limited")
    try:
        token, agent = await request.app[AGENTS].login(body.username, body.password)
    except DomainError:
        await limiter.hit(user_key, settings.login_max_failures, window)
        await limiter.hit(ip_key, settings.login_max_failures * 6, window)
        raise
    await limiter.reset(user_key)
    return web.json_response({"token": token, "agent": agent.public(), "expires_in": settings.token_ttl_s})


async def colleagues(request: web.Request) -> web.Response:
    """Every active agent with teams and whether a console of theirs is open: for `transfer`."""
    await agent_from_request(request)
    async with request.app[DATABASE].read() as conn:
        rows = (
            await conn.execute(
                select(agents.c.id, agents.c.name, agents.c.role, agents.c.teams)
                .where(agents.c.active.is_(True))
                .order_by(agents.c.name)
            )
        ).all()
    online = await request.app[PRESENCE].online()
    return web.json_response(
        {
            "agents": [
                {"id": r.id, "name": r.name, "role": r.role, "teams": list(r.teams or ()), "online": r.id in online}
                for r in rows
            ]
        }
    )


async def gemeenten(request: web.Request) -> web.Response:
    """The CBS list of gemeenten (for the melding form's search); any agent."""
    await agent_from_request(request)
    # Dutch order: 's-Gravenhage under G, 's-Hertogenbosch under H.
    ordered = sorted(all_gemeenten(), key=lambda n: n.removeprefix("'s-").casefold())
    return web.json_response({"gemeenten": ordered, "as_of": as_of()})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.post("/api/agent/login", login),
        web.get("/api/agent/colleagues", colleagues),
        web.get("/api/agent/gemeenten", gemeenten),
    ]
