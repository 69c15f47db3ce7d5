"""The visitor's side of a conversation: start, resume, messages (and the risk signals in them),
typing, presence, leaving and the quick exit; abandoned waiting chats are closed."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chat import outbound as out
from chat.base import (
    load_messages,
    revoked_hash,
)
from chat.blocks import VisitorHashes, is_blocked, remember_visitor, visitor_hashes
from chat.crisis import begin_crisis, end_crisis_in
from chat.model import (
    OPEN_STATUSES,
    ConversationStatus,
    Emit,
    Outgoing,
    QueueChanged,
    Result,
    ToAgent,
    ToAgentGroup,
    ToReaders,
    ToVisitor,
    iso,
    message_view,
    withdrawn_emit,
)
from chat.queue import QueueUseCases
from chat.risk_feedback import count_fired
from chat.starts import Blocked, Duplicate, NewStart, StartLane
from chat.store import conversations
from chat.writer import NewMessage
from contact.errors import CONVERSATION_ENDED, DomainError
from contact.keys import hash_token
from contact.phone import HELPLINE
from contact.store import record_audit
from routing import crisis as crisis_rules
from routing.rules import Route

BACK_IN_DANGER = "De bezoeker in gevaar is terug in de wachtrij."
DANGER_AT_START = "De bezoeker zegt nu in gevaar te zijn (vraag voor de chat)."


class VisitorUseCases(QueueUseCases):
    _starts: StartLane | None = None

    async def start(
        self,
        *,
        caller_type: str,
        intent: str,
        topic: str | None,
        danger_now: bool,
        client_key: str,
        browser: str | None = None,
    ) -> tuple[str, Result]:
        """Open a conversation in the queue; answers the conversation id with the ack and a new
        resume token. Only the server makes tokens: one a client chose could be guessed, or
        shared with whoever uses the same browser later.

        `client_key` is the visitor's address, `browser` the widget's per-browser value: their
        keyed hashes are kept with the conversation, and a visitor a supervisor blocked gets
        the same `closed` as outside opening hours (chat/blocks.py)."""
        now = self.clock.now()
        route = self.rules.route(caller_type, intent, topic, danger_now)
        # The hours of the team this caller would get: one team may be closed while another is open.
        state = await self.hours.state(route.team)
        if not state.open:
            extra: dict[str, Any] = {"reason": state.reason} if state.reason else {}
            raise DomainError(
                "closed",
                opens_at=iso(state.opens_at),
                phone=HELPLINE["advice"],
                emergency=HELPLINE["emergency"],
                team=route.team,
                **extra,
            )
        if not await self.limiter.hit(f"start:{client_key}", self.limits.starts_per_ip, self.limits.starts_window_s):
            raise DomainError("rate_limited")
        visitor = visitor_hashes(self.handoffs.keys.contact_hash, client_key, browser)
        token = secrets.token_urlsafe(32)
        conversation_id = str(uuid.uuid4())
        lane = self._start_lane()
        if lane is not None and not danger_now:
            return conversation_id, await self._start_in_lane(
                lane, conversation_id, token, caller_type, intent, topic, route, visitor, now
            )
        try:
            async with self.db.write() as conn:
                # In the write itself (one transaction less per start at a campaign peak); a
                # refusal rolls it back before anything is written.
                if await is_blocked(conn, now, visitor):
                    # Word for word the answer outside opening hours, without a time it opens again.
                    raise DomainError(
                        "closed",
                        opens_at=None,
                        phone=HELPLINE["advice"],
                        emergency=HELPLINE["emergency"],
                        team=route.team,
                    )
                # The place in the queue is the moment of joining it, read under the write lock:
                # whoever commits later stands behind, so a place told in the ack stays true
                # however many start at once.
                queued_at = self.clock.now()
                await conn.execute(
                    insert(conversations).values(
                        id=conversation_id,
                        status=ConversationStatus.WAITING,
                        caller_type=caller_type,
                        intent=intent,
                        topic=topic,
                        danger_now=danger_now,
                        team=route.team,
                        priority=route.priority,
                        resume_hash=hash_token(token),
                        created_at=queued_at,
                        last_activity_at=queued_at,
                        waiting_since=queued_at,
                        last_seq=0,
                        expertise=list(route.expertise) or None,
                    )
                )
                await remember_visitor(conn, conversation_id, visitor)
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
        ack = {
            "conversation_id": conversation_id,
            "resume_token": token,
            "status": ConversationStatus.WAITING,
            "queue": await self.place(conversation_id),
        }
        emits: list[Outgoing] = [QueueChanged()]
        if danger_now:
            emits.append(await self.crisis_visitor_emit(conversation_id, now))
        if alert is not None:
            emits.append(alert.emit())
        return conversation_id, Result(ack, emits)

    def _start_lane(self) -> StartLane | None:
        """On an SQLite file starts are group-committed (chat/starts.py); the lane is made on
        first use and closes with the message writer."""
        if self._starts is None and self.db.sqlite_path() is not None:
            self._starts = StartLane(self.db, self.clock.now)
            self.writer.on_stop(self._starts.close)
        return self._starts

    async def _start_in_lane(
        self,
        lane: StartLane,
        conversation_id: str,
        token: str,
        caller_type: str,
        intent: str,
        topic: str | None,
        route: Route,
        visitor: VisitorHashes,
        now: datetime,
    ) -> Result:
        """`start` through the start lane: the same rows, audit entry and answers, and the place
        counted in the write's own transaction."""
        try:
            started = await lane.write(
                NewStart(
                    conversation_id=conversation_id,
                    resume_hash=hash_token(token),
                    caller_type=caller_type,
                    intent=intent,
                    topic=topic,
                    team=route.team,
                    priority=route.priority,
                    expertise=list(route.expertise) or None,
                    visitor=visitor,
                    at=now,
                    in_crisis_team=route.team == self.rules.crisis_team,
                )
            )
        except Blocked:
            # Word for word the answer outside opening hours, without a time it opens again.
            raise DomainError(
                "closed", opens_at=None, phone=HELPLINE["advice"], emergency=HELPLINE["emergency"], team=route.team
            ) from None
        except Duplicate:
            raise DomainError("conflict") from None
        ack = {
            "conversation_id": conversation_id,
            "resume_token": token,
            "status": ConversationStatus.WAITING,
            "queue": {
                "position": started.place,
                "estimated_wait_s": self._estimate(started.place, started.accepted_recently),
                "advisors_online": await self.advisors_at_work(),
            },
        }
        return Result(ack, [QueueChanged()])

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
            rows = await load_messages(conn, conv.id, after_seq)
            agent_name = await self._agent_first_name(conn, conv.agent_id)
        if conv.status not in OPEN_STATUSES:  # it ended while we looked: still nothing to read back
            return None, Result(self._ended_answer(token_hash, conv), emits)
        ack: dict[str, Any] = {
            "conversation_id": conv.id,
            "status": conv.status,
            "last_seq": conv.last_seq,
            "messages": [message_view(r) for r in rows],
        }
        if conv.status == ConversationStatus.WAITING:
            ack["queue"] = await self.place(conv.id)
        if agent_name is not None and conv.status == ConversationStatus.ACTIVE:
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
        if conv is not None and conv.status == ConversationStatus.CLOSED:
            conversation_id = conv.id
        else:
            digest = hmac.new(self.token_key, token_hash.encode(), hashlib.sha256).digest()
            conversation_id = str(uuid.UUID(bytes=digest[:16], version=4))
        return {"conversation_id": conversation_id, "status": ConversationStatus.CLOSED, "messages": []}

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
                            conversations.c.status == ConversationStatus.CLOSED,
                            conversations.c.close_reason == "visitor_gone",
                        )
                        .values(
                            status=ConversationStatus.WAITING,
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
                            back_emits.append(await self.crisis_visitor_emit(conversation_id, now))
                            back_emits.append(alert.emit())
                    return back_emits
                back = await self._set_presence(conn, conversation_id, now, present=True)
        except IntegrityError:
            return []  # the same token already opened a new conversation: this one stays closed
        if back is None:
            return []
        return presence_emits(conversation_id, back.status, back.agent_id, present=True, since=now)

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
                        conversations.c.status == ConversationStatus.WAITING,
                        conversations.c.visitor_away_since.is_not(None),
                        conversations.c.visitor_away_since <= cutoff,
                    )
                    .values(status=ConversationStatus.CLOSED, closed_at=now, close_reason="visitor_gone")
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
        emits: list[Outgoing] = [out.VisitorChatMessage.trusted(view, ToVisitor(conversation_id))]
        if written.holder_id is not None or written.read_along:
            for_agents = {**view, "conversation_id": conversation_id}
            if written.holder_id is not None:
                emits.append(out.AgentChatMessage.trusted(for_agents, ToAgent(written.holder_id)))
            if written.read_along:
                emits.append(out.AgentChatMessage.trusted(for_agents, ToReaders(conversation_id)))
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
                    renew_acknowledged=False,
                )
                if alert is not None and alert.status == "waiting":
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
            # Anonymous per-day counts, kept after the purge, for the supervisors' feedback figures.
            await count_fired(conn, now.astimezone(self.handoffs.tz).date(), (str(c["concept"]) for c in concepts))
        event = {
            "conversation_id": conversation_id,
            "seq": seq,
            "signals": list(found.signals),
            "level": found.level,
            "concepts": concepts,
        }
        if holder_id is not None:
            emits: list[Outgoing] = [out.Risk.model_validate(event).to(ToAgent(holder_id))]
            if alert is not None:  # its team and crisis mark changed
                emits.append(await self.mine_emit(holder_id))
        else:  # still waiting: the agents who can accept it, and the supervisors
            emits = [
                out.Risk.model_validate(event).to(ToAgentGroup(g)) for g in await self._groups_seeing(conversation_id)
            ]
        if raised is not None:
            emits.append(QueueChanged())
        if found.level == "acuut":
            emits.append(await self.crisis_visitor_emit(conversation_id, now))
        if alert is not None:
            emits.append(alert.emit())
        return emits

    async def visitor_typing(self, conversation_id: str, typing: bool) -> list[Emit]:
        if not await self.limiter.hit(f"typing:{conversation_id}", self.limits.typing_per_10s, 10):
            raise DomainError("rate_limited")
        async with self.db.read() as conn:
            holder = await conn.scalar(
                select(conversations.c.agent_id).where(
                    conversations.c.id == conversation_id, conversations.c.status == ConversationStatus.ACTIVE
                )
            )
        if holder is None:
            return []
        return [out.AgentTyping(conversation_id=conversation_id, typing=typing).to(ToAgent(holder))]

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
                        status=ConversationStatus.CLOSED,
                        closed_at=now,
                        close_reason="visitor_left",
                        visitor_quick_exit=quick_exit,
                        resume_hash=revoked_hash(),
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
            return Result(
                {"ok": True}, [out.VisitorLeft.model_validate(left).to(ToAgent(fled)), await self.mine_emit(fled)]
            )
        emits: list[Outgoing] = [out.Closed(reason="visitor_left").to(ToVisitor(conversation_id))]
        if crisis_ended is not None:
            emits.append(crisis_ended)
        if row.agent_id is not None:
            emits.append(out.VisitorLeft.model_validate(left).to(ToAgent(row.agent_id)))
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


def presence_emits(
    conversation_id: str, status: str, holder_id: str | None, *, present: bool, since: datetime
) -> list[Outgoing]:
    """What a visitor coming or going tells: the advisor who holds the conversation sees whether
    the visitor is still there; a waiting one changes the queue (gone visitors are marked there)."""
    if status == ConversationStatus.WAITING:
        return [QueueChanged()]
    if holder_id is None:
        return []
    view = {"conversation_id": conversation_id, "present": present, "since": iso(since)}
    return [out.VisitorPresence.model_validate(view).to(ToAgent(holder_id))]
