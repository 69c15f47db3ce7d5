"""No raw identifiers outside the database: Redis keys of rate limits are keyed hashes of the
address, and a failed request is logged by its route, without path values, query or message."""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from aiohttp import ClientSession, web

from contact.ratelimit import RedisRateLimiter
from contact.web import PrivateAccessLogger, errors_middleware

ADDRESS = "203.0.113.77"


async def test_rate_limit_keys_in_redis_are_keyed_hashes(redis_url):
    client = aioredis.from_url(redis_url)
    try:
        limiter = RedisRateLimiter(client, b"k" * 32)
        assert await limiter.hit(f"start:{ADDRESS}", 2, 60)
        assert await limiter.hit(f"start:{ADDRESS}", 2, 60)
        assert not await limiter.hit(f"start:{ADDRESS}", 2, 60)
        assert await limiter.exceeded(f"start:{ADDRESS}", 2, 60)
        keys = [k.decode() for k in await client.keys("*")]
        assert keys and all(k.startswith("vt:rl:") for k in keys)
        assert not any(ADDRESS in k or "start" in k for k in keys)
        other = RedisRateLimiter(client, b"o" * 32)  # another key: another name, nothing to guess from
        assert await other.hit(f"start:{ADDRESS}", 1, 60)
        await limiter.reset(f"start:{ADDRESS}")
        assert not await limiter.exceeded(f"start:{ADDRESS}", 2, 60)
    finally:
        await client.flushdb()
        await client.aclose()


async def test_a_500_logs_the_route_not_the_token_the_query_or_the_message(caplog, capfd):
    async def broken(request: web.Request) -> web.Response:
        raise ValueError(f"kapot voor {request.match_info['token']} 0612345678")

    app = web.Application(middlewares=[errors_middleware])
    app.router.add_get("/api/callbacks/{token}", broken)
    runner = web.AppRunner(app, access_log_class=PrivateAccessLogger)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    caplog.set_level(logging.DEBUG)
    try:
        async with ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/api/callbacks/GEHEIMTOKEN123?email=a@b.nl") as r:
                assert r.status == 500 and (await r.json())["error"]["code"] == "internal"
    finally:
        await runner.cleanup()
    out, err = capfd.readouterr()
    text = caplog.text + out + err
    failed = [line for line in text.splitlines() if "request_failed" in line]
    assert len(failed) == 1 and "/api/callbacks/{token}" in failed[0] and "ValueError" in failed[0]
    for secret in ("GEHEIMTOKEN123", "a@b.nl", "0612345678", "127.0.0.1", "kapot"):
        assert secret not in text, secret


async def test_hits_of_one_moment_share_one_call_and_each_gets_its_own_answer(redis_url):
    """The hits of one turn of the event loop go to Redis as one script call: every hit is
    counted, in order, and each caller learns whether it is within its own limit."""
    import asyncio

    client = aioredis.from_url(redis_url)
    try:
        limiter = RedisRateLimiter(client, b"b" * 32)
        counted = _Counted(limiter)
        answers = await asyncio.gather(
            *(limiter.hit("msg:x", 3, 60) for _ in range(5)), limiter.hit("msg:y", 1, 60), limiter.hit("msg:z", 9, 60)
        )
        assert answers == [True, True, True, False, False, True, True]
        assert counted.calls == 1
        assert not await limiter.hit("msg:y", 1, 60)  # a later moment: counted on
        assert 0 < await client.ttl(limiter._name("msg:x")) <= 60  # the window expires
    finally:
        await client.flushdb()
        await client.aclose()


async def test_a_redis_that_is_gone_answers_every_waiting_hit_with_its_error():
    from contact.ratelimit import FallbackRateLimiter, MemoryRateLimiter

    client = aioredis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    try:
        import asyncio

        limiter = RedisRateLimiter(client, b"g" * 32)
        results = await asyncio.gather(*(limiter.hit(f"k{i}", 5, 60) for i in range(3)), return_exceptions=True)
        assert all(isinstance(r, Exception) for r in results)
        fallback = FallbackRateLimiter(limiter, MemoryRateLimiter(), timeout_s=1)
        assert all(await asyncio.gather(*(fallback.hit("m", 5, 60) for _ in range(3))))
        assert fallback.degraded and fallback.redis_errors == 3
    finally:
        await client.aclose()


async def test_a_redis_that_hangs_holds_no_hit_longer_than_its_deadline():
    """The flood limit's client has no socket timeout (no task per command): a Redis that
    accepts and never answers is bounded by the limiter's own deadlines, and a hung script call
    does not keep every later hit waiting behind it."""
    import asyncio
    import time

    from contact.ratelimit import FallbackRateLimiter, MemoryRateLimiter

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)  # reads everything, answers nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = aioredis.from_url(f"redis://127.0.0.1:{port}", socket_timeout=None, socket_connect_timeout=0.5)
    try:
        limiter = FallbackRateLimiter(RedisRateLimiter(client, b"h" * 32, timeout_s=0.3), MemoryRateLimiter(), 0.2)
        for n in range(3):
            started = time.monotonic()
            assert await limiter.hit("msg:x", 5, 60)  # from memory
            assert time.monotonic() - started < 0.5, n
        await asyncio.sleep(0.4)  # the hung call has met its own deadline: the next is sent anew
        started = time.monotonic()
        assert await limiter.hit("msg:x", 5, 60)
        assert time.monotonic() - started < 0.5
        assert limiter.degraded and limiter.redis_errors == 4
    finally:
        await limiter.aclose()
        server.close()


