"""The Socket.IO server vt-contact runs: python-socketio's `AsyncServer` with a leaner Engine.IO
socket, because one process holds thousands of idle visitor sockets (docs/performance.md).

- Every Engine.IO socket has an outgoing packet queue. `asyncio.Queue` builds four deques for it
  (about 3 KiB), and on Python 3.11 Engine.IO's `wait_for(queue.get(), …)` wraps each wait in a
  task of its own. `SlimQueue` keeps a list and at most a few futures, and its `get()` returns a
  future, which `wait_for` awaits without a task.
- Engine.IO waits for each socket's next ping in a task of its own that sleeps 25 s (about
  1.4 KiB a socket); here the wait is a timer of the event loop (about 0.4 KiB), and the ping
  is queued when it fires, as Engine.IO's task would have done.
- Engine.IO reads a WebSocket in a task per frame and writes it from a task that waits on the
  queue for good, each under a `wait_for` with its timer (about 4.4 KiB a socket). Here the
  connection's own task reads (`LeanSocket`), a packet for an idle WebSocket is written at once
  from the emit, and a writer task exists only while something must wait (backpressure, the
  end of the socket). A socket Engine.IO closes has its WebSocket closed at once.
- The WebSocket never agrees to permessage-deflate. Every browser offers it, and aiohttp would
  then keep a zlib compressor and decompressor per socket (about 100 KiB each socket, measured);
  Socket.IO's packets are small, and compressing secrets (a resume token) together with text
  an attacker may choose is what CRIME/BREACH-style attacks need. The frame size limit
  (`max_http_buffer_size`) is kept as Engine.IO sets it.

Everything else (pings, timeouts, the size limit, polling and the upgrade from it, the packet
format) is python-engineio's own; what is copied or relied on is fingerprinted (FINGERPRINTS).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable
from typing import Any

import engineio
import socketio
import structlog
from aiohttp import WSMsgType
from aiohttp.web import WebSocketResponse
from engineio import exceptions, packet
from engineio.async_drivers import aiohttp as engineio_aiohttp
from engineio.async_socket import AsyncSocket

# What of python-engineio and aiohttp this module copies or relies on, fingerprinted (sha256 of
# the source, first 16 hex digits) as in the versions checked (python-engineio 4.15.1, aiohttp
# 3.14.5). tests/chat/test_transport.py fails when a new version changes one of them: then compare
# the new code with `LeanSocket`, `SlimQueue`, `_ping_due` and `_write_at_once`, and add the new
# fingerprint here.
FINGERPRINTS: dict[str, set[str]] = {
    "engineio.async_socket:AsyncSocket._websocket_handler": {"27f120df4d717a24"},  # copied by LeanSocket
    "engineio.async_socket:AsyncSocket.close": {"faa2e93902543244"},  # closing/closed, then our close wakes the writer
    "engineio.async_socket:AsyncSocket.send": {"0437276ccba7ab09"},  # queues with queue.put
    "engineio.async_socket:AsyncSocket.poll": {"826f58a9f3606db2"},  # get() under wait_for, get_nowait, task_done
    "engineio.async_socket:AsyncSocket._send_ping": {"67db82a704ea49d0"},  # _ping_due does it after the sleep
    "engineio.async_socket:AsyncSocket.schedule_ping": {"fe316639159cd70d"},  # _send_ping as a background task
    "engineio.async_server:AsyncServer._handle_connect": {"5bd7edc1d1ae115a"},  # AsyncSocket entered in sockets
    "engineio.base_socket:BaseSocket.__init__": {"8532b631a4dc815f"},  # the queue from server.create_queue()
    "aiohttp._websocket.writer:WebSocketWriter.send_frame": {"7ab812cc70561f8e"},  # _write_at_once does its part
    "aiohttp._websocket.writer:WebSocketWriter._write_websocket_frame": {"b677e4e11a7bdfb5"},
    "aiohttp.web_ws:WebSocketResponse.send_str": {"3a66e80f63de2e61"},
}


def library_changes() -> list[str]:
    """The entries of FINGERPRINTS whose source is not as checked."""
    import hashlib
    import importlib
    import inspect

    changed = []
    for name, known in FINGERPRINTS.items():
        module, path = name.split(":")
        target: Any = importlib.import_module(module)
        for attr in path.split("."):
            target = getattr(target, attr)
        if hashlib.sha256(inspect.getsource(target).encode()).hexdigest()[:16] not in known:
            changed.append(name)
    return changed


_TEXT = WSMsgType.TEXT
log = structlog.get_logger(__name__)


@functools.cache
def aiohttp_as_checked() -> bool:
    """Whether the parts of aiohttp that `_write_at_once` reads are as checked. aiohttp has only
    a lower bound (python-engineio is pinned), so a newer aiohttp on a fresh machine must not
    break sending: then every packet goes through the writer task and `WebSocketResponse`'s
    own public `send_str`, a little slower, and the start-up says so once."""
    changed = [name for name in library_changes() if name.startswith("aiohttp")]
    if changed:
        log.warning("transport_fast_write_off", changed=changed)
    return not changed


class SlimQueue:
    """The part of `asyncio.Queue` (unbounded) that Engine.IO's socket uses, in a few objects.

    `get()` hands an item to the first waiting future. A future that was cancelled (the waiter
    timed out) is skipped, so no packet goes to a waiter that is gone."""

    __slots__ = ("_items", "_getters", "_unfinished", "_joiners", "wake", "writer", "ws")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._getters: list[asyncio.Future[Any]] | None = None
        self._unfinished = 0
        self._joiners: list[asyncio.Future[None]] | None = None
        # While the socket is a WebSocket: called when an item is queued (starts `writer`, the
        # task writing what is queued, unless it runs already).
        self.wake: Callable[[], None] | None = None
        self.writer: asyncio.Task[None] | None = None
        self.ws: Any = None

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
        if self.wake is not None:
            self.wake()

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

    def drop_all(self) -> None:
        """Forget what is queued (it can no longer be sent), marking each item done."""
        while self._items:
            self._items.pop(0)
            self.task_done()

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


class LeanSocket(AsyncSocket):
    """Engine.IO's socket, served over a WebSocket by one task instead of three.

    Engine.IO reads a WebSocket in a task of its own per frame (`websocket_wait`, under a
    `wait_for`) and writes it from a second task that waits on the queue for good (under another
    `wait_for`): two tasks, two timers and their frames per idle socket. Here the connection's
    own task reads, and a writer task exists only while packets are queued: `SlimQueue.wake`
    starts it, it writes until the queue is empty and ends. Frames keep their order (one writer
    at a time, first in first out) and backpressure (the writer awaits the transport's drain;
    meanwhile packets wait in the queue).

    A socket that Engine.IO closes (a ping not answered, the server's `disconnect`) has its
    WebSocket closed by the writer once what was queued went out; Engine.IO's reader noticed a
    silent client only when its 45 s read timeout ran out. Polling and the upgrade from polling
    are Engine.IO's own."""

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        await super().close(wait=wait, abort=abort, reason=reason)
        if self.closed and self.queue.wake is not None:
            self.queue.wake()  # the writer closes the WebSocket, after what is queued

    def _wake_writer(self) -> None:
        queue = self.queue
        if queue.writer is None and (self.closed or not aiohttp_as_checked() or not _write_at_once(queue)):
            queue.writer = asyncio.get_running_loop().create_task(self._write_queued(queue.ws))

    async def _write_queued(self, ws: Any) -> None:
        queue: SlimQueue = self.queue
        try:
            while queue._items:
                pkt = queue._items.pop(0)
                queue.task_done()
                if pkt is None:  # the reader ended
                    break
                await ws.send(pkt.encode())
            else:
                if not self.closed:
                    return  # idle: the next packet starts a writer again
            queue.drop_all()
            await ws.close()
        except asyncio.CancelledError:
            queue.drop_all()
            raise
        except Exception:  # noqa: BLE001 - the connection broke mid-write, as Engine.IO's writer: end
            queue.drop_all()
            with contextlib.suppress(Exception):
                await ws.close()
        finally:
            queue.writer = None

    async def _websocket_handler(self, ws: Any) -> None:
        """Engine.IO's `_websocket_handler` (python-engineio 4.15), reading in this task."""
        server = self.server
        limit = server.max_http_buffer_size
        if self.connected:  # type: ignore[has-type]
            # The socket was polling: this is an upgrade, exactly as Engine.IO does it.
            self.upgrading = True  # hold packet sends during the upgrade
            try:
                data = await ws.wait()
            except OSError:
                return
            if data and len(data) > limit:
                raise ValueError("packet is too large")
            pkt = packet.Packet(encoded_packet=data)
            if pkt.packet_type != packet.PING or pkt.data != "probe":
                server.logger.info("%s: Failed websocket upgrade, no PING packet", self.sid)
                self.upgrading = False
                return
            await ws.send(packet.Packet(packet.PONG, data="probe").encode())
            await self.queue.put(packet.Packet(packet.NOOP))  # end poll
            try:
                data = await ws.wait()
            except OSError:
                self.upgrading = False
                return
            pkt = packet.Packet(encoded_packet=data)
            if pkt.packet_type != packet.UPGRADE:
                self.upgraded = False
                server.logger.info("%s: Failed websocket upgrade, expected UPGRADE packet", self.sid)
                self.upgrading = False
                return
            self.upgraded = True
            self.upgrading = False
        else:
            self.connected = True
            self.upgraded = True

        queue: SlimQueue = self.queue
        queue.ws = ws
        queue.wake = self._wake_writer
        if queue._items or self.closed:
            self._wake_writer()
        server.logger.info("%s: Upgrade to websocket successful", self.sid)
        try:
            while True:
                try:
                    data = await ws.wait()
                except (Exception, asyncio.CancelledError):  # noqa: BLE001 - as Engine.IO: the end of the socket
                    # CancelledError too: at shutdown the socket still ends as below (Engine.IO's
                    # reader does the same).
                    break
                if data is None:
                    break
                if data and len(data) > limit:
                    break
                try:
                    await self.receive(packet.Packet(encoded_packet=data))
                except exceptions.UnknownPacketError:
                    pass
                except exceptions.SocketIsClosedError:
                    server.logger.info("Receive error -- socket is closed")
                    break
                except Exception:
                    server.logger.exception("Unknown receive error")
        finally:
            # Let the writer send what is queued and close the WebSocket, then forget it.
            queue.put_nowait(None)
            writer = queue.writer
            if writer is not None:
                await asyncio.wait([writer])
            queue.wake = None
            queue.ws = None
            queue.drop_all()
        await self.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)


