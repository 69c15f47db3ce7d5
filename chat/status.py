"""An advisor's status: `beschikbaar` (may get push offers), `pauze`, `nawerk` (after a close, for
a set time, ending by itself or early) and `offline` (console open, not taking chats). Stored in
the database, so every process sees the same; `nawerk` carries its end (`until`) and counts as
`beschikbaar` from then on wherever it is read, so no process depends on a job having run.

A console that connects keeps the status of its own login session when that was `pauze` or a
running `nawerk` (a reload must not end a break); a new login starts `beschikbaar`. An agent
with no console open counts as offline on the board, whatever was stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chat import outbound as out
from chat.model import Outgoing, QueueChanged, Result, ToAgent, iso
from chat.workplace_store import agent_statuses, nawerk_periods
from contact.auth import AgentIdentity, agents
from contact.clock import Clock
from contact.db import Database
from contact.errors import DomainError
from contact.store import record_audit

AVAILABLE, PAUSE, AFTERCARE, OFFLINE = "beschikbaar", "pauze", "nawerk", "offline"
STATUSES = (AVAILABLE, PAUSE, AFTERCARE, OFFLINE)
# Who may be counted as there for a waiting visitor: at work now, or back within minutes.
AT_WORK = frozenset({AVAILABLE, AFTERCARE})

NOT_A_SUPERVISOR = (
    "Alleen een leidinggevende mag de status van een collega zetten.",
    "Only a supervisor may set a colleague's status.",
)


@dataclass(frozen=True)
class AftercareTimes:
    """How long `nawerk` lasts after a close: in general, after a crisis, after a melding."""

    after_close_s: float = 60
    after_crisis_s: float = 300
    after_melding_s: float = 300

    def length_s(self, outcome_kind: str, in_crisis: bool) -> float:
        if in_crisis:
            return max(self.after_crisis_s, self.after_close_s)
        if outcome_kind == "melding":
            return max(self.after_melding_s, self.after_close_s)
        return self.after_close_s


def effective(status: str | None, since: datetime | None, until: datetime | None, now: datetime) -> dict[str, Any]:
    """The status as it is at `now`: a `nawerk` that ran out is `beschikbaar` since its end."""
    if status is None or since is None:
        return {"status": AVAILABLE, "since": None, "until": None}
    if status == AFTERCARE and until is not None and until <= now:
        return {"status": AVAILABLE, "since": until, "until": None}
    return {"status": status, "since": since, "until": until if status == AFTERCARE else None}


def wire(view: dict[str, Any]) -> dict[str, Any]:
    return {"status": view["status"], "since": iso(view["since"]), "until": iso(view["until"])}


async def statuses_of(conn: AsyncConnection, agent_ids: list[str] | None, now: datetime) -> dict[str, dict[str, Any]]:
    """Each agent's status as it is now (agents without a row are `beschikbaar`)."""
    query = select(agent_statuses.c.agent_id, agent_statuses.c.status, agent_statuses.c.since, agent_statuses.c.until)
    if agent_ids is not None:
        query = query.where(agent_statuses.c.agent_id.in_(sorted(agent_ids)))
    found = {r.agent_id: effective(r.status, r.since, r.until, now) for r in await conn.execute(query)}
    for agent_id in agent_ids or ():
        found.setdefault(agent_id, effective(None, None, None, now))
    return found


async def available_among(conn: AsyncConnection, agent_ids: set[str], now: datetime) -> set[str]:
    """The agents of `agent_ids` who are `beschikbaar` now: only they get push offers."""
    return {a for a, v in (await statuses_of(conn, sorted(agent_ids), now)).items() if v["status"] == AVAILABLE}


async def at_work_among(conn: AsyncConnection, agent_ids: set[str], now: datetime) -> int:
    """How many of `agent_ids` count as there for a waiting visitor (not on a break, not offline)."""
    return sum(1 for v in (await statuses_of(conn, sorted(agent_ids), now)).values() if v["status"] in AT_WORK)


async def _put(conn: AsyncConnection, agent_id: str, values: dict[str, Any]) -> None:
    changed = (
        await conn.execute(
            update(agent_statuses)
            .where(agent_statuses.c.agent_id == agent_id)
            .values(**values)
            .returning(agent_statuses.c.agent_id)
        )
    ).first()
    if changed is None:
        try:
            # A savepoint: two consoles of a new agent connecting at once both insert; one wins.
            async with conn.begin_nested():
                await conn.execute(insert(agent_statuses).values(agent_id=agent_id, **values))
        except IntegrityError:
            await conn.execute(update(agent_statuses).where(agent_statuses.c.agent_id == agent_id).values(**values))


async def end_nawerk_period(conn: AsyncConnection, agent_id: str, now: datetime) -> None:
    """The agent's running nawerk period (figures) ends at `now`: ended early, or replaced by
    another status. One that already ran its planned time keeps that as its end."""
    await conn.execute(
        update(nawerk_periods)
        .where(
            nawerk_periods.c.agent_id == agent_id,
            nawerk_periods.c.ended_at.is_(None),
            nawerk_periods.c.planned_end > now,
        )
        .values(ended_at=now)
    )


