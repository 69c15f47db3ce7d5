"""The built-in case register (lists by deadline, one case whole), the dead-letter retry and
discard, and the retention purge: handoff payloads after delivery, the repeat-report hashes,
and every contact source's own records however the contact ended (cases/sources.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Integer, delete, func, select, update

from cases.sources import ContactSources, Retention, decided_only
from cases.store import handoff_contacts, handoffs
from contact.auth import AgentIdentity, agents
from contact.clock import Clock, iso
from contact.db import Database
from contact.errors import DomainError
from contact.store import record_audit

log = structlog.get_logger(__name__)

# Contacts purged per write transaction (about 3 ms each on SQLite: the lock is held ~60 ms).
PURGE_BATCH = 20
STATUSES = ("pending", "delivered", "registered", "dead", "discarded")
# What the purge removes from a handed-off contact: what people wrote or said, and contact details.
_PURGED_KEYS = ("transcript", "notes", "requests", "topic")


class CaseRegister:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        tz: ZoneInfo,
        retention: Retention,
        sources: ContactSources,
        before_purge: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """`sources`: how each contact source purges its own records; `before_purge`: run before
        anything is purged (the management figures seal their settled days; if it fails, nothing
        is purged this time)."""
        self.before_purge = before_purge
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

    async def discard(self, handoff_id: str, actor: str = "cli") -> bool:
        """An operator gives up on a dead-lettered handoff (`vt-contact cases discard ID`): its
        payload is stripped at once, with an audit entry; nothing else is ever dropped silently."""
        now = self.clock.now()
        async with self.db.write() as conn:
            row = (
                await conn.execute(
                    select(handoffs.c.payload).where(handoffs.c.id == handoff_id, handoffs.c.status == "dead")
                )
            ).first()
            if row is None:
                return False
            await conn.execute(
                update(handoffs)
                .where(handoffs.c.id == handoff_id)
                .values(status="discarded", purged_at=now, payload=_stripped(row.payload, now))
            )
            await record_audit(conn, at=now, action="handoff_discarded", actor=actor, handoff_id=handoff_id)
        return True

    async def purge_due(self, limit: int = 200) -> int:
        """Everything whose retention time has passed: the payloads of handoffs delivered longer
        ago than `retention.handoff` (dead ones wait for delivery or an operator's discard), the
        repeat-report hashes older than `retention.hermelding`, and each source's contacts that
        ended longer ago than its own time. What was decided (outcome kind, deadline, links of
        repeat reports) stays."""
        if self.before_purge is not None:
            await self.before_purge()
        now = self.clock.now()
        cutoff = now - self.retention.handoff
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
                await source.purge(conn, item.source_id, now)
                await record_audit(conn, at=now, action="transcript_purged", actor="system", handoff_id=item.id)
            purged += 1
        old_hashes = handoff_contacts.c.at <= now - self.retention.hermelding
        # Looked at first without SQLite's write lock: nearly every run finds nothing (issue 19).
        async with self.db.read() as conn:
            hashes_due = (await conn.execute(select(handoff_contacts.c.handoff_id).where(old_hashes).limit(1))).first()
        if hashes_due is not None:
            async with self.db.write() as conn:
                hashes = (
                    await conn.execute(
                        delete(handoff_contacts).where(old_hashes).returning(handoff_contacts.c.handoff_id)
                    )
                ).all()
                if hashes:
                    await record_audit(conn, at=now, action="contact_hashes_purged", actor="system", count=len(hashes))
        for name, source in self.sources.items():
            done = 0
            while done < limit:
                # Small transactions: the write lock (SQLite) is never held long against messages.
                async with self.db.write() as conn:
                    step = await source.purge_ended(conn, now - self.retention.of(name), now, PURGE_BATCH)
                    if step:
                        await record_audit(
                            conn, at=now, action="contacts_purged", actor="system", source=name, count=step
                        )
                done += step
                if step < PURGE_BATCH:
                    break
            purged += done
        return purged

    async def report(self) -> dict[str, Any]:
        """What is stored now (counts only, never content): per source by how the contact ended,
        with how many the next purge removes; handoffs by status; repeat-report hashes by age."""
        now = self.clock.now()
        out: dict[str, Any] = {"at": iso(now), "sources": {}}
        async with self.db.read() as conn:
            for name, source in self.sources.items():
                out["sources"][name] = {
                    "retention_days": self.retention.of(name) / timedelta(days=1),
                    "endings": await source.stored(conn, now - self.retention.of(name), now),
                }
            cutoff = now - self.retention.handoff
            rows = (
                await conn.execute(
                    select(
                        handoffs.c.status,
                        func.count(),
                        func.sum(
                            (handoffs.c.delivered_at.is_not(None) & (handoffs.c.delivered_at <= cutoff)).cast(
                                Integer
                            )
                        ),
                    )
                    .where(handoffs.c.purged_at.is_(None))
                    .group_by(handoffs.c.status)
                )
            ).all()
            out["handoffs"] = {
                "retention_days": self.retention.handoff / timedelta(days=1),
                "with_payload": {r[0]: {"kept": r[1], "due": int(r[2] or 0)} for r in rows},
            }
            hermelding_cutoff = now - self.retention.hermelding
            total = await conn.scalar(select(func.count()).select_from(handoff_contacts))
            due_hashes = await conn.scalar(
                select(func.count()).select_from(handoff_contacts).where(handoff_contacts.c.at <= hermelding_cutoff)
            )
            out["contact_hashes"] = {
                "retention_days": self.retention.hermelding / timedelta(days=1),
                "kept": int(total or 0),
                "due": int(due_hashes or 0),
            }
        return out


def _stripped(payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    kept = {k: v for k, v in payload.items() if k not in _PURGED_KEYS}
    kept["outcome"] = decided_only(kept.get("outcome") or {})
    if isinstance(kept.get("callback"), dict):
        kept["callback"] = {k: v for k, v in kept["callback"].items() if k != "phone"}
    kept["purged_at"] = iso(now)
    return kept
