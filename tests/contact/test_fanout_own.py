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
        into.append(json.loads(data))


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
