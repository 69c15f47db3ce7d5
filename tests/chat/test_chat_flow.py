"""The whole advice chat on a real server with real Socket.IO clients: start, queue, accept,
talk, notes, close; and what each side is told on the way."""

from __future__ import annotations

import uuid

from aiohttp import ClientSession

from tests.support.server import add_agent, agent_client, login, login_answer, start_payload, visitor


async def _agent(server, role="advisor"):
    identity, password = await add_agent(server.settings.database_url, role=role, name="Femke van Dijk")
    token = await login(server.url, identity.username, password)
    return identity, await agent_client(server.url, token)


async def test_whole_chat_from_start_to_close(server):
    me, agent = await _agent(server)
    await agent.wait_for("queue")
    await agent.wait_for("mine")

    v = await visitor(server.url)
    started = await v.call("start", start_payload(caller_type="kind", intent="melding", topic="ruzie thuis"))
    cid = started["conversation_id"]
    assert started["status"] == "waiting"
    assert started["queue"]["position"] >= 1 and started["queue"]["estimated_wait_s"] > 0
    assert len(started["resume_token"]) >= 32

    # The agent's queue shows it with what the visitor chose.
    snapshot = await agent.wait_for("queue", lambda q: any(w["conversation_id"] == cid for w in q["waiting"]))
    entry = next(w for w in snapshot["waiting"] if w["conversation_id"] == cid)
    assert entry["caller_type"] == "kind" and entry["intent"] == "melding" and entry["team"] == "jeugd"
    assert entry["danger_now"] is False and entry["topic"] == "ruzie thuis"

    # A visitor may write while waiting; the advisor sees it on accepting.
    early = await v.call("message", {"client_id": "c1", "text": "hallo, is er iemand?"})
    assert early["seq"] == 1

    accepted = await agent.call("accept", {"conversation_id": cid})
    conv = accepted["conversation"]
    assert conv["id"] == cid and conv["status"] == "active"
    assert [m["text"] for m in conv["messages"]] == ["hallo, is er iemand?"]
    assigned = await v.wait_for("assigned")
    assert assigned == {"agent": {"name": "Femke"}}  # first name only
    await agent.wait_for("mine", lambda m: [c["id"] for c in m["conversations"]] == [cid])
    # Once taken it leaves everyone's queue.
    await agent.wait_for("queue", lambda q: all(w["conversation_id"] != cid for w in q["waiting"]))

    sent = await agent.call("message", {"conversation_id": cid, "client_id": "a1", "text": "Hoi, ik ben Femke."})
    assert sent["seq"] == 2
    got = await v.wait_for("message", lambda m: m["seq"] == 2)
    assert got["sender"] == "agent" and got["text"] == "Hoi, ik ben Femke." and got["id"] == sent["id"]

    reply = await v.call("message", {"client_id": "c2", "text": "ik durf niet naar huis"})
    assert reply["seq"] == 3
    at_agent = await agent.wait_for("message", lambda m: m["seq"] == 3)
    assert at_agent["conversation_id"] == cid and at_agent["sender"] == "visitor"

    await v.call("typing", {"typing": True})
    assert (await agent.wait_for("typing"))["typing"] is True
    await agent.call("typing", {"conversation_id": cid, "typing": True})
    assert (await v.wait_for("typing")) == {"typing": True}

    note = await agent.call("note", {"conversation_id": cid, "text": "kind lijkt angstig, school bellen?"})
    assert note["id"]

    closed = await agent.call(
        "close",
        {
            "conversation_id": cid,
            "outcome": {"kind": "melding", "summary": "zorgen", "urgency": "hoog", "gemeente": "Utrecht"},
        },
    )
    assert closed["ok"] is True
    assert (await v.wait_for("closed")) == {"reason": "agent_closed", "outcome": "melding"}
    await agent.wait_for("mine", lambda m: m["conversations"] == [])

    # Notes never reach the visitor; seqs are 1..3 without gaps on both sides.
    assert all("angstig" not in str(m) for m in v.events["message"])
    history = await agent.call("history", {"conversation_id": cid})
    assert [m["seq"] for m in history["conversation"]["messages"]] == [1, 2, 3]
    assert [n["text"] for n in history["conversation"]["notes"]] == ["kind lijkt angstig, school bellen?"]
    assert all(n["internal"] for n in history["conversation"]["notes"])
    await v.disconnect()
    await agent.disconnect()


async def test_same_client_id_is_stored_once(server):
    v = await visitor(server.url)
    await v.call("start", start_payload())
    first = await v.call("message", {"client_id": "retry-1", "text": "een"})
    again = await v.call("message", {"client_id": "retry-1", "text": "een"})
    assert again == first
    nxt = await v.call("message", {"client_id": "retry-2", "text": "twee"})
    assert nxt["seq"] == first["seq"] + 1
    await v.disconnect()


