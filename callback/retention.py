"""Callbacks as a contact source of the case register (cases/sources.py): once the retention
time after its handoff has passed, a callback's phone number and what the caller told about
themselves (name, topic, e-mail address, organisation) are blanked. The rows stay (times,
attempts and outcome are what was done, not said)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from callback.store import callbacks, requests


class CallbackRecords:
    name = "callback"

    async def purge(self, conn: AsyncConnection, source_id: str) -> None:
        await conn.execute(
            update(requests)
            .where(requests.c.callback_id == source_id)
            .values(name=None, topic=None, email=None, organisation=None, phone="")
        )
        await conn.execute(update(callbacks).where(callbacks.c.id == source_id).values(phone=""))
