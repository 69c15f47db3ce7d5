"""The built-in case register (lists by deadline, one case whole), the dead-letter retry, and
the retention purge of transcripts after handoff."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select, update

from cases.sources import ContactSources
from cases.store import handoffs
from contact.auth import AgentIdentity, agents
from contact.clock import Clock, iso
from contact.db import Database
from contact.errors import DomainError
from contact.store import record_audit

log = structlog.get_logger(__name__)

STATUSES = ("pending", "delivered", "registered", "dead")
# What the purge removes from a handed-off contact: what people wrote or said, and contact details.
_PURGED_KEYS = ("transcript", "notes", "requests", "topic")


class CaseRegister:
    def __init__(
        self, db: Database, clock: Clock, tz: ZoneInfo, retention: timedelta, sources: ContactSources
    ) -> None:
        """`sources`: how each contact source purges its own records of a handed-off contact."""
        self.db = db
        self.sources = sources
        self.clock = clock
        self.tz = tz
        self.retention = retention

    def today(self) -> date:
        return self.clock.now().astimezone(self.tz).date()

    async def list(
        self, agent: AgentIdentity, *, status: str | None, due_within_days: int | None, overdue: bool
    ) -> dict[str, Any]:
        """Cases by deadline (meldingen first by their legal deadline, then the rest by receipt).
        Supervisors and admins see every case; an advisor the cases they handed off themselves
        (a transcript is read by those who need it, not by everyone with a login)."""
        if status == "dead" and not agent.is_supervisor:
            raise DomainError("forbidden")
        today = self.today()
        query = select(
            handoffs.c.id,
            handoffs.c.source,
            handoffs.c.kind,
            handoffs.c.urgency,
            handoffs.c.gemeente,
            handoffs.c.caller_type,
            handoffs.c.received_at,
            handoffs.c.deadline,
            handoffs.c.hermelding,
            handoffs.c.repeat_of,
            handoffs.c.status,
            handoffs.c.tries,
            handoffs.c.last_error,
            handoffs.c.purged_at,
            agents.c.name.label("advisor_name"),
        ).select_from(handoffs.outerjoin(agents, agents.c.id == handoffs.c.agent_id))
        if not agent.is_supervisor:
            query = query.where(handoffs.c.agent_id == agent.id)
        if status is not None:
            query = query.where(handoffs.c.status == status)
        if due_within_days is not None:
            query = query.where(
                handoffs.c.deadline.is_not(None), handoffs.c.deadline <= today + timedelta(days=due_within_days)
            )
        if overdue:
            query = query.where(handoffs.c.deadline.is_not(None), handoffs.c.deadline < today)
        query = query.order_by(handoffs.c.deadline.is_(None), handoffs.c.deadline, handoffs.c.received_at).limit(500)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return {"today": today.isoformat(), "cases": [self._summary(r, today) for r in rows]}

    @staticmethod
    def _summary(r: Any, today: date) -> dict[str, Any]:
        return {
            "id": r.id,
            "source": r.source,
            "kind": r.kind,
            "urgency": r.urgency,
            "gemeente": r.gemeente,
            "caller_type": r.caller_type,
            "received_at": iso(r.received_at),
            "deadline": r.deadline.isoformat() if r.deadline else None,
            "overdue": r.deadline is not None and r.deadline < today,
            "hermelding": r.hermelding,
            "repeat_of": r.repeat_of,
            "delivery": {"status": r.status, "tries": r.tries, "last_error": r.last_error},
            "advisor_name": r.advisor_name,
            "purged": r.purged_at is not None,
        }

    async def get(self, agent: AgentIdentity, handoff_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(handoffs, agents.c.name.label("advisor_name"))
                    .select_from(handoffs.outerjoin(agents, agents.c.id == handoffs.c.agent_id))
                    .where(handoffs.c.id == handoff_id)
                )
            ).first()
        if row is None:
            raise DomainError("not_found")
        if not agent.is_supervisor and row.agent_id != agent.id:
            raise DomainError("forbidden")
        return {**self._summary(row, self.today()), "handoff": row.payload}

    async def retry_dead(self) -> int:
        """Send the dead-lettered handoffs again (`vt-contact cases retry`)."""
        now = self.clock.now()
        async with self.db.write() as conn:
            done = (
                await conn.execute(
                    update(handoffs)
                    .where(handoffs.c.status == "dead")
                    .values(status="pending", tries=0, next_try_at=now, last_error=None)
                    .returning(handoffs.c.id)
                )
            ).all()
            if done:
                await record_audit(conn, at=now, action="handoffs_retried", actor="cli", count=len(done))
        return len(done)

    async def purge_due(self, limit: int = 200) -> int:
        """Delete the transcripts of contacts handed off longer than the retention time ago;
        the registration (outcome, deadline, links of repeat reports) stays."""
        now = self.clock.now()
        cutoff = now - self.retention
        purged = 0
        async with self.db.read() as conn:
            due = (
                await conn.execute(
                    select(handoffs.c.id, handoffs.c.source, handoffs.c.source_id, handoffs.c.payload)
                    .where(
                        handoffs.c.purged_at.is_(None),
                        handoffs.c.delivered_at.is_not(None),
                        handoffs.c.delivered_at <= cutoff,
                    )
                    .limit(limit)
                )
            ).all()
        for item in due:
            source = self.sources.get(item.source)
            if source is None:
                log.error("purge_unknown_source", handoff_id=item.id, source=item.source)
                continue
            async with self.db.write() as conn:
                claimed = (
                    await conn.execute(
                        update(handoffs)
                        .where(handoffs.c.id == item.id, handoffs.c.purged_at.is_(None))
                        .values(purged_at=now, payload=_stripped(item.payload, now))
                        .returning(handoffs.c.id)
                    )
                ).first()
                if claimed is None:
                    continue
                await source.purge(conn, item.source_id)
                await record_audit(conn, at=now, action="transcript_purged", actor="system", handoff_id=item.id)
            purged += 1
        return purged


def _stripped(payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    kept = {k: v for k, v in payload.items() if k not in _PURGED_KEYS}
    outcome = dict(kept.get("outcome") or {})
    for key in ("phone", "email"):
        outcome.pop(key, None)
    kept["outcome"] = outcome
    if isinstance(kept.get("callback"), dict):
        kept["callback"] = {k: v for k, v in kept["callback"].items() if k != "phone"}
    kept["purged_at"] = iso(now)
    return kept
