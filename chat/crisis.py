"""The crisis procedure on a conversation: escalate, alert, re-alert until acknowledged, and
the timeline of it all. The rules (who, when, what text) are in routing/crisis.py."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chat import outbound as out
from chat.model import (
    ConversationStatus,
    Emit,
    Outgoing,
    QueueChanged,
    Result,
    ToAgent,
    ToCrisisAudience,
    ToVisitor,
    iso,
    withdrawn_emit,
)
from chat.ports import ChatCore
from chat.store import conversations, crisis_events
from chat.transitions import take_waiting
from contact.auth import AgentIdentity, agents
from contact.errors import DomainError
from contact.store import record_audit
from routing import crisis as rules
from routing.rules import RoutingRules

NOT_IN_CRISIS = ("Voor dit gesprek loopt geen crisis.", "This conversation is not in crisis.")
CRISIS_OVER = (
    "Dit gesprek is al afgelopen, dus het alarm is gestopt. Lees het gesprek bij Dossiers of vraag je leidinggevende.",
    "This conversation has already ended, so the alarm stopped.",
)
# Why a crisis ended with its conversation, in the words of the timeline.
END_REASONS = {
    "visitor_left": "De bezoeker heeft het gesprek verlaten.",
    "visitor_gone": "De bezoeker is weg (verbinding verbroken).",
    "agent_closed": "Het gesprek is afgesloten.",
}


async def begin_crisis(
    conn: AsyncConnection,
    routing: RoutingRules,
    conversation_id: str,
    now: datetime,
    *,
    by: str,
    by_name: str | None,
    reason: str,
    renew_acknowledged: bool = True,
) -> out.CrisisAlert | None:
    """Start the crisis procedure inside the caller's transaction: the conversation moves to
    the crisis team on top, the timeline gets `escalated` and the first `alerted`. Returns the
    alert to send, or None when a crisis is already running and not yet acknowledged (a second
    escalation adds nothing: the alerts are already going out).

    A person escalating again after an acknowledgement starts a new round. An automatic risk
    signal (`renew_acknowledged=False`) does not: the crisis worker who took the crisis on is
    already there, and a new round would take their acknowledgement, and with it their right
    to read along and take over, away in the middle of the danger."""
    reason = reason[: rules.MAX_REASON]
    may_start = (conversations.c.crisis_at.is_(None)) | (conversations.c.crisis_ended_at.is_not(None))
    if renew_acknowledged:
        may_start = may_start | (conversations.c.crisis_acked_at.is_not(None))
    started = (
        await conn.execute(
            update(conversations)
            .where(
                conversations.c.id == conversation_id,
                may_start,
            )
            .values(
                crisis_ended_at=None,
                crisis_end_reason=None,
                crisis_at=now,
                crisis_reason=reason,
                crisis_by=by,
                crisis_round=1,
                crisis_alerted_at=now,
                crisis_acked_at=None,
                crisis_acked_by=None,
                team=routing.crisis_team,
                priority=case(
                    (conversations.c.priority < routing.danger_priority, routing.danger_priority),
                    else_=conversations.c.priority,
                ),
            )
            .returning(conversations.c.caller_type, conversations.c.status, conversations.c.agent_id)
        )
    ).first()
    if started is None:
        return None
    await _event(conn, conversation_id, "escalated", now, actor=by, actor_name=by_name, reason=reason)
    await _event(conn, conversation_id, "alerted", now, actor=rules.BY_SYSTEM, round_=1, audience=rules.audience(1))
    await record_audit(conn, at=now, action="crisis_escalated", actor=_audit_actor(by), conversation_id=conversation_id)
    return alert_view(
        conversation_id,
        reason=reason,
        at=now,
        by=by,
        by_name=by_name,
        round_=1,
        caller_type=started.caller_type,
        status=started.status,
        holder_id=started.agent_id,
    )


async def acknowledge_in(conn: AsyncConnection, conversation_id: str, agent: AgentIdentity, now: datetime) -> bool:
    """Mark a running crisis as taken on by `agent` (one conditional UPDATE: of two agents
    acknowledging at once, one wins). True when this call acknowledged it."""
    done = (
        await conn.execute(
            update(conversations)
            .where(
                conversations.c.id == conversation_id,
                conversations.c.crisis_at.is_not(None),
                conversations.c.crisis_acked_at.is_(None),
            )
            .values(crisis_acked_at=now, crisis_acked_by=agent.id)
            .returning(conversations.c.id)
        )
    ).first()
    if done is None:
        return False
    await _event(conn, conversation_id, "acknowledged", now, actor=agent.id, actor_name=agent.name)
    await record_audit(
        conn, at=now, action="crisis_acknowledged", actor=f"agent:{agent.id}", conversation_id=conversation_id
    )
    return True


async def end_crisis_in(conn: AsyncConnection, conversation_id: str, now: datetime, reason: str) -> Emit | None:
    """The conversation ended while its crisis was still alerting (nobody acknowledged it): the
    alerts stop, the timeline says why, and every console withdraws its alarm. Inside the
    caller's transaction; None when no crisis was alerting."""
    ended = (
        await conn.execute(
            update(conversations)
            .where(
                conversations.c.id == conversation_id,
                conversations.c.crisis_at.is_not(None),
                conversations.c.crisis_acked_at.is_(None),
                conversations.c.crisis_ended_at.is_(None),
            )
            .values(crisis_ended_at=now, crisis_end_reason=reason)
            .returning(conversations.c.agent_id)
        )
    ).first()
    if ended is None:
        return None
    await _event(conn, conversation_id, "ended", now, actor=rules.BY_SYSTEM, reason=END_REASONS.get(reason, reason))
    await record_audit(conn, at=now, action="crisis_ended", actor="system", conversation_id=conversation_id)
    view = {"conversation_id": conversation_id, "reason": reason, "held": ended.agent_id is not None, "at": iso(now)}
    return out.CrisisEnded.model_validate(view).to(ToCrisisAudience("everyone"))