def _write_at_once(queue: SlimQueue) -> bool:
    """Write the queued text packets now, as `WebSocketResponse.send_str` would, when the
    WebSocket takes them without waiting; True when the queue is empty afterwards.

    Most packets go to a socket whose transport is not paused: a writer task for each would
    cost a task, a turn of the loop and four coroutine calls per packet. Anything else (the
    reader's end mark, a binary packet, a paused transport, a closing WebSocket) is left to
    the writer task, which waits for the drain. Reads aiohttp's `WebSocketWriter` (as in 3.14;
    FINGERPRINTS)."""
    writer = queue.ws._sock._writer
    if writer is None or writer.compress or writer._closing:
        return not queue._items
    items = queue._items
    while items:
        pkt = items[0]
        if pkt is None or writer.protocol._paused:
            return False
        data = pkt.encode()
        if not isinstance(data, str):
            return False
        items.pop(0)
        queue.task_done()
        try:
            writer._write_websocket_frame(data.encode(), _TEXT, 0)
        except Exception:  # noqa: BLE001 - the connection broke: the writer task ends the socket
            return False
        if writer._output_size > writer._limit and not writer.protocol._paused:
            writer._output_size = 0  # as send_frame: nothing to wait for
    return True


class _Sockets(dict[str, Any]):
    """Engine.IO's table of sockets; a socket entered here becomes a `LeanSocket` (Engine.IO
    builds `AsyncSocket` itself, with no hook to choose the class)."""

    def __setitem__(self, sid: str, sock: Any) -> None:
        if type(sock) is AsyncSocket:
            sock.__class__ = LeanSocket
        super().__setitem__(sid, sock)


class LeanEngineServer(engineio.AsyncServer):
    """python-engineio's server with `SlimQueue` per socket, `PlainWebSocket` and ping timers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        drivers: dict[str, Any] = self._async  # type: ignore[has-type]
        if drivers.get("websocket") is not engineio_aiohttp.WebSocket:
            raise RuntimeError("LeanEngineServer runs on aiohttp only")
        # A copy for this server: the driver's own table is shared by every server.
        self._async = {**drivers, "websocket": PlainWebSocket}
        self.sockets = _Sockets(self.sockets)  # type: ignore[has-type]

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
