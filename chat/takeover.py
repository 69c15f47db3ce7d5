"""Reading a conversation along, and taking it over from its holder.

Who may: a supervisor or admin, and the crisis worker who took the conversation's crisis on
("Ik pak dit op") while a colleague holds it. Reading along is live (the conversation's messages
reach the reader too) and audited; the holder sees who reads along. Taking over asks the holder
first; the holder hands it over or says no; without an answer within the waiting time the asker
may take it on their own authority (a second `take_over`). The visitor then sees a new name, as
after a transfer. Every step is in the audit trail, and in the crisis timeline when there is one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chat import outbound as out
from chat.crisis import add_timeline_event
from chat.model import ConversationStatus, Outgoing, Result, ToAgent, ToVisitor, iso
from chat.ports import ChatCore
from chat.store import conversations
from contact.auth import AgentIdentity, agents
from contact.errors import CONVERSATION_ENDED, DomainError
from contact.store import record_audit

NOT_YOURS_TO_READ = (
    "Meelezen mag een leidinggevende, of de crisismedewerker die de crisis van dit gesprek heeft opgepakt.",
    "Only a supervisor, or the crisis worker who took this conversation's crisis on, may read along.",
)
OWN_CONVERSATION = ("Dit gesprek is al van jou.", "You already hold this conversation.")
ASKED_BY_OTHER = (
    "Een collega heeft al gevraagd dit gesprek over te nemen.",
    "A colleague has already asked to take this conversation over.",
)
NOTHING_ASKED = ("Niemand vraagt nu om dit gesprek over te nemen.", "Nobody is asking to take this over now.")
TOLD_VISITOR = {
    "text": "Je wordt doorverbonden met een collega. Even geduld.",
    "text_en": "You are being connected to a colleague.",
}


class TakeOverService:
    """Read along, ask to take over, answer, and take over after the waiting time."""

    def __init__(self, chat: ChatCore, wait_s: float) -> None:
        self.chat = chat
        self.db = chat.db
        self.clock = chat.clock
        self.wait_s = wait_s

    async def read_along(self, agent: AgentIdentity, conversation_id: str) -> Result:
        """The whole conversation for a reader; from now on its messages reach them too (the
        socket adapter puts the reader's connection in the conversation's readers' room)."""
        now = self.clock.now()
        async with self.db.write() as conn:
            row = await self._row(conn, conversation_id)
            if not self._may_read(agent, row):
                raise DomainError("forbidden", NOT_YOURS_TO_READ)
            if row.status == ConversationStatus.CLOSED:
                raise DomainError("closed", CONVERSATION_ENDED)
            await conn.execute(
                update(conversations).where(conversations.c.id == conversation_id).values(read_along=True)
            )
            await record_audit(
                conn, at=now, action="read_along", actor=f"agent:{agent.id}", conversation_id=conversation_id
            )
        view = await self.chat.conversation_view(conversation_id, with_notes=True)
        emits: list[Outgoing] = []
        if row.agent_id is not None and row.agent_id != agent.id:
            emits.append(out.Reader.model_validate(self._reader(conversation_id, agent, now)).to(ToAgent(row.agent_id)))
        return Result({"conversation": view, "read_along": True}, emits)

    async def take_over(self, agent: AgentIdentity, conversation_id: str) -> Result:
        """Ask the holder to hand the conversation over; once the waiting time has passed without
        an answer (or when the holder is not online), take it."""
        now = self.clock.now()
        async with self.db.write() as conn:
            row = await self._row(conn, conversation_id, lock=True)
            if not self._may_read(agent, row):
                raise DomainError("forbidden", NOT_YOURS_TO_READ)
            if row.status != ConversationStatus.ACTIVE:
                raise DomainError("closed", CONVERSATION_ENDED)
            if row.agent_id == agent.id:
                raise DomainError("conflict", OWN_CONVERSATION, state="own")
            if row.takeover_by not in (None, agent.id):
                raise DomainError("conflict", ASKED_BY_OTHER, state="asked_by_other")
            holder_online = row.agent_id in await self.chat.presence.online()
            waited = row.takeover_by == agent.id and row.takeover_at + timedelta(seconds=self.wait_s) <= now
            if holder_online and not waited:
                if row.takeover_by is None:
                    await conn.execute(
                        update(conversations)
                        .where(conversations.c.id == conversation_id)
                        .values(takeover_by=agent.id, takeover_at=now, read_along=True)
                    )
                    await record_audit(
                        conn,
                        at=now,
                        action="take_over_asked",
                        actor=f"agent:{agent.id}",
                        conversation_id=conversation_id,
                    )
                    await add_timeline_event(conn, row, "take_over_asked", now, agent)
                    asked_at = now
                else:
                    asked_at = row.takeover_at
                expires = asked_at + timedelta(seconds=self.wait_s)
                request = {**self._reader(conversation_id, agent, asked_at), "expires_at": iso(expires)}
                emits: list[Outgoing] = [out.TakeOverRequest.model_validate(request).to(ToAgent(row.agent_id))]
                return Result({"ok": True, "state": "asked", "expires_at": iso(expires)}, emits)
            how = "no_answer" if waited else "holder_offline"
            emits = await self._hand_over(conn, row, agent, now, how)
        # Read after the commit, so both lists show the new holder.
        emits += [await self.chat.mine_emit(agent.id), await self.chat.mine_emit(row.agent_id)]
        view = await self.chat.conversation_view(conversation_id, with_notes=True)
        return Result({"ok": True, "state": "taken", "conversation": view}, emits)

    async def answer(self, holder: AgentIdentity, conversation_id: str, accept: bool) -> Result:
        """The holder hands the conversation over to whoever asked, or says no."""
        now = self.clock.now()
        async with self.db.write() as conn:
            row = await self._row(conn, conversation_id, lock=True)
            if row.agent_id != holder.id or row.status != ConversationStatus.ACTIVE:
                await self.chat.raise_not_held(holder, conversation_id, conn)
            if row.takeover_by is None:
                raise DomainError("conflict", NOTHING_ASKED, state="nothing_asked")
            asker = (
                await conn.execute(
                    select(agents.c.id, agents.c.name, agents.c.role, agents.c.teams, agents.c.username).where(
                        agents.c.id == row.takeover_by
                    )
                )
            ).one()
            asker_identity = AgentIdentity(
                id=asker.id,
                username=asker.username,
                name=asker.name,
                role=asker.role,
                teams=tuple(asker.teams or ()),
                max_concurrent=None,
            )
            if accept:
                emits = await self._hand_over(conn, row, asker_identity, now, "consent")
            else:
                await conn.execute(
                    update(conversations)
                    .where(conversations.c.id == conversation_id)
                    .values(takeover_by=None, takeover_at=None)
                )
                await record_audit(
                    conn,
                    at=now,
                    action="take_over_declined",
                    actor=f"agent:{holder.id}",
                    conversation_id=conversation_id,
                )
                await add_timeline_event(conn, row, "take_over_no", now, holder)
                declined = {"conversation_id": conversation_id, "by": holder.id, "by_name": holder.name, "at": iso(now)}
                emits = [out.TakeOverDeclined.model_validate(declined).to(ToAgent(asker.id))]
        if accept:
            emits = [
                *emits,
                await self.chat.mine_emit(asker.id),
                await self.chat.mine_emit(holder.id),
                out.TakenOver.model_validate({"conversation_id": conversation_id, "from": holder.name}).to(
                    ToAgent(asker.id)
                ),
            ]
        return Result({"ok": True, "handed_over": accept}, emits)

    async def _hand_over(
        self, conn: AsyncConnection, row: Any, to: AgentIdentity, now: datetime, how: str
    ) -> list[Outgoing]:
        """The conversation changes holder in one conditional UPDATE (still active, still the
        same holder); the visitor is told as after a transfer."""
        moved = (
            await conn.execute(
                update(conversations)
                .where(
                    conversations.c.id == row.id,
                    conversations.c.status == ConversationStatus.ACTIVE,
                    conversations.c.agent_id == row.agent_id,
                )
                .values(agent_id=to.id, accepted_at=now, takeover_by=None, takeover_at=None)
                .returning(conversations.c.id)
            )
        ).first()
        if moved is None:
            raise DomainError("conflict", ("Het gesprek is net veranderd. Probeer het opnieuw.", "It just changed."))
        await record_audit(
            conn,
            at=now,
            action="taken_over",
            actor=f"agent:{to.id}",
            conversation_id=row.id,
            how=how,
            previous=row.agent_id,
        )
        await add_timeline_event(conn, row, "taken_over", now, to, reason=how)
        emits: list[Outgoing] = [
            out.Transfer.model_validate(TOLD_VISITOR).to(ToVisitor(row.id)),
            out.Assigned(agent=out.AgentName(name=to.first_name)).to(ToVisitor(row.id)),
        ]
        if row.agent_id is not None:
            told = {"conversation_id": row.id, "by": to.id, "by_name": to.name, "how": how, "at": iso(now)}
            emits.append(out.TakenFromYou.model_validate(told).to(ToAgent(row.agent_id)))
        return emits

    @staticmethod
    def _may_read(agent: AgentIdentity, row: Any) -> bool:
        return agent.is_supervisor or (row.crisis_acked_by == agent.id and row.crisis_at is not None)

    @staticmethod
    def _reader(conversation_id: str, agent: AgentIdentity, at: datetime) -> dict[str, Any]:
        return {"conversation_id": conversation_id, "by": agent.id, "by_name": agent.name, "at": iso(at)}

    @staticmethod
    async def _row(conn: AsyncConnection, conversation_id: str, *, lock: bool = False) -> Any:
        query = select(
            conversations.c.id,
            conversations.c.status,
            conversations.c.agent_id,
            conversations.c.crisis_at,
            conversations.c.crisis_acked_by,
            conversations.c.takeover_by,
            conversations.c.takeover_at,
        ).where(conversations.c.id == conversation_id)
        row = (await conn.execute(query.with_for_update() if lock else query)).first()
        if row is None:
            raise DomainError("not_found")
        return row
