"""The advisor's side of a conversation: accept (also a push offer), messages, typing, notes,
transfer, history and the advisor's snapshot."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, or_, select

from chat import outbound as out
from chat.crisis import acked_emit, acknowledge_in
from chat.model import (
    ConversationStatus,
    Emit,
    Outgoing,
    QueueChanged,
    Result,
    ToAgent,
    ToReaders,
    ToVisitor,
    iso,
    queue_group,
    withdrawn_emit,
)
from chat.queue import QueueUseCases
from chat.store import conversations, notes
from chat.transitions import take_waiting
from chat.writer import NewMessage
from contact.auth import AgentIdentity, agents
from contact.errors import CONVERSATION_ENDED, DomainError
from contact.store import record_audit
from routing.queue_order import AgentView, Waiting, visible_to

COLLEAGUE_OFFLINE = ("Deze collega is nu niet online.", "This colleague is not online now.")
VISITOR_AWAY = (
    "De bezoeker is weg: de verbinding is verbroken. Misschien komt de bezoeker zo terug. Toch aannemen?",
    "The visitor's connection is gone; they may come back soon. Accept anyway?",
)


class AgentUseCases(QueueUseCases):
    async def accept(self, agent: AgentIdentity, conversation_id: str, *, confirm_visitor_away: bool = False) -> Result:
        """Take a waiting conversation. One whose visitor's connection is gone is only taken when
        the agent confirms it (they may be back in a moment, or not at all)."""
        now = self.clock.now()
        limit = agent.max_concurrent or self.limits.max_concurrent
        async with self.db.write() as conn:
            # Lock the agent's row (PostgreSQL; SQLite's write lock already serialises) so two
            # consoles of one agent cannot both pass the capacity check.
            await conn.execute(select(agents.c.id).where(agents.c.id == agent.id).with_for_update())
            if await self._active_count(conn, agent.id) >= limit:
                raise DomainError("capacity_reached", limit=limit)
            target = (
                await conn.execute(
                    select(
                        conversations.c.status,
                        conversations.c.team,
                        conversations.c.priority,
                        conversations.c.waiting_since,
                        conversations.c.danger_now,
                        conversations.c.offered_to,
                        conversations.c.visitor_away_since,
                    ).where(conversations.c.id == conversation_id)
                )
            ).first()
            waiting = target is not None and target.status == ConversationStatus.WAITING
            if waiting and not self._may_take(agent, conversation_id, target):
                raise DomainError("forbidden")
            away = waiting and target is not None and target.visitor_away_since is not None
            if away and not confirm_visitor_away:
                assert target is not None
                raise DomainError("conflict", VISITOR_AWAY, state="visitor_away", since=iso(target.visitor_away_since))
            if not await take_waiting(conn, conversation_id, agent.id, now):
                status = await conn.scalar(select(conversations.c.status).where(conversations.c.id == conversation_id))
                if status is None:
                    raise DomainError("not_found")
                if status == ConversationStatus.CLOSED:
                    raise DomainError("closed", CONVERSATION_ENDED)
                raise DomainError("already_taken")
            # Taking a conversation in crisis is taking on the crisis: the alerts stop.
            acked = await acknowledge_in(conn, conversation_id, agent, now)
        conversation = await self.conversation_view(conversation_id, with_notes=True)
        emits: list[Outgoing] = [
            out.Assigned(agent=out.AgentName(name=agent.first_name)).to(ToVisitor(conversation_id)),
            await self.mine_emit(agent.id),
            QueueChanged(),
        ]
        if acked:
            emits.append(acked_emit(conversation_id, agent, now))
        if target is not None and target.offered_to not in (None, agent.id):
            emits.append(withdrawn_emit(target.offered_to, conversation_id))
        return Result({"conversation": conversation}, emits)

    def _may_take(self, agent: AgentIdentity, conversation_id: str, row: Any) -> bool:
        """Only what the agent's queue shows: own teams, overflow, or everything for supervisors."""
        item = Waiting(conversation_id, row.team, row.priority, row.waiting_since, row.danger_now)
        view = AgentView(id=agent.id, teams=agent.teams, role=agent.role)
        return bool(visible_to(view, [item], self.clock.now(), self.rules))

    async def agent_message(self, agent: AgentIdentity, conversation_id: str, client_id: str, text: str) -> Result:
        written = await self.writer.write(
            NewMessage(
                conversation_id,
                "agent",
                client_id,
                text,
                self.clock.now(),
                agent_id=agent.id,
                statuses=(ConversationStatus.ACTIVE,),
            )
        )
        if written is None:
            await self.raise_not_held(agent, conversation_id)
        assert written is not None
        ack = {"id": written.id, "seq": written.seq, "at": iso(written.at)}
        if written.duplicate:
            return Result(ack, await self._stored_again(conversation_id, written.id, also_agent=agent.id))
        view = {**ack, "sender": "agent", "text": text, "name": agent.first_name}
        for_agents = {**view, "conversation_id": conversation_id}
        emits: list[Outgoing] = [
            out.VisitorChatMessage.trusted(view, ToVisitor(conversation_id)),
            out.AgentChatMessage.trusted(for_agents, ToAgent(agent.id)),
        ]
        if written.read_along:
            emits.append(out.AgentChatMessage.trusted(for_agents, ToReaders(conversation_id)))
        return Result(ack, emits)

    async def agent_typing(self, agent: AgentIdentity, conversation_id: str, typing: bool) -> list[Emit]:
        await self._held(agent, conversation_id)
        return [out.VisitorTyping(typing=typing).to(ToVisitor(conversation_id))]

    async def note(self, agent: AgentIdentity, conversation_id: str, text: str) -> Result:
        now = self.clock.now()
        note_id = str(uuid.uuid4())
        async with self.db.write() as conn:
            # Also while the outcome of a conversation the visitor left may still be recorded.
            held = await conn.scalar(
                select(conversations.c.id).where(
                    conversations.c.id == conversation_id,
                    or_(self.held_by(agent, conversation_id), self.awaiting_outcome(agent.id, now)),
                )
            )
            if held is None:
                await self.raise_not_held(agent, conversation_id, conn)
            await conn.execute(
                insert(notes).values(id=note_id, conversation_id=conversation_id, agent_id=agent.id, text=text, at=now)
            )
            await record_audit(conn, at=now, action="note", actor=f"agent:{agent.id}", conversation_id=conversation_id)
        view = {"id": note_id, "conversation_id": conversation_id, "text": text, "at": iso(now), "internal": True}
        return Result({"id": note_id}, [out.Note.model_validate(view).to(ToAgent(agent.id))])

    async def transfer(
        self, agent: AgentIdentity, conversation_id: str, team: str | None, to_agent_id: str | None
    ) -> Result:
        """Hand a conversation on, with its history and notes: to a team's queue (where it keeps
        its place by its original waiting time) or straight to a colleague with room."""
        now = self.clock.now()
        if team is not None and team not in self.rules.teams:
            raise DomainError("not_found", field="team")
        colleague_name = ""
        async with self.db.write() as conn:
            if to_agent_id is not None:
                colleague = (
                    await conn.execute(
                        select(agents.c.name, agents.c.max_concurrent)
                        .where(agents.c.id == to_agent_id, agents.c.active.is_(True))
                        .with_for_update()
                    )
                ).first()
                if colleague is None or to_agent_id == agent.id:
                    raise DomainError("not_found", field="agent_id")
                if self.presence is not None and to_agent_id not in await self.presence.online():
                    # The visitor would be told someone took over who is not there.
                    raise DomainError("conflict", COLLEAGUE_OFFLINE, state="offline")
                limit = colleague.max_concurrent or self.limits.max_concurrent
                if await self._active_count(conn, to_agent_id) >= limit:
                    raise DomainError("capacity_reached", limit=limit)
                colleague_name = colleague.name.split()[0]
                values: dict[str, Any] = {"agent_id": to_agent_id, "accepted_at": now}
            else:
                values = {
                    "status": ConversationStatus.WAITING,
                    "agent_id": None,
                    "accepted_at": None,
                    "team": team,
                    "offered_to": None,
                    "offered_at": None,
                }
            await self._update_held(conn, agent, conversation_id, **values)
            if team is not None:
                await self.bump_queue(conn)
            await record_audit(
                conn,
                at=now,
                action="transferred",
                actor=f"agent:{agent.id}",
                conversation_id=conversation_id,
                team=team,
                to_agent=to_agent_id,
            )
        told = {
            "text": "Je wordt doorverbonden met een collega. Even geduld.",
            "text_en": "You are being connected to a colleague.",
        }
        emits: list[Outgoing] = [
            out.Transfer.model_validate(told).to(ToVisitor(conversation_id)),
            await self.mine_emit(agent.id),
        ]
        if to_agent_id is not None:
            emits.append(await self.mine_emit(to_agent_id))
            emits.append(
                out.Transferred.model_validate({"conversation_id": conversation_id, "from": agent.name}).to(
                    ToAgent(to_agent_id)
                )
            )
            emits.append(out.Assigned(agent=out.AgentName(name=colleague_name)).to(ToVisitor(conversation_id)))
        else:
            emits.append(QueueChanged())
        return Result({"ok": True}, emits)

    async def history(self, agent: AgentIdentity, conversation_id: str) -> Result:
        """The whole conversation with its notes, for its holder or a supervisor."""
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(conversations.c.agent_id, conversations.c.crisis_acked_by).where(
                        conversations.c.id == conversation_id
                    )
                )
            ).first()
        if row is None:
            raise DomainError("not_found")
        if agent.id not in (row.agent_id, row.crisis_acked_by) and not agent.is_supervisor:
            raise DomainError("forbidden")
        return Result({"conversation": await self.conversation_view(conversation_id, with_notes=True)})

    async def agent_snapshot(self, agent: AgentIdentity) -> list[Emit]:
        """What a console needs right after it connects: its queue and its own conversations."""
        queue = await self.queue_snapshot(queue_group(agent.role, agent.teams))
        return [out.AgentQueue.model_validate(queue).to(ToAgent(agent.id)), await self.mine_emit(agent.id)]
