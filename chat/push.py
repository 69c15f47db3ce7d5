"""Push mode: in a team configured with `push = true`, the longest-waiting conversation is offered
to the least-busy online agent of that team, who accepts it or lets it pass; an offer not
answered within the timeout counts as passed, and the next agent gets it. The queue stays
visible meanwhile, so an offer never keeps a contact from someone who takes it first."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from chat import outbound as out
from chat.model import ConversationStatus, Outgoing, QueueChanged, Result, ToAgent, iso, withdrawn_emit
from chat.ports import ChatCore
from chat.status import available_among
from chat.store import conversations, push_declines
from contact.auth import AgentIdentity, agents
from contact.errors import DomainError
from contact.presence import Presence
from routing.queue_order import AgentView, Waiting, push_candidate


class PushOffers:
    def __init__(self, chat: ChatCore, presence: Presence, offer_timeout_s: float) -> None:
        self.chat = chat
        self.db = chat.db
        self.clock = chat.clock
        self.routing = chat.rules
        self.presence = presence
        self.offer_timeout_s = offer_timeout_s
        self.teams = sorted(t.slug for t in self.routing.teams.values() if t.push)

    async def offer_due(self) -> list[Outgoing]:
        """Make the offers that are due now: one per free agent, longest-waiting first. Safe to
        run in several processes at once: each offer is claimed with a conditional UPDATE."""
        if not self.teams:
            return []
        now = self.clock.now()
        cutoff = now - timedelta(seconds=self.offer_timeout_s)
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(
                        conversations.c.id,
                        conversations.c.team,
                        conversations.c.priority,
                        conversations.c.waiting_since,
                        conversations.c.danger_now,
                        conversations.c.expertise,
                        conversations.c.offered_to,
                        conversations.c.offered_at,
                        conversations.c.caller_type,
                        conversations.c.intent,
                        conversations.c.topic,
                        conversations.c.visitor_away_since,
                    ).where(
                        conversations.c.status == ConversationStatus.WAITING,
                        conversations.c.team.in_(self.teams),
                        # A crisis that is alerting has one control, the alarm ("Ik pak dit op"):
                        # no offer besides it for the same conversation.
                        ~and_(
                            conversations.c.crisis_at.is_not(None),
                            conversations.c.crisis_acked_at.is_(None),
                            conversations.c.crisis_ended_at.is_(None),
                        ),
                    )
                )
            ).all()
            if not rows:
                return []
            online = await self.presence.online()
            if not online:
                return []
            agent_rows = (
                await conn.execute(
                    select(
                        agents.c.id, agents.c.role, agents.c.teams, agents.c.expertise, agents.c.max_concurrent
                    ).where(agents.c.id.in_(sorted(online)), agents.c.active.is_(True))
                )
            ).all()
            # Only who is `beschikbaar` gets an offer: not on a break, not in nawerk, not offline.
            free = await available_among(conn, {a.id for a in agent_rows}, now)
            agent_rows = [a for a in agent_rows if a.id in free]
            load: dict[str, int] = dict(
                (
                    await conn.execute(
                        select(conversations.c.agent_id, func.count())
                        .where(
                            conversations.c.status == ConversationStatus.ACTIVE,
                            conversations.c.agent_id.in_(sorted(online)),
                        )
                        .group_by(conversations.c.agent_id)
                    )
                ).all()
            )
            declined: dict[str, set[str]] = {}
            for d in await conn.execute(
                select(push_declines.c.conversation_id, push_declines.c.agent_id).where(
                    push_declines.c.conversation_id.in_([r.id for r in rows])
                )
            ):
                declined.setdefault(d.conversation_id, set()).add(d.agent_id)

        live = {r.id: r.offered_to for r in rows if r.offered_to is not None and r.offered_at > cutoff}
        emits: list[Outgoing] = []
        for r in rows:
            if r.offered_to is not None and r.id not in live:
                # Not answered in time: counts as passed, and is withdrawn from that console.
                declined.setdefault(r.id, set()).add(r.offered_to)
                if await self._expire(r.id, r.offered_to, now, cutoff):
                    emits.append(withdrawn_emit(r.offered_to, r.id, "expired"))
        busy = set(live.values())  # one open offer per agent at a time
        views = {
            a.id: AgentView(
                id=a.id,
                teams=tuple(a.teams or ()),
                expertise=tuple(a.expertise or ()),
                role=a.role,
                active_count=int(load.get(a.id, 0)),
                max_concurrent=a.max_concurrent or self.chat.limits.max_concurrent,
            )
            for a in agent_rows
            if a.id not in busy
        }
        candidates = {
            r.id: Waiting(
                r.id,
                r.team,
                r.priority,
                r.waiting_since,
                r.danger_now,
                tuple(r.expertise or ()),
                present=r.visitor_away_since is None,
            )
            for r in rows
            if r.id not in live
        }
        by_id = {r.id: r for r in rows}
        for team in self.teams:
            while True:
                found = push_candidate(
                    team, list(candidates.values()), list(views.values()), declined, self.routing.crisis_team
                )
                if found is None:
                    break
                item, agent = found
                del candidates[item.conversation_id]
                del views[agent.id]
                if await self._claim(item.conversation_id, agent.id, now):
                    emits.append(
                        out.Offer.model_validate(self._offer_view(by_id[item.conversation_id], now)).to(
                            ToAgent(agent.id)
                        )
                    )
        return emits

    async def _claim(self, conversation_id: str, agent_id: str, now: datetime) -> bool:
        async with self.db.write() as conn:
            claimed = (
                await conn.execute(
                    update(conversations)
                    .where(
                        conversations.c.id == conversation_id,
                        conversations.c.status == ConversationStatus.WAITING,
                        conversations.c.offered_to.is_(None),
                    )
                    .values(offered_to=agent_id, offered_at=now)
                    .returning(conversations.c.id)
                )
            ).first()
        return claimed is not None

    async def _expire(self, conversation_id: str, agent_id: str, now: datetime, cutoff: datetime) -> bool:
        try:
            async with self.db.write() as conn:
                expired = (
                    await conn.execute(
                        update(conversations)
                        .where(
                            conversations.c.id == conversation_id,
                            conversations.c.offered_to == agent_id,
                            conversations.c.offered_at <= cutoff,
                        )
                        .values(offered_to=None, offered_at=None)
                        .returning(conversations.c.id)
                    )
                ).first()
                if expired is not None:
                    await self._decline(conn, conversation_id, agent_id, now, "expired")
                return expired is not None
        except IntegrityError:
            return False  # another process recorded the same run-out offer first

    @staticmethod
    async def _decline(conn: Any, conversation_id: str, agent_id: str, now: datetime, reason: str) -> None:
        exists = await conn.scalar(
            select(push_declines.c.agent_id).where(
                push_declines.c.conversation_id == conversation_id, push_declines.c.agent_id == agent_id
            )
        )
        if exists is None:
            await conn.execute(
                insert(push_declines).values(conversation_id=conversation_id, agent_id=agent_id, at=now, reason=reason)
            )

    def _offer_view(self, row: Any, now: datetime) -> dict[str, Any]:
        return {
            "conversation_id": row.id,
            "team": row.team,
            "caller_type": row.caller_type,
            "intent": row.intent,
            "topic": row.topic,
            "priority": row.priority,
            "danger_now": row.danger_now,
            "expertise": list(row.expertise or ()),
            "waiting_since": iso(row.waiting_since),
            "expires_at": iso(now + timedelta(seconds=self.offer_timeout_s)),
        }

    async def open_offer(self, agent: AgentIdentity) -> dict[str, Any] | None:
        """The offer this agent has now, for a console that (re)connects: the agent stays
        reserved for it until it runs out, so it must not be lost with a reload."""
        cutoff = self.clock.now() - timedelta(seconds=self.offer_timeout_s)
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(conversations).where(
                        conversations.c.offered_to == agent.id,
                        conversations.c.status == ConversationStatus.WAITING,
                        conversations.c.offered_at > cutoff,
                    )
                )
            ).first()
        return self._offer_view(row, row.offered_at) if row is not None else None

    async def pass_offer(self, agent: AgentIdentity, conversation_id: str) -> Result:
        """The agent lets an offer pass: it goes to the next agent at once."""
        now = self.clock.now()
        try:
            async with self.db.write() as conn:
                released = (
                    await conn.execute(
                        update(conversations)
                        .where(
                            conversations.c.id == conversation_id,
                            conversations.c.offered_to == agent.id,
                            conversations.c.status == ConversationStatus.WAITING,
                        )
                        .values(offered_to=None, offered_at=None)
                        .returning(conversations.c.id)
                    )
                ).first()
                if released is None:
                    status = await conn.scalar(
                        select(conversations.c.status).where(conversations.c.id == conversation_id)
                    )
                    if status is None:
                        raise DomainError("not_found")
                    raise DomainError("conflict", state="not_offered")
                await self._decline(conn, conversation_id, agent.id, now, "passed")
        except IntegrityError:
            raise DomainError("conflict", state="not_offered") from None
        # A queue change makes the next offer at once (offers follow every queue broadcast).
        return Result({"ok": True}, [QueueChanged()])
