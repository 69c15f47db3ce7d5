"""Fixed-window rate limits: in memory for one process, in Redis when several processes share the load."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
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


# Count `n` events for each key (ARGV: the window in ms and n, for each key in turn); the first of a
# window starts its expiry (a window never outlives itself, also when a process stops between the
# two steps). Answers, per key, the count and the milliseconds left of its window.
_INCR_WITH_EXPIRY = """
local answers = {}
for i, key in ipairs(KEYS) do
    local count = redis.call('INCRBY', key, ARGV[2 * i])
    local left = redis.call('PTTL', key)
    if left < 0 then
        left = tonumber(ARGV[2 * i - 1])
        redis.call('PEXPIRE', key, left)
    end
    answers[i] = {count, left}
end
return answers
"""
# The per-conversation flood limits (a visitor's messages and typing) are asked of Redis for a
# part of the window's allowance at a time, not for every hit (see RedisRateLimiter). Not the
# limits of logins and starts: small limits, and `exceeded` must read their exact count.
LEASED = ("msg:", "typing:")
LEASE_FROM = 8  # limits below this are asked hit by hit
LEASE_PARTS = 4  # a lease is a quarter of the limit


@dataclass
class _Lease:
    """What this process may still allow for one key without asking Redis, until its window ends."""

    left: int
    until: float
    used_up: bool = False  # Redis granted nothing: the window is used up over all processes


class RedisRateLimiter:
    """Limits shared by every process. Redis never sees what is limited (a client address, a
    username): each key is a keyed hash of it, `vt:rl:<hmac>`, with a key Redis does not hold.

    Every visitor message passes here: the requests of one turn of the event loop go to Redis as
    one script call (one round trip, and one command for redis-py to write and read), each
    caller answered from it. With two processes a MULTI/INCR/EXPIRE/EXEC pipeline per hit was
    a tenth of each process's CPU (docs/performance.md, "What a second process costs").

    The flood limits of a conversation (`LEASED`, limits from `LEASE_FROM`) are leased: a
    process asks Redis for a quarter of the window's allowance at once (INCRBY), is granted what
    is left of it, and allows that many hits without asking again until the window ends. Never
    more than the limit is allowed in a window over all processes (the grants add up to at most
    the limit); a visitor whose sockets hop between processes may be refused up to a lease's
    worth early (what another process was granted and did not use). A window that is used up
    is refused here until it ends, without asking Redis."""

    def __init__(
        self, redis: Any, key: bytes, timeout_s: float = 1.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._redis = redis
        self._key = key
        self._monotonic = monotonic
        # Each script call's deadline: the client has no socket timeout (see app/services.py),
        # and a Redis that hangs must not hold every later hit behind this one.
        self.timeout_s = timeout_s
        self._incr = redis.register_script(_INCR_WITH_EXPIRY)
        # Requests waiting for the next script call: (name, window, how many, the caller's answer:
        # the count after it and the seconds left of the window).
        self._pending: list[tuple[str, int, int, asyncio.Future[tuple[int, float]]]] = []
        self._sender: asyncio.Task[None] | None = None
        self._leases: dict[str, _Lease] = {}
        self._leasing: dict[str, asyncio.Future[None]] = {}  # a lease being asked for, per name
        self._names: dict[str, str] = {}  # key -> its hashed name: a keyed hash per message showed in profiles

    def _name(self, key: str) -> str:
        name = self._names.get(key)
        if name is None:
            if len(self._names) >= 10_000:
                self._names.clear()
            name = self._names[key] = "vt:rl:" + hmac.new(self._key, key.encode(), hashlib.sha256).hexdigest()[:40]
        return name

    def hit_from_lease(self, key: str, limit: int) -> bool | None:
        """The answer for a hit of a leased limit that this process's lease gives without asking
        Redis (True: allowed and counted; False: the window is used up over all processes), or
        None when Redis must be asked. Synchronous, so a caller needs no deadline for it."""
        if limit < LEASE_FROM or not key.startswith(LEASED):
            return None
        lease = self._leases.get(self._name(key))
        if lease is None or lease.until <= self._monotonic():
            return None
        if lease.left > 0:
            lease.left -= 1
            return True
        return False if lease.used_up else None

    async def hit(self, key: str, limit: int, window_s: int) -> bool:
        name = self._name(key)
        if limit < LEASE_FROM or not key.startswith(LEASED):
            count, _ = await self._ask(name, window_s, 1)
            return count <= limit
        while True:
            answer = self.hit_from_lease(key, limit)
            if answer is not None:
                return answer
            asking = self._leasing.get(name)
            if asking is None:
                break
            await asyncio.shield(asking)  # another hit of this moment asks already: then look again
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._leasing[name] = done
        try:
            want = max(1, limit // LEASE_PARTS)
            count, left_s = await self._ask(name, window_s, want)
            granted = max(0, min(want, limit - (count - want)))
            self._leases[name] = _Lease(max(0, granted - 1), self._monotonic() + left_s, used_up=granted == 0)
            if len(self._leases) > 10_000:
                self._forget_ended()
            return granted > 0
        finally:
            del self._leasing[name]
            done.set_result(None)

    def _forget_ended(self) -> None:
        now = self._monotonic()
        for name in [n for n, lease in self._leases.items() if lease.until <= now]:
            del self._leases[name]

    async def _ask(self, name: str, window_s: int, n: int) -> tuple[int, float]:
        answer: asyncio.Future[tuple[int, float]] = asyncio.get_running_loop().create_future()
        self._pending.append((name, window_s, n, answer))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send())
        return await answer

    async def _send(self) -> None:
        # Started a turn after the request that woke it: the requests of that turn are all pending.
        while self._pending:
            batch, self._pending = self._pending[:MAX_HITS], self._pending[MAX_HITS:]
            try:
                async with asyncio.timeout(self.timeout_s):
                    answers = await self._incr(
                        keys=[b[0] for b in batch], args=[x for b in batch for x in (b[1] * 1000, b[2])]
                    )
            except BaseException as exc:
                for *_, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc if isinstance(exc, Exception) else ConnectionError())
                if not isinstance(exc, Exception):
                    raise
                continue
            for (*_, answer), (count, left_ms) in zip(batch, answers, strict=True):
                if not answer.done():  # a caller that gave up waiting
                    answer.set_result((int(count), int(left_ms) / 1000))

    async def exceeded(self, key: str, limit: int, window_s: int) -> bool:
        count = await self._redis.get(self._name(key))
        return count is not None and int(count) >= limit

    async def reset(self, key: str) -> None:
        self._leases.pop(self._name(key), None)
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
        # Most hits of a conversation's flood limits are answered by this process's lease: then
        # no deadline is set up (a timer armed and cancelled per visitor message showed in profiles).
        if not self.degraded and isinstance(self.primary, RedisRateLimiter):
            answer = self.primary.hit_from_lease(key, limit)
            if answer is not None:
                return answer
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
