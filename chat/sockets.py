"""Socket.IO adapters: `/visitor` and `/agent`. They validate, call the chat service, answer
with an ack and send the service's events; no rule of the chat lives here."""

from __future__ import annotations

import asyncio
import contextvars
import json
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import socketio
import structlog
from aiohttp import web
from pydantic import ValidationError

from chat import events as ev
from chat.away import AwayMarks
from chat.blocks import VisitorBlocks
from chat.crisis import CrisisService
from chat.model import (
    BoardChanged,
    Emit,
    HandoffCreated,
    Outgoing,
    QueueChanged,
    Result,
    ToAgent,
    ToAgentGroup,
    ToCrisisAudience,
    ToReaders,
    ToVisitor,
    queue_group,
)
from chat.outbound import AgentStatusChanged, Offer
from chat.push import PushOffers
from chat.queue import QUEUE_RETELL_S
from chat.service import ChatService
from chat.status import StatusService
from chat.supervision import SupervisionService
from chat.takeover import TakeOverService
from contact.access_log import AccessLog
from contact.auth import AgentIdentity, AgentService
from contact.db import DatabaseClosed, unavailable
from contact.errors import NO_CONVERSATION, DomainError, error_payload
from contact.permissions import allowed, require, socket_action
from contact.presence import Presence
from contact.ratelimit import ConnectionCap
from contact.validation import json_depth_ok
from contact.web import client_ip
from routing.crisis import crisis_capable

log = structlog.get_logger(__name__)

TOO_MANY_CONNECTIONS = (
    "Er zijn te veel verbindingen vanaf dit adres. Probeer het zo nog eens, of bel gratis 0800-2000.",
    "Too many connections from this address. Try again soon.",
)
VISITOR_NS = "/visitor"
AGENT_NS = "/agent"
# The action (contact/permissions.py) of the agent event being handled in this task.
_ACTION: contextvars.ContextVar[str] = contextvars.ContextVar("agent_action", default="console")
# Events whose echo the sending socket does not need: its ack already holds the answer.
_ECHO_SKIPPED = frozenset({"message", "note"})
# Events that follow a change the supervisors' board shows (besides every queue change).
BOARD_EVENTS = frozenset(
    {
        "mine",
        "crisis_alert",
        "crisis_acked",
        "crisis_ended",
        "visitor_presence",
        "visitor_left",
        "agent_status",
        "reader",
        "read_along_stopped",
        "taken_from_you",
        "transferred",
        "outcome_missing",
        "callback_overdue",
    }
)


# Queue broadcasts are spaced by the length of the queue: 2 ms per waiting conversation,
# between `coalesce_s` and two seconds. Each one is the whole list to every agent (500 waiting
# is about 120 kB a frame): at a campaign peak the frames, not the starts, were most of the work.
QUEUE_SPACING_PER_ENTRY_S = 0.002
QUEUE_MAX_SPACING_S = 2.0


def visitor_room(conversation_id: str) -> str:
    return f"c:{conversation_id}"


def agent_room(agent_id: str) -> str:
    return f"a:{agent_id}"


def group_room(group: str) -> str:
    return f"q:{group}"


def crisis_room(audience: str) -> str:
    return f"x:{audience}"


def reader_room(conversation_id: str) -> str:
    return f"r:{conversation_id}"


