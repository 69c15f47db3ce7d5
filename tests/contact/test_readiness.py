"""Readiness that means ready (issue 12): /readyz checks a write, the disk, Redis and the fan-out,
each with a short timeout, and names what failed; a frozen PostgreSQL gives fast errors, not hangs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from contact.migrate import upgrade
from tests.support.server import (
    RunningServer,
    add_agent,
    agent_client,
    login,
    make_settings,
    migrated_sqlite,
    start_payload,
    visitor,
)
from tests.support.services import _redis_command, postgres_server, redis_server


async def ready(server: RunningServer, timeout: float = 15) -> tuple[int, dict, float]:
    started = time.monotonic()
    async with aiohttp.ClientSession() as s:
        async with s.get(server.url + "/readyz", timeout=aiohttp.ClientTimeout(total=timeout)) as r:
            return r.status, await r.json(), time.monotonic() - started


async def until_status(server: RunningServer, status: int, within: float = 10) -> dict:
    deadline = time.monotonic() + within
    while True:
        got, body, _ = await ready(server)
        if got == status:
            return body
        assert time.monotonic() < deadline, f"/readyz stayed {got}: {body}"
        await asyncio.sleep(0.1)


@pytest.fixture
async def sqlite_server(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "ready.db"))
    server = await RunningServer(make_settings(url)).start()
    yield server, tmp_path / "ready.db"
    await server.stop()


async def test_ready_names_every_part(sqlite_server):
    server, _ = sqlite_server
    status, body, _ = await ready(server)
    assert status == 200
    assert body == {"ok": True, "database": True, "disk": True, "redis": None, "fanout": None, "failed": []}


async def test_not_ready_when_the_sqlite_file_cannot_be_written(sqlite_server):
    # As root no chmod stops a write: the file's place is taken by a directory instead. The
    # pooled connections still hold the old file, which is why the check looks at the path too.
    server, path = sqlite_server
    aside = path.with_name("ready.db.aside")
    path.rename(aside)
    path.mkdir()
    try:
        status, body, took = await ready(server)
        assert status == 503 and body["ok"] is False and body["database"] is False
        assert "database" in body["failed"] and took < 3
    finally:
        path.rmdir()
        aside.rename(path)
    await until_status(server, 200)


async def test_not_ready_when_the_disk_is_nearly_full(tmp_path):
    # More free space asked for than any disk has: the same answer as a full disk.
    url = await migrated_sqlite(str(tmp_path / "full.db"))
    server = await RunningServer(make_settings(url, ready_min_free_mb=1 << 40)).start()
    try:
        status, body, _ = await ready(server)
        assert status == 503 and body["disk"] is False and body["failed"] == ["disk"]
        assert body["database"] is True
    finally:
        await server.stop()


async def test_not_ready_when_redis_stops(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "redis.db"))
    with redis_server() as redis_url:
        server = await RunningServer(
            make_settings(url, redis_url=redis_url, redis_channel=f"vt-ready-{uuid.uuid4().hex[:6]}")
        ).start()
        try:
            body = await until_status(server, 200)  # the fan-out subscribes just after start-up
            assert body["redis"] is True and body["fanout"] is True
            port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
            with contextlib.suppress(OSError):
                _redis_command(port, b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
            body = await until_status(server, 503, within=5)
            assert body["redis"] is False and "redis" in body["failed"]
            assert body["database"] is True
        finally:
            await asyncio.wait_for(server.stop(), 30)


def _postgres_processes(port: int) -> list[int]:
    """The postmaster listening on `port` and every process it started."""
    postmaster = None
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if args and args[0].endswith(b"postgres") and b"-p" in args and str(port).encode() in args:
            postmaster = int(entry.name)
    assert postmaster is not None, "postmaster not found"
    return [postmaster, *(pid for pid, parent in parents.items() if parent == postmaster)]


@contextlib.contextmanager
def frozen(port: int):
    pids = _postgres_processes(port)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


async def test_a_frozen_postgres_gives_fast_answers_not_hangs():
    timeout_s = 2.0
    with postgres_server() as pg:
        url = pg.create_database(f"frozen_{uuid.uuid4().hex[:8]}")
        await asyncio.to_thread(upgrade, url)
        server = await RunningServer(
            make_settings(url, db_statement_timeout_s=timeout_s, ready_timeout_s=2, scheduler_enabled=False)
        ).start()
        clients = []
        try:
            identity, password = await add_agent(url)
            agent = await agent_client(server.url, await login(server.url, identity.username, password))
            v = await visitor(server.url)
            clients += [agent, v]
            cid = (await v.call("start", start_payload()))["conversation_id"]
            await agent.call("accept", {"conversation_id": cid})
            assert (await v.call("message", {"client_id": "v1", "text": "voor"}))["seq"] == 1
            assert (await ready(server))[0] == 200

            with frozen(pg.port):
                status, body, took = await ready(server)
                assert status == 503 and body["database"] is False, body
                assert took < 3.5, took
                started = time.monotonic()
                ack = await v.call("message", {"client_id": "v2", "text": "tijdens"}, timeout=30)
                took = time.monotonic() - started
                assert ack["error"]["code"] == "unavailable", ack
                assert "Probeer het zo nog eens" in ack["error"]["message"]
                # Within the statement timeout (twice it at most, when the pool must reconnect):
                # well inside the widget's 10 s ack timeout.
                assert took < 2 * timeout_s + 1, took

            await until_status(server, 200, within=20)
            # The retry after the database is back: stored once, with the next seq.
            for _ in range(20):
                ack = await v.call("message", {"client_id": "v2", "text": "tijdens"}, timeout=30)
                if "seq" in ack:
                    break
                await asyncio.sleep(0.5)
            assert ack["seq"] == 2, ack
        finally:
            for c in clients:
                with contextlib.suppress(Exception):
                    await c.disconnect()
            await asyncio.wait_for(server.stop(), 30)
