"""HTTP routes of the advisors' desk: the ready texts (read by every console role, managed by
supervisors and admins) and the list of visitor blocks (list and lift; blocking itself is the
`block_visitor` event on /agent)."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from chat.blocks import VisitorBlocks
from chat.ready_texts import ReadyTexts
from contact.errors import DomainError
from contact.http import agent_from_request, reader_of
from contact.validation import Line, Text, id_ok
from contact.web import if_match, read_json

READY_TEXTS = web.AppKey("ready_texts", ReadyTexts)
BLOCKS = web.AppKey("visitor_blocks", VisitorBlocks)


class ReadyTextBody(BaseModel):
    """A ready text as a supervisor writes it; a change sends the whole text again (no `team`: shared)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    team: Annotated[Line, StringConstraints(min_length=1, max_length=40)] | None = None  # None: shared
    lang: Literal["nl", "en"]
    title: Annotated[Text, StringConstraints(min_length=1, max_length=80, strip_whitespace=True)]
    shortcut: Annotated[str, StringConstraints(min_length=1, max_length=30, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    text: Annotated[Text, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]

    @field_validator("title", "text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty")
        return value


def _path_id(request: web.Request) -> str:
    value = request.match_info["id"]
    if not 1 <= len(value) <= 64 or not id_ok(value):
        raise DomainError("not_found")
    return value


async def ready_texts_for_agent(request: web.Request) -> web.Response:
    """GET /api/agent/ready-texts: the texts this agent may use, with the placeholder values."""
    agent = await agent_from_request(request)
    return web.json_response(await request.app[READY_TEXTS].for_agent(agent))


async def ready_texts_all(request: web.Request) -> web.Response:
    """GET /api/supervisor/ready-texts: every text, for the management screen."""
    agent = await agent_from_request(request)
    answer = await request.app[READY_TEXTS].for_agent(agent)
    return web.json_response({"texts": answer["texts"]})


async def ready_text_create(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    body = await read_json(request, ReadyTextBody)
    text = await request.app[READY_TEXTS].create(agent, body.model_dump())
    return web.json_response({"text": text}, status=201)


async def ready_text_update(request: web.Request) -> web.Response:
    """PUT /api/supervisor/ready-texts/{id}; with `If-Match: "<version>"` refused as 409
    `conflict` when a colleague changed the text since (without it: no check)."""
    agent = await agent_from_request(request)
    text_id = _path_id(request)
    body = await read_json(request, ReadyTextBody)
    text = await request.app[READY_TEXTS].update(agent, text_id, body.model_dump(), based_on=if_match(request))
    return web.json_response({"text": text}, headers={"ETag": f'"{text["version"]}"'})


async def ready_text_delete(request: web.Request) -> web.Response:
    agent = await agent_from_request(request)
    await request.app[READY_TEXTS].delete(agent, _path_id(request), based_on=if_match(request))
    return web.json_response({"ok": True})


async def blocks_list(request: web.Request) -> web.Response:
    """GET /api/supervisor/blocks: the blocks in force (never a hash or an address)."""
    agent = await agent_from_request(request)
    return web.json_response({"blocks": await request.app[BLOCKS].active(agent, reader_of(request, agent))})


async def block_lift(request: web.Request) -> web.Response:
    """DELETE /api/supervisor/blocks/{id} and POST /api/supervisor/blocks/{id}/lift."""
    agent = await agent_from_request(request)
    block_id = _path_id(request)
    return web.json_response(await request.app[BLOCKS].lift(agent, reader_of(request, agent), block_id))


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/agent/ready-texts", ready_texts_for_agent),
        web.get("/api/supervisor/ready-texts", ready_texts_all),
        web.post("/api/supervisor/ready-texts", ready_text_create),
        web.put("/api/supervisor/ready-texts/{id}", ready_text_update),
        web.delete("/api/supervisor/ready-texts/{id}", ready_text_delete),
        web.get("/api/supervisor/blocks", blocks_list),
        web.delete("/api/supervisor/blocks/{id}", block_lift),
        web.post("/api/supervisor/blocks/{id}/lift", block_lift),
    ]
