"""The lean Engine.IO socket (chat/transport.py): its packet queue behaves as Engine.IO needs, the
WebSocket refuses permessage-deflate, pings come from timers and still find a silent client out,
and nothing else of the transport changed (size limit, polling, the python-socketio client)."""

from __future__ import annotations

import asyncio
import json
import warnings

import aiohttp
import pytest
import socketio
from aiohttp import web

from app import lifecycles
from chat.transport import (
    ContactSocketServer,
    LeanEngineServer,
    LeanSocket,
    SlimQueue,
    aiohttp_as_checked,
    library_changes,
)
from tests.support.server import Client, RunningServer, make_settings, migrated_sqlite, start_payload

# --------------------------------------------------------------------------- SlimQueue --


async def test_items_come_out_in_order_and_get_nowait_raises_when_empty():
    q = SlimQueue()
    for i in range(3):
        await q.put(i)
    assert q.qsize() == 3 and not q.empty()
    assert [await q.get(), q.get_nowait(), await q.get()] == [0, 1, 2]
    assert q.empty()
    with pytest.raises(asyncio.QueueEmpty):
        q.get_nowait()


async def test_a_waiting_get_receives_the_next_put():
    q = SlimQueue()
    waiting = q.get()
    assert not waiting.done()
    q.put_nowait("ping")
    assert await waiting == "ping"
    assert q.empty()


async def test_a_get_that_timed_out_does_not_swallow_the_next_item():
    q = SlimQueue()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(q.get(), 0.01)
    q.put_nowait("after")
    assert await asyncio.wait_for(q.get(), 1) == "after"


async def test_waiting_gets_are_served_first_come_first_served():
    q = SlimQueue()
    first, second = q.get(), q.get()
    first.cancel()
    third = q.get()
    q.put_nowait("a")
    q.put_nowait("b")
    assert await second == "a" and await third == "b"


async def test_join_waits_until_every_item_is_done():
    q = SlimQueue()
    await q.join()  # nothing queued: at once
    q.put_nowait(1)
    q.put_nowait(2)
    joined = asyncio.ensure_future(q.join())
    await q.get()
    q.task_done()
    await asyncio.sleep(0)
    assert not joined.done()
    await q.get()
    q.task_done()
    await asyncio.wait_for(joined, 1)
    with pytest.raises(ValueError):
        q.task_done()


# ---------------------------------------------------------------------- a real server --


@pytest.fixture
async def server(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "transport.db"))
    running = await RunningServer(make_settings(url)).start()
    yield running
    await running.stop()


async def _open_visitor(ws: aiohttp.ClientWebSocketResponse) -> None:
    opened = await ws.receive_str(timeout=5)
    assert opened.startswith("0")
    await ws.send_str("40/visitor,")
    assert (await ws.receive_str(timeout=5)).startswith("40/visitor,")


async def test_the_server_uses_the_lean_engine_and_its_queue(server):
    assert server.app is not None
    eio = server.app[lifecycles.SIO].eio
    assert isinstance(eio, LeanEngineServer)
    client = await Client("/visitor").connect(server.url)
    try:
        assert [type(s.queue) for s in eio.sockets.values()] == [SlimQueue]
        ack = await client.call("start", start_payload())
        assert "conversation_id" in ack
    finally:
        await client.disconnect()


async def test_a_websocket_offering_deflate_gets_no_compression_and_still_works(server):
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{server.url}/socket.io/?EIO=4&transport=websocket", compress=15) as ws:
            assert ws.compress == 0
            await _open_visitor(ws)
            await ws.send_str("42/visitor,1" + json.dumps(["start", start_payload()]))
            ack = await ws.receive_str(timeout=10)
            assert ack.startswith("43/visitor,1") and "conversation_id" in ack


async def test_a_frame_over_the_size_limit_still_ends_the_socket(server):
    limit = server.settings.max_http_buffer_size
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{server.url}/socket.io/?EIO=4&transport=websocket") as ws:
            await _open_visitor(ws)
            await ws.send_str("42/visitor," + json.dumps(["typing", {"typing": True, "x": "y" * limit}]))
            while True:
                msg = await ws.receive(timeout=5)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                    break
            assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


async def test_long_polling_still_works(server):
    client = await Client("/visitor").connect(server.url, transports=["polling"])
    try:
        ack = await client.call("start", start_payload())
        assert "conversation_id" in ack
    finally:
        await client.disconnect()


