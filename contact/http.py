"""HTTP routes of the kernel: health, readiness, agent login and logout (with the second
factor and its enrolment), account administration, the list of colleagues, and the list of
gemeenten the console's melding form offers."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select

from contact.access_log import AccessLog, Reader
from contact.auth import AgentIdentity, AgentService, LoginResult, Session, agents, new_password
from contact.db import Database
from contact.errors import DomainError
from contact.gemeenten import all_gemeenten, as_of
from contact.health import Readiness
from contact.permissions import http_action, require
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


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DomainError("unauthorized")
    return token.strip()


async def session_from_request(request: web.Request) -> Session:
    """The live session of the `Authorization: Bearer` token, or `unauthorized`; then
    `forbidden` unless its agent's role may use this route (contact/permissions.py)."""
    current = await request.app[AGENTS].session(_bearer(request))
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else request.path
    require(current.agent.role, http_action(request.method, path))
    return current


async def agent_from_request(request: web.Request) -> AgentIdentity:
    """The agent of the `Authorization: Bearer` token (see `session_from_request`)."""
    return (await session_from_request(request)).agent


Code = Annotated[str, StringConstraints(min_length=1, max_length=32)]


def reader_of(request: web.Request, agent: AgentIdentity) -> Reader:
    """Who reads, for the access log: the agent, their role and a keyed hash of their address."""
    address = client_ip(request, request.app[SETTINGS].trusted_proxies)
    return request.app[ACCESS_LOG].reader(agent.id, agent.role, address)


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    username: Annotated[Line, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[Text, StringConstraints(min_length=1, max_length=1024)]
    totp: Code | None = None
    recovery_code: Code | None = None


class EnrolBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    enrollment_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class ConfirmBody(EnrolBody):
    totp: Code


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def readyz(request: web.Request) -> web.Response:
    """200 when this process can serve: its database takes a write (and, for SQLite, the disk
    has room), Redis answers and the fan-out listens, each within a short timeout; otherwise 503
    naming the parts that failed (`failed`, and false for each). Parts not used are null."""
    answer = await request.app[READINESS].check()
    return web.json_response(answer, status=200 if answer["ok"] else 503)


async def _login_answer(request: web.Request, result: LoginResult) -> web.Response:
    # NEN 7513: the login is in the access log before the token is handed out.
    await request.app[ACCESS_LOG].write(reader_of(request, result.agent), "login", factor=result.factor)
    answer: dict[str, object] = {
        "token": result.token,
        "agent": result.agent.public(),
        "expires_in": request.app[SETTINGS].token_ttl_s,
        "idle_timeout_s": request.app[SETTINGS].idle_timeout_s,
        "factor": result.factor,
    }
    if result.recovery_codes:
        answer["recovery_codes"] = result.recovery_codes
    return web.json_response(answer)


async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LoginBody)
    settings = request.app[SETTINGS]
    limiter = request.app[LIMITER]
    service = request.app[AGENTS]
    window = settings.login_window_s
    user_key = f"login:user:{body.username.lower()}"
    address = service.address_hash(client_ip(request, settings.trusted_proxies))
    ip_key = f"login:ip:{address}"
    # Every try is counted before the password is checked (a burst of parallel tries gets no
    # more checks than the limit), per name and (more of them) per address, known name or not.
    # Both are counted, so that one cannot be used to probe past the other.
    user_ok = await limiter.hit(user_key, settings.login_max_failures, window)
    ip_ok = await limiter.hit(ip_key, settings.login_max_per_address, window)
    if not (user_ok and ip_ok):
        raise DomainError("rate_limited")
    try:
        result = await service.login(body.username, body.password, totp=body.totp, recovery_code=body.recovery_code)
    except DomainError as refused:
        # No name in the entry: a failed name may be a password typed in the wrong field.
        anonymous = request.app[ACCESS_LOG].reader(None, None, client_ip(request, settings.trusted_proxies))
        await request.app[ACCESS_LOG].write(anonymous, "login_failed", code=refused.code)
        raise
    await limiter.reset(user_key)
    return await _login_answer(request, result)


async def logout(request: web.Request) -> web.Response:
    """Ends the session of the token at once: the token and its sockets stop working."""
    current = await session_from_request(request)
    await request.app[AGENTS].logout(_bearer(request))
    await request.app[ACCESS_LOG].write(reader_of(request, current.agent), "logout")
    return web.json_response({"ok": True})


