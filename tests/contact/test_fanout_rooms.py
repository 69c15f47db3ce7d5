"""One Redis channel per room: a process listens to a room's channel while one of its sockets is
in the room, so an emit reaches only the processes that hold a member of it. Two bare
python-socketio servers on `ResilientRedisManager` (real aiohttp servers on ephemeral ports, a
real redis-server, real Socket.IO clients): a room entered on B is reached by A's next emit,
nothing arrives after a leave, a leave and an enter at once keep the subscription, skip_sid,
a disconnect leaves every room, Redis restarted, 10,000 rooms."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis
import socketio
from aiohttp import web

from contact.fanout import ResilientRedisManager
from tests.chat.test_redis_outage import ControlledRedis


@dataclass
class Node:
    sio: socketio.AsyncServer
    manager: ResilientRedisManager
    runner: web.AppRunner
    url: str


@dataclass
class Client:
    sio: socketio.AsyncClient
    heard: list[Any] = field(default_factory=list)

    @property
    def sid(self) -> str:
        sid = self.sio.get_sid("/")
        assert sid is not None
        return sid

    async def join(self, *rooms: str) -> None:
        assert await self.sio.call("join", list(rooms), timeout=10) == "ok"

    def count(self, text: str) -> int:
        return self.heard.count(text)


async def start_node(redis_url: str, channel: str, **options: Any) -> Node:
    manager = ResilientRedisManager(redis_url, channel=channel, **options)
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager)

    @sio.event
    async def join(sid: str, rooms: list[str]) -> str:
        # All at once, as a console entering its rooms: one SUBSCRIBE for the lot.
        await asyncio.gather(*(sio.enter_room(sid, room) for room in rooms))
        return "ok"

    @sio.event
    async def leave(sid: str, room: str) -> str:
        await sio.leave_room(sid, room)
        return "ok"

    @sio.event
    async def bounce(sid: str, room: str) -> str:
        # Leave and enter again in the same moment: UNSUBSCRIBE then SUBSCRIBE, in that order.
        await sio.leave_room(sid, room)
        await sio.enter_room(sid, room)
        return "ok"

    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    sio.manager_initialized = True
    manager.initialize()
    for _ in range(200):
        if manager.listening:
            break
        await asyncio.sleep(0.02)
    assert manager.listening
    return Node(sio, manager, runner, f"http://127.0.0.1:{runner.addresses[0][1]}")


async def stop_node(node: Node) -> None:
    task = getattr(node.manager, "thread", None)
    if isinstance(task, asyncio.Task):
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
    await node.runner.cleanup()
    with contextlib.suppress(Exception):
        await node.manager.redis.aclose()


async def connect(node: Node) -> Client:
    client = Client(socketio.AsyncClient())
    client.sio.on("said", client.heard.append)
    await client.sio.connect(node.url, transports=["websocket"])
    return client


async def numsub(redis_url: str, channel: str) -> int:
    client = aioredis.from_url(redis_url)
    try:
        counts = await client.pubsub_numsub(channel)
        return int(counts[0][1])
    finally:
        await client.aclose()


async def eventually(check: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def two(redis_url) -> AsyncIterator[tuple[Node, Node, list[Client]]]:
    channel = f"vt-rooms-{uuid.uuid4().hex[:6]}"
    a = await start_node(redis_url, channel)
    b = await start_node(redis_url, channel)
    clients: list[Client] = []
    yield a, b, clients
    for client in clients:
        with contextlib.suppress(Exception):
            await client.sio.disconnect()
    await stop_node(a)
    await stop_node(b)


async def test_a_room_entered_on_b_is_reached_by_as_very_next_emit_and_nobody_else_listens(two, redis_url):
    a, b, clients = two
    on_b = await connect(b)
    clients.append(on_b)
    room_channel = a.manager.room_channel("/", "c:1")
    assert await numsub(redis_url, room_channel) == 0  # nobody in the room: nobody listens
    for n in range(20):
        room = f"c:{n}"
        await on_b.join(room)  # answered once Redis confirmed B's subscription
        await a.sio.emit("said", f"hallo {n}", room=room)  # A holds nobody of it: published only
    await eventually(lambda: len(on_b.heard) == 20)
    assert on_b.heard == [f"hallo {n}" for n in range(20)]  # each exactly once, in order
    # Only B listens to the rooms; A is subscribed to none of them.
    assert await numsub(redis_url, room_channel) == 1
    assert not a.manager.held
    assert b.manager.held == {b.manager.room_channel("/", f"c:{n}") for n in range(20)}
    # An emit to a room no process holds reaches no process at all.
    assert await a.manager.redis.publish(a.manager.room_channel("/", "c:nobody"), b"{}") == 0


async def test_members_on_both_processes_get_each_emit_exactly_once(two):
    a, b, clients = two
    on_a, on_b, also_on_b = await connect(a), await connect(b), await connect(b)
    clients += [on_a, on_b, also_on_b]
    for client in clients:
        await client.join("a:advisor")
    await a.sio.emit("said", "van A", room="a:advisor")
    await b.sio.emit("said", "van B", room="a:advisor")
    await eventually(lambda: all(len(c.heard) == 2 for c in clients))
    await asyncio.sleep(0.2)
    for client in clients:
        assert Counter(client.heard) == {"van A": 1, "van B": 1}


async def test_after_a_leave_nothing_more_arrives_and_the_subscription_ends(two, redis_url):
    a, b, clients = two
    on_b = await connect(b)
    clients.append(on_b)
    await on_b.join("r:7")
    await a.sio.emit("said", "voor", room="r:7")
    await eventually(lambda: on_b.heard == ["voor"])
    assert await on_b.sio.call("leave", "r:7") == "ok"
    channel = b.manager.room_channel("/", "r:7")
    for _ in range(100):
        if await numsub(redis_url, channel) == 0:
            break
        await asyncio.sleep(0.02)
    assert await numsub(redis_url, channel) == 0
    await a.sio.emit("said", "na", room="r:7")
    await asyncio.sleep(0.3)
    assert on_b.heard == ["voor"]


async def test_a_leave_and_an_enter_at_once_keep_the_room(two, redis_url):
    a, b, clients = two
    on_b = await connect(b)
    clients.append(on_b)
    await on_b.join("c:bounce")
    for n in range(10):
        assert await on_b.sio.call("bounce", "c:bounce") == "ok"
        await a.sio.emit("said", f"na {n}", room="c:bounce")
    await eventually(lambda: len(on_b.heard) == 10)
    assert on_b.heard == [f"na {n}" for n in range(10)]
    assert await numsub(redis_url, b.manager.room_channel("/", "c:bounce")) == 1


async def test_skip_sid_on_either_process(two):
    a, b, clients = two
    on_a, on_b = await connect(a), await connect(b)
    clients += [on_a, on_b]
    await on_a.join("c:echo")
    await on_b.join("c:echo")
    # The sender's own socket is skipped, wherever the emit comes from.
    await b.sio.emit("said", "echo van B", room="c:echo", skip_sid=on_b.sid)
    await a.sio.emit("said", "echo van A", room="c:echo", skip_sid=on_b.sid)
    await eventually(lambda: len(on_a.heard) == 2)
    await asyncio.sleep(0.2)
    assert sorted(on_a.heard) == ["echo van A", "echo van B"]
    assert on_b.heard == []


async def test_an_emit_to_a_socket_of_this_process_stays_here(two):
    a, b, clients = two
    on_b = await connect(b)
    clients.append(on_b)
    sent: list[str] = []
    real_send = b.manager._send

    async def counted(data: Any, channel: str | None = None) -> Any:
        sent.append(data.get("event"))
        return await real_send(data, channel)

    b.manager._send = counted  # type: ignore[method-assign]
    await b.sio.emit("said", "alleen voor jou", to=on_b.sid)
    await eventually(lambda: on_b.heard == ["alleen voor jou"])
    assert sent == []  # not published: no other process can hold this socket


async def test_a_disconnect_leaves_every_room_and_a_whole_namespace_still_reaches_everyone(two, redis_url):
    a, b, clients = two
    on_a, on_b = await connect(a), await connect(b)
    clients.append(on_a)
    rooms = ["a:1", "q:volwassenen", "x:everyone", "x:crisis"]
    await on_b.join(*rooms)
    channels = [b.manager.room_channel("/", room) for room in rooms]
    assert [await numsub(redis_url, c) for c in channels] == [1, 1, 1, 1]
    # room None: the broadcast channel, every process.
    await a.sio.emit("said", "iedereen")
    await eventually(lambda: on_a.heard == ["iedereen"] and on_b.heard == ["iedereen"])
    await on_b.sio.disconnect()
    for _ in range(100):
        if not b.manager.held and sum([await numsub(redis_url, c) for c in channels]) == 0:
            break
        await asyncio.sleep(0.02)
    assert not b.manager.held
    assert [await numsub(redis_url, c) for c in channels] == [0, 0, 0, 0]


async def test_ten_thousand_rooms_in_one_process(two, redis_url):
    a, b, clients = two
    on_b = await connect(b)
    clients.append(on_b)
    rooms = [f"c:{n:05d}" for n in range(10_000)]
    started = time.monotonic()
    for part in range(0, len(rooms), 1000):
        await on_b.join(*rooms[part : part + 1000])
    took = time.monotonic() - started
    print(f"\n10,000 rooms entered and confirmed in {took:.2f} s")
    assert len(b.manager.held) == 10_000
    assert await numsub(redis_url, b.manager.room_channel("/", rooms[-1])) == 1
    await a.sio.emit("said", "de laatste", room=rooms[-1])
    await eventually(lambda: on_b.heard == ["de laatste"])
    assert took < 30


async def test_redis_restarted_every_room_is_subscribed_again_and_the_outage_is_delivered(tmp_path):
    red = ControlledRedis(tmp_path)
    red.start()
    channel = f"vt-rooms-{uuid.uuid4().hex[:6]}"
    options = {"retry_s": 0.2, "settle_s": 5.0, "census_s": 0.2}
    a = await start_node(red.url, channel, **options)
    b = await start_node(red.url, channel, **options)
    clients: list[Client] = []
    try:
        on_a, on_b = await connect(a), await connect(b)
        clients += [on_a, on_b]
        await on_b.join("c:1", "c:2", "a:9")
        await eventually(lambda: a.manager._listeners == 2)  # the census counted both
        await asyncio.to_thread(red.stop)  # off the event loop: the listeners notice at once
        # Emitted while Redis is gone: kept, and sent once B listens to its rooms again.
        for n in range(5):
            await a.sio.emit("said", f"tijdens {n}", room="c:2")
        await eventually(lambda: not a.manager.healthy)
        await asyncio.to_thread(red.start)
        await eventually(lambda: b.manager.listening and a.manager.listening and not a.manager._kept, within=10)
        await eventually(lambda: len(on_b.heard) == 5, within=5)
        assert on_b.heard == [f"tijdens {n}" for n in range(5)]
        # Every room B holds is B's again on the new Redis.
        for room in ("c:1", "c:2", "a:9"):
            assert await numsub(red.url, b.manager.room_channel("/", room)) == 1
        await a.sio.emit("said", "daarna", room="a:9")
        await eventually(lambda: on_b.heard[-1:] == ["daarna"])
        await asyncio.sleep(0.2)
        assert len(on_b.heard) == 6
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.sio.disconnect()
        await stop_node(a)
        await stop_node(b)
        red.stop()


async def publishes(redis_url: str) -> int:
    client = aioredis.from_url(redis_url)
    try:
        stats = await client.info("commandstats")
        return int(stats.get("cmdstat_publish", {}).get("calls", 0))
    finally:
        await client.aclose()


async def test_a_room_only_this_process_holds_is_not_published_until_another_enters(two, redis_url):
    """The visitor's echo of their own message, an advisor's own room: held by one process
    only, its emits stay in that process. A process that enters such a room says so and waits
    until the holder heard it, so the holder's very next emit is published again."""
    a, b, clients = two
    on_b = await connect(b)
    clients.append(on_b)
    for n in range(10):
        room = f"c:solo{n}"
        channel = b.manager.room_channel("/", room)
        await on_b.join(room)
        await b.sio.emit("said", f"{n} een", room=room)  # reaches only B: B knows it from now on
        await eventually(lambda: channel in b.manager.solo)
        before = await publishes(redis_url)
        for k in range(5):
            await b.sio.emit("said", f"{n} stil {k}", room=room)
        assert await publishes(redis_url) == before  # not one PUBLISH
        on_a = await connect(a)
        clients.append(on_a)
        await on_a.join(room)  # A holds it too now, and B heard so before this answered
        assert channel not in b.manager.solo
        await b.sio.emit("said", f"{n} voor twee", room=room)  # B's very next emit
        await eventually(lambda: on_a.heard == [f"{n} voor twee"])
        await a.sio.emit("said", f"{n} van A", room=room)
        await eventually(lambda: on_b.heard[-1:] == [f"{n} van A"])
        await asyncio.sleep(0.1)
        assert on_a.heard == [f"{n} voor twee", f"{n} van A"]
        assert on_b.heard[-8:] == [f"{n} een", *[f"{n} stil {k}" for k in range(5)], f"{n} voor twee", f"{n} van A"]
        await on_a.sio.disconnect()
        clients.remove(on_a)