async def start_aftercare(
    conn: AsyncConnection, agent_id: str, now: datetime, seconds: float, conversation_id: str, team: str
) -> dict[str, Any] | None:
    """After a close: `nawerk` for `seconds`, in the close's transaction. An agent on a break or
    offline stays so (they chose it); a running nawerk is lengthened, never shortened. Answers
    the new status, or None when it did not change. The figures get a nawerk period of the
    closed conversation's team; one still running from an earlier close ends now (each close
    counts the nawerk that followed it)."""
    if seconds <= 0:
        return None
    row = (
        await conn.execute(select(agent_statuses).where(agent_statuses.c.agent_id == agent_id).with_for_update())
    ).first()
    current = effective(row.status if row else None, row.since if row else None, row.until if row else None, now)
    if current["status"] not in (AVAILABLE, AFTERCARE):
        return None
    until = now + timedelta(seconds=seconds)
    if current["status"] == AFTERCARE and current["until"] is not None and current["until"] >= until:
        return None
    since = current["since"] if current["status"] == AFTERCARE and current["since"] else now
    await end_nawerk_period(conn, agent_id, now)
    await conn.execute(
        insert(nawerk_periods).values(
            id=str(uuid4()),
            agent_id=agent_id,
            conversation_id=conversation_id,
            team=team,
            started_at=now,
            planned_end=until,
            ended_at=None,
        )
    )
    await _put(conn, agent_id, {"status": AFTERCARE, "since": since, "until": until, "set_by": "system"})
    return {"status": AFTERCARE, "since": since, "until": until}


def status_emit(agent_id: str, view: dict[str, Any], by: str | None = None) -> Outgoing:
    data = {"agent_id": agent_id, **wire(view)}
    if by is not None:
        data["by"] = {"name": by}
    return out.AgentStatusChanged.model_validate(data).to(ToAgent(agent_id))


class StatusService:
    """Set, read and keep the agents' statuses."""

    def __init__(self, db: Database, clock: Clock, times: AftercareTimes) -> None:
        self.db = db
        self.clock = clock
        self.times = times

    async def current(self, agent_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            return wire((await statuses_of(conn, [agent_id], self.clock.now()))[agent_id])

    async def connected(self, agent: AgentIdentity, session_id: str) -> Result:
        """A console connects: within the same login the stored status stays (a reload ends no
        break); a new login starts `beschikbaar`."""
        now = self.clock.now()
        async with self.db.write() as conn:
            row = (
                await conn.execute(
                    select(agent_statuses).where(agent_statuses.c.agent_id == agent.id).with_for_update()
                )
            ).first()
            view = effective(row.status if row else None, row.since if row else None, row.until if row else None, now)
            if row is None or row.session_id != session_id:
                view = {"status": AVAILABLE, "since": now, "until": None}
                await end_nawerk_period(conn, agent.id, now)
                await _put(
                    conn,
                    agent.id,
                    {"status": AVAILABLE, "since": now, "until": None, "set_by": agent.id, "session_id": session_id},
                )
        return Result({"ok": True, **wire(view)}, [status_emit(agent.id, view), QueueChanged()])

    async def set_status(self, actor: AgentIdentity, status: str, agent_id: str | None = None) -> Result:
        """The agent sets their own status (ending nawerk early is `beschikbaar`), or a supervisor
        a colleague's. `nawerk` chosen by hand lasts the general nawerk time. Audited."""
        if status not in STATUSES:
            raise DomainError("invalid_input", field="status")
        target = agent_id or actor.id
        if target != actor.id and not actor.is_supervisor:
            raise DomainError("forbidden", NOT_A_SUPERVISOR)
        now = self.clock.now()
        until = now + timedelta(seconds=self.times.after_close_s) if status == AFTERCARE else None
        async with self.db.write() as conn:
            exists = await conn.scalar(select(agents.c.id).where(agents.c.id == target, agents.c.active.is_(True)))
            if exists is None:
                raise DomainError("not_found")
            previous = (await statuses_of(conn, [target], now))[target]["status"]
            # Any status set by hand ends a running nawerk after a close (a nawerk chosen by hand
            # belongs to no close and is not counted in the figures).
            await end_nawerk_period(conn, target, now)
            await _put(conn, target, {"status": status, "since": now, "until": until, "set_by": actor.id})
            await record_audit(
                conn,
                at=now,
                action="agent_status",
                actor=f"agent:{actor.id}",
                agent_id=target,
                status=status,
                previous=previous,
            )
        view = {"status": status, "since": now, "until": until}
        by = actor.name if target != actor.id else None
        # A status change may make a push offer due (QueueChanged leads to the offers).
        return Result({"ok": True, **wire(view)}, [status_emit(target, view, by), QueueChanged()])