class Dispatcher:
    """Delivers the service's events (after its commit) to the rooms they are meant for.

    Queue changes are coalesced: a burst of starts and accepts within `coalesce_s` gives one
    snapshot to the agents and one position to each waiting visitor, not one per change
    (which grows with the square of the queue at a campaign peak)."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        service: ChatService,
        crisis: CrisisService,
        push: PushOffers,
        takeover: TakeOverService,
        on_handoff: Callable[[], None] = lambda: None,
        coalesce_s: float = 0.05,
    ) -> None:
        """`on_handoff` wakes this process's handoff delivery worker (none with the built-in register)."""
        self.sio = sio
        self.service = service
        self.crisis = crisis
        self.push = push
        self.takeover = takeover
        self.on_handoff = on_handoff
        self.coalesce_s = coalesce_s
        self._queue_handle: asyncio.TimerHandle | None = None  # the next queue broadcast
        self._tasks: set[asyncio.Task[None]] = set()
        # The supervisors' board (chat/supervision.py): sent after changes, at most once per
        # `board_every_s` per process; None until the composition root connects it.
        self.board_source: Callable[[], Awaitable[Sequence[Outgoing]]] | None = None
        self.board_every_s = 1.0
        self._board_due = False

    def watch_board(self, source: Callable[[], Awaitable[Sequence[Outgoing]]], every_s: float) -> None:
        self.board_source = source
        self.board_every_s = every_s

    def board_changed(self) -> None:
        """Something the board shows changed: one live board goes out within `board_every_s`."""
        if self.board_source is None or self._board_due:
            return
        self._board_due = True
        asyncio.get_running_loop().call_later(self.board_every_s, self._start_board)

    def _start_board(self) -> None:
        task = asyncio.get_running_loop().create_task(self._broadcast_board())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _broadcast_board(self) -> None:
        self._board_due = False
        if self.board_source is None:
            return
        try:
            await self.send(await self.board_source())
        except Exception as exc:
            log.error("board_broadcast_failed", error=type(exc).__name__)

    async def send(self, emits: Sequence[Outgoing], skip_sid: str | None = None) -> None:
        for e in emits:
            if isinstance(e, QueueChanged):
                self._schedule_queue()
                self.board_changed()
                continue
            if isinstance(e, Emit) and e.event in BOARD_EVENTS:
                self.board_changed()
            if isinstance(e, HandoffCreated):
                self.on_handoff()
                continue
            if isinstance(e, BoardChanged):
                self.board_changed()
                continue
            skip = skip_sid if e.event in _ECHO_SKIPPED else None
            match e.target:
                case ToVisitor(conversation_id=cid):
                    await self.sio.emit(e.event, e.data, room=visitor_room(cid), namespace=VISITOR_NS, skip_sid=skip)
                case ToAgent(agent_id=aid):
                    await self.sio.emit(e.event, e.data, room=agent_room(aid), namespace=AGENT_NS, skip_sid=skip)
                case ToAgentGroup(group=group):
                    await self.sio.emit(e.event, e.data, room=group_room(group), namespace=AGENT_NS)
                case ToCrisisAudience(audience=audience):
                    await self.sio.emit(e.event, e.data, room=crisis_room(audience), namespace=AGENT_NS)
                case ToReaders(conversation_id=cid):
                    await self.sio.emit(e.event, e.data, room=reader_room(cid), namespace=AGENT_NS)

    def _schedule_queue(self, delay: float | None = None) -> None:
        """One queue broadcast after `delay` (by default spaced by the length of the queue),
        or sooner when one is already due sooner."""
        if delay is None:
            # A long queue is a large frame to every agent: the longer, the further apart (from
            # 1,000 waiting one every two seconds), so a campaign peak does not flood the consoles.
            spacing = self.service.queue_length * QUEUE_SPACING_PER_ENTRY_S
            delay = min(QUEUE_MAX_SPACING_S, max(self.coalesce_s, spacing))
        loop = asyncio.get_running_loop()
        due = self._queue_handle
        if due is not None and not due.cancelled() and due.when() <= loop.time() + delay:
            return
        if due is not None:
            due.cancel()
        self._queue_handle = loop.call_later(delay, self._start_broadcast)

    def _start_broadcast(self) -> None:
        task = asyncio.get_running_loop().create_task(self._broadcast_queue())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _broadcast_queue(self) -> None:
        # Cleared before reading, so a change during the read schedules the next broadcast.
        self._queue_handle = None
        try:
            await self.send(await self.service.queue_emits())
            if self.service.queue_retell_due:
                self._schedule_queue(QUEUE_RETELL_S)  # unless a change comes first
            # A changed queue may make a push offer due (a new conversation, a pass, a transfer).
            await self.send(await self.push.offer_due())
        except DatabaseClosed:
            log.info("queue_broadcast_skipped", reason="stopping")  # a disconnect while the process stops
        except Exception as exc:
            log.error("queue_broadcast_failed", error=type(exc).__name__)


# The event name a packet gets when its payload could not be read (broken JSON, nested too deep
# for the decoder, not an event list): the namespaces answer it with `invalid_input`.
UNREADABLE = "\x00unreadable"


class _PacketJson:
    """`json` for Socket.IO packets: a payload that cannot be decoded is not an exception (an
    ERROR with a traceback and no answer) but an event the namespace refuses."""

    dumps = staticmethod(json.dumps)

    @staticmethod
    def loads(text: str | bytes, **kwargs: Any) -> Any:
        try:
            return json.loads(text, **kwargs)
        except (ValueError, RecursionError):
            return [UNREADABLE]


