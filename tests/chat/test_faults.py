"""No silent loss under faults (issue 12). Two `vt-contact serve` processes on PostgreSQL and a
real Redis carry chats whose visitor is on one process and whose advisor is on the other, both
sending all the time, while the test breaks something for real: it SIGKILLs a process, freezes
Redis (SIGSTOP), or restarts PostgreSQL. Every message is counted: sent, acknowledged, stored,
seen live by the peer, and caught up by the peer (`resume`, `history`) the way the widget and
the console do, on reconnect and on a gap in seq. Whatever happens, every acknowledged message
is stored exactly once with a gapless seq, and the peer ends up having seen every stored one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import ClientSession
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.chat.test_redis_outage import ControlledRedis
from tests.chat.test_several_processes import Cluster
from tests.support.processes import ServerProcess, run_cli
from tests.support.server import Client, agent_client, login, start_payload, visitor
from tests.support.services import postgres_process

PACE_S = 0.1  # between two messages of one sender
# Visitors send faster here than a person types: the flood limit is not under test.
FAST = {"VT_VISITOR_MESSAGE_LIMIT": "100000", "VT_LOG_LEVEL": "INFO"}


@contextlib.contextmanager
def two_processes(database_url: str, redis_url: str, log_dir: Path, **env: str) -> Iterator[Cluster]:
    migrated = run_cli("db", "upgrade", "--database-url", database_url)
    assert migrated.returncode == 0, migrated.stderr
    channel = f"vt-faults-{uuid.uuid4().hex[:6]}"
    a = ServerProcess(database_url, redis_url, log_dir, "a", VT_REDIS_CHANNEL=channel, **FAST, **env)
    try:
        b = ServerProcess(database_url, redis_url, log_dir, "b", VT_REDIS_CHANNEL=channel, **FAST, **env)
    except Exception:
        a.stop()
        raise
    try:
        yield Cluster(database_url, a, b)
    finally:
        a.stop()
        b.stop()
    for p in (a, b):
        logs = p.log_path.read_text(errors="replace")
        assert "Traceback" not in logs, logs[-3000:]
        assert "bericht " not in logs  # no message text in any log


class Line:
    """One participant's connection, replaced by a new one when its process is gone."""

    def __init__(self, client: Client, on: str, token: str | None = None) -> None:
        self.client = client
        self.clients = [client]
        self.on = on
        self.token = token
        self.up = asyncio.Event()
        self.up.set()
        self.in_flight = 0  # calls waiting for their ack

    def lost(self) -> None:
        self.up.clear()

    def replace(self, client: Client, on: str) -> None:
        self.client = client
        self.clients.append(client)
        self.on = on
        self.up.set()

    def seen(self, cid: str | None = None) -> set[int]:
        """The seqs that arrived as live `message` events on any of its connections."""
        return {
            m["seq"]
            for c in self.clients
            for m in c.events.get("message", [])
            if cid is None or m.get("conversation_id") == cid
        }


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    # Calls that got no answer at all, by the process the connection was on.
    unanswered: Counter[str] = field(default_factory=Counter)
    caught_up: int = 0  # resume/history calls a client made to fill a gap or after a reconnect
    resent: int = 0  # messages sent more than once (same client_id) before their ack came
    sent: int = 0  # `message` calls, first tries and re-sends


@dataclass
class Chat:
    cid: str
    resume_token: str
    visitor: Line
    agent: Line
    acked: dict[str, dict[str, int]] = field(default_factory=lambda: {"visitor": {}, "agent": {}})
    replayed: dict[str, set[int]] = field(default_factory=lambda: {"visitor": set(), "agent": set()})

    def line(self, side: str) -> Line:
        return self.visitor if side == "visitor" else self.agent

    def seen(self, side: str) -> set[int]:
        return self.line(side).seen(self.cid if side == "agent" else None)

    def known(self, side: str) -> set[int]:
        """What this side has: its own acked messages, what it saw live and what it caught up on."""
        return set(self.acked[side].values()) | self.seen(side) | self.replayed[side]


def contiguous(seqs: set[int]) -> int:
    n = 0
    while n + 1 in seqs:
        n += 1
    return n


async def send_one(chat: Chat, side: str, client_id: str, stats: Stats, timeout: float) -> None:
    """Send until acknowledged, with the same client_id each time (as the widget and console do)."""
    payload: dict[str, Any] = {"client_id": client_id, "text": f"bericht {client_id}"}
    if side == "agent":
        payload["conversation_id"] = chat.cid
    line = chat.line(side)
    for attempt in range(1000):
        await line.up.wait()
        client, on = line.client, line.on
        stats.resent += attempt == 1
        stats.sent += 1
        started = time.monotonic()
        line.in_flight += 1
        try:
            ack = await client.call("message", payload, timeout=timeout)
        except socketio.exceptions.SocketIOError:
            stats.unanswered[on] += 1
            await asyncio.sleep(0.2)
            continue
        finally:
            line.in_flight -= 1
        stats.latencies.append(time.monotonic() - started)
        if "seq" in ack:
            chat.acked[side][client_id] = ack["seq"]
            return
        error = ack["error"]
        assert set(error) >= {"code", "message"} and error["message"], ack
        stats.errors[error["code"]] += 1
        await asyncio.sleep(0.2)
    raise AssertionError(f"{client_id} never acknowledged")


