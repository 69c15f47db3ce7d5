"""Tables of the opening hours set at run time: each team's own week pattern, the exceptions
(open or closed ranges), and one version row that every change raises, so that every process
sees a change at its next decision (contact/opening.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Table
from sqlmodel import Field, SQLModel

from contact.db import UTCDateTime


class TeamHours(SQLModel, table=True):
    """A team's own week pattern; a team without a row uses VT_CHAT_HOURS."""

    __tablename__ = "team_hours"

    team: str = Field(primary_key=True, max_length=32)
    pattern: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str = Field(max_length=36)


class HoursExceptionRow(SQLModel, table=True):
    """A range in which a team is open (an extra shift) or closed (a holiday, an incident)."""

    __tablename__ = "hours_exception"
    __table_args__ = (Index("ix_hours_exception_team_end", "team", "ends_at"),)

    id: str = Field(primary_key=True, max_length=36)
    team: str = Field(max_length=32)
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    open: bool
    reason: str | None = Field(default=None, max_length=16)
    reason_text: str | None = Field(default=None, max_length=120)
    reason_text_en: str | None = Field(default=None, max_length=120)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_by: str = Field(max_length=36)


class HoursVersion(SQLModel, table=True):
    """One row (id 1): raised in the same transaction as every change of the two tables above."""

    __tablename__ = "hours_version"

    id: int = Field(primary_key=True)
    version: int = Field(default=0)


team_hours: Table = TeamHours.__table__  # type: ignore[attr-defined]
hours_exceptions: Table = HoursExceptionRow.__table__  # type: ignore[attr-defined]
hours_version: Table = HoursVersion.__table__  # type: ignore[attr-defined]
