"""The Socket.IO fan-out between processes over Redis: published only where a recipient is,
and made to survive Redis going away.

What goes over Redis (session 9): an emit to one room (a conversation, an advisor, a queue
group, the crisis team, a conversation's readers) is published on that room's own channel,
`<channel>:room:<namespace>:<room>`. A process SUBSCRIBEs to a room's channel when the first of
its sockets enters the room and UNSUBSCRIBEs when the last one leaves, so Redis hands an emit
only to processes that hold a member; the others do no work for it. `enter_room` waits for
Redis's confirmation of the subscription (at most `publish_timeout_s`): when a use case reads
its snapshot after entering (accept's messages, resume's replay) this process already receives
every later emit to the room, so "commit, then emit" plus the snapshot still miss nothing
(clients drop by seq what they get twice). An emit to a socket of this process (its own sid
room) is not published at all, and neither is one to a room that, by the answer of this
process's last PUBLISH to it, only this process holds (`solo`: a visitor's echo of their own
message, an advisor's own room). A process that enters a room after its subscription is
confirmed PUBLISHes a hold notice on the room's channel and waits until every process that
received it has answered (at most `publish_timeout_s`): those stop keeping the room to
themselves before they answer, so their next emit is published; what they did not publish
before was committed before, and so is in the entering use case's snapshot. A process that
subscribes anew after losing Redis tells all others to forget their `solo` rooms.

Emits to a whole namespace, to several rooms, with a callback, and python-socketio's other
messages (disconnect, callbacks, room changes for a socket of another process) keep the one
broadcast channel `<channel>`, which every process subscribes to.

python-socketio's `AsyncRedisManager` gives up on a publish when Redis is unreachable, and its
listener waits 1, 2, 4, 8, 16… seconds between reconnects. Here:

- a publish that fails is kept (bounded, in order, for `keep_s`, with its channel) and
  published again as soon as Redis answers, so every emit of the outage reaches the other
  processes after it (clients drop the seqs they already have);
- the listener reconnects every `retry_s` (no growing back-off) and subscribes again to every
  room this process holds and, last in the same command, to the broadcast channel. What was
  kept goes out once as many processes listen on the broadcast channel as before the outage
  (Redis runs one SUBSCRIBE at a time, so a process counted there holds all its rooms again),
  or at the latest after `settle_s`; meanwhile new emits queue behind it. How many processes
  listen is read with PUBSUB NUMSUB every `census_s` while all is well (a room's PUBLISH
  answers only how many hold that room, which may rightly be none);
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
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import socketio
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = structlog.get_logger(__name__)

_CALLBACK = b'"method": "callback"'  # as python-socketio's json writes it
# Our own notices between processes (not python-socketio's JSON): "I now hold this room"
# (on the room's channel), "seen" (the answer, on the broadcast channel), "I subscribed anew".
_NOTICE = b"\x00vt:"
_HOLD = _NOTICE + b"hold:"
_HELD = _NOTICE + b"held:"
_RESET = _NOTICE + b"reset:"
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


@dataclass
class _Acks:
    """The answers to one hold notice: how many are due (known once PUBLISH answered)."""

    done: asyncio.Future[None]
    due: int | None = None
    received: int = 0


class ResilientRedisManager(socketio.AsyncRedisManager):
    def __init__(
        self,
        url: str,
        channel: str,
        *,
        retry_s: float = 0.5,
        settle_s: float = 10.0,
        publish_timeout_s: float = 1.0,
        census_s: float = 5.0,
        keep: int = 10_000,
        keep_s: float = 300,
        **kwargs: Any,
    ) -> None:
        # redis-py (from 6) opens at most 100 connections per client by default; at a burst
        # more publishes than that wait on Redis at once, and the 101st failed as if Redis were
        # down (measured: the fan-out degraded under 300 chats a second on two processes).
        # No socket timeout (redis-py 8 sets 5 s unless told None): with one, redis-py sends every
        # command through `wait_for`, a task per publish; each publish has its own deadline here.
        # No retries inside redis-py either: its listener reconnected on its own to a Redis that
        # came back and resubscribed there, so PUBSUB NUMSUB counted a subscription we were about
        # to drop and what was kept went out to nobody. Ours reconnects and retries (below).
        options = {
            "max_connections": REDIS_MAX_CONNECTIONS,
            "socket_timeout": None,
            "retry": Retry(NoBackoff(), 0),
            **kwargs.pop("redis_options", {}),
        }
        super().__init__(url, channel=channel, redis_options=options, **kwargs)
        self.retry_s = retry_s
        self.settle_s = settle_s
        self.publish_timeout_s = publish_timeout_s
        self.census_s = census_s
        # When what was kept may go out: our subscription is back and the other processes, which
        # retry every `retry_s`, have had time to subscribe again (pub/sub keeps nothing for
        # a process that is not listening at the moment of the publish).
        self._ready_at = 0.0
        # How many processes listened on the broadcast channel at the last census.
        self._listeners = 0
        self._flush_task: asyncio.Task[None] | None = None
        self._retry_task: asyncio.Task[None] | None = None
        self._census_task: asyncio.Task[None] | None = None
        self.keep_s = keep_s
        # (when, channel, message) of publishes that failed, oldest first.
        self._kept: deque[tuple[float, str, Any]] = deque(maxlen=keep)
        self._flushing = asyncio.Lock()
        # False from a failed publish or a lost subscription until Redis works again.
        self.healthy = True
        self.listening = False
        # Failed publishes and lost subscriptions since start (the `/metrics` Redis error count).
        self.redis_errors = 0
        # The room channels this process holds a member of (what it must be subscribed to),
        # the (un)subscriptions not yet sent, in order, and who waits for a confirmation.
        self.held: set[str] = set()
        self._changes: list[tuple[bool, str]] = []
        self._changer: asyncio.Task[None] | None = None
        self._subscribing = asyncio.Lock()
        self._confirming: dict[str, list[asyncio.Future[None]]] = {}
        self._room_prefix = f"{channel}:room:"
        # Rooms whose last publish reached this process only: their emits are not published
        # until another process says it holds the room too (see `_announce`).
        self.solo: set[str] = set()
        # Counts every hold notice seen: a publish answered "1" after one came is no proof.
        self._holds_seen = 0
        self._announcing: dict[str, asyncio.Task[None]] = {}
        self._awaiting_acks: dict[bytes, _Acks] = {}
        self._notice_tasks: set[asyncio.Task[None]] = set()
        self._holds: list[tuple[str, bytes, asyncio.Future[int]]] = []
        self._holds_sender: asyncio.Task[None] | None = None

    def room_channel(self, namespace: str | None, room: str) -> str:
        return f"{self._room_prefix}{namespace or '/'}:{room}"

    # --- which room channels this process listens to ------------------------------------------

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        if room is None or room == sid:
            return  # everyone of the namespace, or the socket's own room: the broadcast channel
        channel = self.room_channel(namespace, room)
        if channel not in self.held:
            self.held.add(channel)
            self._change(True, channel)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)
        if room is None or room == sid or room in self.rooms.get(namespace, {}):
            return
        channel = self.room_channel(namespace, room)
        if channel in self.held:
            self.held.discard(channel)
            self.solo.discard(channel)
            self._change(False, channel)

    async def enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> None:
        await super().enter_room(sid, namespace, room, eio_sid=eio_sid)
        if isinstance(room, str) and room != sid:
            await self.subscribed(namespace, room)

    async def subscribed(self, namespace: str | None, room: str) -> None:
        """Wait until Redis confirmed this process's subscription to `room` and every other
        process that holds the room has heard so (at most `publish_timeout_s`: a Redis that is
        down or hangs holds up nobody; the listener subscribes again to every room once Redis
        is back)."""
        channel = self.room_channel(namespace, room)
        announcing = self._announcing.get(channel)
        waiting = self._confirming.get(channel)
        if announcing is None and not waiting:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.publish_timeout_s):
                if waiting:
                    await asyncio.shield(waiting[-1])
                if announcing is not None:
                    await asyncio.shield(announcing)

    async def _announce(self, channel: str) -> None:
        """Tell the processes that already hold the room that this one holds it too, and wait
        until each has heard it. A process that publishes to a room only it holds stops
        publishing there (`solo`); once it has heard this, it publishes again. Its emits
        before that were committed before, so they are in the snapshot the entering use case
        reads after `enter_room` ("commit, then emit")."""
        nonce = uuid.uuid4().hex.encode()
        entry = _Acks(asyncio.get_running_loop().create_future())
        self._awaiting_acks[nonce] = entry
        try:
            async with asyncio.timeout(self.publish_timeout_s):
                waiting = self._confirming.get(channel)
                if waiting:
                    await asyncio.shield(waiting[-1])
                heard = await self._hold(channel, _HOLD + self.host_id.encode() + b":" + nonce)
                entry.due = int(heard or 0) - 1  # not ourselves
                if entry.received < entry.due:
                    await entry.done
        except Exception as exc:  # Redis down or slow: the outage logic takes over
            log.debug("fanout_hold_unanswered", error=type(exc).__name__)
        finally:
            del self._awaiting_acks[nonce]
            if self._announcing.get(channel) is asyncio.current_task():
                del self._announcing[channel]

    async def _hold(self, channel: str, notice: bytes) -> int:
        """PUBLISH a hold notice; those of one moment go as one pipeline (a console entering
        its rooms, a resubscribe of thousands): one connection, one round trip."""
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._holds.append((channel, notice, answer))
        if self._holds_sender is None or self._holds_sender.done():
            self._holds_sender = asyncio.get_running_loop().create_task(self._send_holds())
        return await answer

    async def _send_holds(self) -> None:
        while self._holds:
            batch, self._holds = self._holds[:1000], self._holds[1000:]
            try:
                async with asyncio.timeout(self.publish_timeout_s):
                    pipe = self.redis.pipeline(transaction=False)
                    for channel, notice, _ in batch:
                        pipe.publish(channel, notice)
                    counts = await pipe.execute()
            except Exception as exc:
                for *_, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc)
                continue
            for (*_, answer), count in zip(batch, counts, strict=True):
                if not answer.done():
                    answer.set_result(int(count or 0))

    def _noticed(self, channel: bytes | str, data: bytes) -> None:
        """A notice of another process (see `_NOTICE`)."""
        own = self.host_id.encode()
        if data.startswith(_HOLD):
            host, _, nonce = data[len(_HOLD) :].partition(b":")
            if host == own:
                return
            self._holds_seen += 1
            self.solo.discard(channel.decode() if isinstance(channel, bytes) else channel)
            answer = _HELD + host + b":" + nonce
            task = asyncio.get_running_loop().create_task(self._send_quietly(answer))
            self._notice_tasks.add(task)
            task.add_done_callback(self._notice_tasks.discard)
        elif data.startswith(_HELD):
            host, _, nonce = data[len(_HELD) :].partition(b":")
            entry = self._awaiting_acks.get(nonce) if host == own else None
            if entry is not None:
                entry.received += 1
                if entry.due is not None and entry.received >= entry.due and not entry.done.done():
                    entry.done.set_result(None)
        elif data.startswith(_RESET) and data[len(_RESET) :] != own:
            self._holds_seen += 1
            self.solo.clear()

    async def _send_quietly(self, data: bytes) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.publish_timeout_s):
                await self.redis.publish(self.channel, data)

    def _change(self, subscribe: bool, channel: str) -> None:
        # Queued even while the listener is not connected: one that is connecting has already
        # taken what it subscribes to, and what changed after goes out once it listens.
        if subscribe and self.listening:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._confirming.setdefault(channel, []).append(future)
            self._announcing[channel] = asyncio.get_running_loop().create_task(self._announce(channel))
        self._changes.append((subscribe, channel))
        if self._changer is None or self._changer.done():
            self._changer = asyncio.get_running_loop().create_task(self._send_changes())

    async def _send_changes(self) -> None:
        """Send the (un)subscriptions in the order they were asked for, those of one moment as
        one command each way (a leave and an enter at once of one room keep their order)."""
        async with self._subscribing:
            while self._changes:
                subscribe, first = self._changes[0]
                run = 0
                while run < len(self._changes) and self._changes[run][0] == subscribe:
                    run += 1
                channels = [c for _, c in self._changes[:run]]
                del self._changes[:run]
                if not self.listening or self.pubsub is None:
                    self._confirmed(channels, all_of_them=True)
                    continue
                try:
                    async with asyncio.timeout(self.publish_timeout_s):
                        if subscribe:
                            await self.pubsub.subscribe(*channels)
                        else:
                            await self.pubsub.unsubscribe(*channels)
                except Exception:  # the listener notices too and subscribes everything again
                    self._confirmed(channels, all_of_them=True)

    def _confirmed(self, channels: list[str], *, all_of_them: bool = False) -> None:
        for channel in channels:
            waiting = self._confirming.get(channel)
            if not waiting:
                continue
            for future in waiting if all_of_them else waiting[:1]:
                if not future.done():
                    future.set_result(None)
            if all_of_them or len(waiting) == 1:
                del self._confirming[channel]
            else:
                del waiting[0]

    # --- listening -----------------------------------------------------------------------------

    def _redis_connect(self) -> None:
        # One client for the life of the process (its pool reconnects by itself); only the
        # listener's subscription is made anew. python-socketio made both anew from a failed
        # publish too, which left the listener reading a subscription that no longer got the
        # (un)subscriptions of rooms, and old subscribers that PUBSUB NUMSUB still counted.
        if self.redis is None:
            super()._redis_connect()
        else:
            self.pubsub = self.redis.pubsub()
        # The subscription confirmations are what `enter_room` waits for.
        self.pubsub.ignore_subscribe_messages = False

    async def _listen(self) -> AsyncIterator[Any]:  # pragma: no cover - needs a Redis
        # Every process hears its own publishes back (of the rooms it holds) and python-socketio
        # would decode each one only to drop it (its host id). Our own are known by our host id
        # in the raw message; a callback addressed to us (the only kind of message that names
        # our host without being ours) is still decoded.
        own = self.host_id.encode()
        async for message in self._redis_listen_with_retries():
            kind = message["type"]
            if kind == "message":
                data = message["data"]
                if isinstance(data, bytes) and data.startswith(_NOTICE):
                    self._noticed(message["channel"], data)
                    continue
                if isinstance(data, bytes) and own in data and _CALLBACK not in data:
                    continue
                yield data
            elif kind == "subscribe":
                channel = message["channel"]
                self._confirmed([channel.decode() if isinstance(channel, bytes) else channel])

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        # Every emit of this process comes here before it is published, and those of the others
        # for rooms this process holds: one for rooms this process holds nobody of (any more)
        # ends before python-socketio encodes it.
        if message.get("callback") is None and reaches_nobody_here(
            self, message.get("namespace"), message.get("room"), message.get("skip_sid")
        ):
            return
        await super()._handle_emit(message)

    # --- publishing ----------------------------------------------------------------------------

    def _channel_for(self, message: dict[str, Any]) -> str | None:
        """The room's channel for an emit to one room; None for an emit to a socket of this
        process (nobody else can hold it); the broadcast channel for everything else."""
        room = message.get("room")
        if message.get("method") != "emit" or message.get("callback") is not None or not isinstance(room, str):
            return self.channel
        namespace = message.get("namespace") or "/"
        if room in self.rooms.get(namespace, {}).get(None, {}):
            return None
        return self.room_channel(namespace, room)

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
        channel = self._channel_for(data) if isinstance(data, dict) else self.channel
        if channel is None or channel in self.solo:
            return None  # a socket of this process, or a room no other process holds
        if self._kept or not self.healthy:
            # Keep the order: what waits goes first, this one after it; all of it once the
            # processes listen again.
            self._kept.append((time.monotonic(), channel, data))
            # Never in the emit's own path: an event's answer does not wait on a Redis that
            # is down or hangs. One flush at a time, in the background.
            if self._may_flush() and (self._flush_task is None or self._flush_task.done()):
                self._flush_task = asyncio.get_running_loop().create_task(self._flush())
            self._retry_while_kept()
            return None
        seen = self._holds_seen
        try:
            result = await self._send(data, channel)
        except Exception as exc:
            self._degraded("publish", exc)
            self._kept.append((time.monotonic(), channel, data))
            self._retry_while_kept()
            return None
        if (
            result == 1
            and channel in self.held
            and channel not in self._confirming
            and channel not in self._announcing
            and seen == self._holds_seen
            and self.listening
        ):
            # Our own confirmed subscription was the one receiver, and no process said since
            # that it holds the room too: the next emits to it stay here.
            self.solo.add(channel)
        self._recovered()
        return result

    async def _send(self, data: Any, channel: str | None = None) -> Any:
        if self.redis is None:
            self._redis_connect()
        # No socket timeout on the client (see __init__): the publish itself is bounded, so an
        # emit never waits on a Redis that hangs. A deadline, not `wait_for`, which ran every
        # publish in a task of its own.
        async with asyncio.timeout(self.publish_timeout_s):
            return await self.redis.publish(channel or self.channel, self.json.dumps(data))

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

    async def _all_listen(self) -> bool:
        """Whether as many processes listen as at the last census, or what is kept has waited
        `settle_s`. A Redis restarted at once answers our publish before this process's listener
        (or another's) has noticed that its subscription is gone: what went out then reached
        nobody."""
        if self._kept and self._kept[0][0] < time.monotonic() - self.settle_s:
            return True
        try:
            return await self._listening_processes() >= self._listeners
        except Exception:
            return False

    async def _flush(self) -> None:
        """Publish what was kept, oldest first; stop at the first failure (it stays kept)."""
        async with self._flushing:
            if not await self._all_listen():
                self._ready_at = time.monotonic() + self.retry_s  # ask again at the next retry
                return
            cutoff = time.monotonic() - self.keep_s
            flushed = 0
            while self._kept:
                at, channel, data = self._kept[0]
                if at < cutoff:
                    self._kept.popleft()  # too old to matter: the clients have caught up by seq
                    continue
                try:
                    await self._send(data, channel)
                except Exception as exc:
                    self._degraded("publish", exc)
                    self._ready_at = time.monotonic() + self.retry_s  # not again at once
                    return
                self._kept.popleft()
                flushed += 1
            self._recovered(flushed)

    async def _listening_processes(self) -> int:
        async with asyncio.timeout(self.publish_timeout_s):
            counts = await self.redis.pubsub_numsub(self.channel)
        return int(counts[0][1]) if counts else 0

    async def _census(self) -> None:
        """How many processes listen, while all is well: what a resubscribe waits for."""
        while True:
            if self.listening and self.healthy and not self._kept:
                with contextlib.suppress(Exception):
                    self._listeners = await self._listening_processes()
            await asyncio.sleep(self.census_s)

    async def _flush_when_ready(self) -> None:
        """Wait until as many processes listen as before the outage (at most `settle_s`), then
        send what was kept."""
        deadline = time.monotonic() + self.settle_s
        await asyncio.sleep(self.retry_s)
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # not answering yet: ask again
                if await self._listening_processes() >= self._listeners:
                    break
            await asyncio.sleep(0.2)
        self._ready_at = time.monotonic()
        if self._may_flush():
            await self._flush()

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:  # pragma: no cover - timing
        subscribed = False
        if self._census_task is None:
            self._census_task = asyncio.get_running_loop().create_task(self._census())
        while True:
            try:
                if not subscribed:
                    async with self._subscribing:
                        self._redis_connect()
                        # Every room held, then the broadcast channel in the same command: a
                        # process counted on the broadcast channel holds all its rooms again.
                        self._changes.clear()
                        self.solo.clear()  # hold notices may have been missed meanwhile
                        await self.pubsub.subscribe(*sorted(self.held), self.channel)
                        subscribed = True
                        self.listening = True
                    # The others may have stopped publishing to rooms this process holds while
                    # it was not subscribed: they publish again from now on.
                    await self._send_quietly(_RESET + self.host_id.encode())
                    if self._kept or not self.healthy:
                        self._ready_at = float("inf")  # set by _flush_when_ready
                        self._flush_task = asyncio.get_running_loop().create_task(self._flush_when_ready())
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listening = False
                self.solo.clear()
                self._confirmed(list(self._confirming), all_of_them=True)
                self._degraded("listen", exc)
                subscribed = False
                with contextlib.suppress(Exception):  # its connection, not to be counted again
                    async with asyncio.timeout(self.publish_timeout_s):
                        await self.pubsub.aclose()
                await asyncio.sleep(self.retry_s)