async def test_queue_positions_and_leaving(server):
    me, agent = await _agent(server)
    a = await visitor(server.url)
    b = await visitor(server.url)
    ra = await a.call("start", start_payload(caller_type="volwassene"))
    rb = await b.call("start", start_payload(caller_type="volwassene"))
    assert rb["queue"]["position"] == ra["queue"]["position"] + 1
    # When the first leaves, the second moves up and is told so.
    assert await a.call("leave", {}) == {"ok": True}
    assert (await a.wait_for("closed")) == {"reason": "visitor_left"}
    moved = await b.wait_for("queue", lambda q: q["position"] == rb["queue"]["position"] - 1)
    assert moved["estimated_wait_s"] > 0
    await agent.wait_for("queue", lambda q: all(w["conversation_id"] != ra["conversation_id"] for w in q["waiting"]))
    err = await agent.call("accept", {"conversation_id": ra["conversation_id"]})
    assert err["error"]["code"] == "closed"
    for c in (a, b, agent):
        await c.disconnect()


async def test_visitor_leaving_tells_the_agent(server):
    me, agent = await _agent(server)
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await agent.call("accept", {"conversation_id": cid})
    await v.call("leave", {})
    left = await agent.wait_for("visitor_left")
    assert left["conversation_id"] == cid and left["quick_exit"] is False
    err = await agent.call("message", {"conversation_id": cid, "client_id": "x", "text": "nog daar?"})
    assert err["error"]["code"] == "closed"
    await v.disconnect()
    await agent.disconnect()


async def test_status_endpoint(server):
    async with ClientSession() as http, http.get(f"{server.url}/api/status") as r:
        body = await r.json()
        assert r.status == 200
        assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert "Set-Cookie" not in r.headers
    assert body["chat"]["open"] is True and body["chat"]["opens_at"] is None
    assert body["phone"] == {"advice": "0800-2000", "emergency": "112"}
    assert isinstance(body["chat"]["queue_length"], int)


async def test_login_answers_identity_and_refuses_wrong_password(server):
    me, password = await add_agent(server.settings.database_url, role="supervisor", teams=("crisis",))
    # A supervisor logs in with a second factor (enrolled by the helper the first time).
    body = await login_answer(server.url, me.username, password)
    async with ClientSession() as http:
        assert body["agent"] == {"id": me.id, "name": me.name, "role": "supervisor", "teams": ["crisis"]}
        async with http.post(
            f"{server.url}/api/agent/login", json={"username": me.username, "password": password + "x"}
        ) as r:
            assert r.status == 401
            assert (await r.json())["error"]["code"] == "invalid_credentials"
        async with http.post(
            f"{server.url}/api/agent/login", json={"username": f"nobody-{uuid.uuid4().hex}", "password": "x"}
        ) as r:
            assert r.status == 401
            assert (await r.json())["error"]["code"] == "invalid_credentials"


async def test_status_is_readable_by_configured_sites_only(tmp_path):
    from tests.support.server import RunningServer, make_settings, migrated_sqlite

    url = await migrated_sqlite(str(tmp_path / "cors.db"))
    own = await RunningServer(make_settings(url, allowed_origins="https://www.veiligthuis.nl")).start()
    try:
        async with ClientSession() as http:
            async with http.get(f"{own.url}/api/status", headers={"Origin": "https://www.veiligthuis.nl"}) as r:
                assert r.headers["Access-Control-Allow-Origin"] == "https://www.veiligthuis.nl"
            async with http.get(f"{own.url}/api/status", headers={"Origin": "https://evil.example"}) as r:
                assert "Access-Control-Allow-Origin" not in r.headers
            async with http.get(f"{own.url}/widget/widget.css") as r:
                assert r.status == 200 and r.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
            async with http.get(f"{own.url}/console") as r:
                assert "Cross-Origin-Resource-Policy" not in r.headers
                assert r.headers["X-Frame-Options"] == "DENY"
            # The widget on a configured site may ask for tijdvakken and book (JSON: a preflight first).
            preflight = {"Origin": "https://www.veiligthuis.nl", "Access-Control-Request-Method": "POST"}
            async with http.options(f"{own.url}/api/callbacks", headers=preflight) as r:
                assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == "https://www.veiligthuis.nl"
                assert "POST" in r.headers["Access-Control-Allow-Methods"]
                assert r.headers["Access-Control-Allow-Headers"] == "Content-Type"
            async with http.options(
                f"{own.url}/api/callbacks", headers={**preflight, "Origin": "https://evil.example"}
            ) as r:
                assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers
            slots = f"{own.url}/api/callbacks/slots?kind=terugbellen"
            async with http.get(slots, headers={"Origin": "https://www.veiligthuis.nl"}) as r:
                assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "https://www.veiligthuis.nl"
            # Not the manage link, not the agents' API.
            async with http.options(f"{own.url}/api/agent/cases", headers=preflight) as r:
                assert "Access-Control-Allow-Origin" not in r.headers
    finally:
        await own.stop()
