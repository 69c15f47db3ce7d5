"""Callbacks as a contact source of the case register (cases/sources.py): every callback and
every request, however it ended (called and closed, not reached, wrong number, cancelled by the
caller), loses the phone number, its keyed hash and what the caller told about themselves
(name, topic, e-mail address, organisation) once the retention time after its end has passed;
the outcome keeps only what was decided, and the manage link stops working. E-mail in the
outbox loses address, name, text and calendar file once sent or given up, and at the latest
with the retention time. The rows stay (times, attempts, outcome kind are what was done, not
said)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from callback.mail import MAX_TRIES, SENT_MAIL_BLANKED
from callback.store import OPEN, callbacks, outbox, requests
from cases.sources import Tally, decided_only

_ENDED_WITH_CALLBACK = ("done", "not_reached", "wrong_number")


def _request_values(request_id: str, now: datetime) -> dict[str, Any]:
    # The manage hash is unique and not null: a value no token hashes to ends the link.
    return {
        "name": None,
        "topic": None,
        "email": None,
        "organisation": None,
        "phone": "",
        "manage_hash": f"purged:{request_id}",
        "mail_manage_hash": None,
        "purged_at": now,
    }


def _request_due(cutoff: datetime) -> Any:
    ended_with_call = select(callbacks.c.id).where(
        callbacks.c.status.not_in(OPEN), callbacks.c.closed_at.is_not(None), callbacks.c.closed_at <= cutoff
    )
    return or_(
        and_(requests.c.status == "cancelled", requests.c.cancelled_at <= cutoff),
        and_(requests.c.status.in_(_ENDED_WITH_CALLBACK), requests.c.callback_id.in_(ended_with_call)),
    )


def _callback_due(cutoff: datetime) -> Any:
    return and_(callbacks.c.status.not_in(OPEN), callbacks.c.closed_at.is_not(None), callbacks.c.closed_at <= cutoff)


class CallbackRecords:
    name = "callback"

    async def purge(self, conn: AsyncConnection, source_id: str, now: datetime) -> None:
        for r in (await conn.execute(select(requests.c.id).where(requests.c.callback_id == source_id))).all():
            await conn.execute(update(requests).where(requests.c.id == r.id).values(**_request_values(r.id, now)))
        await self._purge_callback(conn, source_id, now)

    @staticmethod
    async def _purge_callback(conn: AsyncConnection, callback_id: str, now: datetime) -> None:
        outcome = await conn.scalar(select(callbacks.c.outcome).where(callbacks.c.id == callback_id))
        await conn.execute(
            update(callbacks)
            .where(callbacks.c.id == callback_id)
            .values(phone="", phone_hash="", outcome=decided_only(outcome), purged_at=now)
        )

    async def purge_ended(self, conn: AsyncConnection, cutoff: datetime, now: datetime, limit: int) -> int:
        done = 0
        due_requests = (
            await conn.execute(
                select(requests.c.id).where(requests.c.purged_at.is_(None), _request_due(cutoff)).limit(limit)
            )
        ).all()
        for r in due_requests:
            await conn.execute(update(requests).where(requests.c.id == r.id).values(**_request_values(r.id, now)))
        done += len(due_requests)
        due_callbacks = (
            await conn.execute(
                select(callbacks.c.id).where(callbacks.c.purged_at.is_(None), _callback_due(cutoff)).limit(limit)
            )
        ).all()
        for c in due_callbacks:
            await self._purge_callback(conn, c.id, now)
        done += len(due_callbacks)
        # E-mail: sent or given up, or waiting longer than the retention time (no mail server).
        await conn.execute(
            update(outbox)
            .where(
                outbox.c.to_address != "",
                or_(outbox.c.sent_at.is_not(None), outbox.c.tries >= MAX_TRIES, outbox.c.created_at <= cutoff),
            )
            .values(**SENT_MAIL_BLANKED)
        )
        return done

    async def stored(self, conn: AsyncConnection, cutoff: datetime, now: datetime) -> dict[str, dict[str, Any]]:
        tally = Tally(now)
        rows = (
            await conn.execute(
                select(requests.c.status, requests.c.created_at, _request_due(cutoff).label("due")).where(
                    requests.c.purged_at.is_(None)
                )
            )
        ).all()
        for r in rows:
            tally.add(f"request_{r.status}", r.created_at, r.due)
        rows = (
            await conn.execute(
                select(callbacks.c.status, callbacks.c.created_at, _callback_due(cutoff).label("due")).where(
                    callbacks.c.purged_at.is_(None)
                )
            )
        ).all()
        for r in rows:
            tally.add(f"callback_{r.status}", r.created_at, r.due)
        mail = (
            await conn.execute(
                select(
                    outbox.c.sent_at.is_not(None).label("sent"),
                    outbox.c.created_at,
                    or_(outbox.c.sent_at.is_not(None), outbox.c.tries >= MAX_TRIES, outbox.c.created_at <= cutoff)
                    .label("due"),
                ).where(outbox.c.to_address != "")
            )
        ).all()
        for m in mail:
            tally.add("email_" + ("sent" if m.sent else "waiting"), m.created_at, m.due)
        return tally.result()