async def keep_sending(chat: Chat, side: str, stop: asyncio.Event, stats: Stats, timeout: float) -> None:
    i = 0
    while not stop.is_set():
        await send_one(chat, side, f"{side[0]}{i}", stats, timeout)
        i += 1
        await asyncio.sleep(PACE_S)


async def catch_up(chat: Chat, side: str, stats: Stats, client: Client | None = None) -> None:
    """What the clients do on reconnect or on a gap: the widget `resume`s after its contiguous
    seq, the console asks `history`."""
    stats.caught_up += 1
    client = client or chat.line(side).client
    if side == "visitor":
        after = contiguous(chat.known("visitor"))
        ack = await client.call("resume", {"resume_token": chat.resume_token, "after_seq": after})
        assert ack["status"] == "active", ack
        chat.replayed["visitor"] |= {m["seq"] for m in ack["messages"]}
    else:
        ack = await client.call("history", {"conversation_id": chat.cid})
        chat.replayed["agent"] |= {m["seq"] for m in ack["conversation"]["messages"]}


async def open_chats(cluster: Cluster, pairs: list[tuple[str, str]]) -> list[Chat]:
    """One chat per (visitor's process, advisor's process); one advisor per advisor's process."""
    urls = {"a": cluster.a.url, "b": cluster.b.url}
    consoles: dict[str, Line] = {}
    chats = []
    for v_on, a_on in pairs:
        if a_on not in consoles:
            username, password = cluster.add_agent()
            token = await login(urls[a_on], username, password)
            consoles[a_on] = Line(await agent_client(urls[a_on], token), a_on, token)
        v = await visitor(urls[v_on])
        started = await v.call("start", start_payload())
        await consoles[a_on].client.call("accept", {"conversation_id": started["conversation_id"]})
        await v.wait_for("assigned")
        chats.append(Chat(started["conversation_id"], started["resume_token"], Line(v, v_on), consoles[a_on]))
    return chats


async def finish(chats: list[Chat], stats: Stats, timeout: float) -> None:
    """A last message each way, seen live by the peer; then each side fills a gap it can see."""
    for chat in chats:
        await send_one(chat, "visitor", "v-last", stats, timeout)
        seq = chat.acked["visitor"]["v-last"]
        await chat.agent.client.wait_for(
            "message", lambda m, s=seq, c=chat.cid: (c, s) == (m["conversation_id"], m["seq"])
        )
        await send_one(chat, "agent", "a-last", stats, timeout)
        seq = chat.acked["agent"]["a-last"]
        await chat.visitor.client.wait_for("message", lambda m, s=seq: m["seq"] == s)
    for chat in chats:
        for side in ("visitor", "agent"):
            known = chat.known(side)
            if contiguous(known) != max(known):
                await catch_up(chat, side, stats)