async def test_the_clients_used_per_message_have_no_socket_timeout(tmp_path, redis_url):
    """redis-py 8 gives every connection a 5 s socket timeout unless told None, and with one it
    sends each command through `wait_for` (a task per command). The flood limit's and the
    fan-out's clients bound each call themselves; presence and the health checks keep theirs."""
    from app.services import build_services
    from contact.clock import SystemClock
    from tests.support.server import make_settings, migrated_sqlite

    settings = make_settings(await migrated_sqlite(str(tmp_path / "t.db")), redis_url=redis_url)
    built = build_services(settings, SystemClock())
    try:
        limits = built.limiter.primary._redis  # type: ignore[attr-defined]
        assert limits.connection_pool.make_connection().socket_timeout is None
        assert built.fanout is not None
        built.fanout._redis_connect()
        assert built.fanout.redis.connection_pool.make_connection().socket_timeout is None
        assert built.redis is not None
        assert built.redis.connection_pool.make_connection().socket_timeout == 1
    finally:
        await built.limiter.aclose()  # type: ignore[attr-defined]
        if built.redis is not None:
            await built.redis.aclose()
        if built.fanout is not None and built.fanout.redis is not None:
            await built.fanout.redis.aclose()
        await built.db.dispose()


class _Counted:
    """A limiter's script calls, counted."""

    def __init__(self, limiter: RedisRateLimiter) -> None:
        self.calls = 0
        self._script = limiter._incr
        limiter._incr = self  # type: ignore[assignment]

    async def __call__(self, **kwargs):
        self.calls += 1
        return await self._script(**kwargs)


async def test_a_conversations_flood_limit_is_leased_and_never_more_than_the_limit_over_processes(redis_url):
    """Two processes (two limiters, two clients, one Redis) take turns with one conversation's
    messages: exactly the limit is allowed in the window, with a Redis call per lease (a quarter of
    the limit), not per message; a used-up window is refused without asking Redis again."""
    clients = [aioredis.from_url(redis_url), aioredis.from_url(redis_url)]
    try:
        limiters = [RedisRateLimiter(c, b"l" * 32) for c in clients]
        counted = [_Counted(limiter) for limiter in limiters]
        answers = [await limiters[i % 2].hit("msg:conv", 20, 60) for i in range(40)]
        assert answers.count(True) == 20 and answers[:20] == [True] * 20
        assert sum(c.calls for c in counted) == 6  # 4 leases of 5, then each process learns it is used up
        assert int(await clients[0].get(limiters[0]._name("msg:conv"))) >= 20
        # Another conversation, and a limit that is not leased (logins, starts): its own count.
        assert await limiters[0].hit("msg:other", 20, 60)
        before = counted[0].calls
        for _ in range(3):
            assert await limiters[0].hit("start:203.0.113.9", 20, 60)
        assert counted[0].calls == before + 3 and int(await clients[0].get(limiters[0]._name("start:203.0.113.9"))) == 3
        await limiters[0].reset("msg:conv")  # the lease goes with the count
        assert await limiters[0].hit("msg:conv", 20, 60)
    finally:
        await clients[0].flushdb()
        for c in clients:
            await c.aclose()


async def test_hits_of_one_moment_share_a_lease_and_a_window_ends_in_time(redis_url):
    import asyncio

    client = aioredis.from_url(redis_url)
    try:
        limiter = RedisRateLimiter(client, b"w" * 32)
        counted = _Counted(limiter)
        answers = await asyncio.gather(*(limiter.hit("typing:c", 12, 1) for _ in range(30)))
        assert answers.count(True) == 12 and counted.calls <= 5
        await asyncio.sleep(1.1)  # the window (1 s) is over, here and in Redis
        assert await limiter.hit("typing:c", 12, 1)
    finally:
        await client.flushdb()
        await client.aclose()


async def test_through_the_fallback_a_lease_answers_without_redis_and_the_limit_holds(redis_url):
    """What the server uses (Redis with the memory fallback): a hit its lease covers is answered at
    once, without a Redis call or a deadline (also while Redis does not answer), and over two
    processes the limit holds exactly as without the fallback."""
    from contact.ratelimit import FallbackRateLimiter, MemoryRateLimiter

    clients = [aioredis.from_url(redis_url), aioredis.from_url(redis_url)]
    try:
        primaries = [RedisRateLimiter(c, b"f" * 32) for c in clients]
        counted = [_Counted(p) for p in primaries]
        limiters = [FallbackRateLimiter(p, MemoryRateLimiter(), timeout_s=1) for p in primaries]
        answers = [await limiters[i % 2].hit("msg:conv", 20, 60) for i in range(40)]
        assert answers.count(True) == 20 and answers[:20] == [True] * 20
        assert sum(c.calls for c in counted) == 6
        # A fresh lease, then Redis gone: the lease still answers, with no error counted.
        assert await limiters[0].hit("msg:next", 20, 60)
        calls, errors = counted[0].calls, limiters[0].redis_errors
        await clients[0].aclose()
        assert [await limiters[0].hit("msg:next", 20, 60) for _ in range(4)] == [True] * 4
        assert (counted[0].calls, limiters[0].redis_errors) == (calls, errors)
        assert primaries[0].hit_from_lease("start:203.0.113.9", 20) is None  # never leased: asked each time
    finally:
        await clients[1].flushdb()
        for c in clients:
            await c.aclose()
