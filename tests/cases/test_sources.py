"""The registry of contact sources (cases/sources.py) that the case register purges through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from app.services import contact_sources
from cases.service import CaseRegister
from cases.sources import ContactSources, Retention
from cases.store import handoffs
from contact.clock import ManualClock
from contact.db import Database
from tests.support.server import migrated_sqlite


class Recorder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.purged: list[str] = []

    async def purge(self, conn, source_id: str, now) -> None:
        self.purged.append(source_id)

    async def purge_ended(self, conn, cutoff, now, limit) -> int:
        return 0

    async def stored(self, conn, cutoff, now):
        return {}


def test_the_app_registers_chat_and_callback():
    assert sorted(contact_sources()) == ["callback", "chat"]


def test_a_source_registered_twice_is_refused_at_start_up():
    with pytest.raises(ValueError, match="chat"):
        ContactSources([Recorder("chat"), Recorder("chat")])


async def test_each_source_purges_its_own_contacts():
    chat, callback = Recorder("chat"), Recorder("callback")
    sources = ContactSources([chat, callback])
    await sources["chat"].purge(None, "c-1", None)
    await sources["callback"].purge(None, "b-1", None)
    assert chat.purged == ["c-1"] and callback.purged == ["b-1"]
    assert sources.get("fax") is None  # the register skips (and logs) a source nobody registered


async def test_the_purge_goes_through_the_registered_source_and_skips_an_unknown_one(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "sources.db"))
    db = Database(url)
    then = datetime(2026, 1, 5, 10, tzinfo=UTC)
    clock = ManualClock(then + timedelta(days=400))
    row = {
        "kind": "advies",
        "caller_type": "volwassene",
        "received_at": then,
        "payload": {"transcript": [{"text": "geheim"}], "outcome": {"kind": "advies"}},
        "status": "delivered",
        "next_try_at": then,
        "created_at": then,
        "delivered_at": then,
    }
    chat = Recorder("chat")
    retention = Retention(*[timedelta(days=365)] * 3)
    register = CaseRegister(db, clock, ZoneInfo("Europe/Amsterdam"), retention, ContactSources([chat]))
    try:
        async with db.write() as conn:
            await conn.execute(insert(handoffs).values(id="h-chat", source="chat", source_id="c-1", **row))
            await conn.execute(insert(handoffs).values(id="h-fax", source="fax", source_id="f-1", **row))
        assert await register.purge_due() == 1
        assert chat.purged == ["c-1"]
        async with db.read() as conn:
            purged = dict((await conn.execute(select(handoffs.c.id, handoffs.c.purged_at))).all())
        assert purged["h-chat"] is not None
        assert purged["h-fax"] is None  # nobody knows how to purge it: left whole, and logged
    finally:
        await db.dispose()