async def add_timeline_event(
    conn: AsyncConnection, row: Any, kind: str, at: datetime, agent: AgentIdentity, reason: str | None = None
) -> None:
    """A step of a conversation in crisis that is not part of the alerting (a take-over asked,
    refused or done) on its timeline; nothing for a conversation without a crisis."""
    if row.crisis_at is not None:
        await _event(conn, row.id, kind, at, actor=agent.id, actor_name=agent.name, reason=reason)


def acked_emit(conversation_id: str, agent: AgentIdentity, now: datetime) -> Emit:
    """Tells every console that the alert is taken care of, so their alarms stop."""
    view = {"conversation_id": conversation_id, "by": agent.id, "by_name": agent.name, "at": iso(now)}
    return out.CrisisAcked.model_validate(view).to(ToCrisisAudience("everyone"))


async def load_timeline(conn: AsyncConnection, conversation_id: str) -> list[dict[str, Any]]:
    rows = (
        await conn.execute(
            select(crisis_events)
            .where(crisis_events.c.conversation_id == conversation_id)
            # Events of one instant in the order the procedure makes them happen.
            .order_by(
                crisis_events.c.at,
                case({"escalated": 0, "alerted": 1, "ended": 3}, value=crisis_events.c.kind, else_=2),
                crisis_events.c.round,
            )
        )
    ).all()
    return [
        {
            "kind": r.kind,
            "at": iso(r.at),
            "by": r.actor,
            "by_name": r.actor_name,
            "reason": r.reason,
            "round": r.round,
            "audience": r.audience,
        }
        for r in rows
    ]


def alert_view(
    conversation_id: str,
    *,
    reason: str | None,
    at: datetime,
    by: str | None,
    by_name: str | None,
    round_: int,
    caller_type: str,
    status: str,
    holder_id: str | None,
) -> out.CrisisAlert:
    """The one builder of `crisis_alert` (start, re-alert, the open crises of a console)."""
    return out.CrisisAlert(
        conversation_id=conversation_id,
        reason=reason,
        escalated_at=iso(at),
        by=by,
        by_name=by_name,
        round=round_,
        audience=rules.audience(round_),
        caller_type=caller_type,
        status=status,
        holder_id=holder_id,
    )


