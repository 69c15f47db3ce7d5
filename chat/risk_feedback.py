"""Advisors' feedback on the risk signals (issue 13): a concept marked wrong on a visitor message,
or a risk the detector missed; and for supervisors, per concept how often it fired and how often
it was marked, and the marked examples to improve the labelled data (docs/risk-signals.md).

The feedback keeps ids only (conversation, message seq, concept, agent); the export reads the
message text while the message exists, so after the retention purge a marked example leaves it.
How often a concept fired is counted per day without any text (`risk_concept_day`), written in
the transaction of the risk signal (`count_fired`), so those counts outlive the purge."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Table, and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from chat.base import ChatBase
from chat.model import Result
from chat.store import conversations, messages, risk_by_seq, risk_concept_days, risk_feedback
from contact.auth import AgentIdentity, agents
from contact.errors import DomainError
from contact.store import audit_events, record_audit

KINDS = ("wrong", "missed")
# Audit actions of an agent who held a conversation at some time.
_HELD = ("accepted", "transferred", "taken_over", "take_over_declined")
# Concept names are short ("wapen + dreiging"); a longer one is cut, never refused, when counted.
CONCEPT_MAX = 200
# How long a period the per-concept table may cover.
MAX_PERIOD_DAYS = 366
_RANK = {"acuut": 0, "hoog": 1, "zorg": 2}


def _insert(conn: AsyncConnection, table: Table) -> Any:
    """INSERT with ON CONFLICT support for the database in use (SQLite or PostgreSQL)."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


async def count_fired(conn: AsyncConnection, day: date, concepts: Iterable[str]) -> None:
    """Count one firing of each concept on `day`, in the caller's transaction (no text kept)."""
    for name in sorted({c[:CONCEPT_MAX] for c in concepts}):
        stmt = _insert(conn, risk_concept_days).values(day=day.isoformat(), concept=name, fired=1)
        await conn.execute(
            stmt.on_conflict_do_update(index_elements=["day", "concept"], set_={"fired": risk_concept_days.c.fired + 1})
        )