async def stored(database_url: str, chats: list[Chat]) -> dict[str, list[tuple[str, str, int]]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT conversation_id, sender, client_id, seq FROM message"))).all()
    finally:
        await engine.dispose()
    mine = {chat.cid: [] for chat in chats}  # type: dict[str, list[tuple[str, str, int]]]
    for cid, sender, client_id, seq in rows:
        if cid in mine:
            mine[cid].append((sender, client_id, seq))
    return mine


def check_counts(chats: list[Chat], rows: dict[str, list[tuple[str, str, int]]]) -> dict[str, int]:
    """Every acked message stored once, nothing stored that was not acked, gapless seqs, and
    every stored message known to the peer. Returns the figures."""
    figures = Counter[str]()
    for chat in chats:
        messages = rows[chat.cid]
        seqs = sorted(seq for _, _, seq in messages)
        assert seqs == list(range(1, len(seqs) + 1)), (chat.cid, seqs)
        as_stored = {(sender, client_id): seq for sender, client_id, seq in messages}
        assert len(as_stored) == len(messages)
        as_acked = {(side, cid): seq for side in ("visitor", "agent") for cid, seq in chat.acked[side].items()}
        assert as_acked == as_stored, set(as_acked.items()) ^ set(as_stored.items())
        for side, peer in (("visitor", "agent"), ("agent", "visitor")):
            theirs = {seq for (sender, _), seq in as_stored.items() if sender == peer}
            unseen = theirs - chat.known(side)
            assert not unseen, (chat.cid, side, sorted(unseen))
            figures["seen_live"] += len(theirs & chat.seen(side))
        figures["acked"] += len(as_acked)
        figures["stored"] += len(messages)
    return dict(figures)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@pytest.fixture
def pg_url(postgres) -> str:
    return postgres.create_database(f"faults_{uuid.uuid4().hex[:8]}")


async def test_sigkill_of_one_process_loses_no_message(pg_url, redis_url, tmp_path):
    with two_processes(pg_url, redis_url, tmp_path) as cluster:
        # Visitors on both processes, each with its advisor on the other one.
        chats = await open_chats(cluster, [("b", "a"), ("b", "a"), ("a", "b"), ("a", "b")])
        stats = Stats()
        stop = asyncio.Event()
        senders = [
            asyncio.create_task(keep_sending(chat, side, stop, stats, timeout=3))
            for chat in chats
            for side in ("visitor", "agent")
        ]
        await asyncio.sleep(1.5)
        on_a = {id(line): line for chat in chats for line in (chat.visitor, chat.agent) if line.on == "a"}
        # Kill it while messages to it wait for their ack (stored or not, acked or not).
        for _ in range(10_000):
            if sum(line.in_flight for line in on_a.values()) >= 2:
                break
            await asyncio.sleep(0.001)
        cluster.a.proc.kill()  # SIGKILL: no goodbye, no flush, mid-commit maybe
        cluster.a.proc.wait(5)
        killed_at = time.monotonic()
        for line in on_a.values():
            line.lost()
        # Everyone who was on A comes back on B, as the widget and console do, and catches up.
        for line in on_a.values():
            if line.token is None:
                chat = next(c for c in chats if c.visitor is line)
                moved = await visitor(cluster.b.url)
                await catch_up(chat, "visitor", stats, moved)  # its events count from here on
                line.replace(moved, "b")
            else:
                moved = await agent_client(cluster.b.url, line.token)
                line.replace(moved, "b")  # an advisor's connection is in its rooms from the start
                for chat in chats:
                    if chat.agent is line:
                        await catch_up(chat, "agent", stats)
        moved_in = time.monotonic() - killed_at
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*senders), 30)
        await finish(chats, stats, timeout=5)
        figures = check_counts(chats, await stored(cluster.database_url, chats))
        print(
            f"\nSIGKILL: sent {stats.sent}, {figures}, answered errors {dict(stats.errors)}, "
            f"unanswered {dict(stats.unanswered)}, "
            f"catch-ups {stats.caught_up}, resent {stats.resent}, moved in {moved_in:.2f} s, "
            f"p99 ack {p99(stats.latencies) * 1000:.0f} ms"
        )
        # Only connections to the dead process went unanswered; B answered everything.
        assert set(stats.unanswered) <= {"a"}
        assert not stats.errors, stats.errors
        for line in {id(c.agent): c.agent for c in chats}.values():
            await line.client.disconnect()
        for chat in chats:
            await chat.visitor.client.disconnect()


async def seen_live_by(chats: list[Chat], rows: dict[str, list[tuple[str, str, int]]], deadline: float) -> float:
    """Wait until each side saw every stored message of its peer as a live event (no catching
    up); returns when that was, or fails at `deadline` naming what is missing."""
    while True:
        missing = {
            (chat.cid[:8], side): sorted({seq for sender, _, seq in rows[chat.cid] if sender == peer} - chat.seen(side))
            for chat in chats
            for side, peer in (("visitor", "agent"), ("agent", "visitor"))
        }
        missing = {k: v for k, v in missing.items() if v}
        if not missing:
            return time.monotonic()
        assert time.monotonic() < deadline, f"not seen live: {missing}"
        await asyncio.sleep(0.05)


