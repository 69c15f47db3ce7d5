"""Tables of the handoff to the case system: the outbox (one row per closed contact, written in
the same transaction as the close) and the keyed hashes that link repeat reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Date, Index, Table
from sqlmodel import Field, SQLModel

from contact.db import UTCDateTime


class Handoff(SQLModel, table=True):
    """A closed contact as the case system receives it. `payload` is the document sent; its
    transcript is removed by the retention purge, the registration itself stays."""

    __tablename__ = "handoff"
    __table_args__ = (
        Index("ix_handoff_delivery", "status", "next_try_at"),
        Index("ix_handoff_deadline", "deadline"),
        Index("ux_handoff_source", "source", "source_id", unique=True),
    )

    id: str = Field(primary_key=True, max_length=36)
    source: str = Field(max_length=16)  # chat | callback
    source_id: str = Field(max_length=36)
    kind: str = Field(max_length=16)  # advies | melding
    urgency: str | None = Field(default=None, max_length=8)
    gemeente: str | None = Field(default=None, max_length=100)
    caller_type: str = Field(max_length=16)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    deadline: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    agent_id: str | None = Field(default=None, max_length=36)
    hermelding: bool = Field(default=False)
    repeat_of: str | None = Field(default=None, max_length=36)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # pending → delivered (webhook 2xx) | registered (built-in register only) | dead (gave up)
    status: str = Field(max_length=12)
    tries: int = Field(default=0)
    next_try_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_error: str | None = Field(default=None, max_length=80)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    purged_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class HandoffContact(SQLModel, table=True):
    """A keyed hash of a phone number or e-mail address of a handoff: links repeat reports and
    outlives the purge of the transcript, without keeping the number itself."""

    __tablename__ = "handoff_contact"
    __table_args__ = (Index("ix_handoff_contact_hash", "contact_hash"),)

    handoff_id: str = Field(foreign_key="handoff.id", primary_key=True, max_length=36)
    contact_hash: str = Field(primary_key=True, max_length=128)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


handoffs: Table = Handoff.__table__  # type: ignore[attr-defined]
handoff_contacts: Table = HandoffContact.__table__  # type: ignore[attr-defined]
