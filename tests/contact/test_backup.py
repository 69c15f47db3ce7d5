"""The restore drill (docs/operations.md, "Backups"): a server with real chats is backed up while
it runs, the backup is restored into a fresh database, and a server on that database serves the
same conversations: an advisor reads the history, the visitor resumes with their token. On
SQLite and on PostgreSQL; and the ways it ends badly (overwriting, a full database, the wrong
kind of backup)."""

from __future__ import annotations

import asyncio
import os
import stat
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from contact.backup import pg_environment
from contact.db import Database
from contact.migrate import current_revision, head_revision, upgrade
from tests.support.processes import ServerProcess, run_cli
from tests.support.server import agent_client, login, start_payload, visitor


def _databases(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, str]:
    if engine == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'live.db'}", f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'vt.db'}"
    postgres = request.getfixturevalue("postgres")
    tag = uuid.uuid4().hex[:8]
    return postgres.create_database(f"live_{tag}"), postgres.create_database(f"restored_{tag}")


async def cli(*args: str, stdin: str = ""):
    return await asyncio.to_thread(run_cli, *args, stdin=stdin)


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_restore_drill(engine, tmp_path, request):
    live_url, restored_url = _databases(engine, tmp_path, request)
    assert (await cli("db", "upgrade", "--database-url", live_url)).returncode == 0
    username, password = f"b{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    added = await cli(
        "agent", "add", username, "--name", "Bo Backup", "--role", "advisor", "--team", "jeugd",
        "--database-url", live_url, stdin=password + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    live = await asyncio.to_thread(ServerProcess, live_url, None, tmp_path, f"live-{engine}")
    restored = None
    try:
        agent = await agent_client(live.url, await login(live.url, username, password))
        chats = []
        for n in range(3):
            v = await visitor(live.url)
            started = await v.call("start", start_payload(caller_type="jongere"))
            cid = started["conversation_id"]
            await agent.call("accept", {"conversation_id": cid})
            await v.call("message", {"client_id": "v1", "text": f"bezoeker {n}"})
            await agent.call("message", {"conversation_id": cid, "client_id": "a1", "text": f"adviseur {n}"})
            chats.append((cid, started["resume_token"], v))

        # Backed up while the server runs and a conversation goes on.
        backup_file = tmp_path / "vt.backup"
        talking = asyncio.gather(
            *(chats[0][2].call("message", {"client_id": f"x{i}", "text": f"tijdens {i}"}) for i in range(5))
        )
        made = await cli("backup", str(backup_file), "--database-url", live_url)
        await talking
        assert made.returncode == 0, made.stderr
        assert stat.S_IMODE(os.stat(backup_file).st_mode) == 0o600
        size = backup_file.stat().st_size
        again = await cli("backup", str(backup_file), "--database-url", live_url)
        assert again.returncode == 1 and "overwrites" in again.stderr
        assert backup_file.stat().st_size == size

        back = await cli("restore", str(backup_file), "--database-url", restored_url)
        assert back.returncode == 0, back.stderr
        refused = await cli("restore", str(backup_file), "--database-url", restored_url)
        assert refused.returncode == 1 and "not empty" in refused.stderr
        forced = await cli("restore", str(backup_file), "--force", "--database-url", restored_url)
        assert forced.returncode == 0, forced.stderr

        restored = await asyncio.to_thread(ServerProcess, restored_url, None, tmp_path, f"restored-{engine}")
        # The account came back with its password; the old server's tokens are another server's
        # sessions (same VT_SECRET_KEY, same session rows: they work too, until they expire).
        agent2 = await agent_client(restored.url, await login(restored.url, username, password))
        for n, (cid, resume_token, _) in enumerate(chats):
            history = (await agent2.call("history", {"conversation_id": cid}))["conversation"]["messages"]
            texts = [m["text"] for m in history]
            assert texts[:2] == [f"bezoeker {n}", f"adviseur {n}"], texts
            # The visitor's resume token works on the restored server: the database keeps its
            # SHA-256 (no key), and the conversation's last activity is within VT_RESUME_TTL_S.
            v2 = await visitor(restored.url)
            resumed = await v2.call("resume", {"resume_token": resume_token, "after_seq": 0})
            assert resumed["conversation_id"] == cid and resumed["status"] == "active", resumed
            assert [m["text"] for m in resumed["messages"]][:2] == [f"bezoeker {n}", f"adviseur {n}"]
            await v2.disconnect()
        # And the chat goes on there.
        v2 = await visitor(restored.url)
        await v2.call("resume", {"resume_token": chats[1][1], "after_seq": 0})
        sent = await agent2.call("message", {"conversation_id": chats[1][0], "client_id": "r1", "text": "weer terug"})
        assert "error" not in sent, sent
        await v2.wait_for("message", lambda m: m["text"] == "weer terug")
        await v2.disconnect()
        await agent2.disconnect()
        await agent.disconnect()
        for _, _, v in chats:
            await v.disconnect()
    finally:
        if restored is not None:
            await asyncio.to_thread(restored.stop)
        await asyncio.to_thread(live.stop)


async def test_an_older_backup_comes_up_to_the_current_schema(tmp_path):
    old_url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await asyncio.to_thread(upgrade, old_url, "0015")
    assert (await cli("backup", str(tmp_path / "old.backup"), "--database-url", old_url)).returncode == 0
    new_url = f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"
    done = await cli("restore", str(tmp_path / "old.backup"), "--database-url", new_url)
    assert done.returncode == 0, done.stderr
    db = Database(new_url)
    try:
        assert await current_revision(db.write_engine) == head_revision(new_url)
    finally:
        await db.dispose()


async def test_a_backup_of_the_wrong_kind_or_none_is_refused(tmp_path):
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("PGDMP? no")
    done = await cli("restore", str(not_a_backup), "--database-url", sqlite_url)
    assert done.returncode == 1 and "not an SQLite backup" in done.stderr
    missing = await cli("restore", str(tmp_path / "nothing"), "--database-url", sqlite_url)
    assert missing.returncode == 1 and "no backup" in missing.stderr
    absent = await cli(
        "backup", str(tmp_path / "x.backup"), "--database-url", f"sqlite+aiosqlite:///{tmp_path / 'no.db'}"
    )
    assert absent.returncode == 1 and not (tmp_path / "x.backup").exists()
    assert "Traceback" not in done.stderr + missing.stderr + absent.stderr


def test_the_postgresql_password_goes_by_environment_never_on_the_command_line():
    env = pg_environment(make_url("postgresql+asyncpg://vt:geheim-wachtwoord@db.example:6543/vt?ssl=require"))
    assert env["PGPASSWORD"] == "geheim-wachtwoord"
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGDATABASE"]) == ("db.example", "6543", "vt", "vt")
    assert env["PGSSLMODE"] == "require"
