"""Which agents have a console open right now, across every process: in memory for one process,
in Redis for several. Short-lived by nature (a process that dies takes its entries with it
after `ttl_s`), so it never holds anything the database must keep."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)


class Presence(Protocol):
    async def connected(self, agent_id: str) -> None: ...

    async def disconnected(self, agent_id: str) -> None: ...

    async def online(self) -> set[str]:
        """Ids of the agents with at least one open console on any process."""
        ...

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class MemoryPresence:
    def __init__(self) -> None:
        self._consoles: Counter[str] = Counter()

    async def connected(self, agent_id: str) -> None:
        self._consoles[agent_id] += 1

    async def disconnected(self, agent_id: str) -> None:
        self._consoles[agent_id] -= 1
        if self._consoles[agent_id] <= 0:
            del self._consoles[agent_id]

    async def online(self) -> set[str]:
        return set(self._consoles)

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class RedisPresence(MemoryPresence):
    """Each process keeps its own consoles in one Redis hash that expires unless the process
    renews it every `ttl_s / 3`; `online` is the union of the live hashes. While Redis does not
    answer (each call is bounded by `timeout_s`), this process's own consoles stand in for all:
    never an error, and the next renewal publishes them again."""

    def __init__(self, redis: Any, prefix: str, ttl_s: int = 30, timeout_s: float = 0.5) -> None:
        super().__init__()
        self._timeout_s = timeout_s
        self.degraded = False
        # Calls Redis failed or did not answer in time (the `/metrics` Redis error count).
        self.redis_errors = 0
        self._redis = redis
        self._pattern = f"{prefix}:presence:*"
        self._key = f"{prefix}:presence:{uuid.uuid4().hex}"
        self._ttl_s = ttl_s
        self._task: asyncio.Task[None] | None = None

    async def connected(self, agent_id: str) -> None:
        await super().connected(agent_id)
        await self._publish_quietly()

    async def disconnected(self, agent_id: str) -> None:
        await super().disconnected(agent_id)
        await self._publish_quietly()

    def _down(self, exc: BaseException) -> None:
        self.redis_errors += 1
        if not self.degraded:
            log.warning("presence_fallback_to_this_process", error=type(exc).__name__)
        self.degraded = True

    def _up(self) -> None:
        if self.degraded:
            log.info("presence_back_on_redis")
        self.degraded = False

    async def _publish_quietly(self) -> None:
        try:
            await asyncio.wait_for(self._publish(), self._timeout_s)
        except Exception as exc:
            self._down(exc)
        else:
            self._up()

    async def _publish(self) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key)
            if self._consoles:
                pipe.hset(self._key, mapping={k: v for k, v in self._consoles.items()})
                pipe.expire(self._key, self._ttl_s)
            await pipe.execute()

    async def online(self) -> set[str]:
        try:
            found = await asyncio.wait_for(self._scan(), self._timeout_s)
        except Exception as exc:
            self._down(exc)
            return await super().online()
        self._up()
        return found

    async def _scan(self) -> set[str]:
        found: set[str] = set()
        async for key in self._redis.scan_iter(match=self._pattern, count=100):
            found.update(k.decode() if isinstance(k, bytes) else k for k in await self._redis.hkeys(key))
        return found

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._renew(), name="presence-renew")

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_s / 3)
            await self._publish_quietly()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self._redis.delete(self._key)
