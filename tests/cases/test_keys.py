"""The contact-hash key: required outside --demo, versioned, and rotated without losing the
links of repeat reports (also of contacts whose numbers were purged already)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import urllib.request
from datetime import UTC, datetime

import pytest
from aiohttp import ClientSession
from sqlalchemy import insert, select

from app.rotation import rotate_hash_keys
from app.services import ConfigError, hash_keys
from callback.store import callbacks
from cases.store import handoff_contacts, handoffs
from contact.clock import ManualClock
from contact.db import Database
from contact.keys import Keys, key_id
from contact.store import server_secrets
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


async def test_hashes_from_before_key_ids_and_a_key_kept_in_the_database_are_rotated_away(tmp_path):
    """An older version kept its key in the database and stored plain hex: with that key as
    `hex:` in VT_HASH_KEY_OLD, the links are still found, the rotation wraps them and removes
    the key from the database."""
    url = await migrated_sqlite(str(tmp_path / "legacy.db"))
    legacy = bytes(range(32))
    plain = hmac.new(legacy, b"+31612345678", hashlib.sha256).hexdigest()
    db = Database(url)
    try:
        async with db.write() as conn:
            await conn.execute(insert(server_secrets).values(name="contact_hash", value=legacy.hex()))
            await conn.execute(
                insert(handoffs).values(
                    id="h-old", source="callback", source_id="b-old", kind="melding", caller_type="volwassene",
                    received_at=TUESDAY_10, payload={"outcome": {"kind": "melding"}}, status="registered",
                    tries=0, next_try_at=TUESDAY_10, created_at=TUESDAY_10, delivered_at=TUESDAY_10,
                )
            )  # fmt: skip
            await conn.execute(insert(handoff_contacts).values(handoff_id="h-old", contact_hash=plain, at=TUESDAY_10))
        settings = make_settings(url, hash_key=NEW, hash_key_old="hex:" + legacy.hex())
        keys = hash_keys(settings)
        assert plain in keys.matches("+31612345678")  # found before the rotation
        done = await rotate_hash_keys(db, keys, TUESDAY_10)
        assert done == {"callbacks": 0, "hermelding_links": 1, "database_key_removed": 1}
        async with db.read() as conn:
            [wrapped] = (await conn.execute(select(handoff_contacts.c.contact_hash))).scalars().all()
            assert await conn.scalar(select(server_secrets.c.value)) is None
        assert wrapped.startswith(f"v{key_id(legacy)}.{key_id(NEW.encode())}:")
        assert wrapped in keys.matches("+31612345678") and plain not in Keys(NEW.encode()).matches("+31612345678")
        assert (await rotate_hash_keys(db, keys, TUESDAY_10))["hermelding_links"] == 0  # idempotent
    finally:
        await db.dispose()
    with pytest.raises(ConfigError, match="hex"):
        hash_keys(make_settings(url, hash_key=NEW, hash_key_old="hex:" + "zz" * 16))
