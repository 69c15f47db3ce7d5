"""Tables of the advisors' workplace: each agent's status (beschikbaar, pauze, nawerk, offline)
the nawerk periods the figures count, and the whispers a supervisor sends to the advisor holding a conversation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Table
from sqlmodel import Field, SQLModel

from contact.db import UTCDateTime


class AgentStatus(SQLModel, table=True):
    """One row per agent: the status they chose (or a supervisor, or a close, set), since when,
    and for `nawerk` until when (after that it counts as `beschikbaar`, on every process)."""

    __tablename__ = "agent_status"

    agent_id: str = Field(foreign_key="agent.id", primary_key=True, max_length=36)
    status: str = Field(max_length=16)  # beschikbaar | pauze | nawerk | offline
    since: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # Who set it: the agent themselves, a supervisor's agent id, or `system` (nawerk after a close).
    set_by: str = Field(max_length=36)
    # The login session the status was chosen in: a reload keeps a pause, a new login starts available.
    session_id: str | None = Field(default=None, max_length=64)


class NawerkPeriod(SQLModel, table=True):
    """One nawerk after a close, for the management figures (docs/figures.md): written in the
    close's transaction; `ended_at` is set when it ends before `planned_end` (ended early, or
    replaced by another status or by the nawerk of a next close). Its length is
    (`ended_at` or `planned_end`) - `started_at`. Deleted with its conversation's purge."""

    __tablename__ = "nawerk_period"
    __table_args__ = (
        Index("ix_nawerk_period_agent", "agent_id", "ended_at"),
        Index("ix_nawerk_period_started", "started_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    agent_id: str = Field(foreign_key="agent.id", max_length=36)
    conversation_id: str = Field(foreign_key="conversation.id", max_length=36)
    team: str = Field(max_length=40)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    planned_end: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class Whisper(SQLModel, table=True):
    """A supervisor's whisper to the advisor holding a conversation: never shown to the visitor,
    never in the transcript or the handoff; deleted with the conversation's text."""

    __tablename__ = "whisper"
    __table_args__ = (Index("ix_whisper_conversation", "conversation_id", "at"),)

    id: str = Field(primary_key=True, max_length=36)
    conversation_id: str = Field(foreign_key="conversation.id", max_length=36)
    from_agent_id: str = Field(foreign_key="agent.id", max_length=36)
    to_agent_id: str | None = Field(default=None, max_length=36)
    text: str
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


agent_statuses: Table = AgentStatus.__table__  # type: ignore[attr-defined]
whispers: Table = Whisper.__table__  # type: ignore[attr-defined]
nawerk_periods: Table = NawerkPeriod.__table__  # type: ignore[attr-defined]
