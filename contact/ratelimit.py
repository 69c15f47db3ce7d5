"""Fixed-window rate limits: in memory for one process, in Redis when several processes share the load."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: int) -> bool:
        """Count one event for `key`; False when it is over `limit` in the current window."""
        ...

    async def exceeded(self, key: str, limit: int, window_s: int) -> bool:
        """Whether `key` already had `limit` events in the current window (counts nothing)."""
        ...

    async def reset(self, key: str) -> None: ...


# At most this many hits in one script call (Redis runs a script without interruption).
MAX_HITS = 200


class MemoryRateLimiter:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._windows: dict[str, tuple[int, float]] = {}

    async def hit(self, key: str, limit: int, window_s: int) -> bool:
        now = self._monotonic()
        count, started = self._windows.get(key, (0, now))
        if now - started >= window_s:
            count, started = 0, now
        count += 1
        self._windows[key] = (count, started)
        if len(self._windows) > 100_000:
            self._evict(now, window_s)
        return count <= limit

    async def exceeded(self, key: str, limit: int, window_s: int) -> bool:
        count, started = self._windows.get(key, (0, self._monotonic()))
        return self._monotonic() - started < window_s and count >= limit

    def _evict(self, now: float, window_s: int) -> None:
        for k, (_, started) in list(self._windows.items()):
            if now - started >= window_s:
                del self._windows[k]

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)


# Count one event for each key; the first of a window starts its expiry (a window never outlives
# itself, also when a process stops between the two steps). KEYS[i] has its window in ARGV[i].
_INCR_WITH_EXPIRY = """
local counts = {}
for i, key in ipairs(KEYS) do
    local count = redis.call('INCR', key)
    if redis.call('TTL', key) < 0 then
        redis.call('EXPIRE', key, ARGV[i])
    end
    counts[i] = count
end
return counts
"""


class RedisRateLimiter:
    """Limits shared by every process. Redis never sees what is limited (a client address, a
    username): each key is a keyed hash of it, `vt:rl:<hmac>`, with a key Redis does not hold.

    Every visitor message passes here: the hits of one turn of the event loop go to Redis as
    one script call (one round trip, and one command for redis-py to write and read), each
    caller answered from it. With two processes a MULTI/INCR/EXPIRE/EXEC pipeline per hit was
    a tenth of each process's CPU (docs/performance.md, "What a second process costs")."""

    def __init__(self, redis: Any, key: bytes, timeout_s: float = 1.0) -> None:
        self._redis = redis
        self._key = key
        # Each script call's deadline: the client has no socket timeout (see app/services.py),
        # and a Redis that hangs must not hold every later hit behind this one.
        self.timeout_s = timeout_s
        self._incr = redis.register_script(_INCR_WITH_EXPIRY)
        # Hits waiting for the next script call: (name, window, limit, the caller's answer).
        self._pending: list[tuple[str, int, int, asyncio.Future[bool]]] = []
        self._sender: asyncio.Task[None] | None = None

    def _name(self, key: str) -> str:
        return "vt:rl:" + hmac.new(self._key, key.encode(), hashlib.sha256).hexdigest()[:40]

    async def hit(self, key: str, limit: int, window_s: int) -> bool:
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((self._name(key), window_s, limit, answer))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send())
        return await answer

    async def _send(self) -> None:
        # Started a turn after the hit that woke it: the hits of that turn are all pending.
        while self._pending:
            batch, self._pending = self._pending[:MAX_HITS], self._pending[MAX_HITS:]
            try:
                async with asyncio.timeout(self.timeout_s):
                    counts = await self._incr(keys=[b[0] for b in batch], args=[b[1] for b in batch])
            except BaseException as exc:
                for *_, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc if isinstance(exc, Exception) else ConnectionError())
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, _, limit, answer), count in zip(batch, counts, strict=True):
                if not answer.done():  # a caller that gave up waiting
                    answer.set_result(int(count) <= limit)

    async def exceeded(self, key: str, limit: int, window_s: int) -> bool:
        count = await self._redis.get(self._name(key))
        return count is not None and int(count) >= limit

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._name(key))

    async def aclose(self) -> None:
        await self._redis.aclose()


class FallbackRateLimiter:
    """Redis when it answers (shared by every process), this process's memory when it does not:
    a Redis outage must never turn a visitor's `start` or `message` into an error. Each call to
    Redis is bounded by `timeout_s`; the switch is logged once each way."""

    def __init__(self, primary: RateLimiter, fallback: RateLimiter, timeout_s: float = 0.5) -> None:
        self.primary = primary
        self.fallback = fallback
        self.timeout_s = timeout_s
        self.degraded = False
        # Calls Redis failed or did not answer in time (the `/metrics` Redis error count).
        self.redis_errors = 0

    async def _try(self, call: Callable[[RateLimiter], Any]) -> Any:
        try:
            # A deadline, not `wait_for`: no task of its own for every visitor message.
            async with asyncio.timeout(self.timeout_s):
                result = await call(self.primary)
        except Exception as exc:
            self.redis_errors += 1
            if not self.degraded:
                log.warning("ratelimit_fallback_to_memory", error=type(exc).__name__)
                self.degraded = True
            return await call(self.fallback)
        if self.degraded:
            log.info("ratelimit_back_on_redis")
            self.degraded = False
        return result

    async def hit(self, key: str, limit: int, window_s: int) -> bool:
        return bool(await self._try(lambda r: r.hit(key, limit, window_s)))

    async def exceeded(self, key: str, limit: int, window_s: int) -> bool:
        return bool(await self._try(lambda r: r.exceeded(key, limit, window_s)))

    async def reset(self, key: str) -> None:
        await self._try(lambda r: r.reset(key))

    async def aclose(self) -> None:
        close = getattr(self.primary, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()


class ConnectionCap:
    """Concurrent connections per client address in this process: a school, a shelter or a
    family behind one address fits easily; thousands of sockets from one address do not."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def take(self, address: str) -> bool:
        """Count one more connection from `address`; False (and nothing counted) when full."""
        if self._open.get(address, 0) >= self.limit:
            return False
        self._open[address] = self._open.get(address, 0) + 1
        return True

    def give_back(self, address: str) -> None:
        left = self._open.get(address, 0) - 1
        if left > 0:
            self._open[address] = left
        else:
            self._open.pop(address, None)
