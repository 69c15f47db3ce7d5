"""Every bad input named in the issue gets the error shape of docs/protocol.md and changes nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import socketio
from sqlalchemy import func, select

from chat.store import conversations, messages
from contact.auth import TokenSigner
from contact.clock import ManualClock
from contact.db import Database
from tests.support.server import (
    SECRET,
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


def code(ack):
    assert set(ack) == {"error"}, ack
    assert ack["error"]["message"] and isinstance(ack["error"]["message"], str)
    return ack["error"]["code"]


async def count_rows(server, table, **where):
    db = Database(server.settings.database_url)
    try:
        async with db.read() as conn:
            q = select(func.count()).select_from(table)
            for k, v in where.items():
                q = q.where(table.c[k] == v)
            return await conn.scalar(q)
    finally:
        await db.dispose()


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {},
        {"caller_type": "kind"},  # intent missing
        {"caller_type": "alien", "intent": "advies"},
        {"caller_type": "kind", "intent": "advies", "danger_now": "yes"},
        {"caller_type": "kind", "intent": "advies", "extra": 1},
        {"caller_type": 1, "intent": "advies"},
        {"caller_type": "kind", "intent": "advies", "topic": "x" * 201},
        ["kind", "advies"],
        "start",
    ],
)
async def test_bad_start_is_refused_and_stores_nothing(server, payload):
    v = await visitor(server.url)
    before = await count_rows(server, conversations)
    ack = await v.call("start", payload) if payload is not None else await v.call("start")
    assert code(ack) == "invalid_input"
    assert await count_rows(server, conversations) == before
    # The connection is still usable after a refusal.
    assert "conversation_id" in await v.call("start", start_payload())
    await v.disconnect()


async def test_message_before_start(server):
    v = await visitor(server.url)
    assert code(await v.call("message", {"client_id": "a", "text": "hoi"})) == "not_found"
    assert code(await v.call("typing", {"typing": True})) == "not_found"
    assert code(await v.call("leave", {})) == "not_found"
    await v.disconnect()


@pytest.mark.parametrize(
    "payload",
    [
        {"client_id": "a", "text": ""},
        {"client_id": "a", "text": "   \n "},
        {"client_id": "a", "text": "x" * 4001},
        {"client_id": "a"},
        {"text": "hoi"},
        {"client_id": "", "text": "hoi"},
        {"client_id": "a" * 65, "text": "hoi"},
        {"client_id": 5, "text": "hoi"},
        {"client_id": "a", "text": ["hoi"]},
        {"client_id": "a", "text": "hoi", "to": "agent"},
    ],
)
async def test_bad_message_is_refused_and_stores_nothing(server, payload):
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    assert code(await v.call("message", payload)) == "invalid_input"
    assert await count_rows(server, messages, conversation_id=cid) == 0
    ok = await v.call("message", {"client_id": "ok", "text": "x" * 4000})  # the limit itself is fine
    assert ok["seq"] == 1
    await v.disconnect()


async def test_unknown_event_and_binary_payload(server):
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    assert code(await v.call("launch_missiles", {})) == "invalid_input"
    assert code(await v.call("message", {"client_id": "b", "text": b"binary"})) == "invalid_input"
    assert code(await v.call("message", b"\x00\x01")) == "invalid_input"
    assert await count_rows(server, messages, conversation_id=cid) == 0
    await v.disconnect()


async def test_reserved_event_names_from_a_client_are_refused(server):
    v = await visitor(server.url)
    assert code(await v.call("connect", {"aiohttp.request": "x", "token": "y"})) == "invalid_input"
    assert code(await v.call("connect")) == "invalid_input"
    assert "conversation_id" in await v.call("start", start_payload())  # still fine
    _, _, a = await _agent(server)
    assert code(await a.call("connect", {"token": "forged"})) == "invalid_input"
    assert "queue" in await a.call("sync", {})
    for c in (v, a):
        await c.disconnect()


async def test_start_twice_on_one_connection_is_a_conflict(server):
    v = await visitor(server.url)
    first = await v.call("start", start_payload())
    assert code(await v.call("start", start_payload())) == "conflict"
    # Only the server issues resume tokens: a token sent with `start` (someone else's, or one
    # the client made up) is ignored, and the new conversation gets a fresh one.
    other = await visitor(server.url)
    again = await other.call("start", start_payload(resume_token=first["resume_token"]))
    assert again["conversation_id"] != first["conversation_id"]
    assert again["resume_token"] != first["resume_token"]
    third = await visitor(server.url)
    chosen = await third.call("start", start_payload(resume_token="x" * 40))
    assert chosen["resume_token"] != "x" * 40
    # The first visitor still owns their conversation and token.
    fourth = await visitor(server.url)
    back = await fourth.call("resume", {"resume_token": first["resume_token"], "after_seq": 0})
    assert back["conversation_id"] == first["conversation_id"] and back["status"] == "waiting"
    for c in (v, other, third, fourth):
        await c.disconnect()


async def test_resume_with_unknown_or_malformed_token(server):
    v = await visitor(server.url)
    # A token that was never issued reads nothing back: the one answer of every dead token.
    unknown = await v.call("resume", {"resume_token": "x" * 43, "after_seq": 0})
    assert (
        unknown["status"] == "closed"
        and unknown["messages"] == []
        and set(unknown)
        == {
            "conversation_id",
            "status",
            "messages",
        }
    )
    assert code(await v.call("message", {"client_id": "1", "text": "hallo"})) == "not_found"
    assert code(await v.call("resume", {"resume_token": "x" * 43, "after_seq": -1})) == "invalid_input"
    assert code(await v.call("resume", {"resume_token": "x" * 43, "after_seq": "0"})) == "invalid_input"
    assert code(await v.call("resume", {"after_seq": 0})) == "invalid_input"
    await v.disconnect()


async def test_resume_token_of_another_visitor_reveals_nothing_else(server):
    a = await visitor(server.url)
    b = await visitor(server.url)
    ra = await a.call("start", start_payload())
    rb = await b.call("start", start_payload())
    await a.call("message", {"client_id": "1", "text": "geheim van a"})
    # b guessing: a token of the right shape but not a's reads nothing back, and b stays bound to its own.
    forged = rb["resume_token"][:-4] + ("AAAA" if not rb["resume_token"].endswith("AAAA") else "BBBB")
    guessed = await b.call("resume", {"resume_token": forged, "after_seq": 0})
    assert guessed["status"] == "closed" and guessed["messages"] == []
    assert guessed["conversation_id"] not in (ra["conversation_id"], rb["conversation_id"])
    mine = await b.call("resume", {"resume_token": rb["resume_token"], "after_seq": 0})
    assert mine["conversation_id"] == rb["conversation_id"] and mine["messages"] == []
    assert ra["conversation_id"] != rb["conversation_id"]
    await a.disconnect()
    await b.disconnect()


async def test_visitor_flood_is_rate_limited(server):
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    limit = server.settings.visitor_message_limit
    acks = await asyncio.gather(
        *(v.call("message", {"client_id": f"f{i}", "text": f"spam {i}"}) for i in range(limit + 15))
    )
    stored = [a for a in acks if "seq" in a]
    refused = [a for a in acks if "error" in a]
    assert len(stored) == limit
    assert refused and all(a["error"]["code"] == "rate_limited" for a in refused)
    assert await count_rows(server, messages, conversation_id=cid) == limit
    # seq stays gapless however the flood interleaved.
    assert sorted(a["seq"] for a in stored) == list(range(1, limit + 1))
    await v.disconnect()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_payload_of_several_megabytes_is_refused_without_harm(server, transport):
    """Refused by the transport before it is read (WebSocket close 1009, HTTP 413 on polling):
    the connection closes, nothing is stored, the server serves on."""
    v = await Client("/visitor").connect(server.url, transports=[transport])
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await v.sio.emit("message", {"client_id": "big", "text": "x" * (5 * 1024 * 1024)}, namespace="/visitor")
    for _ in range(100):
        if not v.sio.connected:
            break
        await asyncio.sleep(0.05)
    assert not v.sio.connected
    assert await count_rows(server, messages, conversation_id=cid) == 0
    again = await visitor(server.url)
    assert "conversation_id" in await again.call("start", start_payload())
    await again.disconnect()


async def test_oversized_http_body_is_an_error_shape(server):
    from aiohttp import ClientSession

    async with ClientSession() as http:
        async with http.post(
            f"{server.url}/api/agent/login",
            data=b"{" + b" " * (3 * 1024 * 1024) + b"}",
            headers={"Content-Type": "application/json"},
        ) as r:
            assert r.status == 413
            assert (await r.json())["error"]["code"] == "invalid_input"
        for body, ctype in [
            (b"not json", "application/json"),
            (b"[]", "application/json"),
            (b"{}", "text/plain"),
            (b'{"username": 1, "password": "x"}', "application/json"),
        ]:
            async with http.post(f"{server.url}/api/agent/login", data=body, headers={"Content-Type": ctype}) as r:
                assert r.status == 422, body
                assert (await r.json())["error"]["code"] == "invalid_input"


# ---- agents -----------------------------------------------------------------------------


async def _agent(server, role="advisor"):
    identity, password = await add_agent(server.settings.database_url, role=role)
    token = await login(server.url, identity.username, password)
    return identity, token, await agent_client(server.url, token)


async def _refused(server, auth):
    c = Client("/agent")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(server.url, auth=auth)
    assert c.connect_error is not None
    return c.connect_error["data"]["error"]


@pytest.mark.parametrize("auth", [None, {}, {"token": ""}, {"token": "forged.token.value"}, {"token": 42}, "token"])
async def test_agent_connect_without_valid_token_is_refused(server, auth):
    err = await _refused(server, auth)
    assert err["code"] == "unauthorized"


async def test_token_signed_with_another_key_or_of_an_unknown_agent_is_refused(server):
    identity, password = await add_agent(server.settings.database_url)
    other = TokenSigner("some-other-secret-key-1234567890", 3600)
    assert (await _refused(server, {"token": other.issue(identity.id)}))["code"] == "unauthorized"
    ours = TokenSigner(SECRET, 3600)
    assert (await _refused(server, {"token": ours.issue("no-such-agent")}))["code"] == "unauthorized"
    tampered = ours.issue(identity.id)[:-3] + "abc"
    assert (await _refused(server, {"token": tampered}))["code"] == "unauthorized"
    # A well-signed token of no session (the agent's id in it, as tokens once were): refused.
    assert (await _refused(server, {"token": ours.issue(identity.id)}))["code"] == "unauthorized"
    c = await agent_client(server.url, await login(server.url, identity.username, password))
    await c.disconnect()


async def test_expired_token_is_refused_at_connect_and_mid_session(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "ttl.db"))
    clock = ManualClock(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    own = await RunningServer(make_settings(url, token_ttl_s=3600), clock).start()
    try:
        identity, password = await add_agent(url)
        token = await login(own.url, identity.username, password)
        agent = await agent_client(own.url, token)
        assert "queue" in await agent.call("sync", {})
        clock.advance(seconds=3601)
        assert code(await agent.call("sync", {})) == "unauthorized"
        for _ in range(100):  # and the socket is closed
            if not agent.sio.connected:
                break
            await asyncio.sleep(0.02)
        assert not agent.sio.connected
        assert (await _refused(own, {"token": token}))["code"] == "unauthorized"
    finally:
        await own.stop()


async def test_accept_unknown_closed_or_taken_conversation(server):
    _, _, a1 = await _agent(server)
    _, _, a2 = await _agent(server)
    assert code(await a1.call("accept", {"conversation_id": "no-such-conversation"})) == "not_found"
    assert code(await a1.call("accept", {})) == "invalid_input"
    assert code(await a1.call("accept", {"conversation_id": 7})) == "invalid_input"
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    assert "conversation" in await a1.call("accept", {"conversation_id": cid})
    assert code(await a2.call("accept", {"conversation_id": cid})) == "already_taken"
    await v.call("leave", {})
    assert code(await a2.call("accept", {"conversation_id": cid})) == "closed"
    for c in (v, a1, a2):
        await c.disconnect()


async def test_agent_cannot_touch_a_conversation_it_does_not_hold(server):
    _, _, holder = await _agent(server)
    _, _, other = await _agent(server)
    _, _, boss = await _agent(server, role="supervisor")
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await holder.call("accept", {"conversation_id": cid})
    outcome = {"kind": "advies", "summary": "x"}
    assert code(await other.call("close", {"conversation_id": cid, "outcome": outcome})) == "forbidden"
    assert code(await other.call("message", {"conversation_id": cid, "client_id": "x", "text": "hoi"})) == "forbidden"
    assert code(await other.call("note", {"conversation_id": cid, "text": "x"})) == "forbidden"
    assert code(await other.call("typing", {"conversation_id": cid, "typing": True})) == "forbidden"
    assert code(await other.call("history", {"conversation_id": cid})) == "forbidden"
    assert code(await other.call("close", {"conversation_id": "nope", "outcome": outcome})) == "not_found"
    # A supervisor may read, not write.
    assert (await boss.call("history", {"conversation_id": cid}))["conversation"]["id"] == cid
    assert code(await boss.call("message", {"conversation_id": cid, "client_id": "x", "text": "hoi"})) == "forbidden"
    assert await count_rows(server, messages, conversation_id=cid) == 0
    for c in (v, holder, other, boss):
        await c.disconnect()


async def test_close_needs_a_complete_outcome(server):
    _, _, a = await _agent(server)
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await a.call("accept", {"conversation_id": cid})
    incomplete = await a.call(
        "close", {"conversation_id": cid, "outcome": {"kind": "melding", "summary": "x", "urgency": "hoog"}}
    )
    assert code(incomplete) == "outcome_incomplete" and incomplete["error"]["missing"] == ["gemeente"]
    for bad in [{"kind": "iets"}, {"kind": "melding", "urgency": "heel erg"}, {}, {"kind": "advies", "extra": 1}]:
        assert code(await a.call("close", {"conversation_id": cid, "outcome": bad})) == "invalid_input"
    # Nothing changed: the conversation is still open and can be closed properly.
    assert (await a.call("message", {"conversation_id": cid, "client_id": "m", "text": "nog hier"}))["seq"] == 1
    assert (await a.call("close", {"conversation_id": cid, "outcome": {"kind": "geen"}})) == {"ok": True}
    assert code(await a.call("close", {"conversation_id": cid, "outcome": {"kind": "geen"}})) == "closed"
    for c in (v, a):
        await c.disconnect()


async def test_capacity_reached(server):
    identity, _, a = await _agent(server)
    limit = server.settings.max_concurrent_chats
    visitors = [await visitor(server.url) for _ in range(limit + 1)]
    cids = [(await v.call("start", start_payload()))["conversation_id"] for v in visitors]
    for cid in cids[:limit]:
        assert "conversation" in await a.call("accept", {"conversation_id": cid})
    full = await a.call("accept", {"conversation_id": cids[limit]})
    assert code(full) == "capacity_reached"
    # It stays in the queue for a colleague.
    _, _, colleague = await _agent(server)
    assert "conversation" in await colleague.call("accept", {"conversation_id": cids[limit]})
    for c in (*visitors, a, colleague):
        await c.disconnect()


async def test_cross_origin_handshake_is_refused(server):
    evil = Client("/visitor")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await evil.connect(server.url, headers={"Origin": "https://evil.example"})
    with pytest.raises(socketio.exceptions.ConnectionError):
        await Client("/visitor").connect(server.url, headers={"Origin": "https://evil.example"}, transports=["polling"])
    same = await Client("/visitor").connect(server.url, headers={"Origin": server.url})
    assert "conversation_id" in await same.call("start", start_payload())
    await same.disconnect()


async def test_login_flood_is_rate_limited(server):
    from aiohttp import ClientSession

    identity, password = await add_agent(server.settings.database_url)
    async with ClientSession() as http:
        statuses = []
        for _ in range(server.settings.login_max_failures + 2):
            async with http.post(
                f"{server.url}/api/agent/login", json={"username": identity.username, "password": "wrong-password"}
            ) as r:
                statuses.append(r.status)
                body = await r.json()
        assert statuses[: server.settings.login_max_failures] == [401] * server.settings.login_max_failures
        assert statuses[-1] == 429 and body["error"]["code"] == "rate_limited"
        # Even the right password waits out the window now.
        async with http.post(
            f"{server.url}/api/agent/login", json={"username": identity.username, "password": password}
        ) as r:
            assert r.status == 429


async def test_start_limit_counts_visitors_behind_a_trusted_proxy_apart(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "proxy.db"))
    own = await RunningServer(make_settings(url, start_limit_per_ip=2, forwarded_allow_ips="127.0.0.1")).start()
    try:

        async def start_as(forwarded: str):
            c = await Client("/visitor").connect(own.url, headers={"X-Forwarded-For": forwarded})
            ack = await c.call("start", start_payload())
            await c.disconnect()
            return ack

        school = "198.51.100.7, 127.0.0.1"  # the last hop that is not our proxy counts
        assert "conversation_id" in await start_as(school)
        assert "conversation_id" in await start_as(school)
        assert code(await start_as(school)) == "rate_limited"
        assert "conversation_id" in await start_as("203.0.113.9")  # someone else is not blocked
    finally:
        await own.stop()


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "noproxy.db"))
    own = await RunningServer(make_settings(url, start_limit_per_ip=1)).start()
    try:
        first = await Client("/visitor").connect(own.url, headers={"X-Forwarded-For": "203.0.113.1"})
        assert "conversation_id" in await first.call("start", start_payload())
        forged = await Client("/visitor").connect(own.url, headers={"X-Forwarded-For": "203.0.113.2"})
        assert code(await forged.call("start", start_payload())) == "rate_limited"
        for c in (first, forged):
            await c.disconnect()
    finally:
        await own.stop()
