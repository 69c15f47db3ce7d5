"""Opening hours per team at run time: the state every decision asks for (`/api/status`, the
visitor's `start`), and the supervisors' use cases that change it (week pattern, exceptions,
"closed now until"), each audited with the old and the new value.

Every process sees a change within `check_every_s` (0.25 s): a decision reads the one-row
version counter `hours_version` (one primary-key read; 1.5 ms on PostgreSQL and 2.4-6 ms on
SQLite on a loaded test machine, docs/performance.md) at most that often, and reloads the small
tables only when the counter moved. A change raises the counter in its own transaction, so no
message bus is needed and a process that missed a Redis message cannot keep an old state; the
process that made the change drops its cache at once."""

from __future__ import annotations

import hashlib
import json
import time as monotonic
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from contact.auth import AgentIdentity
from contact.clock import Clock, iso
from contact.db import Database
from contact.errors import DomainError
from contact.hours import (
    ChatHours,
    HoursException,
    HoursInvalid,
    TeamPattern,
    TeamState,
    check_range,
    check_reason,
    local_range,
    open_ranges,
    team_state,
    union_state,
)
from contact.hours_store import hours_exceptions, hours_version, team_hours
from contact.permissions import MONITORS
from contact.store import record_audit

MAX_EXCEPTIONS_PER_TEAM = 100  # current and future ones
KEEP_ENDED_EXCEPTIONS = timedelta(days=90)  # then removed at the next change of that team
CHECK_EVERY_S = 0.25
MEMO_AT_MOST = timedelta(minutes=1)


@dataclass(frozen=True)
class Snapshot:
    version: int
    patterns: Mapping[str, TeamPattern]
    exceptions: Mapping[str, tuple[HoursException, ...]] = field(default_factory=dict)


# Two supervisors with the same team's week open: the second save would silently undo the first.
CHANGED_MEANWHILE = (
    "Een collega heeft deze tijden net veranderd. Bekijk de nieuwe tijden en probeer het opnieuw.",
    "A colleague has just changed these hours. Look at the new hours and try again.",
)


