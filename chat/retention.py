"""The chat as a contact source of the case register (cases/sources.py): once the retention
time after its handoff has passed, a conversation's messages and internal notes are deleted.
The conversation row stays (its outcome, team and times are what was decided, not said)."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from chat.store import messages, notes


class ChatRecords:
    name = "chat"

    async def purge(self, conn: AsyncConnection, source_id: str) -> None:
        await conn.execute(delete(messages).where(messages.c.conversation_id == source_id))
        await conn.execute(delete(notes).where(notes.c.conversation_id == source_id))
