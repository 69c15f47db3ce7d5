"""Ending a conversation with its outcome: the close by its advisor, the automatic close of
outcomes left too long, and the handoff to the case system in the same transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cases.outbox import HANDED_OFF, Contact, create_handoff
from cases.sources import decided_only
from chat import outbound as out
from chat.base import (
    VISITOR_ENDED,
    ChatBase,
    revoked_hash,
)
from chat.crisis import end_crisis_in
from chat.model import (
    ConversationStatus,
    HandoffCreated,
    Outgoing,
    Result,
    ToAgentGroup,
    ToCrisisAudience,
    ToVisitor,
    check_outcome,
    iso,
    message_view,
)
from chat.status import start_aftercare, status_emit
from chat.store import conversations
from contact.auth import AgentIdentity, agents
from contact.store import record_audit

AUTO_OUTCOME = {
    "kind": "geen",
    "summary": "Automatisch afgesloten: de adviseur heeft na het vertrek van de bezoeker geen uitkomst vastgelegd.",
    "automatic": True,
}


class ClosingUseCases(ChatBase):
    async def close(self, agent: AgentIdentity, conversation_id: str, outcome: dict[str, Any]) -> Result:
        """End a conversation with its outcome, or record the outcome of one the visitor left
        (stop, quick exit) within the grace period: the same form, the same handoff. One
        conditional UPDATE decides, so a conversation never gets two outcomes or two handoffs.

        A crisis still alerting ends with the conversation. A melding with urgency `spoed` is
        announced to the crisis team as a report to act on (`spoed_melding`, with summary and
        gemeente), never as a live-chat alarm, and the visitor who is leaving gets no 112 box."""
        outcome = check_outcome(outcome)
        now = self.clock.now()
        crisis_ended = None
        # A handed-off outcome's summary and contact details travel in the handoff (purged after
        # delivery); the conversation keeps only what was decided. A `geen` is handed to nobody:
        # its summary stays here until the chat's retention time (chat/retention.py).
        kept = outcome if outcome["kind"] not in HANDED_OFF else decided_only(outcome)
        recorded = {"outcome": kept, "outcome_at": now, "outcome_by": agent.id}
        async with self.db.write() as conn:
            live = (
                await conn.execute(
                    update(conversations)
                    .where(self.held_by(agent, conversation_id))
                    .values(
                        status=ConversationStatus.CLOSED,
                        closed_at=now,
                        close_reason="agent_closed",
                        resume_hash=revoked_hash(),
                        last_activity_at=now,
                        **recorded,
                    )
                    .returning(conversations.c.id)
                )
            ).first()
            if live is not None:
                crisis_ended = await end_crisis_in(conn, conversation_id, now, "agent_closed")
            else:
                left = (
                    await conn.execute(
                        update(conversations)
                        .where(self.awaiting_outcome(agent.id, now), conversations.c.id == conversation_id)
                        .values(**recorded)
                        .returning(conversations.c.id)
                    )
                ).first()
                if left is None:
                    await self.raise_not_held(agent, conversation_id, conn)
            await record_audit(
                conn,
                at=now,
                action="closed" if live is not None else "outcome_recorded",
                actor=f"agent:{agent.id}",
                conversation_id=conversation_id,
                outcome=outcome["kind"],
                urgency=outcome.get("urgency"),
            )
            # The handoff is written in the same transaction: closed means handed off.
            handoff_id = await self._handoff(conn, agent, conversation_id, outcome, now)
            # Time to write things down (and breathe) before the next push offer: longer after a
            # crisis or a melding.
            closed = (
                await conn.execute(
                    select(conversations.c.crisis_at, conversations.c.team).where(conversations.c.id == conversation_id)
                )
            ).one()
            aftercare = await start_aftercare(
                conn,
                agent.id,
                now,
                self.limits.aftercare.length_s(outcome["kind"], closed.crisis_at is not None),
                conversation_id,
                closed.team,
            )
        emits: list[Outgoing] = [await self.mine_emit(agent.id)]
        if aftercare is not None:
            emits.append(status_emit(agent.id, aftercare))
        if live is not None:
            # The kind of outcome lets the widget say what happens next (advice given, or a
            # report that Veilig Thuis now looks into); nothing else of the outcome goes out.
            ended = {"reason": "agent_closed", "outcome": outcome["kind"]}
            emits.insert(0, out.Closed.model_validate(ended).to(ToVisitor(conversation_id)))
        if crisis_ended is not None:
            emits.append(crisis_ended)
        if handoff_id is not None:
            emits.append(HandoffCreated())
            if outcome.get("urgency") == "spoed":
                notice = {
                    "handoff_id": handoff_id,
                    "conversation_id": conversation_id,
                    "summary": outcome.get("summary"),
                    "gemeente": outcome.get("gemeente"),
                    "by": agent.id,
                    "by_name": agent.name,
                    "at": iso(now),
                }
                emits.append(out.SpoedMelding.model_validate(notice).to(ToCrisisAudience("crisis")))
        ack: dict[str, Any] = {"ok": True}
        if handoff_id is not None:
            ack["handoff_id"] = handoff_id
        return Result(ack, emits)

    async def close_overdue_outcomes(self) -> list[Outgoing]:
        """Left conversations whose holder recorded no outcome within the grace period: closed as
        `geen` (marked automatic) and shown to the supervisors. An active chat whose visitor has
        been gone that long (the tab closed, never back) ends the same way, so it holds no
        advisor's place for ever. Idempotent; the elected scheduler runs it."""
        now = self.clock.now()
        cutoff = now - timedelta(seconds=self.limits.outcome_grace_s)
        away_too_long = (
            conversations.c.status == ConversationStatus.ACTIVE,
            conversations.c.visitor_away_since.is_not(None),
            conversations.c.visitor_away_since <= cutoff,
        )
        no_outcome = (
            conversations.c.status == ConversationStatus.CLOSED,
            conversations.c.close_reason.in_(VISITOR_ENDED),
            conversations.c.outcome_at.is_(None),
            conversations.c.agent_id.is_not(None),
            conversations.c.closed_at <= cutoff,
        )
        # Looked at first without SQLite's write lock: nearly every run finds nothing, and the
        # message writer must not wait for a write that changes nothing (issue 19).
        async with self.db.read() as conn:
            due = (
                await conn.execute(
                    select(conversations.c.id).where(or_(and_(*away_too_long), and_(*no_outcome))).limit(1)
                )
            ).first()
        if due is None:
            return []
        async with self.db.write() as conn:
            gone = (
                await conn.execute(
                    update(conversations)
                    .where(*away_too_long)
                    .values(
                        status=ConversationStatus.CLOSED,
                        closed_at=conversations.c.visitor_away_since,
                        close_reason="visitor_gone",
                        resume_hash=revoked_hash(),
                    )
                    .returning(conversations.c.id)
                )
            ).all()
            alarms_ended = [e for r in gone if (e := await end_crisis_in(conn, r.id, now, "visitor_gone"))]
            rows = (
                await conn.execute(
                    update(conversations)
                    .where(*no_outcome)
                    .values(outcome=AUTO_OUTCOME, outcome_at=now, outcome_by="system")
                    .returning(
                        conversations.c.id,
                        conversations.c.agent_id,
                        conversations.c.closed_at,
                        conversations.c.visitor_quick_exit,
                        conversations.c.team,
                        conversations.c.crisis_at,
                    )
                )
            ).all()
            names: dict[str, str] = {}
            for r in rows:
                await record_audit(conn, at=now, action="outcome_overdue", actor="system", conversation_id=r.id)
                if r.agent_id not in names:
                    names[r.agent_id] = str(await conn.scalar(select(agents.c.name).where(agents.c.id == r.agent_id)))
        emits: list[Outgoing] = list(alarms_ended)
        for r in rows:
            notice = {
                "conversation_id": r.id,
                "agent_id": r.agent_id,
                "agent_name": names[r.agent_id],
                "left_at": iso(r.closed_at),
                "quick_exit": r.visitor_quick_exit,
                "team": r.team,
                "in_crisis": r.crisis_at is not None,
                "at": iso(now),
            }
            emits.append(out.OutcomeMissing.model_validate(notice).to(ToAgentGroup("all")))
        for agent_id in sorted({r.agent_id for r in rows}):
            emits.append(await self.mine_emit(agent_id))
        return emits

    async def _handoff(
        self, conn: AsyncConnection, agent: AgentIdentity, conversation_id: str, outcome: dict[str, Any], now: datetime
    ) -> str | None:
        """The chat as the case system receives it: transcript, internal notes, crisis timeline."""
        if outcome["kind"] not in HANDED_OFF:
            return None
        conv, rows, note_rows, crisis = await self._record(conn, conversation_id, with_notes=True)
        return await create_handoff(
            conn,
            Contact(
                source="chat",
                source_id=conversation_id,
                caller_type=conv.caller_type,
                received_at=conv.created_at,
                outcome=outcome,
                advisor={"id": agent.id, "name": agent.name},
                transcript=[message_view(r) for r in rows],
                notes=[{"text": n.text, "at": iso(n.at), "agent_id": n.agent_id, "internal": True} for n in note_rows],
                crisis=crisis,
                extra={"intent": conv.intent, "topic": conv.topic, "team": conv.team},
                contact_hashes=self.handoffs.hashes(outcome),
                match_hashes=self.handoffs.matches(outcome),
            ),
            now,
            webhook=self.handoffs.webhook,
            tz=self.handoffs.tz,
        )
