"""Input that used to answer `internal` or a 500, on SQLite and on PostgreSQL: NUL and other control
characters, lone surrogates, integers beyond a column, JSON nested thousands deep, Unicode
digits, impossible file names, odd tokens, malformed frames. Each gets the error shape and
changes nothing; the server serves on."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import aiohttp
import pytest
import socketio
from aiohttp import ClientSession

from chat.store import conversations, messages
from contact.migrate import upgrade
from tests.chat.test_bad_input import code, count_rows
from tests.support.server import (
    Client,
    RunningServer,
    add_agent,
    agent_client,
    login,
    make_settings,
    migrated_sqlite,
    start_payload,
    visitor,
)

POISON = ["a\x00b", "\x00", "a\x01b", "a\x1bb", "a\x7fb", "a\x85b", "a\ud800b", "\udfff"]


@pytest.fixture(params=["sqlite", "postgres"], scope="module")
async def poison_server(request, tmp_path_factory):
    if request.param == "sqlite":
        url = await migrated_sqlite(str(tmp_path_factory.mktemp("poison") / "poison.db"))
    else:
        url = request.getfixturevalue("postgres").create_database(f"poison_{uuid.uuid4().hex[:8]}")
        await asyncio.to_thread(upgrade, url)
    server = await RunningServer(make_settings(url)).start()
    yield server
    await server.stop()


async def _agent(server):
    identity, password = await add_agent(server.settings.database_url)
    token = await login(server.url, identity.username, password)
    return token, await agent_client(server.url, token)


async def test_control_characters_and_surrogates_in_visitor_events(poison_server):
    server = poison_server
    v = await visitor(server.url)
    before = await count_rows(server, conversations)
    for bad in POISON:
        assert code(await v.call("start", start_payload(topic=bad))) == "invalid_input", repr(bad)
    assert await count_rows(server, conversations) == before
    started = await v.call("start", start_payload(topic="regel een\nregel\ttwee"))
    cid = started["conversation_id"]
    for bad in POISON:
        for payload in ({"client_id": "c", "text": bad}, {"client_id": bad, "text": "hoi"}):
            assert code(await v.call("message", payload)) == "invalid_input", payload
        assert code(await v.call("resume", {"resume_token": bad, "after_seq": 0})) == "invalid_input"
    for after_seq in (2**31, 2**63, 10**30, -1):
        assert code(await v.call("resume", {"resume_token": "x" * 43, "after_seq": after_seq})) == "invalid_input"
    assert await count_rows(server, messages, conversation_id=cid) == 0
    # A message with line breaks and tabs is fine, and the same connection works on.
    assert (await v.call("message", {"client_id": "ok", "text": "hallo\r\nik ben\tthuis"}))["seq"] == 1
    back = await (await visitor(server.url)).call(
        "resume", {"resume_token": started["resume_token"], "after_seq": 2**31 - 1}
    )
    assert back["conversation_id"] == cid and back["messages"] == []
    await v.disconnect()


async def test_control_characters_in_agent_events(poison_server):
    server = poison_server
    _, a = await _agent(server)
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    assert "conversation" in await a.call("accept", {"conversation_id": cid})
    for bad in POISON:
        for event, payload in [
            ("accept", {"conversation_id": bad}),
            ("message", {"conversation_id": cid, "client_id": "m", "text": bad}),
            ("message", {"conversation_id": cid, "client_id": bad, "text": "hoi"}),
            ("note", {"conversation_id": cid, "text": bad}),
            ("typing", {"conversation_id": bad, "typing": True}),
            ("history", {"conversation_id": bad}),
            ("escalate", {"conversation_id": cid, "reason": bad}),
            ("transfer", {"conversation_id": cid, "team": bad}),
            ("transfer", {"conversation_id": cid, "agent_id": bad}),
            ("read_along", {"conversation_id": bad}),
            ("take_over", {"conversation_id": bad}),
            ("pass", {"conversation_id": bad}),
            ("ack_crisis", {"conversation_id": bad}),
            ("risk_feedback", {"conversation_id": bad, "seq": 1, "kind": "missed"}),
            ("risk_feedback", {"conversation_id": cid, "seq": 1, "kind": "wrong", "concept": bad}),
            ("close", {"conversation_id": cid, "outcome": {"kind": "advies", "summary": bad}}),
            ("close", {"conversation_id": cid, "outcome": {"kind": "melding", "gemeente": bad}}),
            ("close", {"conversation_id": cid, "outcome": {"kind": "melding", "phone": bad}}),
            ("close", {"conversation_id": cid, "outcome": {"kind": "melding", "email": bad}}),
            ("close", {"conversation_id": cid, "outcome": {"kind": "advies", "expertise": [bad]}}),
        ]:
            assert code(await a.call(event, payload)) == "invalid_input", (event, payload)
    assert await count_rows(server, messages, conversation_id=cid) == 0
    assert (await a.call("message", {"conversation_id": cid, "client_id": "m", "text": "nog hier"}))["seq"] == 1
    assert await a.call("close", {"conversation_id": cid, "outcome": {"kind": "geen"}}) == {"ok": True}
    for c in (v, a):
        await c.disconnect()


async def test_deep_json_on_a_socket_gets_an_answer(poison_server):
    server = poison_server
    v = await visitor(server.url)
    deep: object = "x"
    for _ in range(100):  # deeper than the client itself can encode is sent raw, below
        deep = [deep]
    assert code(await v.call("start", deep)) == "invalid_input"
    assert code(await v.call("start", {"caller_type": "kind", "intent": "advies", "topic": [[[[[["x"]]]]]]})) == (
        "invalid_input"
    )
    assert "conversation_id" in await v.call("start", start_payload())
    await v.disconnect()


@pytest.mark.parametrize("bad", ["a\x00b", "\ud800", "é" * 10, "x" * 5000, "a b", "Zm9v\x7f"])
async def test_odd_agent_tokens_are_unauthorized(poison_server, bad):
    server = poison_server
    c = Client("/agent")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(server.url, auth={"token": bad})
    assert c.connect_error is not None and c.connect_error["data"]["error"]["code"] == "unauthorized"
    # The same token in an Authorization header, sent raw (a client library would refuse it).
    status, body = await _raw_get(server, "/api/agent/routing", b"Authorization: Bearer " + _wire(bad))
    if bad.isprintable() or "\ud800" in bad:
        assert status == 401 and json.loads(body)["error"]["code"] == "unauthorized", (status, body)
    else:  # aiohttp's parser refuses a control character in a header before our code runs
        assert status == 400, (status, body)


def _wire(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


async def _raw_get(server, path: str, header: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + header + b"\r\n\r\n")
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_http_bodies_paths_and_queries(poison_server):
    server = poison_server
    token, a = await _agent(server)
    auth = {"Authorization": f"Bearer {token}"}
    deep = "[" * 5000 + "]" * 5000
    as_json = {"Content-Type": "application/json"}
    slots = "/api/callbacks/slots"
    async with ClientSession() as http:

        async def answer(method, path, status, error, **kw):
            async with http.request(method, f"{server.url}{path}", **kw) as r:
                body = await r.json()
                assert r.status == status, (path, r.status, body)
                assert body["error"]["code"] == error, (path, body)

        for bad in POISON:
            raw = json.dumps({"username": bad, "password": "x" * 12}).encode()
            await answer("POST", "/api/agent/login", 422, "invalid_input", data=raw, headers=as_json)
            booking = {
                "kind": "terugbellen",
                "slot_start": "2026-12-01T09:00:00+01:00",
                "phone": "0612345678",
                "caller_type": "volwassene",
                "safe_to_leave_voicemail": True,
                "name": bad,
            }
            raw = json.dumps(booking).encode()
            await answer("POST", "/api/callbacks", 422, "invalid_input", data=raw, headers=as_json)
        for path in ("/api/callbacks/a%00b", "/api/callbacks/%ED%A0%80", "/api/callbacks/a%01b/calendar.ics"):
            await answer("GET", path, 404, "not_found")
        await answer("POST", "/api/callbacks/a%00b/cancel", 404, "not_found")
        await answer("POST", "/api/agent/callbacks/a%00b/claim", 404, "not_found", headers=auth)
        await answer("GET", "/api/agent/cases/a%00b", 404, "not_found", headers=auth)
        await answer("POST", "/api/agent/login", 422, "invalid_input", data=deep, headers=as_json)
        for days in ("²", "٣", "1" * 5000, "-1", "1e2", "0"):
            await answer(
                "GET", "/api/callbacks/slots", 422, "invalid_input", params={"kind": "terugbellen", "days": days}
            )
        await answer("GET", "/api/agent/cases", 422, "invalid_input", params={"due_within_days": "²"}, headers=auth)
        # The risk figures are a supervisor's: an advisor is refused before the input is looked at.
        boss, boss_password = await add_agent(server.settings.database_url, role="supervisor")
        boss_auth = {"Authorization": f"Bearer {await login(server.url, boss.username, boss_password)}"}
        await answer(
            "GET", "/api/supervisor/risk/concepts", 422, "invalid_input", params={"from": "\x00"}, headers=boss_auth
        )
        await answer(
            "GET",
            slots,
            422,
            "invalid_input",
            params={"kind": "terugbellen", "from": "２０２６-12-01"},
        )
        for name in (
            "bestaat-niet.css",
            "x" * 300,
            "a%00b.css",
            "..%2f..%2fsecret",
            "%ED%A0%80.js",
            "x" * 300 + ".css",
        ):
            await answer("GET", f"/widget/{name}", 404, "not_found")
            await answer("GET", f"/console/static/{name}", 404, "not_found")
        async with http.get(f"{server.url}/widget/widget.css") as r:
            assert r.status == 200
        # A refused CORS preflight is in the error shape too.
        await answer(
            "OPTIONS",
            "/api/callbacks",
            403,
            "forbidden",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        async with http.get(f"{server.url}/healthz") as r:
            assert r.status == 200
    await a.disconnect()


async def test_malformed_frames_are_one_info_line_without_traceback(poison_server, caplog):
    server = poison_server
    caplog.set_level(logging.DEBUG)
    async with ClientSession() as http:
        async with http.get(f"{server.url}/socket.io/?EIO=4&transport=polling") as r:
            opened = json.loads((await r.text())[1:])
        sid = opened["sid"]
        url = f"{server.url}/socket.io/?EIO=4&transport=polling&sid={sid}"
        async with http.post(url, data="40/visitor,{}") as r:
            assert r.status == 200
        async with http.get(url) as r:
            await r.text()
        frames = [
            '42/visitor,{"not": "a list"}',
            "42/visitor,1[broken",
            "42/visitor,5",
            "42/visitor,2" + "[" * 5000 + "]" * 5000,
            "9garbage",
            '4\x00/visitor,["start"]',
            "42/visitor,3[]",
        ]
        for frame in frames:
            async with http.post(url, data=frame.encode("utf-8", "surrogatepass")) as r:
                assert r.status < 500, frame
    # The socket may be gone; the server is not.
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], [
        (r.name, r.getMessage()) for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR
    ]
    # Over WebSocket too.
    async with ClientSession() as http:
        async with http.ws_connect(f"{server.url}/socket.io/?EIO=4&transport=websocket") as ws:
            await ws.receive()
            await ws.send_str("40/visitor,{}")
            await ws.receive()
            await ws.send_str('42/visitor,7["start", ' + "[" * 5000 + "]" * 5000 + "]")
            answer = await ws.receive(timeout=5)
            assert answer.type == aiohttp.WSMsgType.TEXT and "invalid_input" in answer.data, answer
            await ws.send_str('42/visitor,8{"x": 1}')
            answer = await ws.receive(timeout=5)
            assert "invalid_input" in answer.data
            for frame in ("9junk", "42/visitor,1[broken"):
                await ws.send_str(frame)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    v = await visitor(server.url)
    assert "conversation_id" in await v.call("start", start_payload())
    await v.disconnect()


async def _raw(server, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(request)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"application/json" in head.lower(), head
    return int(head.split()[1]), body


async def test_requests_aiohttp_refuses_itself_are_one_quiet_log_line(poison_server, caplog):
    """A request line or header aiohttp cannot parse (or too long) never reaches our app: its
    400 is in our error shape (contact/serving.py), the log has one INFO line for it, no
    traceback and no address, and the server serves on."""
    server = poison_server
    caplog.set_level(logging.DEBUG)
    for request in [
        b"GET /api/status?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /api/status HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
        b"GET /api/status HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /api/status HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/9.9.9\r\nHost: x\r\n\r\n",
    ]:
        status, body = await _raw(server, request + b"\r\n")
        assert status == 400, (request[:40], status, body)
        assert json.loads(body)["error"]["code"] == "invalid_input"
    loud = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not loud, [(r.name, r.getMessage()) for r in loud]
    # (aiohttp.access: the test runner uses aiohttp's own access log; the CLI uses PrivateAccessLogger.)
    assert not [r for r in caplog.records if r.name != "aiohttp.access" and "127.0.0.1" in r.getMessage()]
    assert [r for r in caplog.records if r.getMessage().startswith("bad_http_request")]
    async with ClientSession() as http:
        async with http.get(f"{server.url}/healthz") as r:
            assert r.status == 200


async def test_an_agent_name_with_control_characters_is_refused(poison_server):
    from contact.errors import DomainError

    for name in ("Naam\x00", "Naam\ud800"):
        with pytest.raises(DomainError) as refused:
            await add_agent(poison_server.settings.database_url, name=name)
        assert refused.value.code == "invalid_input"
    identity, _ = await add_agent(poison_server.settings.database_url, name="Anna de Vries-Özdemir")
    assert identity.name == "Anna de Vries-Özdemir"