class CrisisService:
    """Escalate (by the holder), acknowledge (by whoever was alerted), and the re-alert round
    that the elected scheduler runs."""

    def __init__(self, chat: ChatCore, realert_after_s: float) -> None:
        self.chat = chat
        self.db = chat.db
        self.clock = chat.clock
        self.routing = chat.rules
        self.realert_after_s = realert_after_s

    async def escalate(self, agent: AgentIdentity, conversation_id: str, reason: str) -> Result:
        now = self.clock.now()
        async with self.db.write() as conn:
            held = await conn.scalar(select(conversations.c.id).where(self.chat.held_by(agent, conversation_id)))
            if held is None:
                await self.chat.raise_not_held(agent, conversation_id, conn)
            alert = await begin_crisis(
                conn, self.routing, conversation_id, now, by=agent.id, by_name=agent.name, reason=reason
            )
        emits: list[Outgoing] = [await self.chat.crisis_visitor_emit(conversation_id, now)]
        if alert is not None:
            emits += [alert.emit(), await self.chat.mine_emit(agent.id)]
        return Result({"ok": True, "already_running": alert is None}, emits)

    async def acknowledge(self, agent: AgentIdentity, conversation_id: str) -> Result:
        """Take on a crisis. A conversation still waiting goes to the agent who acknowledges it
        (whatever their load: a crisis does not wait for a free place); one held by a colleague
        stays with them, and the acknowledging agent may read it."""
        now = self.clock.now()
        taken = False
        async with self.db.write() as conn:
            row = (
                await conn.execute(
                    select(
                        conversations.c.status,
                        conversations.c.crisis_at,
                        conversations.c.crisis_acked_by,
                        conversations.c.crisis_round,
                        conversations.c.offered_to,
                        conversations.c.crisis_ended_at,
                    ).where(conversations.c.id == conversation_id)
                )
            ).first()
            if row is None:
                raise DomainError("not_found")
            if row.crisis_at is None:
                raise DomainError("conflict", NOT_IN_CRISIS, state="no_crisis")
            if row.crisis_ended_at is not None and row.crisis_acked_by is None:
                raise DomainError("closed", CRISIS_OVER)
            if row.crisis_acked_by is not None:
                if row.crisis_acked_by == agent.id:
                    return Result({"ok": True, "taken": False})  # a second click changes nothing
                raise DomainError("already_taken")
            if not rules.may_acknowledge(agent.role, agent.teams, row.crisis_round, self.routing.crisis_team):
                raise DomainError("forbidden")
            if row.status == ConversationStatus.WAITING:
                taken = await take_waiting(conn, conversation_id, agent.id, now)
            if not await acknowledge_in(conn, conversation_id, agent, now):
                raise DomainError("already_taken")
            reading = not taken and row.status == ConversationStatus.ACTIVE
            if reading:
                # Held by a colleague: the crisis worker reads along at once (and may take it over).
                await conn.execute(
                    update(conversations).where(conversations.c.id == conversation_id).values(read_along=True)
                )
                await record_audit(
                    conn, at=now, action="read_along", actor=f"agent:{agent.id}", conversation_id=conversation_id
                )
        emits: list[Outgoing] = [acked_emit(conversation_id, agent, now)]
        ack: dict[str, Any] = {"ok": True, "taken": taken}
        if reading:
            ack["read_along"] = True
            ack["conversation"] = await self.chat.conversation_view(conversation_id, with_notes=True)
            holder = ack["conversation"].get("holder_id")
            if holder:
                told = {"conversation_id": conversation_id, "by": agent.id, "by_name": agent.name, "at": iso(now)}
                emits.append(out.Reader.model_validate(told).to(ToAgent(holder)))
        if taken:
            emits += [
                out.Assigned(agent=out.AgentName(name=agent.first_name)).to(ToVisitor(conversation_id)),
                await self.chat.mine_emit(agent.id),
                QueueChanged(),
            ]
            ack["conversation"] = await self.chat.conversation_view(conversation_id, with_notes=True)
            if row.offered_to not in (None, agent.id):
                emits.append(withdrawn_emit(row.offered_to, conversation_id))
        return Result(ack, emits)

    async def realert(self) -> list[Outgoing]:
        """Alert again, to every agent online, each crisis nobody acknowledged within the delay.
        Idempotent: a round is claimed with one conditional UPDATE, so a second scheduler (in a
        failover) or a repeated run sends nothing twice."""
        now = self.clock.now()
        cutoff = now - timedelta(seconds=self.realert_after_s)
        due_filter = (
            conversations.c.crisis_at.is_not(None),
            conversations.c.crisis_acked_at.is_(None),
            conversations.c.crisis_ended_at.is_(None),
            # A closed one is ended by its close; never alerted again.
            conversations.c.status != ConversationStatus.CLOSED,
            conversations.c.crisis_alerted_at <= cutoff,
        )
        async with self.db.read() as conn:
            due = (
                await conn.execute(select(conversations.c.id, conversations.c.crisis_round).where(*due_filter))
            ).all()
        emits: list[Outgoing] = []
        for item in due:
            async with self.db.write() as conn:
                row = (
                    await conn.execute(
                        update(conversations)
                        .where(
                            conversations.c.id == item.id,
                            conversations.c.crisis_round == item.crisis_round,
                            *due_filter,
                        )
                        .values(crisis_round=item.crisis_round + 1, crisis_alerted_at=now)
                        .returning(*_alert_columns())
                    )
                ).first()
                if row is None:
                    continue  # acknowledged meanwhile, or another scheduler claimed this round
                audience = rules.audience(row.crisis_round)
                await _event(
                    conn, item.id, "alerted", now, actor=rules.BY_SYSTEM, round_=row.crisis_round, audience=audience
                )
                by_name = await conn.scalar(select(agents.c.name).where(agents.c.id == row.crisis_by))
            emits.append(_alert_from_row(row, by_name).emit())
        return emits

    async def open_alerts(self, agent: AgentIdentity) -> Emit:
        """The crises that still wait for someone, as this agent would have been alerted to them
        (for a console that connects while they run)."""
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(*_alert_columns(), agents.c.name.label("by_name"))
                    .select_from(conversations.outerjoin(agents, agents.c.id == conversations.c.crisis_by))
                    .where(
                        conversations.c.crisis_at.is_not(None),
                        conversations.c.crisis_acked_at.is_(None),
                        conversations.c.crisis_ended_at.is_(None),
                        conversations.c.status != ConversationStatus.CLOSED,
                    )
                    .order_by(conversations.c.crisis_at)
                )
            ).all()
        capable = rules.crisis_capable(agent.role, agent.teams, self.routing.crisis_team)
        alerts = [
            _alert_from_row(r, r.by_name) for r in rows if capable or rules.audience(r.crisis_round) == "everyone"
        ]
        return out.Crises(open=alerts).to(ToAgent(agent.id))


