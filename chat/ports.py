"""What the crisis procedure, the push offers and the take-over need of the chat's use cases
(chat/service.py `ChatService` has it all). They get it passed in at start-up (app/services.py)
and do not import the service back, so that the service can use their building blocks."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection

from chat.model import Emit
from contact.auth import AgentIdentity
from contact.clock import Clock
from contact.db import Database
from contact.presence import Presence
from routing.rules import RoutingRules


class Limits(Protocol):
    @property
    def max_concurrent(self) -> int: ...


class ChatCore(Protocol):
    @property
    def db(self) -> Database: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def rules(self) -> RoutingRules: ...

    @property
    def presence(self) -> Presence: ...

    @property
    def limits(self) -> Limits: ...

    def held_by(self, agent: AgentIdentity, conversation_id: str) -> ColumnElement[bool]:
        """The conversation is open and this agent holds it (a WHERE clause)."""
        ...

    async def raise_not_held(
        self, agent: AgentIdentity, conversation_id: str, conn: AsyncConnection | None = None
    ) -> None:
        """Say why an agent may not act on a conversation: unknown, ended, or someone else's."""
        ...

    async def crisis_visitor_emit(self, conversation_id: str, now: datetime) -> Emit: ...

    async def mine_emit(self, agent_id: str) -> Emit: ...

    async def conversation_view(self, conversation_id: str, *, with_notes: bool) -> dict[str, Any]: ...