# ------------------------------------------------------------------------------ pings --


async def _serve(sio: ContactSocketServer) -> tuple[web.AppRunner, int]:
    """`sio` on a bare aiohttp app on an ephemeral port of 127.0.0.1."""
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, runner.addresses[0][1]


@pytest.fixture
async def quick_pings():
    """A bare Socket.IO server on the lean engine that pings every 0.2 s and waits 0.5 s for the pong."""
    sio = ContactSocketServer(async_mode="aiohttp", ping_interval=0.2, ping_timeout=0.5, cors_allowed_origins=None)
    runner, port = await _serve(sio)
    yield sio, f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    await runner.cleanup()


def _ping_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if "_send_ping" in getattr(t.get_coro(), "__qualname__", "")]


async def test_pings_come_from_timers_and_a_client_that_answers_stays(quick_pings):
    _, url = quick_pings
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        assert (await ws.receive_str(timeout=5)).startswith("0")
        started = asyncio.get_running_loop().time()
        pings = 0
        while asyncio.get_running_loop().time() - started < 1.5:
            frame = await ws.receive_str(timeout=2)
            if frame == "2":
                pings += 1
                await ws.send_str("3")
                await asyncio.sleep(0.05)  # the pong arrived: the wait for the next ping has begun
                assert _ping_tasks() == []  # as a timer, not a task
        assert pings >= 4 and not ws.closed


async def test_a_client_that_stops_answering_pings_is_closed(quick_pings):
    sio, url = quick_pings
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        assert (await ws.receive_str(timeout=5)).startswith("0")
        assert await ws.receive_str(timeout=2) == "2"  # no pong
        while True:
            msg = await ws.receive(timeout=3)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                break
        for _ in range(50):
            if not sio.eio.sockets:
                break
            await asyncio.sleep(0.05)
        assert sio.eio.sockets == {}


# ------------------------------------------------- one task per WebSocket (session 8) --


def test_the_parts_of_python_engineio_and_aiohttp_we_copy_or_rely_on_are_as_checked():
    changed = library_changes()
    # python-engineio is pinned to the minor version checked: a change there is ours to look at.
    assert [name for name in changed if name.startswith("engineio")] == [], (
        f"a new library version changed {changed}: compare with chat/transport.py (LeanSocket, "
        "SlimQueue, _ping_due, _write_at_once) and update FINGERPRINTS"
    )
    # aiohttp has a lower bound only: a newer one turns the direct write off (said once at
    # start-up), it does not break sending; the other tests of this module then run that way.
    if any(name.startswith("aiohttp") for name in changed):
        warnings.warn(f"aiohttp changed {changed}: packets go through the writer task", stacklevel=1)
    assert aiohttp_as_checked() == (not [name for name in changed if name.startswith("aiohttp")])


@pytest.fixture
async def relay():
    """A bare Socket.IO server on the lean engine (pings every 0.3 s, 0.6 s for the pong) with a
    namespace that records connects and disconnects and emits `count` numbered events on `burst`."""
    sio = ContactSocketServer(async_mode="aiohttp", ping_interval=0.3, ping_timeout=0.6, cors_allowed_origins=None)
    seen: dict[str, list[str]] = {"connect": [], "disconnect": []}

    @sio.on("connect")
    async def _connect(sid, environ, auth=None):
        seen["connect"].append(sid)

    @sio.on("disconnect")
    async def _disconnect(sid, reason=None):
        seen["disconnect"].append(sid)

    @sio.on("burst")
    async def _burst(sid, data):
        for i in range(data["count"]):
            await sio.emit("n", {"i": i, "pad": "x" * data.get("pad", 0)}, to=sid)
        return "sent"

    runner, port = await _serve(sio)
    yield sio, f"http://127.0.0.1:{port}", seen, runner
    await runner.cleanup()


def _transport_tasks() -> list[str]:
    names = [getattr(t.get_coro(), "__qualname__", "") for t in asyncio.all_tasks()]
    return [n for n in names if n.startswith(("AsyncSocket._websocket_handler", "LeanSocket._write_queued"))]


async def _until(check, timeout: float = 5) -> None:
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def _raw_connect(http: aiohttp.ClientSession, base: str) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(f"{base}/socket.io/?EIO=4&transport=websocket")
    assert (await ws.receive_str(timeout=5)).startswith("0")
    await ws.send_str("40")
    assert (await ws.receive_str(timeout=5)).startswith("40")
    return ws