class RiskFeedbackUseCases(ChatBase):
    """Marking signals, and the supervisors' figures and export."""

    async def mark_signal_wrong(self, agent: AgentIdentity, conversation_id: str, seq: int, concept: str) -> Result:
        """`concept` fired on visitor message `seq` but the advisor judges it wrong."""
        return await self._feedback(agent, conversation_id, seq, "wrong", concept)

    async def report_missed(
        self, agent: AgentIdentity, conversation_id: str, seq: int, concept: str | None = None
    ) -> Result:
        """Visitor message `seq` shows a risk no signal named (`concept`: which one, if the advisor knows)."""
        return await self._feedback(agent, conversation_id, seq, "missed", concept)

    def concept_names(self) -> list[str]:
        """The detector's concepts an advisor may name for a missed risk."""
        return sorted({c.name for c in self.risk.concepts})

    async def _feedback(
        self, agent: AgentIdentity, conversation_id: str, seq: int, kind: str, concept: str | None
    ) -> Result:
        if kind not in KINDS:
            raise DomainError("invalid_input", field="kind")
        if kind == "wrong" and not concept:
            raise DomainError("invalid_input", field="concept")
        now = self.clock.now()
        async with self.db.write() as conn:
            row = (
                await conn.execute(
                    select(conversations.c.agent_id, conversations.c.crisis_acked_by).where(
                        conversations.c.id == conversation_id
                    )
                )
            ).first()
            if row is None:
                raise DomainError("not_found")
            if not agent.is_supervisor and not await self._held_ever(conn, agent.id, conversation_id, row):
                raise DomainError("forbidden")
            sender = await conn.scalar(
                select(messages.c.sender).where(messages.c.conversation_id == conversation_id, messages.c.seq == seq)
            )
            if sender is None:
                raise DomainError("not_found")
            if sender != "visitor":
                raise DomainError("invalid_input", field="seq")
            fired = await self._fired(conn, conversation_id, seq)
            if kind == "wrong":
                if concept not in fired:
                    raise DomainError("invalid_input", field="concept")
                level = fired[concept]
            else:
                if concept is not None and concept not in self.concept_names() and concept not in fired:
                    raise DomainError("invalid_input", field="concept")
                levels = sorted((lv for lv in fired.values() if lv in _RANK), key=_RANK.__getitem__)
                level = levels[0] if levels else None
            stmt = _insert(conn, risk_feedback).values(
                id=str(uuid.uuid4()),
                conversation_id=conversation_id,
                seq=seq,
                kind=kind,
                concept=concept or "",
                level=level,
                agent_id=agent.id,
                at=now,
            )
            added = (await conn.execute(stmt.on_conflict_do_nothing())).rowcount
            if added:  # a second click says ok and writes nothing
                await record_audit(
                    conn,
                    at=now,
                    action="risk_feedback",
                    actor=f"agent:{agent.id}",
                    conversation_id=conversation_id,
                    kind=kind,
                    seq=seq,
                    concept=concept,
                )
        return Result({"ok": True})

    @staticmethod
    async def _held_ever(conn: AsyncConnection, agent_id: str, conversation_id: str, row: Any) -> bool:
        """The agent holds the conversation, took its crisis on, or held it before."""
        if agent_id in (row.agent_id, row.crisis_acked_by):
            return True
        held = await conn.scalar(
            select(audit_events.c.id)
            .where(
                audit_events.c.conversation_id == conversation_id,
                audit_events.c.actor == f"agent:{agent_id}",
                audit_events.c.action.in_(_HELD),
            )
            .limit(1)
        )
        if held is not None:
            return True
        wrote = await conn.scalar(
            select(messages.c.id)
            .where(messages.c.conversation_id == conversation_id, messages.c.agent_id == agent_id)
            .limit(1)
        )
        return wrote is not None

    @staticmethod
    async def _fired(conn: AsyncConnection, conversation_id: str, seq: int) -> dict[str, str | None]:
        """The concepts the risk signal of message `seq` named (from its audit entry), with their level."""
        signal = (await risk_by_seq(conn, conversation_id)).get(seq)
        return {c["concept"]: c.get("level") for c in signal["concepts"]} if signal else {}

    def _local_bounds(self, first: date, last: date) -> tuple[datetime, datetime]:
        tz = self.handoffs.tz
        return (
            datetime.combine(first, time(), tz),
            datetime.combine(last + timedelta(days=1), time(), tz),
        )

    async def risk_concept_counts(self, agent: AgentIdentity, first: date, last: date) -> dict[str, Any]:
        """Per concept, within the days `first`..`last` (local): how often it fired, how many
        messages were marked wrong for it, and how many missed risks named it."""
        if not agent.is_supervisor:
            raise DomainError("forbidden")
        if last < first or (last - first).days >= MAX_PERIOD_DAYS:
            raise DomainError("invalid_input", field="to")
        start, end = self._local_bounds(first, last)
        async with self.db.read() as conn:
            fired_rows = (
                await conn.execute(
                    select(risk_concept_days.c.concept, risk_concept_days.c.fired).where(
                        risk_concept_days.c.day >= first.isoformat(), risk_concept_days.c.day <= last.isoformat()
                    )
                )
            ).all()
            marks = (
                await conn.execute(
                    select(
                        risk_feedback.c.concept,
                        risk_feedback.c.kind,
                        risk_feedback.c.conversation_id,
                        risk_feedback.c.seq,
                    ).where(risk_feedback.c.at >= start, risk_feedback.c.at < end)
                )
            ).all()
        table: dict[str | None, dict[str, Any]] = {}

        def entry(name: str | None) -> dict[str, Any]:
            return table.setdefault(name, {"concept": name, "fired": 0, "marked_wrong": 0, "reported_missed": 0})

        for name, count in fired_rows:
            entry(name)["fired"] += count
        # A message marked by two advisors counts once.
        for name, kind, _conversation, _seq in {tuple(r) for r in marks}:
            entry(name or None)["marked_wrong" if kind == "wrong" else "reported_missed"] += 1
        rows = sorted(table.values(), key=lambda e: (-e["fired"], e["concept"] is None, e["concept"] or ""))
        return {"from": first.isoformat(), "to": last.isoformat(), "concepts": rows}

    async def risk_feedback_export(self, agent: AgentIdentity, fmt: str) -> list[dict[str, Any]]:
        """The marked examples with their message text, for the data work: only messages that
        still exist (purged ones are left out), no visitor data, the marker's role, not their
        name. Audited: who exported, how many rows."""
        if not agent.is_supervisor:
            raise DomainError("forbidden")
        tz = self.handoffs.tz
        async with self.db.write() as conn:
            rows = (
                await conn.execute(
                    select(
                        risk_feedback.c.conversation_id,
                        risk_feedback.c.seq,
                        risk_feedback.c.kind,
                        risk_feedback.c.concept,
                        risk_feedback.c.level,
                        risk_feedback.c.at,
                        messages.c.text,
                        agents.c.role,
                    )
                    .select_from(
                        risk_feedback.join(
                            messages,
                            and_(
                                messages.c.conversation_id == risk_feedback.c.conversation_id,
                                messages.c.seq == risk_feedback.c.seq,
                                messages.c.sender == "visitor",
                            ),
                        ).join(agents, agents.c.id == risk_feedback.c.agent_id)
                    )
                    .order_by(risk_feedback.c.at, risk_feedback.c.id)
                )
            ).all()
            seen: set[tuple[str, int, str, str]] = set()
            examples: list[dict[str, Any]] = []
            for r in rows:
                key = (r.conversation_id, r.seq, r.kind, r.concept)
                if key in seen:  # marked by several advisors: one example
                    continue
                seen.add(key)
                examples.append(
                    {
                        "date": r.at.astimezone(tz).date().isoformat(),
                        "kind": r.kind,
                        "concept": r.concept or None,
                        "level": r.level,
                        "text": r.text,
                        "agent_role": r.role,
                    }
                )
            await record_audit(
                conn,
                at=self.clock.now(),
                action="risk_feedback_export",
                actor=f"agent:{agent.id}",
                rows=len(examples),
                format=fmt,
            )
        return examples
