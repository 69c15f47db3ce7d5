"""The registry of contact sources (cases/sources.py) that the case register purges through."""

from __future__ import annotations

import pytest

from app.services import contact_sources
from cases.sources import ContactSources


class Recorder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.purged: list[str] = []

    async def purge(self, conn, source_id: str) -> None:
        self.purged.append(source_id)


def test_the_app_registers_chat_and_callback():
    assert sorted(contact_sources()) == ["callback", "chat"]


def test_a_source_registered_twice_is_refused_at_start_up():
    with pytest.raises(ValueError, match="chat"):
        ContactSources([Recorder("chat"), Recorder("chat")])


async def test_each_source_purges_its_own_contacts():
    chat, callback = Recorder("chat"), Recorder("callback")
    sources = ContactSources([chat, callback])
    await sources["chat"].purge(None, "c-1")
    await sources["callback"].purge(None, "b-1")
    assert chat.purged == ["c-1"] and callback.purged == ["b-1"]
    assert sources.get("fax") is None  # the register skips (and logs) a source nobody registered
