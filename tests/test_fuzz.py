"""Fuzz every Socket.IO event of both namespaces and every HTTP endpoint with random input (text
with control characters and lone surrogates, huge integers, nesting, wrong types): each answer
is a success or the error shape, never `internal`, a 500 or silence; afterwards the server
still answers /healthz and a normal start + message.

VT_FUZZ_EXAMPLES scales the run (CI: the default, a few thousand inputs in all; a bench: more)."""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from typing import Any

import pytest
from aiohttp import ClientSession, ClientTimeout, web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.server import (
    RunningServer,
    add_agent,
    agent_client,
    login,
    make_settings,
    migrated_sqlite,
    start_payload,
    visitor,
)

EXAMPLES = int(os.environ.get("VT_FUZZ_EXAMPLES", "1000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)
CODE = re.compile(r"^[a-z][a-z0-9_]*$")

NASTY = ["\x00", "\ud800", "\udfff", "\x01", "\x1b", "\x7f", "\x85", "\u2028", "\ufeff", "²", "٣", "\n", " "]
short_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from([*NASTY, "a", "Z", "0", "-", "é", "😀"]), max_size=40),
    st.sampled_from(NASTY),
)
text = st.one_of(short_text, st.text(min_size=3000, max_size=5000, alphabet="ab\x00"))
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([2**31 - 1, 2**31, 2**63, -(2**31) - 1, 0, -1]),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
value = st.recursive(
    scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=12
)
deep = st.integers(min_value=30, max_value=200).map(lambda n: json.loads("[" * n + "]" * n))

VISITOR_EVENTS: dict[str, dict[str, Any]] = {
    "start": start_payload(),
    "message": {"client_id": "c1", "text": "hallo"},
    "typing": {"typing": True},
    "resume": {"resume_token": "x" * 43, "after_seq": 0},
    "leave": {"quick_exit": False},
}
AGENT_EVENTS: dict[str, dict[str, Any]] = {
    "sync": {},
    "accept": {"conversation_id": "c", "confirm_visitor_away": False},
    "message": {"conversation_id": "c", "client_id": "m", "text": "hoi"},
    "typing": {"conversation_id": "c", "typing": True},
    "note": {"conversation_id": "c", "text": "notitie"},
    "close": {"conversation_id": "c", "outcome": {"kind": "advies", "summary": "s", "expertise": ["x"]}},
    "transfer": {"conversation_id": "c", "team": "jeugd"},
    "history": {"conversation_id": "c"},
    "escalate": {"conversation_id": "c", "reason": "r"},
    "ack_crisis": {"conversation_id": "c"},
    "read_along": {"conversation_id": "c"},
    "take_over": {"conversation_id": "c"},
    "take_over_answer": {"conversation_id": "c", "accept": True},
    "pass": {"conversation_id": "c"},
    "risk_feedback": {"conversation_id": "c", "seq": 1, "kind": "wrong", "concept": "wapen"},
}