class GuardedPacket(socketio.packet.Packet):
    """The server's packet class (its `serializer`): our json, and an event whose data is not
    `[name, ...]` becomes UNREADABLE instead of failing inside python-socketio."""

    json = _PacketJson
    # Every packet the server builds is JSON (each event is a typed ServerEvent, each ack a
    # dict): python-socketio's search for bytes through every packet it builds (a recursive
    # walk of the payload, ~2 % of the server's CPU at the chat relay bench) finds nothing.
    # Packets from clients are not built with it: a client's binary event is still refused.
    uses_binary_events = False

    def decode(self, encoded_packet: Any) -> int:
        count: int = super().decode(encoded_packet)
        data: Any = getattr(self, "data", None)
        if self.packet_type in (socketio.packet.EVENT, socketio.packet.BINARY_EVENT) and not (
            isinstance(data, list) and data and isinstance(data[0], str) and json_depth_ok(data)
        ):
            self.data = [UNREADABLE]
        return count


class TransportLogger:
    """The logger python-engineio gets. Its messages may carry packet contents (message text),
    and a malformed frame made it log an ERROR with a traceback each time: a log flood anyone
    can cause. Here every problem is one INFO line with the error's type, never a traceback or
    an argument; its chatter (packets sent and received) is dropped."""

    def __init__(self) -> None:
        self._log = structlog.get_logger("engineio")

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        pass

    info = debug

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log.info("transport_refused", what=str(msg)[:80])

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        exc = sys.exc_info()[1]
        self._log.info("transport_refused", what=str(msg)[:80], error=type(exc).__name__ if exc else None)

    exception = error
    critical = error


