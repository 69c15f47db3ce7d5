"""Delivery of handoffs to a real HTTP receiver on loopback that fails part of its requests, answers
429, times out, sends garbage with a 2xx and is down for a while; with two server processes, one
of them killed and started again in the middle. Every handoff arrives, every signature verifies,
and the receiver can drop the duplicates by their Idempotency-Key."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import signal
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from aiohttp import ClientSession, web
from pydantic import ValidationError
from sqlalchemy import func, select

from app.bootstrap import ConfigError, create_app
from cases.outbox import Contact, create_handoff
from cases.store import handoffs
from contact.clock import ManualClock
from contact.db import Database
from tests.callback.conftest import Api, agent_token
from tests.support.processes import ServerProcess, run_cli
from tests.support.server import RunningServer, make_settings, migrated_sqlite
from tests.support.services import free_port

SECRET = "webhook-secret-for-tests"


class Receiver:
    """The case system's webhook endpoint, misbehaving on purpose."""

    def __init__(self, port: int, fail_share: float = 0.0, seed: int = 7) -> None:
        self.port = port
        self.fail_share = fail_share
        self.random = random.Random(seed)
        self.received: dict[str, list[bytes]] = defaultdict(list)
        self.bad_signatures = 0
        self.answers: defaultdict[str, int] = defaultdict(int)
        self.mode: str | None = None  # force one answer: "500", "429", "garbage", "slow"
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-VT-Signature", "")):
            self.bad_signatures += 1
            return web.Response(status=401)
        roll = self.random.random()
        mode = self.mode or (
            "500" if roll < self.fail_share * 0.5
            else "429" if roll < self.fail_share * 0.7
            else "slow" if roll < self.fail_share * 0.8
            else "garbage" if roll < self.fail_share
            else "ok"
        )  # fmt: skip
        self.answers[mode] += 1
        if mode == "500":
            return web.Response(status=500, text="kapot")
        if mode == "429":
            return web.Response(status=429, headers={"Retry-After": "1"})
        if mode == "slow":
            await asyncio.sleep(2)  # longer than the sender's timeout: it gives up and retries
        # Stored before answering, as a real receiver would: the sender may still see a failure.
        self.received[request.headers["Idempotency-Key"]].append(body)
        if mode == "garbage":
            return web.Response(status=200, body=b"\x00<html>not json", content_type="text/html")
        return web.json_response({"ok": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def _contact(i: int) -> Contact:
    return Contact(
        source="chat",
        source_id=str(uuid.uuid4()),
        caller_type="volwassene",
        received_at=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
        outcome={
            "kind": "melding" if i % 2 else "advies",
            "summary": f"zorg {i}",
            "urgency": "midden",
            "gemeente": "Utrecht",
        },
        advisor={"id": "a", "name": "Anouk"},
        transcript=[{"seq": 1, "sender": "visitor", "text": f"bericht {i} — één", "at": "2026-11-24T09:00:00+00:00"}],
    )


async def _outbox(database_url: str, count: int, now: datetime | None = None) -> set[str]:
    """`count` handoffs written by the same function a close uses, as if that many chats closed."""
    db = Database(database_url)
    ids: set[str] = set()
    try:
        for start in range(0, count, 100):
            async with db.write() as conn:
                for i in range(start, min(count, start + 100)):
                    made = await create_handoff(
                        conn, _contact(i), now or datetime.now(UTC), webhook=True, tz=ZoneInfo("Europe/Amsterdam")
                    )
                    assert made is not None
                    ids.add(made)
    finally:
        await db.dispose()
    return ids


async def _delivered(database_url: str) -> int:
    db = Database(database_url)
    try:
        async with db.read() as conn:
            return int(await conn.scalar(select(func.count()).where(handoffs.c.status == "delivered")) or 0)
    finally:
        await db.dispose()


async def test_a_thousand_handoffs_arrive_through_failures_an_outage_and_a_killed_process(postgres, tmp_path):
    database_url = postgres.create_database(f"hook_{uuid.uuid4().hex[:8]}")
    assert run_cli("db", "upgrade", "--database-url", database_url).returncode == 0
    receiver = Receiver(free_port(), fail_share=0.3)
    await receiver.start()
    ids = await _outbox(database_url, 1000)
    env = {
        "VT_CASE_WEBHOOK_URL": receiver.url,
        "VT_CASE_WEBHOOK_SECRET": SECRET,
        "VT_CASE_WEBHOOK_ALLOW_HTTP": "1",
        "VT_CASE_RETRY_BASE_S": "0.05",
        "VT_CASE_RETRY_MAX_S": "0.5",
        "VT_CASE_TIMEOUT_S": "0.5",
        "VT_CASE_MAX_TRIES": "1000",
        "VT_CASE_POLL_S": "0.1",
        "VT_CASE_LEASE_S": "2",  # what the killed process had in hand is sent by another after 2 s
        "VT_HASH_KEY": "h" * 32,
    }
    a = ServerProcess(database_url, None, tmp_path, "a", **env)
    b = ServerProcess(database_url, None, tmp_path, "b", **env)
    restarted = None
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while len(receiver.received) < 250:
            assert loop.time() < deadline
            await asyncio.sleep(0.05)
        a.proc.send_signal(signal.SIGKILL)  # in the middle of its work, without a word
        a.proc.wait(10)
        await receiver.stop()  # and the case system goes down for a while
        await asyncio.sleep(1.5)
        await receiver.start()
        restarted = ServerProcess(database_url, None, tmp_path, "a2", **env)
        while await _delivered(database_url) < len(ids):
            assert loop.time() < deadline + 60, f"{await _delivered(database_url)} of {len(ids)} delivered"
            await asyncio.sleep(0.2)
    finally:
        for p in (a, b, restarted):
            if p is not None:
                p.stop()
        await receiver.stop()
    assert set(receiver.received) == ids  # every one arrived, nothing else did
    assert receiver.bad_signatures == 0
    for key, bodies in receiver.received.items():
        assert len(set(bodies)) == 1  # a duplicate is the same document: dropping it by key loses nothing
        assert json.loads(bodies[0])["id"] == key
    duplicates = sum(len(b) for b in receiver.received.values()) - len(ids)
    assert receiver.answers["500"] > 0 and receiver.answers["429"] > 0 and receiver.answers["slow"] > 0
    print(f"1000 handoffs, {duplicates} duplicates, answers {dict(receiver.answers)}")
    for p in (b,):
        assert "Traceback" not in p.log_path.read_text(errors="replace")


@pytest.fixture
async def hook_server(tmp_path):
    receiver = Receiver(free_port())
    await receiver.start()
    url = await migrated_sqlite(str(tmp_path / "hook.db"))
    clock = ManualClock(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    settings = make_settings(
        url,
        case_webhook_url=receiver.url,
        case_webhook_secret=SECRET,
        case_webhook_allow_http=True,
        case_retry_base_s=1,
        case_retry_max_s=5,
        case_max_tries=3,
        case_poll_s=0.05,
        case_timeout_s=0.5,
        hash_key="h" * 32,
    )
    server = await RunningServer(settings, clock).start()
    server.clock, server.receiver = clock, receiver
    yield server
    await server.stop()
    await receiver.stop()


async def _status(url: str, handoff_id: str):
    db = Database(url)
    try:
        async with db.read() as conn:
            return (await conn.execute(select(handoffs).where(handoffs.c.id == handoff_id))).one()
    finally:
        await db.dispose()


async def _wait_status(url, handoff_id, wanted, timeout=5.0, tries=1, error=None):
    """The handoff once it is in `wanted` (for `pending`: after `tries` failed tries, the last
    one with `error` if given: a claim counts the try before its answer is known)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        row = await _status(url, handoff_id)
        failed_enough = row.tries >= tries and row.last_error is not None and error in (None, row.last_error)
        if row.status == wanted and (wanted != "pending" or failed_enough):
            return row
        assert loop.time() < end, (row.status, row.tries, row.last_error)
        await asyncio.sleep(0.05)


async def test_retry_after_dead_letter_and_cases_retry(hook_server):
    server, receiver = hook_server, hook_server.receiver
    url = server.settings.database_url
    # 429 with Retry-After: the next try waits at least that long.
    receiver.mode = "429"
    (one,) = await _outbox(url, 1, server.clock.now())
    row = await _wait_status(url, one, "pending")
    assert row.last_error == "http_429" and (row.next_try_at - server.clock.now()).total_seconds() >= 1
    # It keeps failing: after the last try it is dead, and supervisors see it.
    receiver.mode = "500"
    for _ in range(100):  # move time on until the worker gave up (each try is due after its back-off)
        if (await _status(url, one)).status == "dead":
            break
        server.clock.advance(seconds=10)
        await asyncio.sleep(0.1)
    dead = await _wait_status(url, one, "dead")
    assert dead.tries == 3 and dead.last_error == "http_500"
    _, boss = await agent_token(server, role="supervisor")
    async with ClientSession() as http:
        api = Api(server.url, http)
        _, listed = await api.call("GET", "/api/agent/cases?status=dead", token=boss)
        assert [c["id"] for c in listed["cases"]] == [one]
        # The receiver is fixed (and answers a 2xx with garbage): `cases retry` sends it again.
        receiver.mode = "garbage"
        done = run_cli("cases", "retry", "--database-url", url)
        assert done.returncode == 0 and "1 handoff(s)" in done.stdout
        server.clock.set(datetime.now(UTC))  # the command queued it on the real clock
        await _wait_status(url, one, "delivered")
        _, boss = await agent_token(server, role="supervisor")
        _, listed = await api.call("GET", "/api/agent/cases?status=dead", token=boss)
        assert listed["cases"] == []
    assert len(receiver.received[one]) == 1


async def test_timeouts_and_refused_connections_are_retried(hook_server):
    server, receiver = hook_server, hook_server.receiver
    url = server.settings.database_url
    receiver.mode = "slow"
    (one,) = await _outbox(url, 1, server.clock.now())
    assert (await _wait_status(url, one, "pending", error="timeout")).tries == 1
    await receiver.stop()
    server.clock.advance(seconds=10)  # the back-off after the timeout is at most 5 s
    row = await _wait_status(url, one, "pending", tries=2, error="ClientConnectorError")
    assert row.tries >= 2
    receiver.mode = None
    await receiver.start()
    server.clock.advance(seconds=10)
    await _wait_status(url, one, "delivered")


async def test_a_webhook_needs_a_secret_and_an_http_address(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "cfg.db"))
    with pytest.raises(ConfigError, match="SECRET"):
        create_app(make_settings(url, case_webhook_url="https://cases.example/hook"))
    for bad in ("ftp://cases.example/hook", "cases.example/hook", "file:///etc/passwd"):
        with pytest.raises(ValidationError):
            make_settings(url, case_webhook_url=bad, case_webhook_secret=SECRET)
