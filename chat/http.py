"""HTTP routes of the chat: whether it is open, and how long the queue is."""

from __future__ import annotations

from aiohttp import web

from chat.service import ChatService

CHAT = web.AppKey("chat", ChatService)


async def status(request: web.Request) -> web.Response:
    return web.json_response(await request.app[CHAT].status())


def routes() -> list[web.RouteDef]:
    return [web.get("/api/status", status)]
