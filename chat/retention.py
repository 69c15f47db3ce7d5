"""The chat as a contact source of the case register (cases/sources.py): every conversation,
however it ended (an outcome `advies`, `melding` or `geen`, the visitor left or was gone), loses
what was said and who said it once the retention time after its end has passed: messages,
internal notes, the keyed hashes that recognise its visitor and the advisor's nawerk period after
it are deleted; the topic, the
outcome's summary and contact details, the crisis reasons and the words a risk audit entry
matched are blanked. The conversation row stays with
what was decided (outcome kind, team, times)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cases.sources import Tally, decided_only
from chat.base import revoked_hash
from chat.blocks import forget_ended_blocks
from chat.desk_store import visitor_marks
from chat.store import conversations, crisis_events, messages, notes
from chat.workplace_store import nawerk_periods, whispers
from contact.store import audit_events


def _ended_at_or_before(cutoff: datetime) -> Any:
    """A conversation has ended once it is closed and its outcome is recorded; one nobody
    accepted (left or gone from the queue) has no outcome to wait for."""
    c = conversations.c
    return and_(
        c.status == "closed",
        or_(
            and_(c.outcome_at.is_not(None), c.outcome_at <= cutoff),
            and_(c.outcome_at.is_(None), c.agent_id.is_(None), c.closed_at <= cutoff),
        ),
    )


def ending(outcome: dict[str, Any] | None, close_reason: str | None) -> str:
    """How a conversation ended, for the privacy report: its outcome, else why it closed."""
    if outcome and outcome.get("kind"):
        return str(outcome["kind"])
    return close_reason or "closed"


def _risk_detail_without_words(detail: dict[str, Any]) -> dict[str, Any]:
    """A risk audit entry keeps its level, concept names and seq; the matched words go."""
    kept = {k: v for k, v in detail.items() if k in ("level", "seq")}
    kept["concepts"] = [c.get("concept") for c in detail.get("concepts") or [] if isinstance(c, dict)]
    kept["purged"] = True
    return kept


class ChatRecords:
    name = "chat"

    async def purge(self, conn: AsyncConnection, source_id: str, now: datetime) -> None:
        await conn.execute(delete(messages).where(messages.c.conversation_id == source_id))
        await conn.execute(delete(notes).where(notes.c.conversation_id == source_id))
        await conn.execute(delete(visitor_marks).where(visitor_marks.c.conversation_id == source_id))
        await conn.execute(delete(whispers).where(whispers.c.conversation_id == source_id))
        # The figures keep the nawerk as anonymous counts (sealed before any purge runs).
        await conn.execute(delete(nawerk_periods).where(nawerk_periods.c.conversation_id == source_id))
        await conn.execute(
            update(crisis_events).where(crisis_events.c.conversation_id == source_id).values(reason=None)
        )
        outcome = await conn.scalar(select(conversations.c.outcome).where(conversations.c.id == source_id))
        values: dict[str, Any] = {
            "topic": None,
            "crisis_reason": None,
            "outcome": decided_only(outcome),
            "purged_at": now,
        }
        if await conn.scalar(select(conversations.c.status).where(conversations.c.id == source_id)) == "closed":
            values["resume_hash"] = revoked_hash()  # nothing may reopen a purged conversation
        await conn.execute(update(conversations).where(conversations.c.id == source_id).values(**values))
        risks = (
            await conn.execute(
                select(audit_events.c.id, audit_events.c.detail).where(
                    audit_events.c.conversation_id == source_id, audit_events.c.action == "risk"
                )
            )
        ).all()
        for entry in risks:
            await conn.execute(
                update(audit_events)
                .where(audit_events.c.id == entry.id)
                .values(detail=_risk_detail_without_words(entry.detail or {}))
            )

    async def purge_ended(self, conn: AsyncConnection, cutoff: datetime, now: datetime, limit: int) -> int:
        # Blocks that ran out keep no hash of anyone (lifting empties them at once).
        await forget_ended_blocks(conn, now)
        due = (
            await conn.execute(
                select(conversations.c.id)
                .where(conversations.c.purged_at.is_(None), _ended_at_or_before(cutoff))
                .limit(limit)
            )
        ).all()
        for row in due:
            await self.purge(conn, row.id, now)
        return len(due)

    async def stored(self, conn: AsyncConnection, cutoff: datetime, now: datetime) -> dict[str, dict[str, Any]]:
        rows = (
            await conn.execute(
                select(
                    conversations.c.outcome,
                    conversations.c.close_reason,
                    conversations.c.status,
                    conversations.c.created_at,
                    _ended_at_or_before(cutoff).label("due"),
                ).where(conversations.c.purged_at.is_(None))
            )
        ).all()
        tally = Tally(now)
        for r in rows:
            tally.add(ending(r.outcome, r.close_reason) if r.status == "closed" else r.status, r.created_at, r.due)
        return tally.result()