def _mutated(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    """The event's own shape with one field (or one nested outcome field) replaced or added."""
    keys = [*base, "extra"]
    one = st.tuples(st.sampled_from(keys), st.one_of(value, deep)).map(lambda kv: {**base, kv[0]: kv[1]})
    return st.one_of(one, value, deep, st.just(base))


def socket_case(events: dict[str, dict[str, Any]]) -> st.SearchStrategy[tuple[str, Any]]:
    return st.one_of(
        *(st.tuples(st.just(name), _mutated(base)) for name, base in events.items()),
        st.tuples(text, value),  # unknown or odd event names
    )


def assert_answer(ack: Any) -> None:
    """A success (anything but an error) or exactly the error shape, never `internal`."""
    if isinstance(ack, dict) and "error" in ack:
        assert set(ack) == {"error"}, ack
        error = ack["error"]
        assert isinstance(error["code"], str) and CODE.match(error["code"]), ack
        assert error["code"] != "internal", ack
        assert isinstance(error["message"], str) and error["message"], ack


@pytest.fixture(scope="module")
async def fuzz_server(tmp_path_factory):
    url = await migrated_sqlite(str(tmp_path_factory.mktemp("fuzz") / "fuzz.db"))
    server = await RunningServer(
        make_settings(url, login_max_failures=10**6, callback_limit_per_ip=10**6, visitor_message_limit=10**6)
    ).start()
    identity, password = await add_agent(url, role="supervisor")
    server.token = await login(server.url, identity.username, password)  # type: ignore[attr-defined]
    yield server
    await server.stop()


@pytest.fixture(scope="module")
async def fuzz_clients(fuzz_server):
    v = await visitor(fuzz_server.url)
    await v.call("start", start_payload())
    a = await agent_client(fuzz_server.url, fuzz_server.token)
    yield v, a
    for c in (v, a):
        await c.disconnect()


async def _still_healthy(server) -> None:
    async with ClientSession() as http:
        async with http.get(f"{server.url}/healthz") as r:
            assert r.status == 200
    v = await visitor(server.url)
    started = await v.call("start", start_payload())
    assert "conversation_id" in started, started
    assert (await v.call("message", {"client_id": "after", "text": "nog steeds goed"}))["seq"] == 1
    await v.disconnect()


@FUZZ
@given(case=socket_case(VISITOR_EVENTS))
async def test_fuzz_visitor_events(fuzz_server, fuzz_clients, case):
    v, _ = fuzz_clients
    event, payload = case
    if not v.sio.connected:  # a refusal may never cost the connection, but a `leave` may end the chat
        pytest.fail("the visitor's connection was dropped")
    assert_answer(await v.call(event, payload, timeout=10))


@FUZZ
@given(case=socket_case(AGENT_EVENTS))
async def test_fuzz_agent_events(fuzz_server, fuzz_clients, case):
    _, a = fuzz_clients
    event, payload = case
    assert a.sio.connected
    assert_answer(await a.call(event, payload, timeout=10))


def _routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, path template) of every route but the Socket.IO transport."""
    found = []
    for resource in app.router.resources():
        info = resource.get_info()
        template = info.get("formatter") or info.get("path")
        if isinstance(resource, web.StaticResource):
            template = info["prefix"] + "/{filename}"
        if not template or template.startswith("/socket.io"):
            continue
        for route in resource:
            if route.method != "HEAD":
                found.append((route.method, template))
    return sorted(set(found))


def _quote(part: str) -> str:
    return urllib.parse.quote(part.encode("utf-8", "surrogatepass"), safe="")


def _encodable(t: str) -> bool:
    return not any("\ud800" <= c <= "\udfff" for c in t)


QUERY_NAMES = ["kind", "from", "days", "date", "status", "due_within_days", "overdue"]
body = st.one_of(
    value.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    deep.map(lambda v: json.dumps(v).encode()),
    st.just(b"[" * 5000 + b"]" * 5000),
)


@FUZZ
@given(
    data=st.data(),
    part=short_text,
    # Short: a request line over 8 KiB is refused by aiohttp itself (see docs/protocol.md).
    query=st.dictionaries(
        st.sampled_from(QUERY_NAMES),
        short_text.filter(_encodable),
        max_size=3,
    ),
    payload=body,
    authorised=st.booleans(),
    json_type=st.booleans(),
)
async def test_fuzz_http_endpoints(fuzz_server, data, part, query, payload, authorised, json_type):
    routes = _routes(fuzz_server.app)
    method, template = data.draw(st.sampled_from(routes))
    path = re.sub(r"\{[^}]+\}", lambda _: _quote(part) or "x", template)
    headers = {"Content-Type": "application/json" if json_type else "text/plain"}
    # A logout would end the session every other example shares (tests/contact/test_accounts.py
    # tests it); unauthorised it is fuzzed like the rest.
    if authorised and template != "/api/agent/logout":
        headers["Authorization"] = f"Bearer {fuzz_server.token}"
    qs = urllib.parse.urlencode(query)
    async with ClientSession(timeout=ClientTimeout(total=20)) as http:
        async with http.request(
            method, f"{fuzz_server.url}{path}{'?' + qs if qs else ''}", data=payload, headers=headers
        ) as r:
            raw = await r.read()
            assert r.status < 500, (method, path, r.status, raw[:300])
            if r.status >= 400:
                assert_answer(json.loads(raw))


async def test_fuzz_leaves_the_server_healthy(fuzz_server, fuzz_clients):
    """Runs after the fuzz tests above (file order)."""
    await _still_healthy(fuzz_server)
    _, a = fuzz_clients
    assert "queue" in await a.call("sync", {})
