"""State transitions of a conversation that more than one use case makes, each in one function:
it writes (a compare-and-set on the status), records the audit entry, and answers whether it
happened. Inside the caller's transaction; the caller sends the events after the commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from chat.model import ConversationStatus
from chat.store import conversations, queue_state
from contact.store import record_audit


async def bump_queue(conn: AsyncConnection) -> None:
    """The queue changed: its version goes up, so every process's snapshot is due again."""
    await conn.execute(update(queue_state).where(queue_state.c.id == 1).values(version=queue_state.c.version + 1))


async def take_waiting(conn: AsyncConnection, conversation_id: str, agent_id: str, now: datetime) -> bool:
    """waiting → active: the agent takes the conversation from the queue (an accept, an accepted
    push offer, or acknowledging its crisis). Of two agents at once, one wins; False for the
    other, and for a conversation that is not waiting (any more)."""
    taken = (
        await conn.execute(
            update(conversations)
            .where(conversations.c.id == conversation_id, conversations.c.status == ConversationStatus.WAITING)
            .values(
                status=ConversationStatus.ACTIVE, agent_id=agent_id, accepted_at=now, offered_to=None, offered_at=None
            )
            .returning(conversations.c.id)
        )
    ).first()
    if taken is None:
        return False
    await bump_queue(conn)
    await record_audit(conn, at=now, action="accepted", actor=f"agent:{agent_id}", conversation_id=conversation_id)
    return True
