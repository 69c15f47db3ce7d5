"""Management figures for supervisors and admins: chats offered, answered and abandoned, waits,
talk time, outcomes, crises, callbacks and tijdvakken, meldingen within their deadline and
repeat reports, per day, ISO week or month and team.

How the figures outlive the retention purge (docs/figures.md): each figure belongs to one local
day (Europe/Amsterdam) by a time stored on a row the purge keeps. Once a day has *settled*
(ended at least `settle` ago, none of its conversations still waiting or awaiting an outcome,
none of its tijdvak requests still open, each of its meldingen started or past its deadline)
its figures can no longer change; `seal_due` then writes them as anonymous counts to
`figures_day` in one transaction with the day's mark in `figures_sealed`. A sealed day is read
from there only; a day not sealed yet is computed from the rows with the same code. The
scheduler seals every few minutes, and the retention purge seals before it removes anything
(cases/service.py `before_purge`), so no count depends on a row the purge has touched."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from agent_console.figures_model import NO_TEAM, Tally, check_period, period_days, period_of, row
from agent_console.figures_store import figures_days, figures_sealed
from callback.store import requests, slots
from cases.store import handoffs
from chat.store import conversations, crisis_events
from chat.workplace_store import nawerk_periods
from contact.auth import AgentIdentity
from contact.clock import Clock
from contact.db import Database
from contact.permissions import require
from contact.store import audit_events

log = structlog.get_logger(__name__)

Key = tuple[date, str]
# The tijdvakken of one local day: (kind, start, the places it has unless the roster set others).
Tijdvakken = Callable[[date], list[tuple[str, datetime, int]]]
# Days sealed per run at most: the first run on an old database catches up over a few runs.
SEAL_BATCH = 62
# A day that has not settled (a conversation still awaiting its outcome) is looked at again
# after this long, not at every run of the purge (every 30 s).
RETRY_UNSETTLED = timedelta(minutes=10)
ALL_TEAMS = "all"


class FiguresService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        tz: ZoneInfo,
        team_of: Callable[[str], str],
        tijdvakken: Tijdvakken,
        settle: timedelta,
    ) -> None:
        """`team_of(caller_type)`: the team a callback's caller belongs to (the routing rules);
        `tijdvakken(day)`: the day's tijdvakken with their standard places (the callback schedule);
        `settle`: how long after its end a day may be sealed at the earliest."""
        self.tijdvakken = tijdvakken
        self.db = db
        self.clock = clock
        self.tz = tz
        self.team_of = team_of
        self.settle = settle
        # This process saw every day up to this one sealed: nothing to look at until the next day.
        self._done_through: date | None = None
        self._next_try: datetime | None = None

    def today(self) -> date:
        return self.clock.now().astimezone(self.tz).date()

    def _start(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC)

    def _day(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    async def figures(
        self, agent: AgentIdentity, first: date, last: date, group: str, team: str | None
    ) -> dict[str, Any]:
        """Rows per period and team (team `null`: figures of no team, the tijdvakken), and one
        `totals` row per period over all teams (or the one asked for)."""
        require(agent.role, "figures")
        check_period(first, last)
        days = await self.day_tallies(first, last)
        by_team: dict[tuple[str, str], Tally] = defaultdict(Tally)
        totals: dict[str, Tally] = {}
        for d in period_days(first, last):
            totals.setdefault(period_of(d, group), Tally())
        for (d, t), tally in sorted(days.items()):
            if team is not None and t != team:
                continue
            period = period_of(d, group)
            by_team[(period, t)].add(tally)
            totals[period].add(tally)
        return {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "group": group,
            "team": team,
            "timezone": str(self.tz),
            "rows": [row(p, t or None, tally) for (p, t), tally in sorted(by_team.items())],
            "totals": [row(p, ALL_TEAMS, tally) for p, tally in sorted(totals.items())],
        }

    async def day_tallies(self, first: date, last: date) -> dict[Key, Tally]:
        """The tallies of every day and team within `first`..`last`: sealed days from
        `figures_day`, the others computed from the rows."""
        out: dict[Key, Tally] = {}
        async with self.db.read() as conn:
            sealed = {
                date.fromisoformat(d)
                for (d,) in await conn.execute(
                    select(figures_sealed.c.day).where(
                        figures_sealed.c.day >= first.isoformat(), figures_sealed.c.day <= last.isoformat()
                    )
                )
            }
            stored: dict[Key, list[tuple[str, int]]] = defaultdict(list)
            for r in await conn.execute(
                select(figures_days.c.day, figures_days.c.team, figures_days.c.figure, figures_days.c.value).where(
                    figures_days.c.day >= first.isoformat(), figures_days.c.day <= last.isoformat()
                )
            ):
                stored[(date.fromisoformat(r.day), r.team)].append((r.figure, r.value))
            for key, rows in stored.items():
                if key[0] in sealed:
                    out[key] = Tally.from_stored(rows)
            open_days = [d for d in period_days(first, last) if d not in sealed]
            if open_days:
                live, _ = await self._compute(conn, open_days[0], open_days[-1])
                out.update({key: tally for key, tally in live.items() if key[0] not in sealed})
        return out

    async def seal_due(self) -> int:
        """Seal every settled day not sealed yet (at most SEAL_BATCH per run); how many were."""
        now = self.clock.now()
        last = self._day(now - self.settle) - timedelta(days=1)
        if self._done_through == last or (self._next_try is not None and now < self._next_try):
            return 0
        async with self.db.read() as conn:
            earliest = await self._earliest(conn)
            if earliest is None or earliest > last:
                return 0
            done = {
                date.fromisoformat(d)
                for (d,) in await conn.execute(
                    select(figures_sealed.c.day).where(figures_sealed.c.day >= earliest.isoformat())
                )
            }
        waiting = [d for d in period_days(earliest, last) if d not in done]
        sealed = unsettled = 0
        for day in waiting[:SEAL_BATCH]:
            try:
                async with self.db.write() as conn:
                    if await self._seal(conn, day, now):
                        sealed += 1
                    else:
                        unsettled += 1
            except IntegrityError:  # another process (or the purge) sealed it first
                continue
        if sealed:
            log.info("figures_sealed", days=sealed, unsettled=unsettled)
        if unsettled:
            self._next_try = now + RETRY_UNSETTLED
        elif len(waiting) <= SEAL_BATCH:
            self._done_through, self._next_try = last, None
        return sealed

    async def _seal(self, conn: AsyncConnection, day: date, now: datetime) -> bool:
        tallies, unsettled = await self._compute(conn, day, day)
        if day in unsettled:
            return False
        await conn.execute(figures_sealed.insert().values(day=day.isoformat(), sealed_at=now))
        rows = [
            {"day": day.isoformat(), "team": team, "figure": figure, "value": value}
            for (_, team), tally in tallies.items()
            for figure, value in tally.stored().items()
        ]
        if rows:
            await conn.execute(figures_days.insert(), rows)
        return True

    async def _earliest(self, conn: AsyncConnection) -> date | None:
        firsts = [
            await conn.scalar(select(func.min(conversations.c.created_at))),
            await conn.scalar(select(func.min(requests.c.created_at))),
            await conn.scalar(select(func.min(requests.c.slot_start))),
            await conn.scalar(select(func.min(slots.c.start))),
            await conn.scalar(select(func.min(handoffs.c.received_at))),
        ]
        moments = [m for m in firsts if m is not None]
        return self._day(min(moments)) if moments else None

    async def _compute(self, conn: AsyncConnection, first: date, last: date) -> tuple[dict[Key, Tally], set[date]]:
        """The tallies of the days `first`..`last` from the rows, and the days among them that
        have not settled yet (their figures may still change)."""
        start, end = self._start(first), self._start(last + timedelta(days=1))
        tallies: dict[Key, Tally] = defaultdict(Tally)
        unsettled: set[date] = set()
        today = self.today()
        await self._chats(conn, start, end, tallies, unsettled)
        await self._callbacks(conn, start, end, tallies, unsettled)
        await self._handoffs(conn, start, end, today, tallies, unsettled)
        await self._nawerk(conn, start, end, tallies, unsettled)
        return dict(tallies), unsettled

    async def _nawerk(
        self, conn: AsyncConnection, start: datetime, end: datetime, tallies: dict[Key, Tally], unsettled: set[date]
    ) -> None:
        """Nawerk after a close, on the day it started, for the closed conversation's team: until
        it ended early (or was replaced), else its planned end. One still running may change."""
        n = nawerk_periods.c
        now = self.clock.now()
        for r in await conn.execute(
            select(n.team, n.started_at, n.planned_end, n.ended_at).where(n.started_at >= start, n.started_at < end)
        ):
            day = self._day(r.started_at)
            if r.ended_at is None and r.planned_end > now:
                unsettled.add(day)
                continue
            ended = r.ended_at if r.ended_at is not None and r.ended_at < r.planned_end else r.planned_end
            tallies[(day, r.team)].sample("nawerk_s", (ended - r.started_at).total_seconds())

    async def _chats(
        self, conn: AsyncConnection, start: datetime, end: datetime, tallies: dict[Key, Tally], unsettled: set[date]
    ) -> None:
        # The first accept (a transfer or take-over moves `accepted_at` on; the audit keeps the first).
        first_accept = (
            select(audit_events.c.conversation_id, func.min(audit_events.c.at).label("at"))
            .where(audit_events.c.action == "accepted", audit_events.c.at >= start)
            .group_by(audit_events.c.conversation_id)
            .subquery()
        )
        c = conversations.c
        rows = await conn.execute(
            select(
                c.team, c.status, c.created_at, c.agent_id, c.accepted_at, c.closed_at, c.outcome, c.outcome_at,
                first_accept.c.at.label("first_accept"),
            )
            .select_from(conversations.outerjoin(first_accept, first_accept.c.conversation_id == c.id))
            .where(c.created_at >= start, c.created_at < end)
        )  # fmt: skip
        for r in rows:
            day = self._day(r.created_at)
            t = tallies[(day, r.team)]
            t.count("chats_offered")
            accepted = r.first_accept or r.accepted_at
            if accepted is not None:
                t.count("chats_answered")
                t.sample("wait_s", (accepted - r.created_at).total_seconds())
                if r.closed_at is not None:
                    t.sample("talk_s", (r.closed_at - accepted).total_seconds())
            elif r.status == "closed":
                t.count("chats_abandoned")
            kind = (r.outcome or {}).get("kind")
            if kind in ("advies", "melding", "geen"):
                t.count(f"outcome_{kind}")
            if r.status != "closed" or (r.agent_id is not None and r.outcome_at is None):
                unsettled.add(day)
        # Crises from their timeline: a chat escalated again after an acknowledgement is a new alarm.
        e = crisis_events.c
        events = await conn.execute(
            select(e.conversation_id, e.kind, e.at, c.team, c.created_at)
            .select_from(crisis_events.join(conversations, conversations.c.id == e.conversation_id))
            .where(c.created_at >= start, c.created_at < end, e.kind.in_(("escalated", "acknowledged")))
            .order_by(e.conversation_id, e.at)
        )
        alarm: dict[str, datetime] = {}
        for ev in events:
            t = tallies[(self._day(ev.created_at), ev.team)]
            if ev.kind == "escalated":
                t.count("crisis_alarms")
                alarm[ev.conversation_id] = ev.at
            elif (raised := alarm.pop(ev.conversation_id, None)) is not None:
                t.count("crisis_acknowledged")
                t.sample("crisis_ack_s", (ev.at - raised).total_seconds())

    async def _callbacks(
        self, conn: AsyncConnection, start: datetime, end: datetime, tallies: dict[Key, Tally], unsettled: set[date]
    ) -> None:
        q = requests.c
        made = select(q.caller_type, q.created_at).where(q.created_at >= start, q.created_at < end)
        for m in await conn.execute(made):
            tallies[(self._day(m.created_at), self.team_of(m.caller_type))].count("callbacks_requested")
        results = {
            "cancelled": "callbacks_cancelled",
            "done": "callbacks_reached",
            "not_reached": "callbacks_not_reached",
            "wrong_number": "callbacks_wrong_number",
        }
        for r in await conn.execute(
            select(q.caller_type, q.slot_start, q.status).where(q.slot_start >= start, q.slot_start < end)
        ):
            day = self._day(r.slot_start)
            if r.status in results:
                tallies[(day, self.team_of(r.caller_type))].count(results[r.status])
            else:
                unsettled.add(day)
        # Places: what the roster set (or a booking fixed) for a tijdvak, else its standard places.
        places = {
            (s.kind, s.start): (s.capacity, s.booked)
            for s in await conn.execute(
                select(slots.c.kind, slots.c.start, slots.c.capacity, slots.c.booked).where(
                    slots.c.start >= start, slots.c.start < end
                )
            )
        }
        for day in period_days(self._day(start), self._day(end - timedelta(microseconds=1))):
            for kind, begins, standard in self.tijdvakken(day):
                capacity, booked = places.pop((kind, begins), (standard, 0))
                t = tallies[(day, NO_TEAM)]
                t.count("tijdvak_capacity", capacity)
                t.count("tijdvak_booked", booked)
        for (_, begins), (capacity, booked) in places.items():  # a tijdvak the schedule no longer has
            t = tallies[(self._day(begins), NO_TEAM)]
            t.count("tijdvak_capacity", capacity)
            t.count("tijdvak_booked", booked)

    async def _handoffs(
        self,
        conn: AsyncConnection,
        start: datetime,
        end: datetime,
        today: date,
        tallies: dict[Key, Tally],
        unsettled: set[date],
    ) -> None:
        h = handoffs.c
        rows = await conn.execute(
            select(h.kind, h.caller_type, h.received_at, h.deadline, h.delivered_at, h.hermelding, conversations.c.team)
            .select_from(
                handoffs.outerjoin(
                    conversations, and_(h.source == "chat", conversations.c.id == h.source_id)
                )
            )
            .where(h.received_at >= start, h.received_at < end)
        )
        for r in rows:
            day = self._day(r.received_at)
            t = tallies[(day, r.team or self.team_of(r.caller_type))]
            if r.hermelding:
                t.count("hermeldingen")
            if r.kind != "melding":
                continue
            t.count("meldingen")
            if r.deadline is None:
                continue
            started = self._day(r.delivered_at) if r.delivered_at is not None else None
            if started is not None and started <= r.deadline:
                t.count("meldingen_deadline_met")
            elif r.deadline < today:
                t.count("meldingen_deadline_missed")
            else:
                unsettled.add(day)

    async def sealed_days(self) -> list[str]:
        """The sealed days (for tests and the operations report)."""
        async with self.db.read() as conn:
            return [d for (d,) in await conn.execute(select(figures_sealed.c.day).order_by(figures_sealed.c.day))]