async def session_info(request: web.Request) -> web.Response:
    """Who the token belongs to, and how long the session may still be idle."""
    current = await session_from_request(request)
    return web.json_response({"agent": current.agent.public(), "idle_timeout_s": request.app[SETTINGS].idle_timeout_s})


async def enrol(request: web.Request) -> web.Response:
    body = await read_json(request, EnrolBody)
    return web.json_response(await request.app[AGENTS].enrol(body.enrollment_token))


async def confirm(request: web.Request) -> web.Response:
    body = await read_json(request, ConfirmBody)
    settings = request.app[SETTINGS]
    limiter = request.app[LIMITER]
    # Guessing the six digits is as slow as guessing a password.
    key = f"login:enrol:{body.enrollment_token[-32:]}"
    if not await limiter.hit(key, settings.login_max_failures, settings.login_window_s):
        raise DomainError("rate_limited")
    return await _login_answer(request, await request.app[AGENTS].confirm(body.enrollment_token, body.totp))


class PasswordBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    # Absent: the server makes one and answers it, once.
    password: Annotated[Text, StringConstraints(min_length=10, max_length=1024)] | None = None


class RoleBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    role: Annotated[str, StringConstraints(min_length=1, max_length=20)]


TeamName = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class TeamsBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    teams: Annotated[list[TeamName], Field(max_length=20)]


class NewAgentBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    username: Annotated[Line, StringConstraints(min_length=1, max_length=64)]
    name: Annotated[Line, StringConstraints(min_length=1, max_length=120)]
    role: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    teams: Annotated[list[TeamName], Field(max_length=20)] = []
    # Absent: the server makes one and answers it, once.
    password: Annotated[Text, StringConstraints(min_length=10, max_length=1024)] | None = None


async def admin_agents(request: web.Request) -> web.Response:
    """Every account (admin): role, teams, active, whether a second factor is set, last login."""
    await session_from_request(request)
    return web.json_response({"agents": await request.app[AGENTS].list_agents()})


async def admin_add(request: web.Request) -> web.Response:
    """A new account (admin). Without a `password` the server makes one and answers it in
    `password`, this once (never logged, never stored but as its hash)."""
    admin = (await session_from_request(request)).agent
    body = await read_json(request, NewAgentBody)
    password = body.password or new_password()
    agent = await request.app[AGENTS].add(
        username=body.username,
        name=body.name,
        role=body.role,
        teams=body.teams,
        password=password,
        now=request.app[AGENTS].clock.now(),
        actor=f"agent:{admin.id}",
        reader=reader_of(request, admin),
    )
    answer: dict[str, object] = {"agent": {**agent.public(), "username": agent.username}}
    if body.password is None:
        answer["password"] = password
    return web.json_response(answer, status=201)


async def admin_change(request: web.Request) -> web.Response:
    """One account change by an admin, audited with the admin as actor and written to the
    access log in the same transaction; all but `enable` end the agent's sessions and sockets
    on every process. Nobody disables or demotes themselves, and the last active admin stays."""
    admin = (await session_from_request(request)).agent
    service = request.app[AGENTS]
    username = request.match_info["username"]
    what = request.match_info.route.resource.canonical.rsplit("/", 1)[-1]  # type: ignore[union-attr]
    actor = f"agent:{admin.id}"
    how = {"reader": reader_of(request, admin)}
    answer: dict[str, object] = {"ok": True}
    match what:
        case "disable":
            await service.disable(username, actor, **how)
        case "enable":
            await service.enable(username, actor, **how)
        case "reset-password":
            given = (await read_json(request, PasswordBody)).password
            password = given or new_password()
            await service.reset_password(username, password, actor, **how)
            if given is None:
                answer["password"] = password
        case "role":
            await service.set_role(username, (await read_json(request, RoleBody)).role, actor, **how)
        case "teams":
            await service.set_teams(username, (await read_json(request, TeamsBody)).teams, actor, **how)
        case "reset-2fa":
            await service.reset_second_factor(username, actor, **how)
    return web.json_response(answer)


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
        web.post("/api/agent/logout", logout),
        web.get("/api/agent/session", session_info),
        web.post("/api/agent/2fa/enroll", enrol),
        web.post("/api/agent/2fa/confirm", confirm),
        web.get("/api/admin/agents", admin_agents),
        web.post("/api/admin/agents", admin_add),
        *[
            web.post(f"/api/admin/agents/{{username}}/{what}", admin_change)
            for what in ("disable", "enable", "reset-password", "role", "teams", "reset-2fa")
        ],
        web.get("/api/agent/colleagues", colleagues),
        web.get("/api/agent/gemeenten", gemeenten),
    ]
