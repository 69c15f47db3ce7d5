"""Tables of the advisors' desk: ready texts (snelteksten), the keyed hashes that recognise a
conversation's visitor again, and the blocks supervisors put on abusive visitors.

No address and no per-browser value is ever stored: only keyed hashes (contact/keys.py), so a
copy of the database cannot tell where a visitor was or link two of their visits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Table
from sqlmodel import Field, SQLModel

from contact.db import UTCDateTime


class ReadyText(SQLModel, table=True):
    """A ready text: shared (team NULL) or for one team, in Dutch or English."""

    __tablename__ = "ready_text"
    __table_args__ = (Index("ix_ready_text_team", "team"),)

    id: str = Field(primary_key=True, max_length=36)
    team: str | None = Field(default=None, max_length=40)
    lang: str = Field(max_length=2)  # nl | en
    title: str = Field(max_length=80)
    shortcut: str = Field(max_length=30)
    text: str = Field(max_length=2000)
    # One of the safety texts every installation starts with (editable, deletable like any other).
    is_default: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str | None = Field(default=None, max_length=36)


class VisitorMark(SQLModel, table=True):
    """How a conversation's visitor is recognised again, should a supervisor block them: keyed
    hashes of the address the server saw and of the widget's per-browser value. Deleted with the
    conversation's retention purge (chat/retention.py)."""

    __tablename__ = "visitor_mark"

    conversation_id: str = Field(primary_key=True, max_length=36)
    address_hash: str | None = Field(default=None, max_length=64)
    browser_hash: str | None = Field(default=None, max_length=64)


class VisitorBlock(SQLModel, table=True):
    """A block on a visitor: their new `start`s get the ordinary `closed` answer until `until`.
    The hashes are emptied once the block has been lifted or has run out."""

    __tablename__ = "visitor_block"
    __table_args__ = (
        Index("ix_visitor_block_address", "address_hash"),
        Index("ix_visitor_block_browser", "browser_hash"),
        Index("ix_visitor_block_until", "until"),
    )

    id: str = Field(primary_key=True, max_length=36)
    conversation_id: str = Field(max_length=36)
    address_hash: str | None = Field(default=None, max_length=64)
    browser_hash: str | None = Field(default=None, max_length=64)
    # Every start from the address, whatever browser: an explicit, shorter choice (docs/privacy.md).
    whole_address: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    reason: str | None = Field(default=None, max_length=500)
    created_by: str = Field(max_length=36)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    lifted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    lifted_by: str | None = Field(default=None, max_length=36)


ready_texts: Table = ReadyText.__table__  # type: ignore[attr-defined]
visitor_marks: Table = VisitorMark.__table__  # type: ignore[attr-defined]
visitor_blocks: Table = VisitorBlock.__table__  # type: ignore[attr-defined]
