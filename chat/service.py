"""The chat's use cases. Each state change happens in one function here that writes, records
the audit entry and returns the events to send once the transaction has committed."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from cases.outbox import HANDED_OFF, Contact, HandoffSettings, create_handoff
from chat.crisis import acked_emit, acknowledge_in, begin_crisis, end_crisis_in, load_timeline
from chat.model import (
    Emit,
    HandoffCreated,
    Outgoing,
    QueueChanged,
    Result,
    ToAgent,
    ToAgentGroup,
    ToCrisisAudience,
    ToReaders,
    ToVisitor,
    check_outcome,
    estimate_wait_s,
    first_name,
    iso,
    message_view,
    parse_group,
    queue_group,
)
from chat.push import withdrawn_emit
from chat.store import OPEN_STATUSES, conversations, messages, notes, queue_state
from chat.writer import MessageWriter, NewMessage
from contact.auth import AgentIdentity, agents
from contact.clock import Clock
from contact.db import Database
from contact.errors import CONVERSATION_ENDED, DomainError
from contact.hours import ChatHours
from contact.keys import hash_token
from contact.presence import Presence
from contact.ratelimit import RateLimiter
from contact.store import record_audit
from routing import crisis as crisis_rules
from routing.queue_order import AgentView, Waiting, order, overflowing, visible_to
from routing.risk import RiskDetector
from routing.rules import RoutingRules

RATE_WINDOW_ACCEPTS_S = 1800
COLLEAGUE_OFFLINE = ("Deze collega is nu niet online.", "This colleague is not online now.")
VISITOR_AWAY = (
    "De bezoeker is weg: de verbinding is verbroken. Misschien komt de bezoeker zo terug. Toch aannemen?",
    "The visitor's connection is gone; they may come back soon. Accept anyway?",
)
BACK_IN_DANGER = "De bezoeker in gevaar is terug in de wachtrij."
DANGER_AT_START = "De bezoeker zegt nu in gevaar te zijn (vraag voor de chat)."


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


# Why a conversation ended for the visitor while its holder may still record the outcome.
VISITOR_ENDED = ("visitor_left", "visitor_gone")
AUTO_OUTCOME = {
    "kind": "geen",
    "summary": "Automatisch afgesloten: de adviseur heeft na het vertrek van de bezoeker geen uitkomst vastgelegd.",
    "automatic": True,
}


class ChatService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        hours: ChatHours,
        writer: MessageWriter,
        limiter: RateLimiter,
        limits: ChatLimits,
        rules: RoutingRules,
        risk: RiskDetector,
        token_key: bytes | None = None,
    ) -> None:
        """`token_key`: the same on every process (derived from the secret key), so that the
        answer to an unknown resume token is the same wherever it is asked."""
        self.rules = rules
        self.token_key = token_key or secrets.token_bytes(32)
        self.risk = risk
        # Who has a console open (contact/presence.py); set by the composition root.
        self.presence: Presence | None = None
        self.handoffs = HandoffSettings()
        self._last_overflow: set[str] = set()
        self.db = db
        self.clock = clock
        self.hours = hours
        self.writer = writer
        self.limiter = limiter
        self.limits = limits

    # ---- status -----------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        state = self.hours.state(self.clock.now())
        async with self.db.read() as conn:
            waiting = await conn.scalar(
                select(func.count()).where(
                    conversations.c.status == "waiting", conversations.c.visitor_away_since.is_(None)
                )
            )
            accepted = await self._accepted_recently(conn)
        waiting = int(waiting or 0)
        return {
            "chat": {
                "open": state.open,
                "opens_at": iso(state.opens_at),
                "closes_at": iso(state.closes_at),
                "queue_length": waiting,
                "estimated_wait_s": self._estimate(waiting + 1, accepted),
                "advisors_online": await self.advisors_online(),
            },
            "phone": {"advice": "0800-2000", "emergency": "112"},
        }

    async def advisors_online(self) -> int:
        """How many agents have a console open on any process: a count only, never who. The
        widget tells a visitor when nobody is there instead of a wait that keeps growing."""
        if self.presence is None:
            return 0
        return len(await self.presence.online())

    # ---- visitor ----------------------------------------------------------------------

    async def start(
        self,
        *,
        caller_type: str,
        intent: str,
        topic: str | None,
        danger_now: bool,
        client_key: str,
    ) -> tuple[str, Result]:
        """Open a conversation in the queue; answers the conversation id with the ack and a new
        resume token. Only the server makes tokens: one a client chose could be guessed, or
        shared with whoever uses the same browser later."""
        now = self.clock.now()
        state = self.hours.state(now)
        if not state.open:
            raise DomainError("closed", opens_at=iso(state.opens_at), phone="0800-2000", emergency="112")
        if not await self.limiter.hit(f"start:{client_key}", self.limits.starts_per_ip, self.limits.starts_window_s):
            raise DomainError("rate_limited")
        route = self.rules.route(caller_type, intent, topic, danger_now)
        token = secrets.token_urlsafe(32)
        conversation_id = str(uuid.uuid4())
        try:
            async with self.db.write() as conn:
                await conn.execute(
                    insert(conversations).values(
                        id=conversation_id,
                        status="waiting",
                        caller_type=caller_type,
                        intent=intent,
                        topic=topic,
                        danger_now=danger_now,
                        team=route.team,
                        priority=route.priority,
                        resume_hash=hash_token(token),
                        created_at=now,
                        last_activity_at=now,
                        waiting_since=now,
                        last_seq=0,
                        expertise=list(route.expertise) or None,
                    )
                )
                await self.bump_queue(conn)
                alert = None
                if danger_now:
                    alert = await begin_crisis(
                        conn,
                        self.rules,
                        conversation_id,
                        now,
                        by=crisis_rules.BY_VISITOR,
                        by_name=None,
                        reason=DANGER_AT_START,
                    )
                await record_audit(
                    conn,
                    at=now,
                    action="started",
                    actor="visitor",
                    conversation_id=conversation_id,
                    caller_type=caller_type,
                    intent=intent,
                    danger_now=danger_now,
                )
        except IntegrityError:
            # The partial unique index: this token already has an open conversation.
            raise DomainError("conflict") from None
        positions = await self.queue_positions()
        position, wait = positions.get(conversation_id, (1, self.limits.default_wait_per_position_s))
        ack = {
            "conversation_id": conversation_id,
            "resume_token": token,
            "status": "waiting",
            "queue": {"position": position, "estimated_wait_s": wait, "advisors_online": await self.advisors_online()},
        }
        emits: list[Outgoing] = [QueueChanged()]
        if danger_now:
            emits.append(self.crisis_visitor_emit(conversation_id, now))
        if alert is not None:
            emits.append(Emit(ToCrisisAudience("crisis"), "crisis_alert", alert))
        return conversation_id, Result(ack, emits)

    def crisis_visitor_emit(self, conversation_id: str, now: datetime) -> Emit:
        """112 at once, and outside opening hours the 24/7 line too."""
        return Emit(ToVisitor(conversation_id), "crisis", crisis_rules.visitor_text(self.hours.state(now).open))

    async def is_open(self, conversation_id: str) -> bool:
        async with self.db.read() as conn:
            status = await conn.scalar(select(conversations.c.status).where(conversations.c.id == conversation_id))
        return status in OPEN_STATUSES

    async def resume(
        self, resume_token: str, after_seq: int, join: Callable[[str], Awaitable[None]] | None = None
    ) -> tuple[str | None, Result]:
        """The open conversation of this token with every message after `after_seq`. A visitor
        who was taken out of the queue for being away gets their place back.

        `join(conversation_id)` is awaited once the conversation is known to be resumable and
        before its messages are read, so that the caller is in the room of its live events
        first: a message committed after the read is emitted after the join and arrives live;
        one committed before it is in the answer. No message falls in between. When the
        conversation turns out closed after all, the first value is None and the caller undoes
        its join.

        A token that was never issued, has expired (`resume_ttl_s` after the conversation's last
        activity), was revoked (stop, quick exit) or belongs to a closed conversation gets one and
        the same answer, `status: closed` with no messages, after the same single lookup: whoever
        opens that browser later reads nothing back and cannot tell which case it was. The first
        value is None then: the connection is bound to nothing."""
        now = self.clock.now()
        token_hash = hash_token(resume_token)
        newest = (
            select(conversations)
            .where(conversations.c.resume_hash == token_hash)
            .order_by(conversations.c.created_at.desc())
            .limit(1)
        )
        async with self.db.read() as conn:
            conv = (await conn.execute(newest)).first()
        if conv is None or not self._resumable(conv, now):
            return None, Result(self._ended_answer(token_hash, conv))
        if join is not None:
            await join(conv.id)
        emits = await self._visitor_back(conv.id, now)
        async with self.db.read() as conn:
            conv = (await conn.execute(newest)).one()
            rows = await _messages(conn, conv.id, after_seq)
            agent_name = await self._agent_first_name(conn, conv.agent_id)
        if conv.status not in OPEN_STATUSES:  # it ended while we looked: still nothing to read back
            return None, Result(self._ended_answer(token_hash, conv), emits)
        ack: dict[str, Any] = {
            "conversation_id": conv.id,
            "status": conv.status,
            "last_seq": conv.last_seq,
            "messages": [message_view(r) for r in rows],
        }
        if conv.status == "waiting":
            positions = await self.queue_positions()
            position, wait = positions.get(conv.id, (1, self.limits.default_wait_per_position_s))
            online = await self.advisors_online()
            ack["queue"] = {"position": position, "estimated_wait_s": wait, "advisors_online": online}
        if agent_name is not None and conv.status == "active":
            ack["agent"] = {"name": agent_name}
        return conv.id, Result(ack, emits)

    def _resumable(self, conv: Any, now: datetime) -> bool:
        """Open (or taken out of the queue for being away, which `resume` undoes) and active recently."""
        if conv.status not in OPEN_STATUSES and conv.close_reason != "visitor_gone":
            return False
        last = conv.last_activity_at or conv.created_at
        return bool(now - last <= timedelta(seconds=self.limits.resume_ttl_s))

    def _ended_answer(self, token_hash: str, conv: Any) -> dict[str, Any]:
        """The one answer for every token that reads nothing back. A closed conversation keeps
        its own id; any other token gets an id derived from it with the server's key, so the
        answer looks the same whether the token ever existed."""
        if conv is not None and conv.status == "closed":
            conversation_id = conv.id
        else:
            digest = hmac.new(self.token_key, token_hash.encode(), hashlib.sha256).digest()
            conversation_id = str(uuid.UUID(bytes=digest[:16], version=4))
        return {"conversation_id": conversation_id, "status": "closed", "messages": []}

    async def _visitor_back(self, conversation_id: str, now: datetime) -> list[Outgoing]:
        """The visitor is here again: clear the away mark and count it as activity; reopen a
        conversation closed as `visitor_gone` with its old place (waiting_since is kept). Answers
        what to tell: the queue, or the advisor that the visitor is back."""
        try:
            async with self.db.write() as conn:
                reopened = (
                    await conn.execute(
                        update(conversations)
                        .where(
                            conversations.c.id == conversation_id,
                            conversations.c.status == "closed",
                            conversations.c.close_reason == "visitor_gone",
                        )
                        .values(
                            status="waiting",
                            closed_at=None,
                            close_reason=None,
                            visitor_away_since=None,
                            last_activity_at=now,
                        )
                        .returning(conversations.c.id, conversations.c.crisis_end_reason)
                    )
                ).first()
                if reopened is not None:
                    await self.bump_queue(conn)
                    await record_audit(
                        conn, at=now, action="visitor_returned", actor="visitor", conversation_id=conversation_id
                    )
                    back_emits: list[Outgoing] = [QueueChanged()]
                    if reopened.crisis_end_reason == "visitor_gone":
                        # Their crisis ended when they went; they are back, so it starts again.
                        alert = await begin_crisis(
                            conn,
                            self.rules,
                            conversation_id,
                            now,
                            by=crisis_rules.BY_SYSTEM,
                            by_name=None,
                            reason=BACK_IN_DANGER,
                        )
                        if alert is not None:
                            back_emits.append(self.crisis_visitor_emit(conversation_id, now))
                            back_emits.append(Emit(ToCrisisAudience("crisis"), "crisis_alert", alert))
                    return back_emits
                back = await self._set_presence(conn, conversation_id, now, present=True)
        except IntegrityError:
            return []  # the same token already opened a new conversation: this one stays closed
        if back is None:
            return []
        return self._presence_emits(conversation_id, back.status, back.agent_id, present=True, since=now)

    @staticmethod
    async def _set_presence(conn: AsyncConnection, conversation_id: str, now: datetime, *, present: bool) -> Any:
        """Set or clear the away mark of an open conversation and count this moment as its
        activity; answers its status and holder when the mark changed (None when it did not)."""
        away = conversations.c.visitor_away_since
        changed = (
            await conn.execute(
                update(conversations)
                .where(
                    conversations.c.id == conversation_id,
                    conversations.c.status.in_(OPEN_STATUSES),
                    away.is_not(None) if present else away.is_(None),
                )
                .values(visitor_away_since=None if present else now, last_activity_at=now)
                .returning(conversations.c.status, conversations.c.agent_id)
            )
        ).first()
        if changed is None:
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id, conversations.c.status.in_(OPEN_STATUSES))
                .values(last_activity_at=now)
            )
        return changed

    @staticmethod
    def _presence_emits(
        conversation_id: str, status: str, holder_id: str | None, *, present: bool, since: datetime
    ) -> list[Outgoing]:
        """The advisor sees whether the visitor is still there; the queue marks gone visitors."""
        if status == "waiting":
            return [QueueChanged()]
        if holder_id is None:
            return []
        view = {"conversation_id": conversation_id, "present": present, "since": iso(since)}
        return [Emit(ToAgent(holder_id), "visitor_presence", view)]

    async def visitor_away(self, conversation_id: str) -> list[Outgoing]:
        """The visitor's last connection dropped: mark since when (a waiting visitor leaves the
        queue after the grace period; the advisor of an active chat sees it at once) and count
        it as the last activity, from which the resume token's lifetime runs."""
        now = self.clock.now()
        async with self.db.write() as conn:
            gone = await self._set_presence(conn, conversation_id, now, present=False)
        if gone is None:
            return []
        return self._presence_emits(conversation_id, gone.status, gone.agent_id, present=False, since=now)

    async def visitors_present(self, conversation_ids: list[str]) -> None:
        """The visitors of these conversations are connected (to this process): their tokens stay
        alive. Called every few minutes, so a process that dies stops keeping them alive."""
        now = self.clock.now()
        for i in range(0, len(conversation_ids), 500):
            async with self.db.write() as conn:
                await conn.execute(
                    update(conversations)
                    .where(
                        conversations.c.id.in_(conversation_ids[i : i + 500]),
                        conversations.c.status.in_(OPEN_STATUSES),
                    )
                    .values(last_activity_at=now)
                )

    async def close_abandoned(self) -> list[Outgoing]:
        """Take visitors who have been gone longer than the grace period out of the queue.
        Idempotent: several processes may run it at once."""
        now = self.clock.now()
        cutoff = now - timedelta(seconds=self.limits.waiting_grace_s)
        async with self.db.write() as conn:
            gone = (
                await conn.execute(
                    update(conversations)
                    .where(
                        conversations.c.status == "waiting",
                        conversations.c.visitor_away_since.is_not(None),
                        conversations.c.visitor_away_since <= cutoff,
                    )
                    .values(status="closed", closed_at=now, close_reason="visitor_gone")
                    .returning(conversations.c.id)
                )
            ).all()
            if not gone:
                return []
            await self.bump_queue(conn)
            emits: list[Outgoing] = [QueueChanged()]
            for row in gone:
                await record_audit(conn, at=now, action="visitor_gone", actor="system", conversation_id=row.id)
                ended = await end_crisis_in(conn, row.id, now, "visitor_gone")
                if ended is not None:
                    emits.append(ended)
        return emits

    async def visitor_message(self, conversation_id: str, client_id: str, text: str) -> Result:
        if not await self.limiter.hit(
            f"msg:{conversation_id}", self.limits.visitor_messages, self.limits.visitor_window_s
        ):
            raise DomainError("rate_limited")
        written = await self.writer.write(NewMessage(conversation_id, "visitor", client_id, text, self.clock.now()))
        if written is None:
            raise DomainError("closed", CONVERSATION_ENDED)
        ack = {"id": written.id, "seq": written.seq, "at": iso(written.at)}
        if written.duplicate:
            return Result(ack, await self._stored_again(conversation_id, written.id))
        view = {**ack, "sender": "visitor", "text": text}
        emits: list[Outgoing] = [Emit(ToVisitor(conversation_id), "message", view)]
        if written.holder_id is not None:
            emits.append(Emit(ToAgent(written.holder_id), "message", {**view, "conversation_id": conversation_id}))
        if written.read_along:
            emits.append(Emit(ToReaders(conversation_id), "message", {**view, "conversation_id": conversation_id}))
        emits.extend(await self._risk_signals(conversation_id, written.holder_id, text, written.seq))
        return Result(ack, emits)

    async def _risk_signals(self, conversation_id: str, holder_id: str | None, text: str, seq: int) -> list[Outgoing]:
        """Risk phrases in a visitor's message: recorded (the phrases, not the text), told to
        the advisor (or, while waiting, to the agents), and a waiting conversation moves up."""
        found = self.risk.detect(text)
        if found.level is None:
            return []
        # Which concepts and words matched (never the message itself).
        concepts = [{"concept": name, "level": level, "words": list(words)} for name, level, words in found.concepts]
        raise_to = {"hoog": self.rules.danger_priority // 2}.get(found.level)
        now = self.clock.now()
        alert = None
        async with self.db.write() as conn:
            raised = None
            if found.level == "acuut":
                # The highest level starts the crisis procedure: crisis team, on top, alerts.
                alert = await begin_crisis(
                    conn,
                    self.rules,
                    conversation_id,
                    now,
                    by=crisis_rules.BY_SYSTEM,
                    by_name=None,
                    reason="Risicosignaal: " + ", ".join(found.signals),
                )
                if alert is not None and alert["status"] == "waiting":
                    raised = True
                    await self.bump_queue(conn)
            elif raise_to is not None:
                raised = (
                    await conn.execute(
                        update(conversations)
                        .where(
                            conversations.c.id == conversation_id,
                            conversations.c.status == "waiting",
                            conversations.c.priority < raise_to,
                        )
                        .values(priority=raise_to)
                        .returning(conversations.c.id)
                    )
                ).first()
                if raised is not None:
                    await self.bump_queue(conn)
            await record_audit(
                conn,
                at=now,
                action="risk",
                actor="system",
                conversation_id=conversation_id,
                level=found.level,
                signals=list(found.signals),
                concepts=concepts,
                seq=seq,
            )
        event = {
            "conversation_id": conversation_id,
            "signals": list(found.signals),
            "level": found.level,
            "concepts": concepts,
        }
        if holder_id is not None:
            emits: list[Outgoing] = [Emit(ToAgent(holder_id), "risk", event)]
            if alert is not None:  # its team and crisis mark changed
                emits.append(await self.mine_emit(holder_id))
        else:  # still waiting: the agents who can accept it, and the supervisors
            emits = [Emit(ToAgentGroup(g), "risk", event) for g in await self._groups_seeing(conversation_id)]
        if raised is not None:
            emits.append(QueueChanged())
        if found.level == "acuut":
            emits.append(self.crisis_visitor_emit(conversation_id, now))
        if alert is not None:
            emits.append(Emit(ToCrisisAudience("crisis"), "crisis_alert", alert))
        return emits

    async def visitor_typing(self, conversation_id: str, typing: bool) -> list[Emit]:
        if not await self.limiter.hit(f"typing:{conversation_id}", self.limits.typing_per_10s, 10):
            raise DomainError("rate_limited")
        async with self.db.read() as conn:
            holder = await conn.scalar(
                select(conversations.c.agent_id).where(
                    conversations.c.id == conversation_id, conversations.c.status == "active"
                )
            )
        if holder is None:
            return []
        return [Emit(ToAgent(holder), "typing", {"conversation_id": conversation_id, "typing": typing})]

    async def leave(self, conversation_id: str, quick_exit: bool = False) -> Result:
        """The visitor ends the conversation (stop, or quick exit). It ends for them at once and
        their resume token stops working; the advisor who held it keeps it in "Mijn gesprekken"
        to record the outcome (`close`) within the grace period. Leaving twice is harmless; a
        quick exit after a stop still tells the advisor about the quick exit."""
        now = self.clock.now()
        async with self.db.write() as conn:
            row = (
                await conn.execute(
                    update(conversations)
                    .where(conversations.c.id == conversation_id, conversations.c.status.in_(OPEN_STATUSES))
                    .values(
                        status="closed",
                        closed_at=now,
                        close_reason="visitor_left",
                        visitor_quick_exit=quick_exit,
                        resume_hash=_revoked_hash(),
                        last_activity_at=now,
                    )
                    .returning(conversations.c.agent_id, conversations.c.accepted_at, conversations.c.offered_to)
                )
            ).first()
            if row is None:
                fled = await self._quick_exit_after_leaving(conn, conversation_id, now) if quick_exit else None
                if fled is None:
                    return Result({"ok": True})
            else:
                if row.accepted_at is None:
                    await self.bump_queue(conn)
                await record_audit(
                    conn,
                    at=now,
                    action="visitor_left",
                    actor="visitor",
                    conversation_id=conversation_id,
                    quick_exit=quick_exit,
                )
                crisis_ended = await end_crisis_in(conn, conversation_id, now, "visitor_left")
        left = {"conversation_id": conversation_id, "quick_exit": quick_exit, "at": iso(now)}
        if row is None:  # stopped before, fled now: only the advisor learns something new
            assert fled is not None
            return Result({"ok": True}, [Emit(ToAgent(fled), "visitor_left", left), await self.mine_emit(fled)])
        emits: list[Outgoing] = [Emit(ToVisitor(conversation_id), "closed", {"reason": "visitor_left"})]
        if crisis_ended is not None:
            emits.append(crisis_ended)
        if row.agent_id is not None:
            emits.append(Emit(ToAgent(row.agent_id), "visitor_left", left))
            emits.append(await self.mine_emit(row.agent_id))
        else:
            emits.append(QueueChanged())
            if row.offered_to is not None:
                emits.append(withdrawn_emit(row.offered_to, conversation_id, "ended"))
        return Result({"ok": True}, emits)

    @staticmethod
    async def _quick_exit_after_leaving(conn: AsyncConnection, conversation_id: str, now: datetime) -> str | None:
        """A visitor who pressed stop and then "Snel weg": the advisor, still recording the
        outcome, learns that they fled. Answers the holder to tell, if any."""
        row = (
            await conn.execute(
                update(conversations)
                .where(
                    conversations.c.id == conversation_id,
                    conversations.c.close_reason == "visitor_left",
                    conversations.c.visitor_quick_exit.is_(False),
                    conversations.c.outcome_at.is_(None),
                )
                .values(visitor_quick_exit=True)
                .returning(conversations.c.agent_id)
            )
        ).first()
        if row is None:
            return None
        await record_audit(conn, at=now, action="visitor_quick_exit", actor="visitor", conversation_id=conversation_id)
        return str(row.agent_id) if row.agent_id is not None else None

    async def quick_exit(self, resume_token: str) -> list[Outgoing]:
        """Quick exit told over HTTP (the widget's beacon as the page goes away), for when the
        socket could not say it: the conversation of this token ends as a quick exit. Nothing is
        answered about the token, whatever it is."""
        async with self.db.read() as conn:
            conversation_id = await conn.scalar(
                select(conversations.c.id).where(
                    conversations.c.resume_hash == hash_token(resume_token),
                    conversations.c.status.in_(OPEN_STATUSES),
                )
            )
        if conversation_id is None:
            return []
        return list((await self.leave(conversation_id, quick_exit=True)).emits)

    # ---- agent ------------------------------------------------------------------------

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
            if target is not None and target.status == "waiting" and not self._may_take(agent, conversation_id, target):
                raise DomainError("forbidden")
            away = target is not None and target.status == "waiting" and target.visitor_away_since is not None
            if away and not confirm_visitor_away:
                assert target is not None
                raise DomainError("conflict", VISITOR_AWAY, state="visitor_away", since=iso(target.visitor_away_since))
            taken = (
                await conn.execute(
                    update(conversations)
                    .where(conversations.c.id == conversation_id, conversations.c.status == "waiting")
                    .values(status="active", agent_id=agent.id, accepted_at=now, offered_to=None, offered_at=None)
                    .returning(conversations.c.id)
                )
            ).first()
            if taken is None:
                status = await conn.scalar(select(conversations.c.status).where(conversations.c.id == conversation_id))
                if status is None:
                    raise DomainError("not_found")
                if status == "closed":
                    raise DomainError("closed", CONVERSATION_ENDED)
                raise DomainError("already_taken")
            await self.bump_queue(conn)
            await record_audit(
                conn, at=now, action="accepted", actor=f"agent:{agent.id}", conversation_id=conversation_id
            )
            # Taking a conversation in crisis is taking on the crisis: the alerts stop.
            acked = await acknowledge_in(conn, conversation_id, agent, now)
        conversation = await self.conversation_view(conversation_id, with_notes=True)
        emits: list[Outgoing] = [
            Emit(ToVisitor(conversation_id), "assigned", {"agent": {"name": agent.first_name}}),
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
                conversation_id, "agent", client_id, text, self.clock.now(), agent_id=agent.id, statuses=("active",)
            )
        )
        if written is None:
            await self.raise_not_held(agent, conversation_id)
        assert written is not None
        ack = {"id": written.id, "seq": written.seq, "at": iso(written.at)}
        if written.duplicate:
            return Result(ack, await self._stored_again(conversation_id, written.id, also_agent=agent.id))
        view = {**ack, "sender": "agent", "text": text, "name": agent.first_name}
        emits: list[Outgoing] = [
            Emit(ToVisitor(conversation_id), "message", view),
            Emit(ToAgent(agent.id), "message", {**view, "conversation_id": conversation_id}),
        ]
        if written.read_along:
            emits.append(Emit(ToReaders(conversation_id), "message", {**view, "conversation_id": conversation_id}))
        return Result(ack, emits)

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
        emits: list[Outgoing] = [Emit(ToVisitor(conversation_id), "message", view)]
        emits.extend(
            Emit(ToAgent(a), "message", {**view, "conversation_id": conversation_id}) for a in sorted(to_agents)
        )
        if conv.read_along:
            emits.append(Emit(ToReaders(conversation_id), "message", {**view, "conversation_id": conversation_id}))
        return emits

    async def agent_typing(self, agent: AgentIdentity, conversation_id: str, typing: bool) -> list[Emit]:
        await self._held(agent, conversation_id)
        return [Emit(ToVisitor(conversation_id), "typing", {"typing": typing})]

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
        return Result({"id": note_id}, [Emit(ToAgent(agent.id), "note", view)])

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
                    "status": "waiting",
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
        emits: list[Outgoing] = [Emit(ToVisitor(conversation_id), "transfer", told), await self.mine_emit(agent.id)]
        if to_agent_id is not None:
            emits.append(await self.mine_emit(to_agent_id))
            emits.append(
                Emit(ToAgent(to_agent_id), "transferred", {"conversation_id": conversation_id, "from": agent.name})
            )
            emits.append(Emit(ToVisitor(conversation_id), "assigned", {"agent": {"name": colleague_name}}))
        else:
            emits.append(QueueChanged())
        return Result({"ok": True}, emits)

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
        recorded = {"outcome": outcome, "outcome_at": now, "outcome_by": agent.id}
        async with self.db.write() as conn:
            live = (
                await conn.execute(
                    update(conversations)
                    .where(self.held_by(agent, conversation_id))
                    .values(
                        status="closed",
                        closed_at=now,
                        close_reason="agent_closed",
                        resume_hash=_revoked_hash(),
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
        emits: list[Outgoing] = [await self.mine_emit(agent.id)]
        if live is not None:
            # The kind of outcome lets the widget say what happens next (advice given, or a
            # report that Veilig Thuis now looks into); nothing else of the outcome goes out.
            ended = {"reason": "agent_closed", "outcome": outcome["kind"]}
            emits.insert(0, Emit(ToVisitor(conversation_id), "closed", ended))
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
                emits.append(Emit(ToCrisisAudience("crisis"), "spoed_melding", notice))
        ack: dict[str, Any] = {"ok": True}
        if handoff_id is not None:
            ack["handoff_id"] = handoff_id
        return Result(ack, emits)

    def awaiting_outcome(self, agent_id: str, now: datetime) -> ColumnElement[bool]:
        """Conversations of this holder that the visitor left and whose outcome may still be recorded."""
        return and_(
            conversations.c.agent_id == agent_id,
            conversations.c.status == "closed",
            conversations.c.close_reason.in_(VISITOR_ENDED),
            conversations.c.outcome_at.is_(None),
            conversations.c.closed_at > now - timedelta(seconds=self.limits.outcome_grace_s),
        )

    async def close_overdue_outcomes(self) -> list[Outgoing]:
        """Left conversations whose holder recorded no outcome within the grace period: closed as
        `geen` (marked automatic) and shown to the supervisors. An active chat whose visitor has
        been gone that long (the tab closed, never back) ends the same way, so it holds no
        advisor's place for ever. Idempotent; the elected scheduler runs it."""
        now = self.clock.now()
        cutoff = now - timedelta(seconds=self.limits.outcome_grace_s)
        async with self.db.write() as conn:
            gone = (
                await conn.execute(
                    update(conversations)
                    .where(
                        conversations.c.status == "active",
                        conversations.c.visitor_away_since.is_not(None),
                        conversations.c.visitor_away_since <= cutoff,
                    )
                    .values(
                        status="closed",
                        closed_at=conversations.c.visitor_away_since,
                        close_reason="visitor_gone",
                        resume_hash=_revoked_hash(),
                    )
                    .returning(conversations.c.id)
                )
            ).all()
            alarms_ended = [e for r in gone if (e := await end_crisis_in(conn, r.id, now, "visitor_gone"))]
            rows = (
                await conn.execute(
                    update(conversations)
                    .where(
                        conversations.c.status == "closed",
                        conversations.c.close_reason.in_(VISITOR_ENDED),
                        conversations.c.outcome_at.is_(None),
                        conversations.c.agent_id.is_not(None),
                        conversations.c.closed_at <= cutoff,
                    )
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
            emits.append(Emit(ToAgentGroup("all"), "outcome_missing", notice))
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
            ),
            now,
            webhook=self.handoffs.webhook,
            tz=self.handoffs.tz,
        )

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
        return [Emit(ToAgent(agent.id), "queue", queue), await self.mine_emit(agent.id)]

    # ---- queue ------------------------------------------------------------------------

    async def queue_snapshot(self, group: str) -> dict[str, Any]:
        """The queue as the agents of one group (role and teams) see it."""
        version, waiting, entries = await self._load_queue()
        return self._view(group, version, waiting, entries)

    async def _load_queue(self) -> tuple[int, list[Waiting], dict[str, dict[str, Any]]]:
        async with self.db.read() as conn:
            version = await conn.scalar(select(queue_state.c.version).where(queue_state.c.id == 1))
            rows = (
                await conn.execute(
                    select(
                        conversations.c.id,
                        conversations.c.caller_type,
                        conversations.c.intent,
                        conversations.c.topic,
                        conversations.c.team,
                        conversations.c.priority,
                        conversations.c.waiting_since,
                        conversations.c.danger_now,
                        conversations.c.crisis_at,
                        conversations.c.expertise,
                        conversations.c.visitor_away_since,
                    ).where(conversations.c.status == "waiting")
                )
            ).all()
        waiting = order(
            (
                Waiting(r.id, r.team, r.priority, r.waiting_since, r.danger_now, present=r.visitor_away_since is None)
                for r in rows
            ),
            self.rules.crisis_team,
        )
        entries = {
            r.id: {
                "conversation_id": r.id,
                "caller_type": r.caller_type,
                "intent": r.intent,
                "topic": r.topic,
                "team": r.team,
                "priority": r.priority,
                "waiting_since": iso(r.waiting_since),
                "danger_now": r.danger_now,
                "in_crisis": r.crisis_at is not None,
                "expertise": list(r.expertise or ()),
                "visitor_present": r.visitor_away_since is None,
                "visitor_away_since": iso(r.visitor_away_since),
            }
            for r in rows
        }
        return int(version or 0), waiting, entries

    def _view(
        self, group: str, version: int, waiting: list[Waiting], entries: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        role, teams = parse_group(group)
        now = self.clock.now()
        seen = visible_to(AgentView(id="", teams=teams, role=role), waiting, now, self.rules)
        over = overflowing(waiting, now, self.rules)
        return {
            "version": version,
            "waiting": [{**entries[w.conversation_id], "overflow": w.conversation_id in over} for w in seen],
        }

    async def _agent_groups(self) -> set[str]:
        """Every view of the queue that some active agent has (known from the agent table, so
        every process knows them, wherever those agents are connected)."""
        async with self.db.read() as conn:
            rows = await conn.execute(select(agents.c.role, agents.c.teams).where(agents.c.active.is_(True)))
            return {queue_group(r.role, tuple(r.teams or ())) for r in rows}

    async def _groups_seeing(self, conversation_id: str) -> list[str]:
        _, waiting, _ = await self._load_queue()
        item = [w for w in waiting if w.conversation_id == conversation_id]
        now = self.clock.now()
        return sorted(
            g
            for g in await self._agent_groups()
            if visible_to(AgentView(id="", teams=parse_group(g)[1], role=parse_group(g)[0]), item, now, self.rules)
        )

    async def queue_emits(self) -> list[Emit]:
        """Each group of agents its view of the queue, and each waiting visitor the position in
        the queue of the team that serves them, with the expected wait."""
        version, waiting, entries = await self._load_queue()
        groups = await self._agent_groups()
        async with self.db.read() as conn:
            accepted = await self._accepted_recently(conn)
        emits = [Emit(ToAgentGroup(g), "queue", self._view(g, version, waiting, entries)) for g in sorted(groups)]
        online = await self.advisors_online()
        for cid, pos in self._positions(waiting).items():
            told = {"position": pos, "estimated_wait_s": self._estimate(pos, accepted), "advisors_online": online}
            emits.append(Emit(ToVisitor(cid), "queue", told))
        return emits

    async def queue_positions(self) -> dict[str, tuple[int, int]]:
        """Position (from 1, in its team's queue) and expected wait of every waiting conversation."""
        _, waiting, _ = await self._load_queue()
        async with self.db.read() as conn:
            accepted = await self._accepted_recently(conn)
        return {cid: (pos, self._estimate(pos, accepted)) for cid, pos in self._positions(waiting).items()}

    @staticmethod
    def _positions(waiting: list[Waiting]) -> dict[str, int]:
        counts: dict[str, int] = {}
        positions = {}
        for w in waiting:  # already in queue order
            if not w.present:
                continue  # nobody there to wait: not counted in anyone's place
            counts[w.team] = counts.get(w.team, 0) + 1
            positions[w.conversation_id] = counts[w.team]
        return positions

    async def overflow_due(self) -> bool:
        """Whether a conversation crossed its team's waiting limit since the last call, so the
        agents of other teams must be offered it (nothing else changes the queue then)."""
        _, waiting, _ = await self._load_queue()
        over = overflowing(waiting, self.clock.now(), self.rules)
        new = bool(over - self._last_overflow)
        self._last_overflow = over
        return new

    def _estimate(self, position: int, accepted_recently: int) -> int:
        return estimate_wait_s(
            position, accepted_recently, RATE_WINDOW_ACCEPTS_S, self.limits.default_wait_per_position_s
        )

    async def _accepted_recently(self, conn: AsyncConnection) -> int:
        since = self.clock.now() - timedelta(seconds=RATE_WINDOW_ACCEPTS_S)
        return int(await conn.scalar(select(func.count()).where(conversations.c.accepted_at >= since)) or 0)

    @staticmethod
    async def bump_queue(conn: AsyncConnection) -> None:
        await conn.execute(update(queue_state).where(queue_state.c.id == 1).values(version=queue_state.c.version + 1))

    # ---- helpers ----------------------------------------------------------------------

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
                            and_(conversations.c.agent_id == agent_id, conversations.c.status == "active"),
                            self.awaiting_outcome(agent_id, now),
                        )
                    )
                    .order_by(conversations.c.accepted_at)
                )
            ).all()
        return Emit(ToAgent(agent_id), "mine", {"conversations": [self._summary(r) for r in rows]})

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
            "visitor_left": r.status == "closed" and r.close_reason in VISITOR_ENDED,
            "visitor_present": r.status != "closed" and r.visitor_away_since is None,
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
        rows = await _messages(conn, conversation_id)
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
        view = self._summary(conv)
        view["messages"] = [message_view(r) for r in rows]
        view["closed_at"] = iso(conv.closed_at)
        view["close_reason"] = conv.close_reason
        view["crisis"] = crisis
        if with_notes:
            view["notes"] = [
                {"id": n.id, "text": n.text, "at": iso(n.at), "agent_id": n.agent_id, "internal": True}
                for n in note_rows
            ]
        return view

    @staticmethod
    def held_by(agent: AgentIdentity, conversation_id: str) -> ColumnElement[bool]:
        """The conversation is open and this agent holds it."""
        return and_(
            conversations.c.id == conversation_id,
            conversations.c.agent_id == agent.id,
            conversations.c.status == "active",
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
            select(func.count()).where(conversations.c.agent_id == agent_id, conversations.c.status == "active")
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
        if row.status == "closed" and row.agent_id == agent.id:
            raise DomainError("closed", CONVERSATION_ENDED)
        raise DomainError("forbidden")

    @staticmethod
    async def _agent_first_name(conn: AsyncConnection, agent_id: str | None) -> str | None:
        if agent_id is None:
            return None
        return first_name(await conn.scalar(select(agents.c.name).where(agents.c.id == agent_id)))


def _revoked_hash() -> str:
    """What replaces a resume token's hash when the token stops working: no token hashes to it."""
    return "revoked:" + secrets.token_hex(24)


async def _messages(conn: AsyncConnection, conversation_id: str, after_seq: int = 0) -> list[Any]:
    """The messages of a conversation after `after_seq`, in order, each with its advisor's name."""
    rows = await conn.execute(
        select(messages, agents.c.name.label("agent_name"))
        .select_from(messages.outerjoin(agents, agents.c.id == messages.c.agent_id))
        .where(messages.c.conversation_id == conversation_id, messages.c.seq > after_seq)
        .order_by(messages.c.seq)
    )
    return list(rows.all())
