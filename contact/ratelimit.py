"""Fixed-window rate limits: in memory for one process, in Redis when several processes share the load."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: int) -> bool:
        """Count one event for `key`; False when it is over `limit` in the current window."""
        ...

    async def exceeded(self, key: str, limit: int, window_s: int) -> bool:
        """Whether `key` already had `limit` events in the current window (counts nothing)."""
        ...

    async def reset(self, key: str) -> None: ...


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


class RedisRateLimiter:
    def __init__(self, redis: Any) -> None:
        self._redis = redis

    async def hit(self, key: str, limit: int, window_s: int) -> bool:
        rkey = f"vt:rl:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(rkey)
            pipe.expire(rkey, window_s, nx=True)
            count, _ = await pipe.execute()
        return int(count) <= limit

    async def exceeded(self, key: str, limit: int, window_s: int) -> bool:
        count = await self._redis.get(f"vt:rl:{key}")
        return count is not None and int(count) >= limit

    async def reset(self, key: str) -> None:
        await self._redis.delete(f"vt:rl:{key}")
