"""HTTP routes of the kernel: health, readiness and agent login."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from contact.auth import AgentService
from contact.db import Database
from contact.errors import DomainError
from contact.ratelimit import RateLimiter
from contact.settings import Settings
from contact.web import client_ip, read_json

AGENTS = web.AppKey("agents", AgentService)
DATABASE = web.AppKey("database", Database)
LIMITER = web.AppKey("limiter", RateLimiter)
SETTINGS = web.AppKey("settings", Settings)


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def readyz(request: web.Request) -> web.Response:
    ok = await request.app[DATABASE].ping()
    return web.json_response({"ok": ok, "database": ok}, status=200 if ok else 503)


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


def routes() -> list[web.RouteDef]:
    return [
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.post("/api/agent/login", login),
    ]
