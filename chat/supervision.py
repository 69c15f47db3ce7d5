"""What supervisors do beside reading along and taking over (chat/takeover.py): the live board
of every open conversation, agent, team queue, open crisis and overdue callback; a whisper to the
advisor holding a conversation; stopping to read along. The board holds no message text, no
contact details and nothing of who the visitor is."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chat import outbound as out
from chat.model import ConversationStatus, Outgoing, Result, ToAgent, ToAgentGroup, iso
from chat.ports import ChatCore
from chat.status import AVAILABLE, OFFLINE, statuses_of
from chat.store import conversations
from chat.takeover import NOT_YOURS_TO_READ, TakeOverService
from chat.workplace_store import whispers
from contact.auth import AgentIdentity, agents
from contact.errors import CONVERSATION_ENDED, DomainError
from contact.store import audit_events, record_audit

NO_HOLDER = (
    "Dit gesprek wacht nog; niemand kan je fluisterbericht lezen.",
    "This conversation is still waiting; nobody can read your whisper.",
)
_LEVELS = {"zorg": 1, "hoog": 2, "acuut": 3}
_CONSOLE_ROLES = ("advisor", "crisis", "supervisor", "admin")
_MONITORS = ("supervisor", "admin")


class SupervisionService:
    """The board, whispers and the end of reading along."""

    def __init__(
        self,
        chat: ChatCore,
        overdue_callbacks: Callable[[AsyncConnection, datetime], Awaitable[tuple[int, datetime | None]]] | None = None,
    ) -> None:
        """`overdue_callbacks(conn, now)`: how many callbacks are overdue and the oldest end of
        their tijdvak (the callbacks package answers it; the chat knows nothing of callbacks)."""
        self.chat = chat
        self.overdue_callbacks = overdue_callbacks
        self.db = chat.db
        self.clock = chat.clock

    async def whisper(self, sender: AgentIdentity, conversation_id: str, text: str) -> Result:
        """A whisper only the holder sees: stored (so it is there after a reload) and audited
        without its text; never sent to the visitor, never in the transcript or the handoff."""
        now = self.clock.now()
        whisper_id = str(uuid.uuid4())
        async with self.db.write() as conn:
            row = await TakeOverService._row(conn, conversation_id)
            if not TakeOverService._may_read(sender, row):
                raise DomainError("forbidden", NOT_YOURS_TO_READ)
            if row.status == ConversationStatus.CLOSED:
                raise DomainError("closed", CONVERSATION_ENDED)
            if row.agent_id is None or row.status != ConversationStatus.ACTIVE:
                raise DomainError("conflict", NO_HOLDER, state="no_holder")
            if row.agent_id == sender.id:
                raise DomainError("conflict", state="own")
            await conn.execute(
                insert(whispers).values(
                    id=whisper_id,
                    conversation_id=conversation_id,
                    from_agent_id=sender.id,
                    to_agent_id=row.agent_id,
                    text=text,
                    at=now,
                )
            )
            await record_audit(
                conn,
                at=now,
                action="whisper",
                actor=f"agent:{sender.id}",
                conversation_id=conversation_id,
                to=row.agent_id,
                length=len(text),
            )
        told: dict[str, Any] = {"id": whisper_id, "conversation_id": conversation_id, "text": text, "at": iso(now)}
        told["from"] = {"name": sender.name}
        emit = out.WhisperToHolder.model_validate(told).to(ToAgent(row.agent_id))
        return Result({"id": whisper_id, "at": iso(now)}, [emit])

    async def stop_reading(self, reader: AgentIdentity, conversation_id: str) -> Result:
        """The reader stops reading along: the holder is told; audited."""
        now = self.clock.now()
        async with self.db.write() as conn:
            row = await TakeOverService._row(conn, conversation_id)
            await record_audit(
                conn, at=now, action="read_along_stopped", actor=f"agent:{reader.id}", conversation_id=conversation_id
            )
        emits: list[Outgoing] = []
        if row.agent_id is not None and row.agent_id != reader.id and row.status == ConversationStatus.ACTIVE:
            stopped = {"conversation_id": conversation_id, "by": reader.id, "by_name": reader.name, "at": iso(now)}
            emits.append(out.ReadAlongStopped.model_validate(stopped).to(ToAgent(row.agent_id)))
        return Result({"ok": True}, emits)

    async def board(self) -> dict[str, Any]:
        """The supervisors' overview as it is now (the `board` ack)."""
        return (await self._board()).wire()

    async def _board(self) -> out.Board:
        now = self.clock.now()
        online = await self.chat.presence.online()
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(
                        conversations.c.id,
                        conversations.c.status,
                        conversations.c.team,
                        conversations.c.caller_type,
                        conversations.c.priority,
                        conversations.c.danger_now,
                        conversations.c.agent_id,
                        conversations.c.waiting_since,
                        conversations.c.accepted_at,
                        conversations.c.visitor_away_since,
                        conversations.c.read_along,
                        conversations.c.crisis_at,
                        conversations.c.crisis_acked_at,
                        conversations.c.crisis_acked_by,
                        conversations.c.crisis_ended_at,
                        conversations.c.crisis_round,
                    )
                    .where(conversations.c.status.in_([ConversationStatus.WAITING, ConversationStatus.ACTIVE]))
                    .order_by(conversations.c.waiting_since)
                )
            ).all()
            risk: dict[str, int] = {}
            ids = [r.id for r in rows]
            if ids:
                for cid, detail in await conn.execute(
                    select(audit_events.c.conversation_id, audit_events.c.detail).where(
                        audit_events.c.action == "risk", audit_events.c.conversation_id.in_(ids)
                    )
                ):
                    level = _LEVELS.get(str(detail.get("level"))) if isinstance(detail, dict) else None
                    if level:
                        risk[cid] = max(risk.get(cid, 0), level)
            people = (
                await conn.execute(
                    select(agents.c.id, agents.c.name, agents.c.role, agents.c.teams, agents.c.max_concurrent)
                    .where(agents.c.active.is_(True), agents.c.role.in_(_CONSOLE_ROLES))
                    .order_by(agents.c.name)
                )
            ).all()
            statuses = await statuses_of(conn, [a.id for a in people], now)
            overdue: tuple[int, datetime | None] = (0, None)
            if self.overdue_callbacks is not None:
                overdue = await self.overdue_callbacks(conn, now)
        names = {a.id: a.name for a in people}
        level_name = {v: k for k, v in _LEVELS.items()}
        load = Counter(r.agent_id for r in rows if r.status == ConversationStatus.ACTIVE and r.agent_id)
        board_conversations = []
        for r in rows:
            crisis = None
            if r.crisis_at is not None:
                crisis = {
                    "escalated_at": iso(r.crisis_at),
                    "acknowledged_at": iso(r.crisis_acked_at),
                    "acknowledged_by": names.get(r.crisis_acked_by) if r.crisis_acked_by else None,
                    "ended_at": iso(r.crisis_ended_at),
                    "round": r.crisis_round,
                }
            board_conversations.append(
                {
                    "id": r.id,
                    "status": r.status,
                    "team": r.team,
                    "caller_type": r.caller_type,
                    "priority": r.priority,
                    "danger_now": r.danger_now,
                    "holder": {"id": r.agent_id, "name": names.get(r.agent_id, "")} if r.agent_id else None,
                    "waiting_since": iso(r.waiting_since),
                    "accepted_at": iso(r.accepted_at) if r.status == ConversationStatus.ACTIVE else None,
                    "risk": level_name.get(risk.get(r.id, 0)),
                    "crisis": crisis,
                    "visitor_present": r.visitor_away_since is None,
                    "visitor_away_since": iso(r.visitor_away_since),
                    "read_along": bool(r.read_along),
                }
            )
        board_agents = []
        for a in people:
            view = statuses[a.id]
            here = a.id in online
            board_agents.append(
                {
                    "id": a.id,
                    "name": a.name,
                    "role": a.role,
                    "teams": list(a.teams or ()),
                    # Without a console open an agent is offline, whatever they chose last.
                    "status": view["status"] if here else OFFLINE,
                    "since": iso(view["since"]) if here else None,
                    "until": iso(view["until"]) if here else None,
                    "online": here,
                    "load": load.get(a.id, 0),
                    "limit": a.max_concurrent or self.chat.limits.max_concurrent,
                }
            )
        teams = []
        for slug in sorted(self.chat.rules.teams):
            waiting = [r for r in rows if r.team == slug and r.status == ConversationStatus.WAITING]
            available = sum(
                1
                for a in people
                if a.id in online
                and statuses[a.id]["status"] == AVAILABLE
                and (slug in (a.teams or ()) or a.role in ("supervisor", "admin"))
            )
            teams.append(
                {
                    "team": slug,
                    "waiting": len(waiting),
                    "oldest_waiting_since": iso(min(r.waiting_since for r in waiting)) if waiting else None,
                    "available": available,
                }
            )
        crises = [
            r.id for r in rows if r.crisis_at is not None and r.crisis_acked_at is None and r.crisis_ended_at is None
        ]
        board = {
            "at": iso(now),
            "conversations": board_conversations,
            "agents": board_agents,
            "teams": teams,
            "crises": crises,
            "callbacks": {"overdue": overdue[0], "oldest_due": iso(overdue[1])},
        }
        # Validated like every event, so the ack and the live event have one shape.
        return out.Board.model_validate(board)

    async def board_emits(self) -> list[Outgoing]:
        """The board for every supervisor and admin online (the `all` queue group is theirs);
        nothing to build while none of them has a console open on any process."""
        online = await self.chat.presence.online()
        if not online:
            return []
        async with self.db.read() as conn:
            watching = await conn.scalar(
                select(agents.c.id)
                .where(agents.c.id.in_(sorted(online)), agents.c.role.in_(_MONITORS), agents.c.active.is_(True))
                .limit(1)
            )
        if watching is None:
            return []
        return [(await self._board()).to(ToAgentGroup("all"))]
