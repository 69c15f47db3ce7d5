"""Quick exit on the server side: POST /api/visitor/exit always asks the browser to clear our
origin, and no API or Socket.IO answer may be kept in an HTTP cache (issue 10)."""

from __future__ import annotations

import pytest
from aiohttp import ClientSession, WSServerHandshakeError

from tests.support.server import start_payload, visitor

CLEAR = '"cache", "storage"'


def assert_exit_answer(r) -> None:
    assert r.status == 204
    assert r.headers["Clear-Site-Data"] == CLEAR
    assert r.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in r.headers


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (None, None),  # nothing at all
        (b"", "text/plain"),
        (b'{"resume_token": "abcdefghijklmnopqrstuvwxyz0123456789"}', "text/plain;charset=UTF-8"),  # sendBeacon
        (b'{"resume_token": "abcdefghijklmnopqrstuvwxyz0123456789"}', "application/json"),
        (b'{"resume_token": null}', "text/plain"),
        (b'{"resume_token": 42, "x": [1, 2]}', "text/plain"),
        (b"not json at all \xff\xfe", "text/plain"),
        (b"[" * 4000, "text/plain"),  # nested deeper than the parser's recursion limit
        (b"\x00" * 3000, "application/octet-stream"),
        (b"resume_token=abc", "application/x-www-form-urlencoded"),
    ],
)
async def test_exit_answers_204_with_clear_site_data_whatever_the_body(server, body, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    async with ClientSession() as http:
        async with http.post(f"{server.url}/api/visitor/exit", data=body, headers=headers) as r:
            assert_exit_answer(r)
            assert await r.read() == b""


async def test_exit_with_a_huge_body_is_never_a_500(server):
    async with ClientSession() as http:
        # Larger than VT_MAX_HTTP_BUFFER_SIZE, with a Content-Length: not read at all.
        async with http.post(
            f"{server.url}/api/visitor/exit", data=b"x" * (3 * 1024 * 1024), headers={"Content-Type": "text/plain"}
        ) as r:
            assert r.status in (204, 413)
            assert r.headers["Cache-Control"] == "no-store"
            if r.status == 204:
                assert r.headers["Clear-Site-Data"] == CLEAR

        # Chunked (no Content-Length): only the first few KB are read.
        async def chunks():
            for _ in range(64):
                yield b"y" * 16384

        async with http.post(f"{server.url}/api/visitor/exit", data=chunks()) as r:
            assert r.status in (204, 413)
            assert r.headers["Cache-Control"] == "no-store"

        # The server serves on.
        async with http.post(f"{server.url}/api/visitor/exit") as r:
            assert_exit_answer(r)


async def test_exit_is_post_only_and_its_refusal_is_not_cached(server):
    async with ClientSession() as http:
        async with http.get(f"{server.url}/api/visitor/exit") as r:
            assert r.status == 405
            assert r.headers["Cache-Control"] == "no-store"
            assert (await r.json())["error"]["code"] == "invalid_input"


async def test_api_answers_are_never_stored(server):
    async with ClientSession() as http:
        async with http.get(f"{server.url}/api/status") as r:
            assert r.status == 200
            assert r.headers["Cache-Control"] == "no-store"
            assert r.headers["X-Content-Type-Options"] == "nosniff"  # the other headers stay
            assert "Content-Security-Policy" in r.headers
        async with http.get(f"{server.url}/api/no-such-thing") as r:
            assert r.status == 404 and r.headers["Cache-Control"] == "no-store"
        async with http.get(f"{server.url}/api/callbacks/not-a-real-token") as r:
            assert r.status == 404 and r.headers["Cache-Control"] == "no-store"
        async with http.post(f"{server.url}/api/agent/login", data=b"{}", headers={"Content-Type": "text/plain"}) as r:
            assert r.status == 422 and r.headers["Cache-Control"] == "no-store"
        async with http.post(
            f"{server.url}/api/agent/login",
            data=b"{" + b" " * (3 * 1024 * 1024) + b"}",
            headers={"Content-Type": "application/json"},
        ) as r:
            assert r.status == 413 and r.headers["Cache-Control"] == "no-store"
        # Pages keep their own caching rule.
        async with http.get(f"{server.url}/") as r:
            assert r.headers["Cache-Control"] == "no-cache"


async def test_socket_io_answers_are_never_stored(server):
    async with ClientSession() as http:
        async with http.get(f"{server.url}/socket.io/?EIO=4&transport=polling") as r:
            assert r.status == 200
            assert r.headers["Cache-Control"] == "no-store"
            assert "Set-Cookie" not in r.headers
        async with http.get(f"{server.url}/socket.io/?EIO=4&transport=polling&sid=unknown") as r:
            assert r.status == 400 and r.headers["Cache-Control"] == "no-store"
        async with http.ws_connect(f"{server.url}/socket.io/?EIO=4&transport=websocket") as ws:
            assert ws._response.headers["Cache-Control"] == "no-store"  # the 101 upgrade
        with pytest.raises(WSServerHandshakeError) as refused:
            await http.ws_connect(
                f"{server.url}/socket.io/?EIO=4&transport=websocket", headers={"Origin": "https://evil.example"}
            )
        assert refused.value.headers is not None and refused.value.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("payload", [{"quick_exit": True}, {"quick_exit": False}, {}, None])
async def test_leave_accepts_quick_exit(server, payload):
    v = await visitor(server.url)
    await v.call("start", start_payload())
    assert await v.call("leave", payload) == {"ok": True}
    await v.disconnect()


@pytest.mark.parametrize("payload", [{"quick_exit": "yes"}, {"quick_exit": 1}, {"other": True}, [True]])
async def test_leave_refuses_anything_else(server, payload):
    v = await visitor(server.url)
    await v.call("start", start_payload())
    ack = await v.call("leave", payload)
    assert ack["error"]["code"] == "invalid_input"
    await v.disconnect()