async def _events(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[int]:
    got: list[int] = []
    while len(got) < count:
        frame = await ws.receive_str(timeout=10)
        if frame == "2":
            await ws.send_str("3")
        elif frame.startswith('42["n"'):
            got.append(json.loads(frame[2:])[1]["i"])
    return got


async def test_an_idle_websocket_has_no_reader_or_writer_task_of_its_own(relay):
    sio, base, _seen, _ = relay
    async with aiohttp.ClientSession() as http:
        sockets = [await _raw_connect(http, base) for _ in range(5)]
        await asyncio.sleep(0.05)
        assert _transport_tasks() == []
        assert {type(s) for s in sio.eio.sockets.values()} == {LeanSocket}
        for ws in sockets:
            await ws.close()


async def test_a_burst_arrives_complete_and_in_order_and_the_writer_then_ends(relay):
    _, base, _seen, _ = relay
    async with aiohttp.ClientSession() as http:
        ws = await _raw_connect(http, base)
        await ws.send_str('421["burst",{"count":500}]')
        assert await _events(ws, 500) == list(range(500))
        await _until(lambda: _transport_tasks() == [])
        await ws.close()


async def test_with_the_direct_write_off_a_burst_still_arrives_in_order(relay, monkeypatch):
    """What a newer aiohttp than the one checked gets: every packet through the writer task."""
    _, base, _seen, _ = relay
    monkeypatch.setattr("chat.transport.aiohttp_as_checked", lambda: False)
    async with aiohttp.ClientSession() as http:
        ws = await _raw_connect(http, base)
        await ws.send_str('421["burst",{"count":200}]')
        assert await _events(ws, 200) == list(range(200))
        await _until(lambda: _transport_tasks() == [])
        await ws.close()


async def test_a_packet_to_an_idle_socket_is_written_at_once_without_a_task(relay):
    sio, base, seen, _ = relay
    async with aiohttp.ClientSession() as http:
        ws = await _raw_connect(http, base)
        (sock,) = sio.eio.sockets.values()
        for i in range(3):
            await sio.emit("n", {"i": i}, to=seen["connect"][0])
            assert sock.queue.writer is None and sock.queue.qsize() == 0  # on the wire already
        assert await _events(ws, 3) == [0, 1, 2]
        await ws.close()


async def test_a_client_that_does_not_read_gets_backpressure_then_everything_in_order(relay):
    """While the client reads nothing the writer waits for the transport to drain and the
    rest waits in the queue; once it reads, every frame arrives, in order."""
    sio, base, _seen, _ = relay
    async with aiohttp.ClientSession() as http:
        ws = await _raw_connect(http, base)
        (sock,) = sio.eio.sockets.values()
        reader = ws._response.connection.protocol  # type: ignore[union-attr]
        reader.pause_reading()  # the client's kernel buffers fill, then the server's transport pauses
        await ws.send_str('421["burst",{"count":400,"pad":20000}]')
        await _until(lambda: sock.queue.qsize() > 0 and sock.queue.writer is not None)
        reader.resume_reading()
        assert await _events(ws, 400) == list(range(400))
        await _until(lambda: sock.queue.writer is None and sock.queue.qsize() == 0)
        await ws.close()


async def test_a_server_side_disconnect_closes_the_websocket_at_once(relay):
    sio, base, seen, _ = relay
    async with aiohttp.ClientSession() as http:
        ws = await _raw_connect(http, base)
        sid = seen["connect"][0]
        started = asyncio.get_running_loop().time()
        await sio.disconnect(sid)
        while True:
            msg = await ws.receive(timeout=5)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                break
        assert asyncio.get_running_loop().time() - started < 2
        await _until(lambda: sio.eio.sockets == {} and seen["disconnect"] == [sid])


async def test_a_client_silent_after_connecting_is_closed_without_a_read_timeout(relay):
    """No pong and nothing else: Engine.IO's ping check closes the socket and the writer closes the
    WebSocket (there is no read timeout any more)."""
    sio, base, seen, _ = relay
    async with aiohttp.ClientSession() as http:
        ws = await _raw_connect(http, base)
        started = asyncio.get_running_loop().time()
        while True:
            msg = await ws.receive(timeout=5)  # the ping ("2") is not answered
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                break
        # ping after 0.3 s, given up 0.6 s later, found by the check within another 0.6 s
        assert asyncio.get_running_loop().time() - started < 3
        await _until(lambda: sio.eio.sockets == {} and len(seen["disconnect"]) == 1)


async def test_a_socket_closed_mid_write_ends_cleanly(relay, caplog):
    sio, base, seen, _ = relay
    loop = asyncio.get_running_loop()
    unretrieved: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: unretrieved.append(context))
    try:
        async with aiohttp.ClientSession() as http:
            ws = await _raw_connect(http, base)
            (sock,) = sio.eio.sockets.values()
            await ws.send_str('421["burst",{"count":300,"pad":20000}]')
            await _until(lambda: sock.queue.writer is not None)
            ws._response.connection.transport.abort()  # type: ignore[union-attr]
            await _until(lambda: sio.eio.sockets == {} and len(seen["disconnect"]) == 1)
            await _until(lambda: sock.queue.writer is None and sock.queue.qsize() == 0 and sock.queue.ws is None)
            await sock.queue.join()  # every packet was done with: a close(wait=True) would not hang
        assert _transport_tasks() == []
        assert unretrieved == []
    finally:
        loop.set_exception_handler(None)


