"""Tables of callbacks in tijdvakken: places per tijdvak, the callbacks advisors work with, the
requests callers made (those of one number share a callback, each keeping its own tijdvak and
state), attempts, and e-mail to send."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Table, func, select, text
from sqlmodel import Field, SQLModel

from contact.db import UTCDateTime

OPEN = ("open", "claimed")


class CallbackSlot(SQLModel, table=True):
    """Places of one tijdvak. A row exists once the roster set it or someone booked it; the
    booking counter only rises through `booked < capacity` in one conditional UPDATE."""

    __tablename__ = "callback_slot"

    kind: str = Field(primary_key=True, max_length=16)
    start: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    end: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    capacity: int
    booked: int = Field(default=0)


class Callback(SQLModel, table=True):
    """One call to make: the advisors' card, which they claim and close. The requests of one
    number that are open at once sit on one callback; its tijdvak, kind and voicemail rule are
    those of the request to call first (`callback.model.first_due`). Ending it ends only the
    requests the advisor selected; the others move on to a new callback."""

    __tablename__ = "callback"
    __table_args__ = (
        # One open callback per phone number: two requests racing on two processes merge.
        Index(
            "ux_callback_open_phone",
            "phone_hash",
            unique=True,
            sqlite_where=text("status IN ('open', 'claimed')"),
            postgresql_where=text("status IN ('open', 'claimed')"),
        ),
        Index("ix_callback_slot", "slot_start"),
        # Earlier callbacks of a number, shown on its card (`related`).
        Index("ix_callback_phone_hash", "phone_hash"),
        Index("ix_callback_purge", "purged_at", "closed_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(max_length=16)
    slot_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    slot_end: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    phone: str = Field(max_length=20)  # E.164; advisors must be able to call it
    phone_hash: str = Field(max_length=128)  # keyed hash (with its key version): for merging and repeat reports
    caller_type: str = Field(max_length=16)
    voicemail_ok: bool
    status: str = Field(max_length=16)  # open | claimed | closed | not_reached | wrong_number | cancelled
    claimed_by: str | None = Field(default=None, foreign_key="agent.id", max_length=36)
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    attempts: int = Field(default=0)
    last_result: str | None = Field(default=None, max_length=16)
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    outcome: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    overdue_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # When the retention purge blanked the number and the outcome's details (callback/retention.py).
    purged_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class CallbackRequest(SQLModel, table=True):
    """What one caller asked for, with their own manage token: they see only this."""

    __tablename__ = "callback_request"
    __table_args__ = (
        Index("ix_callback_request_purge", "purged_at"),
        Index("ux_callback_request_mail_manage_hash", "mail_manage_hash", unique=True),
    )

    id: str = Field(primary_key=True, max_length=36)
    callback_id: str = Field(foreign_key="callback.id", index=True, max_length=36)
    reference: str = Field(unique=True, max_length=16)
    manage_hash: str = Field(unique=True, max_length=64)
    # The manage token of the latest e-mail sent for it (made at sending, callback/mail.py): the
    # link in the e-mail works next to the one shown at booking, and neither is kept in clear.
    mail_manage_hash: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=16)
    slot_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    slot_end: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    phone: str = Field(max_length=20)
    caller_type: str = Field(max_length=16)
    name: str | None = Field(default=None, max_length=100)
    topic: str | None = Field(default=None, max_length=500)
    voicemail_ok: bool
    email: str | None = Field(default=None, max_length=254)
    organisation: str | None = Field(default=None, max_length=200)
    # open | cancelled | done | not_reached | wrong_number (callback.model.REQUEST_STATES): its
    # own, whatever happens to other requests of the same number.
    status: str = Field(max_length=16)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    rescheduled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    cancelled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    reminder_sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # SEQUENCE of its calendar entry (UID `<id>@vt-contact`): 0 at booking, one more with every
    # reschedule and with the cancellation, so the caller's calendar updates the one entry.
    ics_sequence: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # When the retention purge blanked what the caller entered (callback/retention.py).
    purged_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class CallbackAttempt(SQLModel, table=True):
    __tablename__ = "callback_attempt"

    id: str = Field(primary_key=True, max_length=36)
    callback_id: str = Field(foreign_key="callback.id", index=True, max_length=36)
    agent_id: str = Field(foreign_key="agent.id", max_length=36)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    result: str = Field(max_length=16)
    # The references of the requests this attempt was for (the advisor's selection).
    requests: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class TijdvakNotice(SQLModel, table=True):
    """A tijdvak whose start the advisors on duty were told about: once, whichever process."""

    __tablename__ = "tijdvak_notice"

    kind: str = Field(primary_key=True, max_length=16)
    start: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class EmailOutbox(SQLModel, table=True):
    """E-mail to send, written in the same transaction as the booking it confirms; a worker
    delivers it and retries. The address is needed to send; it is never logged."""

    __tablename__ = "email_outbox"
    __table_args__ = (Index("ix_email_outbox_due", "sent_at", "next_try_at"),)

    id: str = Field(primary_key=True, max_length=36)
    purpose: str = Field(max_length=24)  # confirmation | rescheduled | reminder | cancelled
    # The request it is about: its manage link is made at sending (the body holds a placeholder).
    request_id: str | None = Field(default=None, max_length=36)
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=200)
    body: str
    ics: str | None = Field(default=None)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    next_try_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    tries: int = Field(default=0)
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


slots: Table = CallbackSlot.__table__  # type: ignore[attr-defined]
callbacks: Table = Callback.__table__  # type: ignore[attr-defined]
requests: Table = CallbackRequest.__table__  # type: ignore[attr-defined]
attempts: Table = CallbackAttempt.__table__  # type: ignore[attr-defined]
notices: Table = TijdvakNotice.__table__  # type: ignore[attr-defined]
outbox: Table = EmailOutbox.__table__  # type: ignore[attr-defined]


async def overdue_summary(conn: Any, now: datetime) -> tuple[int, datetime | None]:
    """How many callbacks are still open after their tijdvak ended, and the oldest end: for the
    supervisors' board (a count and a time, never a number)."""
    row = (
        await conn.execute(
            select(func.count(), func.min(callbacks.c.slot_end)).where(
                callbacks.c.status.in_(("open", "claimed")), callbacks.c.slot_end <= now
            )
        )
    ).one()
    return int(row[0] or 0), row[1]