async def test_a_frozen_redis_holds_up_no_event_and_loses_no_message(pg_url, tmp_path):
    red = ControlledRedis(tmp_path)
    red.start()
    assert red.proc is not None
    try:
        with two_processes(pg_url, red.url, tmp_path) as cluster:
            chats = await open_chats(cluster, [("a", "b"), ("b", "a"), ("a", "b")])
            stats = Stats()
            stop = asyncio.Event()
            timeout = 5
            senders = [
                asyncio.create_task(keep_sending(chat, side, stop, stats, timeout))
                for chat in chats
                for side in ("visitor", "agent")
            ]
            await asyncio.sleep(1)
            os.kill(red.proc.pid, signal.SIGSTOP)  # frozen: connections stay open, nothing answers
            try:
                await asyncio.sleep(1)
                # Other events answer too, within their timeout: a new visitor, a console's sync.
                newcomer = await visitor(cluster.b.url)
                assert (await newcomer.call("start", start_payload(), timeout=timeout))["status"] == "waiting"
                assert "mine" in await chats[0].agent.client.call("sync", {}, timeout=timeout)
                await newcomer.call("leave", {}, timeout=timeout)
                await newcomer.disconnect()
                await asyncio.sleep(1.5)
                # The last messages are sent while Redis is frozen, and nobody says anything
                # after: what the other process should get must not wait for a next emit.
                stop.set()
                await asyncio.wait_for(asyncio.gather(*senders), 30)
                await asyncio.sleep(2)  # longer than any publish waits for its answer
            finally:
                os.kill(red.proc.pid, signal.SIGCONT)
            thawed = time.monotonic()
            rows = await stored(cluster.database_url, chats)
            # Within 5 s of Redis answering again, every stored message reached the live peer on
            # the other process, without anyone asking for it.
            all_seen = await seen_live_by(chats, rows, deadline=thawed + 5)
            figures = check_counts(chats, rows)
            print(
                f"\nSIGSTOP of Redis: sent {stats.sent}, {figures}, answered errors {dict(stats.errors)}, "
                f"unanswered {dict(stats.unanswered)}, all seen live {all_seen - thawed:.2f} s after SIGCONT, "
                f"p99 ack {p99(stats.latencies) * 1000:.0f} ms, max {max(stats.latencies) * 1000:.0f} ms"
            )
            assert not stats.unanswered, stats.unanswered
            assert set(stats.errors) <= {"internal"} and stats.errors["internal"] == 0, stats.errors
            for chat in chats:
                await chat.visitor.client.disconnect()
            for line in {id(c.agent): c.agent for c in chats}.values():
                await line.client.disconnect()
    finally:
        if red.proc is not None and red.proc.poll() is None:
            os.kill(red.proc.pid, signal.SIGCONT)
        red.stop()


async def test_a_postgresql_restart_answers_unavailable_and_loses_no_message(redis_url, tmp_path):
    # Commits durable as in production (the throwaway default trades that for speed).
    with postgres_process(durable=True) as pg:
        database_url = pg.start().create_database("faults_restart")
        # A short statement timeout, so that answers during the outage come quickly.
        with two_processes(database_url, redis_url, tmp_path, VT_DB_STATEMENT_TIMEOUT_S="2") as cluster:
            chats = await open_chats(cluster, [("a", "b"), ("b", "a"), ("a", "b")])
            stats = Stats()
            stop = asyncio.Event()
            timeout = 10  # the widget's and the console's ack timeout
            senders = [
                asyncio.create_task(keep_sending(chat, side, stop, stats, timeout))
                for chat in chats
                for side in ("visitor", "agent")
            ]
            await asyncio.sleep(1)
            acked_before = sum(len(c.acked["visitor"]) + len(c.acked["agent"]) for c in chats)
            pg.stop()  # immediate shutdown: every connection cut, mid-transaction maybe
            await asyncio.sleep(1.5)
            # An HTTP request that needs the database says so too: 503 in the error shape.
            async with ClientSession() as http:
                login_body = {"username": "niemand", "password": "x" * 12}
                async with http.post(f"{cluster.b.url}/api/agent/login", json=login_body) as r:
                    assert r.status == 503 and (await r.json())["error"]["code"] == "unavailable"
            await asyncio.sleep(1.5)
            refused_while_down = stats.errors["unavailable"]
            pg.start()  # the same data directory and port
            restarted = time.monotonic()
            # Traffic resumes by itself: each sender sends the same client_id again until it is acked.
            acked_at_restart = sum(len(c.acked["visitor"]) + len(c.acked["agent"]) for c in chats)
            for _ in range(300):
                acked = sum(len(c.acked["visitor"]) + len(c.acked["agent"]) for c in chats)
                if acked >= acked_at_restart + 2 * len(senders):
                    break
                await asyncio.sleep(0.1)
            resumed_in = time.monotonic() - restarted
            await asyncio.sleep(1)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*senders), 60)
            await finish(chats, stats, timeout)
            figures = check_counts(chats, await stored(cluster.database_url, chats))
            print(
                f"\nPostgreSQL restart: sent {stats.sent}, {figures}, acked before {acked_before}, "
                f"answered errors {dict(stats.errors)} "
                f"({refused_while_down} while down), unanswered {dict(stats.unanswered)}, resumed {resumed_in:.2f} s "
                f"after the restart, p99 ack {p99(stats.latencies) * 1000:.0f} ms, "
                f"max {max(stats.latencies) * 1000:.0f} ms"
            )
            # Every event answered, in the error shape while the database was down, never `internal`.
            assert not stats.unanswered, stats.unanswered
            assert refused_while_down > 0 and set(stats.errors) == {"unavailable"}, stats.errors
            for chat in chats:
                await chat.visitor.client.disconnect()
            for line in {id(c.agent): c.agent for c in chats}.values():
                await line.client.disconnect()
