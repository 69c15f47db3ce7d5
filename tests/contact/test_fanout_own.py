"""Each process hears its own publishes back from Redis: they are dropped before they are
decoded, and everything another process publishes still comes through, in order, including a
callback addressed to this process (the one kind that names this process's host id)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

from contact.fanout import ResilientRedisManager


async def _heard(manager: ResilientRedisManager, into: list[dict], ready: asyncio.Event) -> None:
    listening = manager._listen()
    ready.set()
    async for data in listening:
        into.append(data if isinstance(data, dict) else json.loads(data))


async def test_own_publishes_are_dropped_unread_and_the_others_come_through(redis_url):
    channel = f"vt-own-{uuid.uuid4().hex[:6]}"
    a = ResilientRedisManager(redis_url, channel=channel)
    b = ResilientRedisManager(redis_url, channel=channel)
    heard_a: list[dict] = []
    heard_b: list[dict] = []
    ready_a, ready_b = asyncio.Event(), asyncio.Event()
    tasks = [
        asyncio.create_task(_heard(a, heard_a, ready_a)),
        asyncio.create_task(_heard(b, heard_b, ready_b)),
    ]
    try:
        await ready_a.wait()
        await ready_b.wait()
        for _ in range(50):  # both subscribed: a publish reaches two listeners
            if await a._send({"method": "ping", "host_id": a.host_id}) == 2:
                break
            await asyncio.sleep(0.05)
        emit = {"method": "emit", "event": "message", "data": ["hoi"], "room": "r", "host_id": a.host_id}
        callback = {"method": "callback", "host_id": a.host_id, "sid": "s", "id": 1, "args": []}
        assert await a._send(emit) == 2
        assert await b._send(callback) == 2  # b answers a's callback: it names a
        assert await b._send({**emit, "host_id": b.host_id}) == 2
        for _ in range(100):
            if len(heard_b) >= 2 and len(heard_a) >= 2:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        assert [m["method"] for m in heard_a] == ["callback", "emit"]  # b's two, none of a's own
        assert heard_a[1]["host_id"] == b.host_id
        # a's emit; b's own emit dropped; its callback names a, so b reads it (python-socketio
        # then leaves it alone: not b's).
        assert [m["method"] for m in heard_b if m["method"] != "ping"] == ["emit", "callback"]
        assert heard_b[-2]["host_id"] == a.host_id
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        for m in (a, b):
            with contextlib.suppress(Exception):
                await m.redis.aclose()


def test_a_burst_of_publishes_does_not_run_out_of_connections(redis_url):
    """redis-py opens at most 100 connections per client unless told otherwise: a burst of more
    publishes at once than that failed as if Redis were down."""
    from contact.fanout import REDIS_MAX_CONNECTIONS

    manager = ResilientRedisManager(redis_url, channel="vt-pool")
    manager._redis_connect()
    assert manager.redis.connection_pool.max_connections == REDIS_MAX_CONNECTIONS >= 1000


async def test_emits_of_one_moment_travel_as_one_batch_in_order(redis_url):
    """What is published in one turn of the event loop goes to Redis as one message; the other
    process hears every emit of it once, in order; a lone emit travels as it is."""
    channel = f"vt-batch-{uuid.uuid4().hex[:6]}"
    a = ResilientRedisManager(redis_url, channel=channel)
    b = ResilientRedisManager(redis_url, channel=channel)
    heard: list[dict] = []
    ready = asyncio.Event()
    task = asyncio.create_task(_heard(b, heard, ready))
    try:
        await ready.wait()
        for _ in range(50):
            if await a._send({"method": "ping", "host_id": a.host_id}) == 1:
                break
            await asyncio.sleep(0.05)

        def emit(i: int) -> dict:
            return {"method": "emit", "event": "message", "data": [{"seq": i}], "room": "r", "host_id": a.host_id}

        for i in range(250):  # one moment: no await between them reaches Redis
            await a._publish(emit(i))
        await a.drain()
        await a._publish(emit(250))  # alone
        await a.drain()
        for _ in range(100):
            if len([m for m in heard if m["method"] == "emit"]) >= 251:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        emits = [m for m in heard if m["method"] == "emit"]
        assert [m["data"][0]["seq"] for m in emits] == list(range(251))
        assert a.published_items == 251
        assert a.published == 4  # 100 + 100 + 50 (at most MAX_BATCH a message), then the lone one
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        for m in (a, b):
            with contextlib.suppress(Exception):
                await m.redis.aclose()


async def test_a_batch_kept_through_an_outage_goes_out_after_it(redis_url):
    """Batches that fail to publish are kept like single emits, in order, and sent when Redis
    answers again; the emitter never waits on it."""
    channel = f"vt-batch-out-{uuid.uuid4().hex[:6]}"
    a = ResilientRedisManager(redis_url, channel=channel, retry_s=0.05)
    sent: list = []
    down = True

    async def send(data):
        if down:
            raise ConnectionError("redis down")
        sent.append(data)
        return 1

    a._send = send  # type: ignore[method-assign]
    a.listening = True  # as if subscribed: what is kept may go once Redis answers
    for i in range(3):
        await a._publish({"method": "emit", "data": [i], "host_id": a.host_id})
    await a.drain()
    assert not a.healthy and len(a._kept) == 1 and sent == []
    for i in range(3, 5):
        await a._publish({"method": "emit", "data": [i], "host_id": a.host_id})
    await a.drain()
    down = False
    for _ in range(100):
        if not a._kept:
            break
        await asyncio.sleep(0.02)
    assert a.healthy
    flat = []
    for data in sent:
        flat.extend(data["messages"] if data["method"] == "batch" else [data])
    assert [m["data"][0] for m in flat] == [0, 1, 2, 3, 4]


def test_what_cannot_be_read_is_dropped_and_a_batch_is_unpacked():
    manager = ResilientRedisManager("redis://localhost:1", channel="vt-unpack")
    assert manager._unpacked(b"{not json") == []
    assert manager._unpacked(b"[1, 2]") == []
    assert manager._unpacked(b'{"method": "batch", "messages": "no"}') == []
    assert manager._unpacked(b'{"method": "batch", "messages": [{"method": "emit"}, 3]}') == [{"method": "emit"}]
    assert manager._unpacked(b'{"method": "emit", "room": "r"}') == [{"method": "emit", "room": "r"}]