async def test_many_sockets_closing_at_once_all_end(relay):
    sio, base, seen, _ = relay
    async with aiohttp.ClientSession() as http:
        sockets = await asyncio.gather(*(_raw_connect(http, base) for _ in range(60)))
        assert len(sio.eio.sockets) == 60
        half = len(sockets) // 2
        await asyncio.gather(*(ws.close() for ws in sockets[:half]))
        for ws in sockets[half:]:
            ws._response.connection.transport.abort()  # type: ignore[union-attr]
        await _until(lambda: sio.eio.sockets == {} and len(seen["disconnect"]) == 60)
        assert sorted(seen["disconnect"]) == sorted(seen["connect"])
        await _until(lambda: _transport_tasks() == [])


async def test_an_upgrade_from_polling_still_works(relay):
    sio, base, seen, _ = relay
    client = socketio.AsyncClient(reconnection=False)
    got: list[int] = []
    client.on("n", lambda data: got.append(data["i"]))
    await client.connect(base, transports=["polling", "websocket"], wait_timeout=5)
    try:
        await _until(lambda: client.eio.current_transport == "websocket")
        (sock,) = sio.eio.sockets.values()
        assert sock.upgraded and sock.queue.ws is not None
        assert await client.call("burst", {"count": 50}, timeout=5) == "sent"
        await _until(lambda: len(got) == 50)
        assert got == list(range(50))
        await asyncio.sleep(1)  # pings and pongs over the upgraded socket keep it open
        assert sio.eio.sockets and client.connected
    finally:
        await client.disconnect()
    await _until(lambda: sio.eio.sockets == {} and len(seen["disconnect"]) == 1)


async def test_the_server_shutting_down_closes_every_websocket(relay):
    sio, base, seen, runner = relay
    async with aiohttp.ClientSession() as http:
        sockets = [await _raw_connect(http, base) for _ in range(10)]
        await asyncio.wait_for(runner.cleanup(), 15)
        for ws in sockets:
            while True:
                msg = await ws.receive(timeout=5)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                    break
        assert sorted(seen["disconnect"]) == sorted(seen["connect"])


def test_packets_the_server_builds_are_not_searched_for_bytes_and_encode_as_before(monkeypatch):
    from chat.sockets import GuardedPacket

    def searched(*_args):
        raise AssertionError("searched for bytes")

    data = ["message", {"conversation_id": "c", "text": "hallo", "seq": [1, {"x": None}]}]
    expected = socketio.packet.Packet(socketio.packet.EVENT, data=data, namespace="/agent", id=3).encode()
    monkeypatch.setattr(GuardedPacket, "data_is_binary", classmethod(searched))
    built = GuardedPacket(socketio.packet.EVENT, data=data, namespace="/agent", id=3)
    assert built.packet_type == socketio.packet.EVENT and built.encode() == expected
    # A client's binary event is still read as one (and refused by the namespaces: test_bad_input).
    incoming = GuardedPacket(encoded_packet='51-/visitor,["message",{"_placeholder":true,"num":0}]')
    assert incoming.packet_type == socketio.packet.BINARY_EVENT and incoming.attachment_count == 1
