"""The schema is Alembic's: up and down on SQLite and PostgreSQL, and no start on an old schema."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.bootstrap import ConfigError
from contact.migrate import alembic_config, upgrade
from tests.support.processes import run_cli
from tests.support.server import RunningServer, make_settings


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_upgrade_downgrade_upgrade(backend, tmp_path, request):
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database("migrations_roundtrip")
    await asyncio.to_thread(upgrade, url)
    assert {"agent", "agent_session", "conversation", "message", "note", "audit_event", "queue_state"} <= await _tables(
        url
    )
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    assert await _tables(url) <= {"alembic_version"}
    await asyncio.to_thread(upgrade, url)
    assert "conversation" in await _tables(url)


_CALLBACK = (
    "INSERT INTO callback (id, kind, slot_start, slot_end, phone, phone_hash, caller_type, voicemail_ok, status, "
    "attempts, created_at) VALUES (:id, 'terugbellen', :start, :end, '+31612345678', :hash, 'volwassene', :vm, "
    ":status, 0, '2026-11-30 07:00:00')"
)
_REQUEST = (
    "INSERT INTO callback_request (id, callback_id, reference, manage_hash, kind, slot_start, slot_end, phone, "
    "caller_type, voicemail_ok, status, created_at) VALUES (:id, :cb, :id, :id, :kind, :start, :end, "
    "'+31612345678', :type, :vm, :status, :at)"
)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_0009_calls_an_open_callback_in_its_earliest_open_request(backend, tmp_path, request):
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm9.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database("migrations_0009")
    await asyncio.to_thread(upgrade, url, "0008")

    def when(value: str) -> object:  # how each driver takes a moment: SQLite as text, asyncpg as datetime
        return value if backend == "sqlite" else datetime.fromisoformat(value + "+00:00")

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            # Under the old rule the later, rescheduled request had moved the open callback.
            for cb, status in (("cb-open", "claimed"), ("cb-done", "closed")):
                await conn.execute(
                    text(_CALLBACK),
                    {"id": cb, "start": when("2026-12-22 13:00:00"), "end": when("2026-12-22 14:00:00"), "hash": cb,
                     "vm": True, "status": status},
                )  # fmt: skip
            rows = [
                ("r1", "cb-open", "2026-11-30 12:00:00", False, "open", "2026-11-30 07:00:00", "adviesgesprek"),
                ("r2", "cb-open", "2026-12-22 13:00:00", True, "open", "2026-11-30 07:05:00", "terugbellen"),
                ("r3", "cb-open", "2026-11-30 09:00:00", True, "cancelled", "2026-11-30 07:01:00", "terugbellen"),
                ("r4", "cb-open", "2026-11-30 12:00:00", True, "open", "2026-11-30 07:09:00", "terugbellen"),
                ("r5", "cb-done", "2026-11-30 08:00:00", False, "done", "2026-11-30 07:00:00", "terugbellen"),
            ]
            for rid, cb, start, vm, status, at, kind in rows:
                end = start.replace(start[11:13], f"{int(start[11:13]) + 1:02d}", 1)
                await conn.execute(
                    text(_REQUEST),
                    {"id": rid, "cb": cb, "start": when(start), "end": when(end), "vm": vm, "status": status,
                     "at": when(at), "kind": kind, "type": "kind" if rid == "r1" else "volwassene"},
                )  # fmt: skip
        await asyncio.to_thread(upgrade, url)
        async with engine.connect() as conn:
            got = {
                r.id: (str(r.slot_start)[:16], str(r.slot_end)[:16], r.kind, r.caller_type, bool(r.voicemail_ok))
                for r in await conn.execute(
                    text("SELECT id, slot_start, slot_end, kind, caller_type, voicemail_ok FROM callback")
                )
            }
    finally:
        await engine.dispose()
    assert got["cb-open"] == ("2026-11-30 12:00", "2026-11-30 13:00", "adviesgesprek", "kind", False)
    assert got["cb-done"][:2] == ("2026-12-22 13:00", "2026-12-22 14:00")  # ended: left alone


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_0013_risk_feedback_up_down_up(backend, tmp_path, request):
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm13.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database("migrations_0013")
    await asyncio.to_thread(upgrade, url, "0013")
    assert {"risk_feedback", "risk_concept_day"} <= await _tables(url)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO risk_concept_day (day, concept, fired) VALUES ('2026-12-01', 'wapen', 3)")
            )
    finally:
        await engine.dispose()
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0012")
    assert not {"risk_feedback", "risk_concept_day"} & await _tables(url)
    await asyncio.to_thread(upgrade, url, "0013")
    assert {"risk_feedback", "risk_concept_day"} <= await _tables(url)


async def test_server_refuses_an_unmigrated_database(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(ConfigError, match="vt-contact db upgrade"):
        await RunningServer(make_settings(url)).start()
    await asyncio.to_thread(upgrade, url, "0001")  # one release behind
    with pytest.raises(ConfigError, match="needs"):
        await RunningServer(make_settings(url)).start()


def test_cli_db_upgrade_and_agent_add(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    assert run_cli("db", "upgrade", "--database-url", url).returncode == 0
    ok = run_cli(
        "agent",
        "add",
        "lotte",
        "--name",
        "Lotte Smit",
        "--role",
        "crisis",
        "--team",
        "crisis",
        "--database-url",
        url,
        stdin="een-lang-wachtwoord\n",
    )
    assert ok.returncode == 0 and "lotte" in ok.stdout
    again = run_cli(
        "agent",
        "add",
        "lotte",
        "--name",
        "Lotte Smit",
        "--role",
        "crisis",
        "--database-url",
        url,
        stdin="een-lang-wachtwoord\n",
    )
    assert again.returncode == 1 and "conflict" in again.stderr
    short = run_cli(
        "agent", "add", "kees", "--name", "Kees", "--role", "advisor", "--database-url", url, stdin="kort\n"
    )
    assert short.returncode != 0 and "10 characters" in short.stderr
    bad_role = run_cli(
        "agent", "add", "kees", "--name", "Kees", "--role", "king", "--database-url", url, stdin="x" * 12
    )
    assert bad_role.returncode != 0
    expert = run_cli(
        "agent", "add", "iris", "--name", "Iris", "--role", "advisor", "--team", "volwassenen",
        "--expertise", "stalking", "--expertise", "intieme_terreur", "--database-url", url, stdin="x" * 12,
    )  # fmt: skip
    assert expert.returncode == 0, expert.stderr
    unknown = run_cli(
        "agent", "add", "joop", "--name", "Joop", "--role", "advisor", "--expertise", "astrologie",
        "--database-url", url, stdin="x" * 12,
    )  # fmt: skip
    assert unknown.returncode != 0 and "unknown expertise astrologie" in unknown.stderr


async def test_serve_demo_migrates_and_prints_working_credentials(tmp_path):
    import re

    from tests.support.processes import ServerProcess
    from tests.support.server import TOTP_SECRETS, login

    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    server = await asyncio.to_thread(ServerProcess, url, None, tmp_path, "demo", "--demo")
    try:
        out = server.log_path.read_text()
        found = re.findall(r"^\s+(anna|bram|chris|sanne|ada)\s+(\S+)\s+\w+(?:\s+TOTP secret (\w+).*)?$", out, re.M)
        creds = {name: password for name, password, _ in found}
        assert set(creds) == {"anna", "bram", "chris", "sanne", "ada"}
        assert await login(server.url, "anna", creds["anna"])
        # The supervisor and the admin log in with the printed TOTP secret.
        secrets = {name: secret for name, _, secret in found if secret}
        assert set(secrets) == {"sanne", "ada"}
        TOTP_SECRETS.update(secrets)
        assert await login(server.url, "sanne", creds["sanne"])
    finally:
        await asyncio.to_thread(server.stop)
