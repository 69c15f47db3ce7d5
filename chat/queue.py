"""The queue: whether the chat is open and how long the wait is, each agent group's view of the
waiting conversations, and each waiting visitor's position."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, Select, and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chat import outbound as out
from chat.base import ChatBase
from chat.model import (
    ConversationStatus,
    Emit,
    ToAgentGroup,
    ToVisitor,
    estimate_wait_s,
    iso,
    parse_group,
    queue_group,
)
from chat.status import at_work_among
from chat.store import conversations, queue_state
from contact.auth import agents
from contact.db import UTCDateTime
from contact.opening import state_view
from contact.phone import HELPLINE
from routing.queue_order import CRISIS_TEAM, AgentView, Waiting, order, overflowing, visible_to

# Accepts in this window set the pace of the wait estimate.
RATE_WINDOW_ACCEPTS_S = 1800
# From this many waiting on, a visitor is told only a place or wait that changed ...
LONG_QUEUE = 50
# ... and everyone again at least this often.
QUEUE_RETELL_S = 5.0


class QueueUseCases(ChatBase):
    _advisors_read: asyncio.Task[int] | None = None

    async def status(self, caller_type: str | None = None, team: str | None = None) -> dict[str, Any]:
        """`chat` is the state for this caller type's team (or `team`), else for the chat as a
        whole (open while any team is); `teams` gives every team's own state."""
        states = await self.hours.states()
        if caller_type is not None:
            team = self.rules.route(caller_type, "weet_niet", None, False).team
        state = states[team] if team is not None else self.hours.overall(states)
        async with self.db.read() as conn:
            waiting = await conn.scalar(
                select(func.count()).where(
                    conversations.c.status == ConversationStatus.WAITING, conversations.c.visitor_away_since.is_(None)
                )
            )
            accepted = await self._accepted_recently(conn)
        waiting = int(waiting or 0)
        body: dict[str, Any] = {
            "chat": {
                "open": state.open,
                "opens_at": iso(state.opens_at),
                "closes_at": iso(state.closes_at),
                "queue_length": waiting,
                "estimated_wait_s": self._estimate(waiting + 1, accepted),
                "advisors_online": await self.advisors_online(),
            },
            "phone": dict(HELPLINE),
            "teams": {code: state_view(found) for code, found in states.items()},
        }
        if team is not None:
            body["chat"]["team"] = team
            if state.reason is not None:
                body["chat"]["reason"] = state.reason
        return body

    async def advisors_online(self) -> int:
        """How many agents have a console open on any process: a count only, never who. The
        widget tells a visitor when nobody is there instead of a wait that keeps growing."""
        online = await self.presence.online()
        if not online:
            return 0
        # On a break or offline is not there for a visitor; nawerk is (back within minutes).
        async with self.db.read() as conn:
            return await at_work_among(conn, online, self.clock.now())

    async def advisors_at_work(self) -> int:
        """`advisors_online`, one read shared by whoever asks while it runs: the starts of one
        batch (chat/starts.py) are answered at once and need it all at the same moment."""
        running = self._advisors_read
        if running is None or running.done():
            running = self._advisors_read = asyncio.get_running_loop().create_task(self.advisors_online())
        return await asyncio.shield(running)

    async def queue_snapshot(self, group: str) -> dict[str, Any]:
        """The queue as the agents of one group (role and teams) see it."""
        version, waiting, entries = await self._load_queue()
        return self._view(group, version, waiting, entries)

    async def _load_queue(self) -> tuple[int, list[Waiting], dict[str, dict[str, Any]]]:
        """The whole queue, read after the caller's own changes were committed.

        Callers who ask while a read is under way share the next one (which starts after the
        current one ends, so it holds their changes): agents connecting at once and the
        broadcasts of a busy queue cost a few reads of the whole queue, not one each."""
        if self._queue_next is None:
            self._queue_next = asyncio.get_running_loop().create_task(self._next_queue_read())
        return await asyncio.shield(self._queue_next)

    async def _next_queue_read(self) -> tuple[int, list[Waiting], dict[str, dict[str, Any]]]:
        running = self._queue_running
        if running is not None:
            await asyncio.wait([running])  # its result or error is its own callers'
        self._queue_running, self._queue_next = self._queue_next, None
        try:
            return await self._read_queue()
        finally:
            self._queue_running = None

    async def _read_queue(self) -> tuple[int, list[Waiting], dict[str, dict[str, Any]]]:
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
                    ).where(conversations.c.status == ConversationStatus.WAITING)
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
        emits = [
            out.AgentQueue.model_validate(self._view(g, version, waiting, entries)).to(ToAgentGroup(g))
            for g in sorted(groups)
        ]
        online = await self.advisors_online()
        positions = self._positions(waiting)
        # In a long queue a visitor hears only a changed place or wait: new arrivals at the back
        # change nobody's place, and telling 2,000 visitors the same number on every change is
        # what made a campaign peak slow. What this process told may be overtaken by what
        # another process told since, so everyone is told again at least every
        # QUEUE_RETELL_S (the dispatcher then sends one more round, see `queue_retell_due`).
        clock = time.monotonic()
        everyone = len(positions) < LONG_QUEUE or clock - self._told_all_at >= QUEUE_RETELL_S
        told: dict[str, tuple[int, int, int]] = {}
        for cid, pos in positions.items():
            view = (pos, self._estimate(pos, accepted), online)
            told[cid] = view
            if everyone or self._told.get(cid) != view:
                message = {"position": view[0], "estimated_wait_s": view[1], "advisors_online": view[2]}
                emits.append(out.VisitorQueue.model_validate(message).to(ToVisitor(cid)))
        self._told = told
        if everyone:
            self._told_all_at = clock
        self.queue_retell_due = not everyone
        self.queue_length = len(waiting)
        return emits

    async def place(self, conversation_id: str) -> dict[str, int]:
        """What a waiting visitor is told of the queue at `start` and `resume`: the position (from
        1, in its team's queue), the expected wait and how many advisors are there, in one read
        whose cost does not grow with the queue (a campaign peak is 2,000 starts while 2,000 wait)."""
        online = await self.presence.online()
        async with self.db.read() as conn:
            place = await place_in_queue(conn, conversation_id, self.rules.crisis_team)
            accepted = await self._accepted_recently(conn)
            there = await at_work_among(conn, online, self.clock.now()) if online else 0
        return {"position": place, "estimated_wait_s": self._estimate(place, accepted), "advisors_online": there}

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


