"""Tables of the chat and the queries the chat service needs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Table, UniqueConstraint, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from contact.db import UTCDateTime
from contact.store import audit_events


class Conversation(SQLModel, table=True):
    __tablename__ = "conversation"
    __table_args__ = (
        # One open conversation per resume token: two `start`s racing with the same token
        # on two processes cannot both succeed.
        Index(
            "ux_conversation_open_resume",
            "resume_hash",
            unique=True,
            sqlite_where=text("status != 'closed'"),
            postgresql_where=text("status != 'closed'"),
        ),
        Index("ix_conversation_queue", "status", "priority", "waiting_since"),
        Index("ix_conversation_agent_status", "agent_id", "status"),
        Index("ix_conversation_crisis_open", "crisis_acked_at", "crisis_at"),
        Index("ix_conversation_purge", "purged_at", "outcome_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    status: str = Field(max_length=16)  # waiting | active | closed
    caller_type: str = Field(max_length=16)
    intent: str = Field(max_length=16)
    topic: str | None = Field(default=None, max_length=200)
    danger_now: bool = Field(default=False)
    team: str = Field(max_length=40)
    priority: int = Field(default=0)
    resume_hash: str = Field(max_length=64, index=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    waiting_since: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    agent_id: str | None = Field(default=None, foreign_key="agent.id", max_length=36)
    accepted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    close_reason: str | None = Field(default=None, max_length=32)
    outcome: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    last_seq: int = Field(default=0)
    # Set when the visitor's last connection dropped while waiting; cleared when they come back.
    visitor_away_since: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # Expertise the routing rules asked for (a hint for the advisor; the outcome may add more).
    expertise: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Crisis: started at, why and by whom; re-alert rounds until someone acknowledges.
    crisis_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    crisis_reason: str | None = Field(default=None, max_length=500)
    crisis_by: str | None = Field(default=None, max_length=48)
    crisis_round: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    crisis_alerted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    crisis_acked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    crisis_acked_by: str | None = Field(default=None, max_length=36)
    # The conversation ended before anyone acknowledged the crisis: the alerts stop, and why.
    crisis_ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    crisis_end_reason: str | None = Field(default=None, max_length=32)
    # How the visitor left: by quick exit ("Snel weg"), so they may be in danger right now.
    visitor_quick_exit: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # When the outcome was recorded, and by whom (an agent id, or `system` when the grace period
    # after the visitor left ran out). NULL on a closed conversation: its holder may still record it.
    outcome_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    outcome_by: str | None = Field(default=None, max_length=36)
    # Start, messages, resume and the visitor's connection going: the resume token expires after it.
    last_activity_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # Take-over: the crisis worker or supervisor who asked the holder to hand this conversation
    # over, and since when (the holder answers; without an answer in time the asker may go ahead).
    takeover_by: str | None = Field(default=None, max_length=36)
    takeover_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # Someone reads along (supervisor, crisis worker): messages go to the readers' room too.
    read_along: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # Push mode: the agent this waiting conversation is offered to now, and since when.
    offered_to: str | None = Field(default=None, max_length=36)
    offered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # When the retention purge blanked what was said and who said it (chat/retention.py).
    purged_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class Message(SQLModel, table=True):
    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="ux_message_seq"),
        UniqueConstraint("conversation_id", "sender", "client_id", name="ux_message_client_id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    conversation_id: str = Field(foreign_key="conversation.id", max_length=36)
    seq: int
    sender: str = Field(max_length=8)  # visitor | agent | system
    agent_id: str | None = Field(default=None, max_length=36)
    client_id: str | None = Field(default=None, max_length=64)
    text: str
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Note(SQLModel, table=True):
    """An advisor's internal note: part of the record, never shown to the visitor."""

    __tablename__ = "note"

    id: str = Field(primary_key=True, max_length=36)
    conversation_id: str = Field(foreign_key="conversation.id", index=True, max_length=36)
    agent_id: str = Field(foreign_key="agent.id", max_length=36)
    text: str
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class CrisisEvent(SQLModel, table=True):
    """One line of a conversation's crisis timeline: escalated, alerted (each round) and
    acknowledged, with who did it. Kept with the record and handed off with it."""

    __tablename__ = "crisis_event"
    __table_args__ = (Index("ix_crisis_event_conversation", "conversation_id", "at"),)

    id: str = Field(primary_key=True, max_length=36)
    conversation_id: str = Field(foreign_key="conversation.id", max_length=36)
    kind: str = Field(max_length=16)  # escalated | alerted | acknowledged | ended
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str = Field(max_length=48)  # visitor | system | agent id
    actor_name: str | None = Field(default=None, max_length=120)
    reason: str | None = Field(default=None, max_length=500)
    round: int | None = Field(default=None)
    audience: str | None = Field(default=None, max_length=16)  # crisis | everyone


