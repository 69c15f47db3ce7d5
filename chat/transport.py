"""The Socket.IO server vt-contact runs: python-socketio's `AsyncServer` with a leaner Engine.IO
socket, because one process holds thousands of idle visitor sockets (docs/performance.md).

- Every Engine.IO socket has an outgoing packet queue. `asyncio.Queue` builds four deques for it
  (about 3 KiB), and on Python 3.11 Engine.IO's `wait_for(queue.get(), …)` wraps each wait in a
  task of its own. `SlimQueue` keeps a list and at most a few futures, and its `get()` returns a
  future, which `wait_for` awaits without a task.
- Engine.IO waits for each socket's next ping in a task of its own that sleeps 25 s (about
  1.4 KiB a socket); here the wait is a timer of the event loop (about 0.4 KiB), and the ping
  is queued when it fires, as Engine.IO's task would have done.
- The WebSocket never agrees to permessage-deflate. Every browser offers it, and aiohttp would
  then keep a zlib compressor and decompressor per socket (about 100 KiB each socket, measured);
  Socket.IO's packets are small, and compressing secrets (a resume token) together with text
  an attacker may choose is what CRIME/BREACH-style attacks need. The frame size limit
  (`max_http_buffer_size`) is kept as Engine.IO sets it.

Everything else (pings, timeouts, the size limit, the packet format) is python-engineio's own.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import engineio
import socketio
from aiohttp.web import WebSocketResponse
from engineio import packet
from engineio.async_drivers import aiohttp as engineio_aiohttp
from engineio.async_socket import AsyncSocket


class SlimQueue:
    """The part of `asyncio.Queue` (unbounded) that Engine.IO's socket uses, in a few objects.

    `get()` hands an item to the first waiting future. A future that was cancelled (the waiter
    timed out) is skipped, so no packet goes to a waiter that is gone."""

    __slots__ = ("_items", "_getters", "_unfinished", "_joiners")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._getters: list[asyncio.Future[Any]] | None = None
        self._unfinished = 0
        self._joiners: list[asyncio.Future[None]] | None = None

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Any) -> None:
        self._unfinished += 1
        while self._getters:
            getter = self._getters.pop(0)
            if not getter.done():
                getter.set_result(item)
                return
        self._items.append(item)

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.pop(0)

    def get(self) -> asyncio.Future[Any]:
        """A future of the next item (done at once when one is queued)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._items:
            future.set_result(self._items.pop(0))
        else:
            if self._getters is None:
                self._getters = []
            self._getters.append(future)
        return future

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0 and self._joiners:
            joiners, self._joiners = self._joiners, None
            for joiner in joiners:
                if not joiner.done():
                    joiner.set_result(None)

    async def join(self) -> None:
        if self._unfinished == 0:
            return
        joiner: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._joiners is None:
            self._joiners = []
        self._joiners.append(joiner)
        await joiner


class PlainWebSocket(engineio_aiohttp.WebSocket):
    """Engine.IO's aiohttp WebSocket, refusing permessage-deflate."""

    async def __call__(self, environ: dict[str, Any]) -> WebSocketResponse:
        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(max_msg_size=self.server.max_http_buffer_size, compress=False)
        await self._sock.prepare(request)
        self.environ = environ
        await self.handler(self)
        return self._sock


class LeanEngineServer(engineio.AsyncServer):
    """python-engineio's server with `SlimQueue` per socket, `PlainWebSocket` and ping timers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        drivers: dict[str, Any] = self._async  # type: ignore[has-type]
        if drivers.get("websocket") is not engineio_aiohttp.WebSocket:
            raise RuntimeError("LeanEngineServer runs on aiohttp only")
        # A copy for this server: the driver's own table is shared by every server.
        self._async = {**drivers, "websocket": PlainWebSocket}

    def create_queue(self, *args: Any, **kwargs: Any) -> SlimQueue:
        return SlimQueue()

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        """A socket's wait for its next ping becomes a timer; every other task is Engine.IO's."""
        if getattr(target, "__func__", None) is AsyncSocket._send_ping and not args and not kwargs:
            asyncio.get_running_loop().call_later(self.ping_interval, _ping_due, target.__self__)
            return None
        return super().start_background_task(target, *args, **kwargs)


def _ping_due(sock: AsyncSocket) -> None:
    """What `AsyncSocket._send_ping` does after its sleep, without a task: a ping just stamped
    cannot have timed out, so `send` would only queue it."""
    if sock.closing or sock.closed:
        return
    sock.last_ping = time.time()
    sock.queue.put_nowait(packet.Packet(packet.PING))


class ContactSocketServer(socketio.AsyncServer):
    """python-socketio's `AsyncServer` on `LeanEngineServer`."""

    def _engineio_server_class(self) -> type[engineio.AsyncServer]:
        return LeanEngineServer
