"""The contact-hash key: required outside --demo, versioned, and rotated without losing the
links of repeat reports (also of contacts whose numbers were purged already)."""

from __future__ import annotations

import asyncio
import urllib.request
from datetime import UTC, datetime

import pytest
from aiohttp import ClientSession
from sqlalchemy import select

from app.services import ConfigError, hash_keys
from callback.store import callbacks
from cases.store import handoff_contacts
from contact.clock import ManualClock
from contact.db import Database
from contact.keys import Keys, key_id
from tests.callback.conftest import Api, agent_token
from tests.cases.test_register import MELDING, _callback_closed
from tests.support.processes import ServerProcess, cli_env, run_cli
from tests.support.server import RunningServer, make_settings, migrated_sqlite

TUESDAY_10 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
OLD, NEW = "old-hash-key-of-thirty-two-chars", "new-hash-key-of-thirty-two-chars"


def test_no_start_without_a_hash_key_outside_demo(tmp_path):
    with pytest.raises(ConfigError, match=r"VT_HASH_KEY.*secrets\.token_urlsafe\(32\)"):
        hash_keys(make_settings("sqlite+aiosqlite:///x.db", hash_key=None))
    with pytest.raises(ConfigError, match="16 characters"):
        hash_keys(make_settings("sqlite+aiosqlite:///x.db", hash_key="short"))
    assert not hash_keys(make_settings("sqlite+aiosqlite:///x.db", hash_key=None, demo=True)).loaded


def test_the_cli_refuses_to_serve_without_a_hash_key(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'nokey.db'}"
    env = {k: v for k, v in cli_env().items() if k != "VT_HASH_KEY"}
    done = run_cli("serve", "--migrate", "--port", "0", "--database-url", url, env=env)
    assert done.returncode == 2
    assert "VT_HASH_KEY" in done.stderr and "secrets.token_urlsafe(32)" in done.stderr


def test_demo_mode_starts_without_a_hash_key_and_vt_demo_alone_does_not(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    server = ServerProcess(url, None, tmp_path, "demo", "--demo", VT_HASH_KEY="")
    try:
        with urllib.request.urlopen(f"{server.url}/readyz", timeout=5) as r:
            assert r.status == 200
    finally:
        server.stop()
    assert "hash_key_from_database" in server.log_path.read_text(errors="replace")
    env = {**cli_env(VT_DEMO="true"), "VT_HASH_KEY": ""}
    done = run_cli("serve", "--port", "0", "--database-url", url, env=env)
    assert done.returncode == 2 and "VT_HASH_KEY" in done.stderr


def test_hashes_carry_their_key_version():
    old, new = Keys(OLD.encode()), Keys(NEW.encode(), (OLD.encode(),))
    stored = old.hash("+31612345678")
    assert stored.startswith(f"v{key_id(OLD.encode())}:") and len(stored) <= 128
    assert new.hash("+31612345678") != stored
    assert stored in new.matches("+31612345678")  # before the rotation ran
    wrapped = new.rewrap(stored)
    assert wrapped is not None and wrapped in new.matches("+31612345678")
    assert wrapped not in old.matches("+31612345678")  # the old key alone finds nothing any more
    assert new.rewrap(wrapped) is None and new.rewrap(new.hash("x")) is None


async def _server(url: str, clock: ManualClock, **keys: str) -> RunningServer:
    server = await RunningServer(make_settings(url, callback_check_s=0.1, retention_days=30, **keys), clock).start()
    server.clock = clock
    return server


async def test_rotation_keeps_repeat_report_links_also_after_the_purge(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "rotate.db"))
    clock = ManualClock(TUESDAY_10)
    server = await _server(url, clock, hash_key=OLD)
    try:
        async with ClientSession() as http:
            server.api = Api(server.url, http)
            _, token = await agent_token(server)
            first = await _callback_closed(server, token, "06 12345678")
            # The first report's payload and number go; its link stays (hermelding retention).
            clock.advance(days=31)
            for _ in range(50):
                db = Database(url)
                async with db.read() as conn:
                    phone = await conn.scalar(select(callbacks.c.phone))
                await db.dispose()
                if phone == "":
                    break
                await asyncio.sleep(0.1)
            assert phone == ""
    finally:
        await server.stop()

    server = await _server(url, clock, hash_key=NEW, hash_key_old=OLD)
    try:
        async with ClientSession() as http:
            server.api = Api(server.url, http)
            _, token = await agent_token(server)
            second = await _callback_closed(server, token, "+31612345678", day="2026-12-28")  # before rotating
            _, boss = await agent_token(server, role="supervisor")
            _, seen = await server.api.call("GET", f"/api/agent/cases/{second}", token=boss)
            assert seen["repeat_of"] == first

            done = await asyncio.to_thread(
                run_cli, "keys", "rotate", "--database-url", url,
                env=cli_env(VT_HASH_KEY=NEW, VT_HASH_KEY_OLD=OLD),
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            db = Database(url)
            async with db.read() as conn:
                stored = (await conn.execute(select(handoff_contacts.c.contact_hash))).scalars().all()
            await db.dispose()
            new_id, old_id = key_id(NEW.encode()), key_id(OLD.encode())
            assert stored and all(h.startswith((f"v{new_id}:", f"v{old_id}.{new_id}:")) for h in stored)
            third = await _callback_closed(server, token, "0612345678", {**MELDING}, day="2026-12-29")
            _, seen = await server.api.call("GET", f"/api/agent/cases/{third}", token=boss)
            assert seen["hermelding"] is True and seen["repeat_of"] == second
            again = await asyncio.to_thread(
                run_cli, "keys", "rotate", "--database-url", url, env=cli_env(VT_HASH_KEY=NEW)
            )
            assert again.returncode == 2 and "VT_HASH_KEY_OLD" in again.stderr
    finally:
        await server.stop()