def pattern_version(pattern: TeamPattern | None) -> str:
    """A short fingerprint of a team's own week pattern ("default": none, VT_CHAT_HOURS applies),
    the ETag of its view: a change is refused when the pattern it was based on is not the current
    one any more. Of the content, so an edit undone by another is no conflict."""
    if pattern is None:
        return "default"
    canon = json.dumps(pattern.to_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def _stored_pattern(stored: Any) -> TeamPattern | None:
    return None if stored is None else TeamPattern.parse(stored["days"], stored.get("closed_on_holidays", True))


def invalid(exc: HoursInvalid) -> DomainError:
    return DomainError("invalid_input", (exc.nl, exc.en), field=exc.field)


def _exception(row: Any) -> HoursException:
    return HoursException(
        id=row.id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        open=row.open,
        reason=row.reason,
        reason_text=row.reason_text,
        reason_text_en=row.reason_text_en,
    )


def state_view(state: TeamState) -> dict[str, Any]:
    view: dict[str, Any] = {"open": state.open, "opens_at": iso(state.opens_at), "closes_at": iso(state.closes_at)}
    if state.reason is not None:
        view["reason"] = state.reason
    return view


class OpeningHours:
    """Which team is open now, and the supervisors' changes to it."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        default: ChatHours,
        teams: Mapping[str, str],
        tz: str = "Europe/Amsterdam",
        check_every_s: float = CHECK_EVERY_S,
    ) -> None:
        """`default`: VT_CHAT_HOURS, for teams without their own pattern. `teams`: code -> name
        of the routing file; other teams are `invalid_input`."""
        self.db = db
        self.clock = clock
        self.default = TeamPattern.from_chat_hours(default)
        self.teams = dict(teams)
        self.tz = ZoneInfo(tz)
        self.check_every_s = check_every_s
        self._snapshot: Snapshot | None = None
        self._memo: dict[tuple[int, str], tuple[datetime, datetime, TeamState]] = {}
        self._checked_at = 0.0

    # --- Decisions --------------------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        now_mono = monotonic.monotonic()
        current = self._snapshot
        if current is not None and now_mono - self._checked_at < self.check_every_s:
            return current
        async with self.db.read() as conn:
            # The version first: data read after it is at least as new, so a change between
            # the two reads is loaded again at the next check, never missed.
            version = int(await conn.scalar(select(hours_version.c.version).where(hours_version.c.id == 1)) or 0)
            if current is None or current.version != version:
                current = await self._load(conn, version)
        self._snapshot, self._checked_at = current, now_mono
        return current

    async def _load(self, conn: AsyncConnection, version: int) -> Snapshot:
        patterns = {
            row.team: TeamPattern.parse(row.pattern["days"], row.pattern.get("closed_on_holidays", True))
            for row in (await conn.execute(select(team_hours))).all()
            if row.team in self.teams
        }
        rows = (
            await conn.execute(
                select(hours_exceptions)
                .where(hours_exceptions.c.ends_at > self.clock.now() - timedelta(days=1))
                .order_by(hours_exceptions.c.created_at, hours_exceptions.c.id)
            )
        ).all()
        exceptions: dict[str, list[HoursException]] = {}
        for row in rows:
            exceptions.setdefault(row.team, []).append(_exception(row))
        return Snapshot(version, patterns, {team: tuple(found) for team, found in exceptions.items()})

    def forget(self) -> None:
        """Read again at the next decision (after a change made by this process)."""
        self._snapshot = None

    def _state(self, snap: Snapshot, team: str, now: datetime) -> TeamState:
        """Computed once per team until its next change (an opening, a closing, an exception's
        start or end, at most a minute): `/api/status` asks for every team on every call."""
        key = (snap.version, team)
        memo = self._memo.get(key)
        if memo is not None and memo[0] <= now < memo[1]:
            return memo[2]
        exceptions = snap.exceptions.get(team, ())
        state = team_state(snap.patterns.get(team, self.default), exceptions, now, self.tz)
        boundaries = [now + MEMO_AT_MOST, *(t for t in (state.opens_at, state.closes_at) if t is not None)]
        boundaries += [t for e in exceptions for t in (e.starts_at, e.ends_at) if t > now]
        if len(self._memo) > 64:
            self._memo.clear()
        self._memo[key] = (now, min(boundaries), state)
        return state

    async def state(self, team: str) -> TeamState:
        """Open or closed now, for a team of the routing file."""
        return self._state(await self.snapshot(), team, self.clock.now())

    def cached_state(self, team: str, now: datetime) -> TeamState:
        """The state by the last snapshot read, for a text chosen where no read can wait."""
        snap = self._snapshot or Snapshot(0, {})
        return self._state(snap, team, now)

    async def states(self) -> dict[str, TeamState]:
        snap, now = await self.snapshot(), self.clock.now()
        return {team: self._state(snap, team, now) for team in self.teams}

    @staticmethod
    def overall(states: Mapping[str, TeamState]) -> TeamState:
        return union_state(list(states.values()))

    # --- Supervisors' view and changes ------------------------------------------------------

    def _check(self, agent: AgentIdentity, team: str) -> None:
        if agent.role not in MONITORS:
            raise DomainError("forbidden")
        if team not in self.teams:
            raise DomainError("invalid_input", (f"Onbekend team {team[:32]!r}.", "unknown team"), field="team")

    async def overview(self, agent: AgentIdentity) -> dict[str, Any]:
        if agent.role not in MONITORS:
            raise DomainError("forbidden")
        self.forget()
        snap = await self.snapshot()
        return {"teams": [self._team_view(snap, team) for team in self.teams], "timezone": self.tz.key}

    async def team(self, agent: AgentIdentity, team: str) -> dict[str, Any]:
        self._check(agent, team)
        self.forget()
        return self._team_view(await self.snapshot(), team)

    def _team_view(self, snap: Snapshot, team: str) -> dict[str, Any]:
        now = self.clock.now()
        today = now.astimezone(self.tz).date()
        own = snap.patterns.get(team)
        exceptions = [e for e in snap.exceptions.get(team, ()) if e.ends_at > now]
        today_ranges = open_ranges(own or self.default, exceptions, today, 1, self.tz)
        return {
            "team": team,
            "name": self.teams[team],
            "own_pattern": own is not None,
            "pattern": (own or self.default).to_json(),
            "pattern_version": pattern_version(own),
            "exceptions": [self._exception_view(e) for e in sorted(exceptions, key=lambda e: e.starts_at)],
            "now": state_view(self._state(snap, team, now)),
            "today": [
                {"opens": iso(s.astimezone(self.tz)), "closes": iso(e.astimezone(self.tz))} for s, e in today_ranges
            ],
        }

    def _exception_view(self, e: HoursException) -> dict[str, Any]:
        return {
            "id": e.id,
            "starts_at": iso(e.starts_at.astimezone(self.tz)),
            "ends_at": iso(e.ends_at.astimezone(self.tz)),
            "open": e.open,
            "reason": e.reason,
            "reason_text": e.reason_text,
            "reason_text_en": e.reason_text_en,
        }

    @staticmethod
    async def _bump(conn: AsyncConnection) -> None:
        """Raise the version; on PostgreSQL the row lock also puts concurrent changes in a row,
        so each audit's `old` is what the change really replaced."""
        changed = await conn.execute(
            update(hours_version).where(hours_version.c.id == 1).values(version=hours_version.c.version + 1)
        )
        if changed.rowcount == 0:
            await conn.execute(insert(hours_version).values(id=1, version=1))

    @staticmethod
    def _unchanged_since(old: Any, based_on: str | None) -> None:
        """`based_on`: the `pattern_version` the change was made on (If-Match), None: no check."""
        if based_on is not None and based_on != "*" and pattern_version(_stored_pattern(old)) != based_on:
            raise DomainError("conflict", CHANGED_MEANWHILE)

    async def set_pattern(
        self,
        agent: AgentIdentity,
        team: str,
        days: object,
        closed_on_holidays: object = True,
        based_on: str | None = None,
    ) -> dict[str, Any]:
        self._check(agent, team)
        try:
            pattern = TeamPattern.parse(days, closed_on_holidays)
        except HoursInvalid as exc:
            raise invalid(exc) from None
        new = pattern.to_json()
        now = self.clock.now()
        async with self.db.write() as conn:
            await self._bump(conn)
            old = await conn.scalar(select(team_hours.c.pattern).where(team_hours.c.team == team))
            self._unchanged_since(old, based_on)
            stored = {"days": new["days"], "closed_on_holidays": new["closed_on_holidays"]}
            if old is None:
                await conn.execute(
                    insert(team_hours).values(team=team, pattern=stored, updated_at=now, updated_by=agent.id)
                )
            else:
                await conn.execute(
                    update(team_hours)
                    .where(team_hours.c.team == team)
                    .values(pattern=stored, updated_at=now, updated_by=agent.id)
                )
            await record_audit(
                conn, at=now, action="hours_pattern_set", actor=f"agent:{agent.id}", team=team, old=old, new=stored
            )
        self.forget()
        return await self.team(agent, team)

    async def reset_pattern(self, agent: AgentIdentity, team: str, based_on: str | None = None) -> dict[str, Any]:
        """Back to VT_CHAT_HOURS."""
        self._check(agent, team)
        now = self.clock.now()
        async with self.db.write() as conn:
            await self._bump(conn)
            old = await conn.scalar(select(team_hours.c.pattern).where(team_hours.c.team == team))
            self._unchanged_since(old, based_on)
            if old is not None:
                await conn.execute(delete(team_hours).where(team_hours.c.team == team))
                await record_audit(
                    conn, at=now, action="hours_pattern_reset", actor=f"agent:{agent.id}", team=team, old=old, new=None
                )
        self.forget()
        return await self.team(agent, team)

    async def add_exception(
        self,
        agent: AgentIdentity,
        team: str,
        *,
        starts_at: object,
        ends_at: object,
        open: object,
        reason: object = None,
        reason_text: object = None,
        reason_text_en: object = None,
    ) -> dict[str, Any]:
        """A date (`2026-12-24`) or date-time range, open or closed, local time unless it has an offset."""
        self._check(agent, team)
        now = self.clock.now()
        try:
            if not isinstance(open, bool):
                raise HoursInvalid("open", "Kies open of gesloten.", "open must be true or false")
            start = local_range(starts_at, "starts_at", self.tz, end=False)
            end = local_range(ends_at, "ends_at", self.tz, end=True)
            check_range(start, end, now)
            if open:
                if reason is not None or reason_text is not None or reason_text_en is not None:
                    raise HoursInvalid("reason", "Een reden hoort bij een sluiting.", "a reason is for closures")
                code, text, text_en = None, None, None
            else:
                code, text, text_en = check_reason(reason, reason_text, reason_text_en)
        except HoursInvalid as exc:
            raise invalid(exc) from None
        return await self._insert_exception(agent, team, now, start, end, open, code, text, text_en)

    async def close_now(
        self,
        agent: AgentIdentity,
        team: str,
        *,
        until: object,
        reason: object = None,
        reason_text: object = None,
        reason_text_en: object = None,
    ) -> dict[str, Any]:
        """ "Nu gesloten tot …": a closure from this moment, e.g. because of an incident."""
        self._check(agent, team)
        now = self.clock.now()
        try:
            end = local_range(until, "until", self.tz, end=True)
            if end <= now:
                raise HoursInvalid("until", "Kies een tijd na nu.", "until must be later than now")
            check_range(now, end, now)
            code, text, text_en = check_reason(reason, reason_text, reason_text_en)
        except HoursInvalid as exc:
            raise invalid(exc) from None
        return await self._insert_exception(agent, team, now, now, end, False, code, text, text_en, quick=True)

    async def _insert_exception(
        self,
        agent: AgentIdentity,
        team: str,
        now: datetime,
        start: datetime,
        end: datetime,
        is_open: bool,
        code: str | None,
        text: str | None,
        text_en: str | None,
        *,
        quick: bool = False,
    ) -> dict[str, Any]:
        exception_id = str(uuid.uuid4())
        async with self.db.write() as conn:
            await self._bump(conn)
            await conn.execute(
                delete(hours_exceptions).where(
                    hours_exceptions.c.team == team, hours_exceptions.c.ends_at < now - KEEP_ENDED_EXCEPTIONS
                )
            )
            count = await conn.scalar(
                select(func.count()).where(hours_exceptions.c.team == team, hours_exceptions.c.ends_at > now)
            )
            if int(count or 0) >= MAX_EXCEPTIONS_PER_TEAM:
                raise DomainError(
                    "invalid_input",
                    (
                        f"Dit team heeft al {MAX_EXCEPTIONS_PER_TEAM} uitzonderingen. Verwijder er eerst een.",
                        "too many exceptions",
                    ),
                    field="team",
                )
            row = {
                "id": exception_id,
                "team": team,
                "starts_at": start,
                "ends_at": end,
                "open": is_open,
                "reason": code,
                "reason_text": text,
                "reason_text_en": text_en,
            }
            await conn.execute(insert(hours_exceptions).values(**row, created_at=now, created_by=agent.id))
            await record_audit(
                conn,
                at=now,
                action="hours_closed_now" if quick else "hours_exception_added",
                actor=f"agent:{agent.id}",
                team=team,
                old=None,
                new=self._exception_view(_exception_from(row)),
            )
        self.forget()
        return await self.team(agent, team)

    async def delete_exception(self, agent: AgentIdentity, team: str, exception_id: str) -> dict[str, Any]:
        self._check(agent, team)
        now = self.clock.now()
        async with self.db.write() as conn:
            await self._bump(conn)
            row = (
                await conn.execute(
                    select(hours_exceptions).where(
                        hours_exceptions.c.id == exception_id, hours_exceptions.c.team == team
                    )
                )
            ).first()
            if row is None:
                raise DomainError("not_found")
            await conn.execute(delete(hours_exceptions).where(hours_exceptions.c.id == exception_id))
            await record_audit(
                conn,
                at=now,
                action="hours_exception_deleted",
                actor=f"agent:{agent.id}",
                team=team,
                old=self._exception_view(_exception(row)),
                new=None,
            )
        self.forget()
        return await self.team(agent, team)


def _exception_from(row: Mapping[str, Any]) -> HoursException:
    return HoursException(
        id=row["id"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        open=row["open"],
        reason=row["reason"],
        reason_text=row["reason_text"],
        reason_text_en=row["reason_text_en"],
    )