def _has_binary(value: Any, depth: int = 0) -> bool:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return True
    if depth > 8:
        return False
    if isinstance(value, dict):
        return any(_has_binary(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_binary(v, depth + 1) for v in value)
    return False


def _is_environ(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("aiohttp.request"), web.BaseRequest)


class GuardedNamespace(socketio.AsyncNamespace):
    """Turns every failure into the error shape of docs/protocol.md, refuses binary payloads and
    unknown events, and logs what happened without the content of what was sent."""

    service: ChatService

    def __init__(
        self,
        namespace: str,
        dispatcher: Dispatcher,
        trusted_proxies: frozenset[str] = frozenset(),
        cap: ConnectionCap | None = None,
    ) -> None:
        super().__init__(namespace)
        self.dispatcher = dispatcher
        self.service = dispatcher.service
        self.trusted_proxies = trusted_proxies
        self.cap = cap
        self._addresses: dict[str, str] = {}
        # Told of every answered event: (event, outcome, seconds); outcome is `ok`, `refused`,
        # `invalid_input`, `unavailable` or `internal`. The composition root sets it (/metrics).
        self.observer: Callable[[str, str, float], None] | None = None

    @property
    def connected(self) -> int:
        """Open connections of this namespace in this process."""
        return len(self._addresses)

    def _admit(self, sid: str, environ: dict[str, Any]) -> str:
        """Count the connection against its address's cap, or refuse it with the error shape."""
        address = client_ip(environ["aiohttp.request"], self.trusted_proxies)
        if self.cap is not None and not self.cap.take(address):
            log.info("connection_refused", ns=self.namespace, reason="per_address_cap")
            payload = error_payload("rate_limited", TOO_MANY_CONNECTIONS)
            raise socketio.exceptions.ConnectionRefusedError(payload["error"]["message"], payload)
        # One string per address, however many sockets it has open.
        self._addresses[sid] = address = sys.intern(address)
        return address

    def _release(self, sid: str) -> None:
        address = self._addresses.pop(sid, None)
        if address is not None and self.cap is not None:
            self.cap.give_back(address)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect" and len(args) >= 2 and _is_environ(args[1]):
            return await super().trigger_event(event, *args)
        if event == "disconnect":
            return await super().trigger_event(event, *args)
        if event == "connect":
            # A client may send an event named "connect"; only the server's own call carries
            # a real request, so this one is refused like any unknown event.
            return error_payload("invalid_input", field="event")
        sid = args[0] if args else None
        payload = args[1:]
        if event == UNREADABLE:
            log.info("refused", ns=self.namespace, on="unreadable", code="invalid_input")
            return error_payload("invalid_input", field="payload")
        if len(payload) > 1 or _has_binary(payload) or not json_depth_ok(payload):
            return error_payload("invalid_input", field="payload")
        handler = getattr(self, f"on_{event}", None) if isinstance(event, str) else None
        if handler is None:
            return error_payload("invalid_input", field="event")
        began = time.perf_counter()
        outcome = "ok"
        try:
            return await handler(sid, payload[0] if payload else None)
        except DomainError as exc:
            outcome = "invalid_input" if exc.code == "invalid_input" else "refused"
            log.info("refused", ns=self.namespace, on=event, code=exc.code)
            return exc.payload()
        except ValidationError as exc:
            outcome = "invalid_input"
            fields = sorted({".".join(str(p) for p in e["loc"]) or "payload" for e in exc.errors()})[:5]
            log.info("refused", ns=self.namespace, on=event, code="invalid_input", fields=fields)
            return error_payload("invalid_input", fields=fields)
        except Exception as exc:
            if unavailable(exc):
                outcome = "unavailable"
                # The database is down or slow: expected in an outage, no traceback; the client
                # sends the same again later.
                log.warning("event_unavailable", ns=self.namespace, on=event, error=type(exc).__name__)
                return error_payload("unavailable")
            outcome = "internal"
            log.error("event_failed", ns=self.namespace, on=event, error=type(exc).__name__, exc_info=True)
            return error_payload("internal")
        finally:
            if self.observer is not None:
                self.observer(event, outcome, time.perf_counter() - began)

    async def _reply(self, result: Result, sid: str) -> dict[str, Any]:
        await self.dispatcher.send(result.emits, skip_sid=sid)
        return result.ack


class VisitorNamespace(GuardedNamespace):
    """Anonymous visitors; a connection is bound to one conversation by `start` or `resume`."""

    def __init__(
        self, dispatcher: Dispatcher, trusted_proxies: frozenset[str] = frozenset(), cap: ConnectionCap | None = None
    ) -> None:
        super().__init__(VISITOR_NS, dispatcher, trusted_proxies, cap)
        self.bound: dict[str, str] = {}
        # Away marks are written in batches (a wave of disconnects is one write, none dropped).
        self.away = AwayMarks(
            self.service.visitors_away,
            dispatcher.send,
            self.service.clock,
            still_here=self._connected_to,
        )

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        self._admit(sid, environ)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self._release(sid)
        # The conversation stays open: the visitor may come back with `resume`.
        conversation_id = self.bound.pop(sid, None)
        if conversation_id is not None and not self._others_in(conversation_id, sid):
            self.away.mark(conversation_id)

    def _others_in(self, conversation_id: str, sid: str) -> bool:
        """Whether another socket of this process is still bound to the conversation: its room's
        members, not every bound socket (a wave of disconnects would cost the square)."""
        members = self.server.manager.get_participants(self.namespace, visitor_room(conversation_id))
        return any(other != sid for other, _ in members)

    def _connected_to(self, conversation_id: str) -> bool:
        """Whether a socket of this process is connected to the conversation (and not leaving)."""
        manager = self.server.manager
        members = manager.get_participants(self.namespace, visitor_room(conversation_id))
        return any(manager.is_connected(other, self.namespace) for other, _ in members)

    def _conversation(self, sid: str) -> str:
        conversation_id = self.bound.get(sid)
        if conversation_id is None:
            raise DomainError("not_found", NO_CONVERSATION)
        return conversation_id

    async def _bind(self, sid: str, conversation_id: str) -> None:
        previous = self.bound.get(sid)
        if previous is not None and previous != conversation_id:
            await self.leave_room(sid, visitor_room(previous))
        self.bound[sid] = conversation_id
        await self.enter_room(sid, visitor_room(conversation_id))

    async def _unbind(self, sid: str) -> None:
        conversation_id = self.bound.pop(sid, None)
        if conversation_id is not None:
            await self.leave_room(sid, visitor_room(conversation_id))

    async def on_start(self, sid: str, data: Any) -> dict[str, Any]:
        payload = ev.parse(ev.Start, data)
        current = self.bound.get(sid)
        if current is not None and await self.service.is_open(current):
            raise DomainError("conflict")
        conversation_id, result = await self.service.start(
            caller_type=payload.caller_type,
            intent=payload.intent,
            topic=payload.topic or None,
            danger_now=payload.danger_now,
            client_key=self._addresses.get(sid, "unknown"),
            browser=payload.browser,
        )
        await self._bind(sid, conversation_id)
        log.info("conversation_started", conversation_id=conversation_id, caller_type=payload.caller_type)
        return await self._reply(result, sid)

    async def on_resume(self, sid: str, data: Any) -> dict[str, Any]:
        payload = ev.parse(ev.Resume, data)
        previous = self.bound.get(sid)
        joined: list[str] = []

        async def join(conversation_id: str) -> None:
            # In the room before the messages are read: nothing committed meanwhile is missed.
            joined.append(conversation_id)
            await self._bind(sid, conversation_id)

        try:
            conversation_id, result = await self.service.resume(payload.resume_token, payload.after_seq, join=join)
        except BaseException:
            if joined and previous != joined[0]:
                await self._unbind(sid)  # as before the failed resume
                if previous is not None:
                    await self._bind(sid, previous)
            raise
        if conversation_id is None and joined:
            await self._unbind(sid)  # it ended while we looked: bound to nothing
        return await self._reply(result, sid)

    async def on_message(self, sid: str, data: Any) -> dict[str, Any]:
        payload = ev.parse(ev.VisitorMessage, data)
        result = await self.service.visitor_message(self._conversation(sid), payload.client_id, payload.text)
        return await self._reply(result, sid)

    async def on_typing(self, sid: str, data: Any) -> dict[str, Any]:
        payload = ev.parse(ev.Typing, data)
        await self.dispatcher.send(await self.service.visitor_typing(self._conversation(sid), payload.typing))
        return {"ok": True}

    async def on_leave(self, sid: str, data: Any) -> dict[str, Any]:
        payload = ev.parse(ev.Leave, data)
        result = await self.service.leave(self._conversation(sid), quick_exit=payload.quick_exit)
        return await self._reply(result, sid)


class AgentNamespace(GuardedNamespace):
    """Authenticated advisors. The session of the token is checked at connect and again before
    every event (role and status as they are now, from a short-lived cache that an account
    change clears), and each event against the permission table (contact/permissions.py). A
    session that ends (logout, idle, disabled, role changed) disconnects its sockets."""

    DISCONNECT_GRACE_S = 1.0

    def __init__(
        self,
        dispatcher: Dispatcher,
        agents: AgentService,
        presence: Presence,
        trusted_proxies: frozenset[str] = frozenset(),
        cap: ConnectionCap | None = None,
        *,
        access_log: AccessLog,
        blocks: VisitorBlocks | None = None,
        status: StatusService | None = None,
        supervision: SupervisionService | None = None,
    ) -> None:
        super().__init__(AGENT_NS, dispatcher, trusted_proxies, cap)
        self.access_log = access_log
        self.blocks = blocks
        self.status = status
        self.supervision = supervision
        self.agents = agents
        self.presence = presence
        # sid -> (the agent as last checked, the session id)
        self.identities: dict[str, tuple[AgentIdentity, str]] = {}
        self._dropping: set[str] = set()
        agents.on_ended.append(self.sessions_ended)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            session = await self.agents.session(token)
            require(session.agent.role, "console")
        except Exception as exc:
            # Always a connect_error in the error shape: a client must never hang on a refusal.
            domain = exc if isinstance(exc, DomainError) else DomainError("unauthorized")
            if not isinstance(exc, DomainError):
                log.error("agent_connect_failed", error=type(exc).__name__)
            log.info("agent_refused", code=domain.code)
            payload = domain.payload()
            # The client's connect_error gets {"message": ..., "data": {"error": {...}}}.
            raise socketio.exceptions.ConnectionRefusedError(payload["error"]["message"], payload) from None
        agent = session.agent
        self._admit(sid, environ)
        self.identities[sid] = (agent, session.id)
        await self.enter_room(sid, agent_room(agent.id))
        await self.enter_room(sid, group_room(queue_group(agent.role, agent.teams)))
        await self.enter_room(sid, crisis_room("everyone"))
        if crisis_capable(agent.role, agent.teams, self.service.rules.crisis_team):
            await self.enter_room(sid, crisis_room("crisis"))
        await self.presence.connected(agent.id)
        log.info("agent_connected", agent_id=agent.id)
        if self.status is not None:
            try:
                await self.dispatcher.send((await self.status.connected(agent, session.id)).emits)
            except Exception as exc:
                # The console works without its status (it counts as available); never refuse it.
                log.error("agent_status_failed", error=type(exc).__name__)
        # Waiting visitors learn how many advisors are online (a count, in their `queue`).
        await self.dispatcher.send([QueueChanged()])
        # After the handler returns the connection is confirmed; then send the first snapshot.
        self.server.start_background_task(self._greet, sid, agent)

    async def _greet(self, sid: str, agent: AgentIdentity) -> None:
        try:
            for e in [*await self.service.agent_snapshot(agent), await self.dispatcher.crisis.open_alerts(agent)]:
                await self.emit(e.event, e.data, to=sid)
            offer = await self.dispatcher.push.open_offer(agent)
            if offer is not None:
                e = Offer.model_validate(offer).to(ToAgent(agent.id))
                await self.emit(e.event, e.data, to=sid)
            if self.status is not None:
                now = await self.status.current(agent.id)
                e = AgentStatusChanged.model_validate({"agent_id": agent.id, **now}).to(ToAgent(agent.id))
                await self.emit(e.event, e.data, to=sid)
        except Exception as exc:
            log.error("agent_greeting_failed", error=type(exc).__name__)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self._release(sid)
        entry = self.identities.pop(sid, None)
        if entry is not None:
            await self._stop_reading_all(sid, entry[0])
            try:
                await self.presence.disconnected(entry[0].id)
            except Exception as exc:
                log.error("presence_failed", error=type(exc).__name__)
            await self.dispatcher.send([QueueChanged()])

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if isinstance(event, str) and event not in ("connect", "disconnect") and hasattr(self, f"on_{event}"):
            sid = args[0] if args else None
            try:
                await self._recheck(sid, event)
            except DomainError as exc:
                log.info("refused", ns=self.namespace, on=event, code=exc.code)
                return exc.payload()
            except Exception as exc:
                if unavailable(exc):
                    log.warning("event_unavailable", ns=self.namespace, on=event, error=type(exc).__name__)
                    if self.observer is not None:
                        self.observer(event, "unavailable", 0.0)
                    return error_payload("unavailable")
                log.error("event_failed", ns=self.namespace, on=event, error=type(exc).__name__, exc_info=True)
                return error_payload("internal")
        return await super().trigger_event(event, *args)

    async def _recheck(self, sid: Any, event: str) -> None:
        """The session still works and its agent (as now) may do this event; else `unauthorized`
        (and the socket is let go) or `forbidden`."""
        entry = self.identities.get(sid) if isinstance(sid, str) else None
        if entry is None:
            raise DomainError("unauthorized")
        agent, session_id = entry
        action = socket_action(event)
        try:
            session = await self.agents.session_by_id(session_id)
        except DomainError:
            if sid not in self._dropping:
                self._dropping.add(sid)
                self.server.start_background_task(self._disconnect_soon, sid)
            # A demoted agent's session ended with the change; what they tried is named for what it is.
            now = await self.agents.get(agent.id)
            if now is not None and not allowed(now.role, action):
                raise DomainError("forbidden") from None
            raise
        self.identities[sid] = (session.agent, session_id)
        # The role is checked when the handler asks for the agent, after the payload was read:
        # bad input stays `invalid_input` whoever sends it.
        _ACTION.set(action)

    async def sessions_ended(self, agent_id: str) -> None:
        """Some session of this agent ended (here or, by the signal, in another process): let
        go of the sockets whose session no longer works."""
        self.agents.forget(agent_id)
        mine = {sid: session_id for sid, (a, session_id) in self.identities.items() if a.id == agent_id}
        if mine:
            await self._drop(mine)

    async def check_sessions(self) -> None:
        """The periodic fallback: every open socket's session, checked in one query."""
        if self.identities:
            await self._drop({sid: session_id for sid, (_, session_id) in self.identities.items()})

    async def _drop(self, sockets: dict[str, str]) -> None:
        gone = await self.agents.ended_among(sorted(set(sockets.values())))
        for sid, session_id in sockets.items():
            if session_id in gone and sid not in self._dropping:
                entry = self.identities.get(sid)
                log.info("agent_session_ended", agent_id=entry[0].id if entry else None)
                self._dropping.add(sid)
                # The console learns why (and shows the login); events already on their way in
                # the next moment are answered (`unauthorized`, or `forbidden` for a demoted
                # agent) before the socket goes.
                await self.emit("session_ended", {}, to=sid)
                self.server.start_background_task(self._disconnect_soon, sid)

    async def _disconnect_soon(self, sid: str) -> None:
        await asyncio.sleep(self.DISCONNECT_GRACE_S)
        self._dropping.discard(sid)
        await self.disconnect(sid)

    def _agent(self, sid: str) -> AgentIdentity:
        """The agent of this socket as checked just before this event (see `_recheck`), if
        their role may do this event."""
        entry = self.identities.get(sid)
        if entry is None:
            raise DomainError("unauthorized")
        require(entry[0].role, _ACTION.get())
        return entry[0]

    async def _call(
        self,
        sid: str,
        action: Callable[[AgentIdentity], Awaitable[Result]],
        logged: tuple[str, str] | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Run a use case and answer. With `logged` (action, conversation id): an answer that
        carries the conversation's content is first an entry in the access log; if that entry
        cannot be written the agent gets an error instead of the content (no entry, no data)."""
        agent = self._agent(sid)
        result = await action(agent)
        if logged is not None and isinstance(result.ack, dict) and "conversation" in result.ack:
            what, conversation_id = logged
            reader = self.access_log.reader(agent.id, agent.role, self._addresses.get(sid))
            await self.access_log.write(
                reader, what, contact_type="conversation", contact_id=conversation_id, reason=reason
            )
        return await self._reply(result, sid)

    async def on_sync(self, sid: str, data: Any) -> dict[str, Any]:
        """The queue and the agent's own conversations in the ack (for a console that reconnects)."""
        ev.parse(ev.Empty, data)
        agent = self._agent(sid)
        queue, mine = await self.service.agent_snapshot(agent)
        crises = await self.dispatcher.crisis.open_alerts(agent)
        offer = await self.dispatcher.push.open_offer(agent)
        answer = {"queue": queue.data, "mine": mine.data, "crises": crises.data, "offer": offer}
        if self.status is not None:
            answer["status"] = await self.status.current(agent.id)
        return answer

    async def on_accept(self, sid: str, data: Any) -> dict[str, Any]:
        p = ev.parse(ev.Accept, data)
        return await self._call(
            sid,
            lambda a: self.service.accept(a, p.conversation_id, confirm_visitor_away=p.confirm_visitor_away),
            ("conversation_accept", p.conversation_id),
        )

    async def on_message(self, sid: str, data: Any) -> dict[str, Any]:
        p = ev.parse(ev.AgentMessage, data)
        return await self._call(sid, lambda a: self.service.agent_message(a, p.conversation_id, p.client_id, p.text))

    async def on_typing(self, sid: str, data: Any) -> dict[str, Any]:
        p = ev.parse(ev.AgentTyping, data)
        await self.dispatcher.send(await self.service.agent_typing(self._agent(sid), p.conversation_id, p.typing))
        return {"ok": True}

    async def on_note(self, sid: str, data: Any) -> dict[str, Any]:
        p = ev.parse(ev.NoteIn, data)
        return await self._call(sid, lambda a: self.service.note(a, p.conversation_id, p.text))

    async def on_close(self, sid: str, data: Any) -> dict[str, Any]:
        p = ev.parse(ev.Close, data)
        outcome = p.outcome.model_dump()
        return await self._call(sid, lambda a: self.service.close(a, p.conversation_id, outcome))

    async def on_transfer(self, sid: str, data: Any) -> dict[str, Any]:
        p = ev.parse(ev.Transfer, data)
        return await self._call(sid, lambda a: self.service.transfer(a, p.conversation_id, p.team, p.agent_id))

    async def on_history(self, sid: str, data: Any) -> dict[str, Any]:
        p = ev.parse(ev.ConversationRef, data)
        return await self._call(
            sid, lambda a: self.service.history(a, p.conversation_id), ("conversation_history", p.conversation_id)
        )

    async def on_risk_feedback(self, sid: str, data: Any) -> dict[str, Any]:
        """A risk signal marked wrong, or a missed risk reported, on a visitor message."""
        p = ev.parse(ev.RiskFeedbackIn, data)
        if p.kind == "wrong":
            if p.concept is None:
                raise DomainError("invalid_input", field="concept")
            concept = p.concept
            return await self._call(sid, lambda a: self.service.mark_signal_wrong(a, p.conversation_id, p.seq, concept))
        return await self._call(sid, lambda a: self.service.report_missed(a, p.conversation_id, p.seq, p.concept))

    async def on_escalate(self, sid: str, data: Any) -> dict[str, Any]:
        p = ev.parse(ev.Escalate, data)
        return await self._call(sid, lambda a: self.dispatcher.crisis.escalate(a, p.conversation_id, p.reason))

    async def on_ack_crisis(self, sid: str, data: Any) -> dict[str, Any]:
        p = ev.parse(ev.ConversationRef, data)
        # Taking on a crisis shows the conversation (taken, or read along): on the crisis's behalf.
        ack = await self._call(
            sid,
            lambda a: self.dispatcher.crisis.acknowledge(a, p.conversation_id),
            ("conversation_accept", p.conversation_id),
            reason="crisis",
        )
        if ack.get("read_along"):
            await self.enter_room(sid, reader_room(p.conversation_id))
        return ack

    async def on_read_along(self, sid: str, data: Any) -> dict[str, Any]:
        """Read a conversation along, live (supervisor, or the crisis worker who took its crisis on)."""
        p = ev.parse(ev.ReadAlong, data)
        agent = self._agent(sid)
        ground = "supervision" if agent.is_supervisor else "crisis"
        ack = await self._call(
            sid,
            lambda a: self.dispatcher.takeover.read_along(a, p.conversation_id),
            ("read_along", p.conversation_id),
            reason=f"{ground}: {p.reason}" if p.reason else ground,
        )
        await self.enter_room(sid, reader_room(p.conversation_id))
        return ack

    async def on_take_over(self, sid: str, data: Any) -> dict[str, Any]:
        p = ev.parse(ev.ConversationRef, data)
        ack = await self._call(
            sid,
            lambda a: self.dispatcher.takeover.take_over(a, p.conversation_id),
            ("take_over", p.conversation_id),
            reason="take_over",
        )
        if ack.get("state") == "taken":
            # Now the holder: its messages come as the holder's, not twice as a reader's.
            await self.leave_room(sid, reader_room(p.conversation_id))
        return ack

    async def on_take_over_answer(self, sid: str, data: Any) -> dict[str, Any]:
        p = ev.parse(ev.TakeOverAnswer, data)
        return await self._call(sid, lambda a: self.dispatcher.takeover.answer(a, p.conversation_id, p.accept))

    async def on_pass(self, sid: str, data: Any) -> dict[str, Any]:
        """Let a push offer pass: the next agent gets it."""
        p = ev.parse(ev.ConversationRef, data)
        return await self._call(sid, lambda a: self.dispatcher.push.pass_offer(a, p.conversation_id))

    async def on_block_visitor(self, sid: str, data: Any) -> dict[str, Any]:
        """A supervisor blocks the visitor of a conversation (chat/blocks.py). Nothing is
        logged here: not the reason, not who was blocked."""
        p = ev.parse(ev.BlockVisitor, data)
        agent = self._agent(sid)
        if self.blocks is None:
            raise DomainError("not_found")
        reader = self.access_log.reader(agent.id, agent.role, self._addresses.get(sid))
        return await self.blocks.block(agent, reader, p.conversation_id, p.hours, p.reason, p.whole_address)

    # ---- the workplace: status, board, whisper, reading along (issue 17) ----------------------

    async def on_set_status(self, sid: str, data: Any) -> dict[str, Any]:
        """Beschikbaar, pauze, nawerk or offline: one's own, or (supervisor) a colleague's."""
        p = ev.parse(ev.SetStatus, data)
        if self.status is None:
            raise DomainError("unavailable")
        status = self.status
        return await self._call(sid, lambda a: status.set_status(a, p.status, p.agent_id))

    async def on_board(self, sid: str, data: Any) -> dict[str, Any]:
        """The supervisors' overview now; live `board` events follow on every change."""
        ev.parse(ev.Empty, data)
        self._agent(sid)
        if self.supervision is None:
            raise DomainError("unavailable")
        return await self.supervision.board()

    async def on_whisper(self, sid: str, data: Any) -> dict[str, Any]:
        """A whisper that only the advisor holding the conversation sees."""
        p = ev.parse(ev.WhisperIn, data)
        if self.supervision is None:
            raise DomainError("unavailable")
        supervision = self.supervision
        return await self._call(sid, lambda a: supervision.whisper(a, p.conversation_id, p.text))

    async def _stop_reading_all(self, sid: str, agent: AgentIdentity) -> None:
        """A reader's console went: each holder it read along with no longer shows it as reader."""
        if self.supervision is None:
            return
        try:
            rooms = [r for r in self.rooms(sid) if isinstance(r, str) and r.startswith("r:")]
            for room in rooms:
                await self.dispatcher.send((await self.supervision.stop_reading(agent, room[2:])).emits)
        except Exception as exc:
            log.error("read_along_stop_failed", error=type(exc).__name__)

    async def on_read_along_stop(self, sid: str, data: Any) -> dict[str, Any]:
        """Stop reading a conversation along: its messages no longer reach this console."""
        p = ev.parse(ev.ConversationRef, data)
        if self.supervision is None:
            raise DomainError("unavailable")
        supervision = self.supervision
        await self.leave_room(sid, reader_room(p.conversation_id))
        return await self._call(sid, lambda a: supervision.stop_reading(a, p.conversation_id))