class PushDecline(SQLModel, table=True):
    """An agent let an offered conversation pass (or let the offer run out): not offered again."""

    __tablename__ = "push_decline"

    conversation_id: str = Field(foreign_key="conversation.id", primary_key=True, max_length=36)
    agent_id: str = Field(primary_key=True, max_length=36)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    reason: str = Field(max_length=16)  # passed | expired


class QueueState(SQLModel, table=True):
    """A single row whose version rises with every change of the queue, so that clients can
    drop a snapshot that arrives after a newer one (they come from several processes)."""

    __tablename__ = "queue_state"

    id: int = Field(primary_key=True)
    version: int = Field(default=0)


conversations: Table = Conversation.__table__  # type: ignore[attr-defined]
messages: Table = Message.__table__  # type: ignore[attr-defined]
notes: Table = Note.__table__  # type: ignore[attr-defined]
queue_state: Table = QueueState.__table__  # type: ignore[attr-defined]
crisis_events: Table = CrisisEvent.__table__  # type: ignore[attr-defined]
push_declines: Table = PushDecline.__table__  # type: ignore[attr-defined]


class RiskFeedback(SQLModel, table=True):
    """An advisor's verdict on the risk signal of one visitor message: a concept marked `wrong`,
    or a risk `missed` (with the concept the advisor thinks applies, if they named one). Ids only,
    never message text: the export reads the text from the message while it still exists."""

    __tablename__ = "risk_feedback"
    __table_args__ = (
        # A double click or a second console gives one row; NULL concepts are made '' so they count too.
        UniqueConstraint("conversation_id", "seq", "kind", "concept", "agent_id", name="ux_risk_feedback"),
        Index("ix_risk_feedback_at", "at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    conversation_id: str = Field(foreign_key="conversation.id", max_length=36)
    seq: int
    kind: str = Field(max_length=8)  # wrong | missed
    # The concept marked wrong, or the one a missed risk is about; '' when a missed risk names none.
    concept: str = Field(default="", max_length=200)
    # The level the signal had (wrong) or the message's level, if any signal fired on it (missed).
    level: str | None = Field(default=None, max_length=8)
    agent_id: str = Field(foreign_key="agent.id", max_length=36)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RiskConceptDay(SQLModel, table=True):
    """How often each concept fired on one day (Europe/Amsterdam): anonymous counts that outlive
    the retention purge, so supervisors can weigh the feedback against how often a signal fires."""

    __tablename__ = "risk_concept_day"

    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD
    concept: str = Field(primary_key=True, max_length=200)
    fired: int = Field(default=0)


risk_feedback: Table = RiskFeedback.__table__  # type: ignore[attr-defined]
risk_concept_days: Table = RiskConceptDay.__table__  # type: ignore[attr-defined]


async def risk_by_seq(conn: AsyncConnection, conversation_id: str) -> dict[int, dict[str, Any]]:
    """The risk signal of each visitor message of a conversation, from its audit entry (the
    level and the concepts with their matched words, never the text): seq -> {"level", "concepts"}."""
    rows = await conn.execute(
        select(audit_events.c.detail).where(
            audit_events.c.conversation_id == conversation_id, audit_events.c.action == "risk"
        )
    )
    found: dict[int, dict[str, Any]] = {}
    for (detail,) in rows:
        seq = detail.get("seq") if isinstance(detail, dict) else None
        if isinstance(seq, int):
            concepts = [
                c for c in detail.get("concepts") or () if isinstance(c, dict) and isinstance(c.get("concept"), str)
            ]
            found[seq] = {"level": detail.get("level"), "concepts": concepts}
    return found
