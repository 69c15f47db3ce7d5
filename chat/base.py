"""What every chat use case shares: its dependencies, the limits, reading a conversation and
who holds it, and the views the consoles get (`mine`, a whole conversation)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cases.outbox import HandoffSettings
from chat import outbound as out
from chat.crisis import load_timeline
from chat.model import (
    ConversationStatus,
    Emit,
    Outgoing,
    ToAgent,
    ToReaders,
    ToVisitor,
    first_name,
    iso,
    message_view,
)
from chat.status import AftercareTimes
from chat.store import conversations, messages, notes, risk_by_seq
from chat.transitions import bump_queue
from chat.workplace_store import whispers
from chat.writer import MessageWriter
from contact.auth import AgentIdentity, agents
from contact.clock import Clock
from contact.db import Database
from contact.errors import CONVERSATION_ENDED, DomainError
from contact.opening import OpeningHours
from contact.presence import Presence
from contact.ratelimit import RateLimiter
from routing import crisis as crisis_rules
from routing.risk import RiskDetector
from routing.rules import RoutingRules


@dataclass(frozen=True)
class ChatLimits:
    max_concurrent: int = 3
    visitor_messages: int = 20
    visitor_window_s: int = 10
    starts_per_ip: int = 30
    starts_window_s: int = 600
    default_wait_per_position_s: int = 120
    typing_per_10s: int = 30
    waiting_grace_s: int = 120
    outcome_grace_s: float = 86400
    resume_ttl_s: float = 1800
    # How long an advisor is in `nawerk` after a close (chat/status.py).
    aftercare: AftercareTimes = AftercareTimes()


# Why a conversation ended for the visitor while its holder may still record the outcome.
VISITOR_ENDED = ("visitor_left", "visitor_gone")


class ChatBase:
    """The dependencies of the chat's use cases and what they all use."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        hours: OpeningHours,
        writer: MessageWriter,
        limiter: RateLimiter,
        limits: ChatLimits,
        rules: RoutingRules,
        risk: RiskDetector,
        presence: Presence,
        handoffs: HandoffSettings,
        token_key: bytes | None = None,
    ) -> None:
        """`presence`: who has a console open (contact/presence.py). `handoffs`: how a closed
        chat is handed off. `token_key`: the same on every process (derived from the secret key),
        so that the answer to an unknown resume token is the same wherever it is asked."""
        self.rules = rules
        self.token_key = token_key or secrets.token_bytes(32)
        self.risk = risk
        self.presence = presence
        self.handoffs = handoffs
        self._last_overflow: set[str] = set()
        # The shared reads of the queue (chat/queue.py `_load_queue`).
        self._queue_running: asyncio.Task[Any] | None = None
        self._queue_next: asyncio.Task[Any] | None = None
        # What this process last told each waiting visitor (place, wait, advisors online), when
        # it last told everyone, and whether one more round is due because it told only changes.
        self._told: dict[str, tuple[int, int, int]] = {}
        self._told_all_at = 0.0
        self.queue_retell_due = False
        # How many waited at the last broadcast: the dispatcher spaces broadcasts by it.
        self.queue_length = 0
        self.db = db
        self.clock = clock
        self.hours = hours
        self.writer = writer
        self.limiter = limiter
        self.limits = limits

    async def crisis_visitor_emit(self, conversation_id: str, now: datetime) -> Emit:
        """112 at once, and outside the crisis team's opening hours the 24/7 line too."""
        await self.hours.snapshot()
        open_now = self.hours.cached_state(self.rules.crisis_team, now).open
        return out.VisitorCrisis(**crisis_rules.visitor_text(open_now)).to(ToVisitor(conversation_id))

    def awaiting_outcome(self, agent_id: str, now: datetime) -> ColumnElement[bool]:
        """Conversations of this holder that the visitor left and whose outcome may still be recorded."""
        return and_(
            conversations.c.agent_id == agent_id,
            conversations.c.status == ConversationStatus.CLOSED,
            conversations.c.close_reason.in_(VISITOR_ENDED),
            conversations.c.outcome_at.is_(None),
            conversations.c.closed_at > now - timedelta(seconds=self.limits.outcome_grace_s),
        )

    @staticmethod
    async def bump_queue(conn: AsyncConnection) -> None:
        await bump_queue(conn)

    async def mine_emit(self, agent_id: str) -> Emit:
        """The agent's own conversations: the active ones, and those the visitor left whose
        outcome the agent may still record (they hold no place against the agent's limit)."""
        now = self.clock.now()
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(conversations)
                    .where(
                        or_(
                            and_(
                                conversations.c.agent_id == agent_id,
                                conversations.c.status == ConversationStatus.ACTIVE,
                            ),
                            self.awaiting_outcome(agent_id, now),
                        )
                    )
                    .order_by(conversations.c.accepted_at)
                )
            ).all()
        return out.Mine(conversations=[out.MineItem.model_validate(self._summary(r)) for r in rows]).to(
            ToAgent(agent_id)
        )

    def _summary(self, r: Any) -> dict[str, Any]:
        summary = {
            "id": r.id,
            "status": r.status,
            "caller_type": r.caller_type,
            "intent": r.intent,
            "topic": r.topic,
            "team": r.team,
            "priority": r.priority,
            "danger_now": r.danger_now,
            "expertise": list(r.expertise or ()),
            "in_crisis": r.crisis_at is not None,
            "waiting_since": iso(r.waiting_since),
            "accepted_at": iso(r.accepted_at),
            "last_seq": r.last_seq,
            "holder_id": r.agent_id,
            "visitor_left": r.status == ConversationStatus.CLOSED and r.close_reason in VISITOR_ENDED,
            "visitor_present": r.status != ConversationStatus.CLOSED and r.visitor_away_since is None,
            "visitor_away_since": iso(r.visitor_away_since),
            "quick_exit": bool(r.visitor_quick_exit),
        }
        summary["awaiting_outcome"] = False
        if summary["visitor_left"]:
            summary["left_at"] = iso(r.closed_at)
            if r.outcome_at is None and r.closed_at is not None:
                due = r.closed_at + timedelta(seconds=self.limits.outcome_grace_s)
                summary["outcome_due_at"] = iso(due)
                summary["awaiting_outcome"] = self.clock.now() < due and r.agent_id is not None
        return summary

    @staticmethod
    async def _record(
        conn: AsyncConnection, conversation_id: str, *, with_notes: bool
    ) -> tuple[Any, list[Any], list[Any], dict[str, Any] | None]:
        """A conversation's row, messages, internal notes and crisis, read on one connection."""
        conv = (await conn.execute(select(conversations).where(conversations.c.id == conversation_id))).one()
        rows = await load_messages(conn, conversation_id)
        note_rows: list[Any] = []
        if with_notes:
            note_rows = list(
                (
                    await conn.execute(
                        select(notes).where(notes.c.conversation_id == conversation_id).order_by(notes.c.at, notes.c.id)
                    )
                ).all()
            )
        crisis = None
        if conv.crisis_at is not None:
            crisis = {
                "at": iso(conv.crisis_at),
                "reason": conv.crisis_reason,
                "by": conv.crisis_by,
                "round": conv.crisis_round,
                "acknowledged_at": iso(conv.crisis_acked_at),
                "acknowledged_by": conv.crisis_acked_by,
                "ended_at": iso(conv.crisis_ended_at),
                "end_reason": conv.crisis_end_reason,
                "timeline": await load_timeline(conn, conversation_id),
            }
        return conv, list(rows), note_rows, crisis

    async def conversation_view(self, conversation_id: str, *, with_notes: bool) -> dict[str, Any]:
        async with self.db.read() as conn:
            conv, rows, note_rows, crisis = await self._record(conn, conversation_id, with_notes=with_notes)
            # Advisors see which visitor messages gave a risk signal, also after a reload.
            risk = await risk_by_seq(conn, conversation_id) if with_notes else {}
        view = self._summary(conv)
        view["messages"] = [message_view(r) for r in rows]
        for m in view["messages"]:
            if m["sender"] == "visitor" and m["seq"] in risk:
                m["risk"] = risk[m["seq"]]
        view["closed_at"] = iso(conv.closed_at)
        view["close_reason"] = conv.close_reason
        view["crisis"] = crisis
        if with_notes:
            view["notes"] = [
                {"id": n.id, "text": n.text, "at": iso(n.at), "agent_id": n.agent_id, "internal": True}
                for n in note_rows
            ]
            view["whispers"] = await self._whispers(conversation_id)
        return view

    async def _whispers(self, conversation_id: str) -> list[dict[str, Any]]:
        """A supervisor's whispers to the holder: in the advisors' view after a reload, never
        the visitor's, the transcript or the handoff."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(whispers.c.id, whispers.c.text, whispers.c.at, agents.c.name)
                .select_from(whispers.join(agents, agents.c.id == whispers.c.from_agent_id))
                .where(whispers.c.conversation_id == conversation_id)
                .order_by(whispers.c.at, whispers.c.id)
            )
            return [{"id": w.id, "text": w.text, "at": iso(w.at), "from": {"name": w.name}} for w in rows]

    @staticmethod
    def held_by(agent: AgentIdentity, conversation_id: str) -> ColumnElement[bool]:
        """The conversation is open and this agent holds it."""
        return and_(
            conversations.c.id == conversation_id,
            conversations.c.agent_id == agent.id,
            conversations.c.status == ConversationStatus.ACTIVE,
        )

    async def _update_held(
        self, conn: AsyncConnection, agent: AgentIdentity, conversation_id: str, **values: Any
    ) -> None:
        """Change a conversation only if this agent holds it (one conditional UPDATE);
        otherwise say why not."""
        changed = (
            await conn.execute(
                update(conversations)
                .where(self.held_by(agent, conversation_id))
                .values(**values)
                .returning(conversations.c.id)
            )
        ).first()
        if changed is None:
            await self.raise_not_held(agent, conversation_id, conn)

    @staticmethod
    async def _active_count(conn: AsyncConnection, agent_id: str) -> int:
        held = await conn.scalar(
            select(func.count()).where(
                conversations.c.agent_id == agent_id, conversations.c.status == ConversationStatus.ACTIVE
            )
        )
        return int(held or 0)

    async def _held(self, agent: AgentIdentity, conversation_id: str) -> None:
        async with self.db.read() as conn:
            held = await conn.scalar(select(conversations.c.id).where(self.held_by(agent, conversation_id)))
            if held is None:
                await self.raise_not_held(agent, conversation_id, conn)

    async def raise_not_held(
        self, agent: AgentIdentity, conversation_id: str, conn: AsyncConnection | None = None
    ) -> None:
        """Say why an agent may not act on a conversation: unknown, ended, or someone else's."""
        if conn is None:
            async with self.db.read() as own:
                row = (
                    await own.execute(
                        select(conversations.c.status, conversations.c.agent_id).where(
                            conversations.c.id == conversation_id
                        )
                    )
                ).first()
        else:
            row = (
                await conn.execute(
                    select(conversations.c.status, conversations.c.agent_id).where(
                        conversations.c.id == conversation_id
                    )
                )
            ).first()
        if row is None:
            raise DomainError("not_found")
        if row.status == ConversationStatus.CLOSED and row.agent_id == agent.id:
            raise DomainError("closed", CONVERSATION_ENDED)
        raise DomainError("forbidden")

    @staticmethod
    async def _agent_first_name(conn: AsyncConnection, agent_id: str | None) -> str | None:
        if agent_id is None:
            return None
        return first_name(await conn.scalar(select(agents.c.name).where(agents.c.id == agent_id)))

    async def _stored_again(
        self, conversation_id: str, message_id: str, also_agent: str | None = None
    ) -> list[Outgoing]:
        """A re-sent message the server already stored (the first try was committed, but its
        sender never got the ack, e.g. because the process died before emitting): the stored
        message goes out again to its peers, since nobody may have seen it. Clients drop a seq
        they already have, so a second delivery is harmless; a missing one is a hole."""
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(messages, agents.c.name.label("agent_name"))
                    .select_from(messages.outerjoin(agents, agents.c.id == messages.c.agent_id))
                    .where(messages.c.id == message_id)
                )
            ).first()
            conv = (
                await conn.execute(
                    select(conversations.c.status, conversations.c.agent_id, conversations.c.read_along).where(
                        conversations.c.id == conversation_id
                    )
                )
            ).first()
        if row is None or conv is None:
            return []
        view = message_view(row)
        to_agents = {a for a in (conv.agent_id, also_agent) if a is not None}
        emits: list[Outgoing] = [out.VisitorChatMessage.model_validate(view).to(ToVisitor(conversation_id))]
        emits.extend(
            out.AgentChatMessage.model_validate({**view, "conversation_id": conversation_id}).to(ToAgent(a))
            for a in sorted(to_agents)
        )
        if conv.read_along:
            emits.append(
                out.AgentChatMessage.model_validate({**view, "conversation_id": conversation_id}).to(
                    ToReaders(conversation_id)
                )
            )
        return emits


def revoked_hash() -> str:
    """What replaces a resume token's hash when the token stops working: no token hashes to it."""
    return "revoked:" + secrets.token_hex(24)


async def load_messages(conn: AsyncConnection, conversation_id: str, after_seq: int = 0) -> list[Any]:
    """The messages of a conversation after `after_seq`, in order, each with its advisor's name."""
    rows = await conn.execute(
        select(messages, agents.c.name.label("agent_name"))
        .select_from(messages.outerjoin(agents, agents.c.id == messages.c.agent_id))
        .where(messages.c.conversation_id == conversation_id, messages.c.seq > after_seq)
        .order_by(messages.c.seq)
    )
    return list(rows.all())