async def place_in_queue(conn: AsyncConnection, conversation_id: str, crisis_team: str = CRISIS_TEAM) -> int:
    """The position `QueueUseCases._positions` gives this conversation (1 when it is not waiting
    or its visitor is away), as a count of those ahead of it in `routing.queue_order.order`:
    present, same team, then crisis (acute danger or the crisis team), higher priority, longer
    waiting, lower id. tests/chat/test_queue_place.py checks the two agree on random queues."""
    c = conversations.c
    me = (
        await conn.execute(
            select(c.team, c.priority, c.waiting_since, c.danger_now, c.visitor_away_since).where(
                c.id == conversation_id, c.status == ConversationStatus.WAITING
            )
        )
    ).first()
    if me is None or me.visitor_away_since is not None:
        return 1
    ahead = await conn.scalar(
        ahead_in_queue(crisis=me.team == crisis_team, danger_now=me.danger_now),
        {"team": me.team, "priority": me.priority, "since": me.waiting_since, "me": conversation_id},
    )
    return int(ahead or 0) + 1


def ahead_in_queue(*, crisis: bool, danger_now: bool) -> Select[Any]:
    """How many present waiting conversations stand ahead of one of team `:team`, priority
    `:priority`, waiting since `:since`, with id `:me` (in the crisis team when `crisis`):
    the count of `place_in_queue`, with its values as parameters so that one compiled statement
    serves every start (chat/starts.py)."""
    c = conversations.c
    priority: BindParameter[int] = bindparam("priority")
    since: BindParameter[datetime] = bindparam("since", type_=UTCDateTime())
    me: BindParameter[str] = bindparam("me")
    # Within one team, "crisis" differs between conversations only by danger_now (in the crisis
    # team everyone is crisis already).
    later = c.waiting_since > since
    same_time_after = and_(c.waiting_since == since, c.id >= me)
    behind_in_order = or_(c.priority < priority, and_(c.priority == priority, or_(later, same_time_after)))
    if crisis or danger_now:
        # Me crisis: a non-crisis one is behind; among crisis ones, by priority and time.
        behind = behind_in_order if crisis else or_(c.danger_now.is_(False), behind_in_order)
    else:
        # Me not crisis: every crisis one is ahead; among the others, by priority and time.
        behind = and_(c.danger_now.is_(False), behind_in_order)
    return select(func.count()).where(
        c.status == ConversationStatus.WAITING,
        c.team == bindparam("team"),
        c.visitor_away_since.is_(None),
        ~behind,
    )
