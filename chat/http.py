"""HTTP routes of the chat: whether it is open, and how long the queue is."""

from __future__ import annotations

from aiohttp import web

from chat.service import ChatService
from contact.http import SETTINGS

CHAT = web.AppKey("chat", ChatService)


async def status(request: web.Request) -> web.Response:
    body = await request.app[CHAT].status()
    body["widget"] = {"quick_exit_url": request.app[SETTINGS].quick_exit_url}
    return web.json_response(body)


def routes() -> list[web.RouteDef]:
    return [web.get("/api/status", status)]
