"""The lean Engine.IO socket (chat/transport.py): its packet queue behaves as Engine.IO needs, the
WebSocket refuses permessage-deflate, pings come from timers and still find a silent client out,
and nothing else of the transport changed (size limit, polling, the python-socketio client)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web

from app import lifecycles
from chat.transport import ContactSocketServer, LeanEngineServer, SlimQueue
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


@pytest.fixture
async def quick_pings():
    """A bare Socket.IO server on the lean engine that pings every 0.2 s and waits 0.5 s for the pong."""
    sio = ContactSocketServer(async_mode="aiohttp", ping_interval=0.2, ping_timeout=0.5, cors_allowed_origins=None)
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
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
