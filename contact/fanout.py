"""The Socket.IO fan-out between processes over Redis, made to survive Redis going away.

python-socketio's `AsyncRedisManager` delivers an emit in its own process at once and publishes
it for the others. When Redis is unreachable it gives up on the publish (the other processes
never see that message), and its listener waits 1, 2, 4, 8, 16… seconds between reconnects, so
cross-process delivery resumes long after Redis is back. Here:

- a publish that fails is kept (bounded, in order, for `keep_s`) and published again as soon as
  Redis answers, so every emit of the outage reaches the other processes after it (clients drop
  the seqs they already have);
- the listener reconnects every `retry_s` (no growing back-off); once it has resubscribed and
  as many processes listen on the channel as did before the outage (PUBLISH tells how many
  received each message; pub/sub keeps nothing for a process that is not listening), or at the
  latest after `settle_s`, what was kept goes out; meanwhile new emits queue behind it;
- while something is kept, a background task tries to send it every `retry_s`: a Redis that
  froze (SIGSTOP, a stalled host) never drops the subscription, so no resubscribe announces
  its return, and no later emit may come to carry it;
- a publish has a short timeout, so an event's answer never waits on a Redis that hangs; the
  state is logged once when it changes, not once per emit.

The database stays the truth: a client that missed something still catches up by seq."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import socketio
import structlog

log = structlog.get_logger(__name__)

_CALLBACK = b'"method": "callback"'  # as python-socketio's json writes it
# Connections one process may open to Redis at once (each client: the fan-out, the limits and
# presence); Redis's own default limit is 10,000 clients.
REDIS_MAX_CONNECTIONS = 1000


def reaches_nobody_here(manager: socketio.AsyncManager, namespace: str | None, room: Any, skip_sid: Any) -> bool:
    """Whether an emit to `room` has no recipient connected to this process: the visitor's echo
    of their own message (the room holds only the sender), or an emit another process published
    for sockets it holds itself. python-socketio encodes the packet before it looks who is in
    the room; with several processes every process would encode every emit of every process."""
    if not isinstance(room, str):
        return False  # everyone in the namespace, or several rooms: let python-socketio decide
    members = manager.rooms.get(namespace or "/", {}).get(room)
    if not members:
        return True
    skipped = skip_sid if isinstance(skip_sid, list) else [skip_sid]
    return all(sid in skipped for sid in members)


class LocalManager(socketio.AsyncManager):
    """One process: an emit that reaches nobody is not encoded at all."""

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if callback is None and reaches_nobody_here(self, namespace, room, skip_sid):
            return
        await super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)


class ResilientRedisManager(socketio.AsyncRedisManager):
    def __init__(
        self,
        url: str,
        channel: str,
        *,
        retry_s: float = 0.5,
        settle_s: float = 10.0,
        publish_timeout_s: float = 1.0,
        keep: int = 10_000,
        keep_s: float = 300,
        **kwargs: Any,
    ) -> None:
        # redis-py (from 6) opens at most 100 connections per client by default; at a burst
        # more publishes than that wait on Redis at once, and the 101st failed as if Redis were
        # down (measured: the fan-out degraded under 300 chats a second on two processes).
        options = {"max_connections": REDIS_MAX_CONNECTIONS, **kwargs.pop("redis_options", {})}
        super().__init__(url, channel=channel, redis_options=options, **kwargs)
        self.retry_s = retry_s
        self.settle_s = settle_s
        self.publish_timeout_s = publish_timeout_s
        # When what was kept may go out: our subscription is back and the other processes, which
        # retry every `retry_s`, have had time to subscribe again (pub/sub keeps nothing for
        # a process that is not listening at the moment of the publish).
        self._ready_at = 0.0
        # How many processes listened at the last successful publish (PUBLISH answers it).
        self._listeners = 0
        self._flush_task: asyncio.Task[None] | None = None
        self._retry_task: asyncio.Task[None] | None = None
        self.keep_s = keep_s
        self._kept: deque[tuple[float, Any]] = deque(maxlen=keep)
        self._flushing = asyncio.Lock()
        # False from a failed publish or a lost subscription until Redis works again.
        self.healthy = True
        self.listening = False
        # Failed publishes and lost subscriptions since start (the `/metrics` Redis error count).
        self.redis_errors = 0

    async def _listen(self) -> AsyncIterator[Any]:  # pragma: no cover - needs a Redis
        # Every process hears its own publishes back and python-socketio decodes each one only
        # to drop it (its host id): with two processes half of all it decodes. Our own are
        # known by our host id in the raw message; a callback addressed to us (the only kind
        # of message that names our host without being ours) is still decoded.
        own = self.host_id.encode()
        async for data in super()._listen():
            if isinstance(data, bytes) and own in data and _CALLBACK not in data:
                continue
            yield data

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        # Every emit of every process comes here (ours before it is published): one for rooms
        # this process holds nobody of ends before python-socketio encodes it.
        if message.get("callback") is None and reaches_nobody_here(
            self, message.get("namespace"), message.get("room"), message.get("skip_sid")
        ):
            return
        await super()._handle_emit(message)

    def _degraded(self, what: str, exc: BaseException) -> None:
        self.redis_errors += 1
        if self.healthy:
            log.warning("fanout_degraded", what=what, error=type(exc).__name__)
        self.healthy = False

    def _recovered(self, flushed: int = 0) -> None:
        if not self.healthy:
            log.info("fanout_recovered", flushed=flushed)
        self.healthy = True

    def _may_flush(self) -> bool:
        return self.listening and time.monotonic() >= self._ready_at

    async def _publish(self, data: Any) -> Any:
        if self._kept or not self.healthy:
            # Keep the order: what waits goes first, this one after it; all of it once the
            # processes listen again.
            self._kept.append((time.monotonic(), data))
            # Never in the emit's own path: an event's answer does not wait on a Redis that
            # is down or hangs. One flush at a time, in the background.
            if self._may_flush() and (self._flush_task is None or self._flush_task.done()):
                self._flush_task = asyncio.get_running_loop().create_task(self._flush())
            self._retry_while_kept()
            return None
        try:
            result = await self._send(data)
        except Exception as exc:
            self._degraded("publish", exc)
            self._kept.append((time.monotonic(), data))
            self._retry_while_kept()
            return None
        self._listeners = int(result or 0)
        self._recovered()
        return result

    async def _send(self, data: Any) -> Any:
        if not getattr(self, "connected", False):
            self._redis_connect()
        try:
            # No socket timeout on the client (its subscriber blocks on reads by design): the
            # publish itself is bounded, so an emit never waits on a Redis that hangs. A
            # deadline, not `wait_for`, which ran every publish in a task of its own.
            async with asyncio.timeout(self.publish_timeout_s):
                return await self.redis.publish(self.channel, self.json.dumps(data))
        except Exception:
            self.connected = False
            raise

    def _retry_while_kept(self) -> None:
        if self._retry_task is None or self._retry_task.done():
            self._retry_task = asyncio.get_running_loop().create_task(self._retry())

    async def _retry(self) -> None:
        """Try to send what is kept every `retry_s` until it is gone (when the listener lost its
        subscription, `_flush_when_ready` decides when it may go)."""
        while self._kept:
            await asyncio.sleep(self.retry_s)
            if self._may_flush() and not self._flushing.locked():
                await self._flush()

    async def _flush(self) -> None:
        """Publish what was kept, oldest first; stop at the first failure (it stays kept)."""
        async with self._flushing:
            cutoff = time.monotonic() - self.keep_s
            flushed = 0
            while self._kept:
                at, data = self._kept[0]
                if at < cutoff:
                    self._kept.popleft()  # too old to matter: the clients have caught up by seq
                    continue
                try:
                    await self._send(data)
                except Exception as exc:
                    self._degraded("publish", exc)
                    self._ready_at = time.monotonic() + self.retry_s  # not again at once
                    return
                self._kept.popleft()
                flushed += 1
            self._recovered(flushed)

    async def _flush_when_ready(self) -> None:
        """Wait until as many processes listen as before the outage (at most `settle_s`), then
        send what was kept."""
        deadline = time.monotonic() + self.settle_s
        await asyncio.sleep(self.retry_s)
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # not answering yet: ask again
                counts = await asyncio.wait_for(self.redis.pubsub_numsub(self.channel), self.publish_timeout_s)
                if counts and int(counts[0][1]) >= self._listeners:
                    break
            await asyncio.sleep(0.2)
        self._ready_at = time.monotonic()
        if self._may_flush():
            await self._flush()

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:  # pragma: no cover - timing
        subscribed = False
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    await self.pubsub.subscribe(self.channel)
                    subscribed = True
                    self.listening = True
                    if self._kept or not self.healthy:
                        self._ready_at = float("inf")  # set by _flush_when_ready
                        self._flush_task = asyncio.get_running_loop().create_task(self._flush_when_ready())
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listening = False
                self._degraded("listen", exc)
                subscribed = False
                await asyncio.sleep(self.retry_s)