def _alert_columns() -> tuple[Any, ...]:
    c = conversations.c
    return (c.id, c.crisis_reason, c.crisis_at, c.crisis_by, c.crisis_round, c.caller_type, c.status, c.agent_id)


def _alert_from_row(row: Any, by_name: str | None) -> out.CrisisAlert:
    return alert_view(
        row.id,
        reason=row.crisis_reason,
        at=row.crisis_at,
        by=row.crisis_by,
        by_name=by_name,
        round_=row.crisis_round,
        caller_type=row.caller_type,
        status=row.status,
        holder_id=row.agent_id,
    )


def _audit_actor(by: str) -> str:
    return by if by in (rules.BY_VISITOR, rules.BY_SYSTEM) else f"agent:{by}"


async def _event(
    conn: AsyncConnection,
    conversation_id: str,
    kind: str,
    at: datetime,
    *,
    actor: str,
    actor_name: str | None = None,
    reason: str | None = None,
    round_: int | None = None,
    audience: str | None = None,
) -> None:
    await conn.execute(
        insert(crisis_events).values(
            id=str(uuid.uuid4()),
            conversation_id=conversation_id,
            kind=kind,
            at=at,
            actor=actor,
            actor_name=actor_name,
            reason=reason,
            round=round_,
            audience=audience,
        )
    )
