"""The HTTP server as `vt-contact serve` runs it (issue 12): a request head that does not arrive
whole within VT_HEADER_TIMEOUT_S closes the connection (slow-loris), while requests being
answered, keep-alive connections, long-polls and WebSockets are untouched; a request aiohttp
cannot parse is answered in our error shape and logged as one quiet line. Raw sockets against
a real server process."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiohttp import ClientSession, web
from aiohttp.web_protocol import RequestHandler

from contact import serving
from tests.support.processes import ServerProcess
from tests.support.server import start_payload, visitor

HEADER_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("serving")
    database_url = f"sqlite+aiosqlite:///{log_dir / 'serving.db'}"
    process = ServerProcess(
        database_url,
        None,
        log_dir,
        "serving",
        "--migrate",
        VT_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT),
        VT_LOG_LEVEL="INFO",
    )
    yield process
    process.stop()
    assert "Traceback" not in process.log_path.read_text(errors="replace")


async def test_the_parts_of_aiohttp_we_build_on_are_still_there():
    """contact/serving.py reads three private attributes of aiohttp: if an upgrade renames one,
    this fails before anything else does."""
    assert serving.PARSED_HEADS in RequestHandler.__slots__

    async def handler(request):
        return web.Response()

    server = web.Server(handler, keepalive_timeout=7)
    assert getattr(server, serving.SERVER_LOOP) is asyncio.get_running_loop()
    assert getattr(server, serving.SERVER_KWARGS) == {"keepalive_timeout": 7}
    handler_for_connection = serving.ContactServer(handler, header_timeout=3, keepalive_timeout=7)()
    assert isinstance(handler_for_connection, serving.ContactRequestHandler)
    assert handler_for_connection.keepalive_timeout == 7
    assert getattr(handler_for_connection, serving.PARSED_HEADS) == 0


async def _closed_after(reader: asyncio.StreamReader, limit: float) -> tuple[float, bytes]:
    """Seconds until the server closes the connection, and whatever it sent before."""
    started = time.monotonic()
    got = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(4096), limit):
            got += chunk
    except ConnectionResetError:
        pass
    return time.monotonic() - started, got


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), 10)
    return int(lines[0].split()[1]), headers, body


async def test_a_head_sent_a_byte_at_a_time_is_cut_off(served):
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200

    async def trickle() -> None:
        for byte in head:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.1)

    sending = asyncio.create_task(trickle())
    took, got = await _closed_after(reader, 10)
    sending.cancel()
    writer.close()
    # Closed at the header timeout, well before the keep-alive timeout (15 s) and the 20 s the
    # trickle would take; nothing answered.
    assert HEADER_TIMEOUT * 0.8 <= took < HEADER_TIMEOUT + 3, took
    assert got == b""


async def test_a_connection_that_sends_nothing_is_let_go(served):
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    took, got = await _closed_after(reader, 10)
    writer.close()
    assert took < HEADER_TIMEOUT + 3 and got == b""


async def test_connections_that_sent_their_head_outlive_the_timeout(served):
    wait = HEADER_TIMEOUT * 2.5

    async def keep_alive() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        for _ in range(2):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, body = await _response(reader)
            assert status == 200 and json.loads(body) == {"ok": True}
            await asyncio.sleep(wait)  # idle between requests: the keep-alive timeout's business
        writer.close()

    async def slow_body() -> None:
        body = json.dumps({"username": "niemand", "password": "x" * 40}).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(
            b"POST /api/agent/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        for i in range(0, len(body), 10):
            writer.write(body[i : i + 10])
            await asyncio.sleep(wait / (len(body) / 10))
        status, headers, answer = await _response(reader)
        assert status == 401 and json.loads(answer)["error"]["code"] == "invalid_credentials"
        writer.close()

    async def long_poll() -> None:
        async with ClientSession() as http:
            async with http.get(f"{served.url}/socket.io/?EIO=4&transport=polling") as r:
                sid = json.loads((await r.text())[1:])["sid"]
            path = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
            reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            await writer.drain()
            await asyncio.sleep(wait)  # the poll waits for something to say
            async with http.post(f"{served.url}{path}", data="40/visitor,{}") as r:
                assert r.status == 200
            status, _, body = await _response(reader)
            assert status == 200 and body.startswith(b"40/visitor,")
            writer.close()

    async def websocket() -> None:
        v = await visitor(served.url)
        await asyncio.sleep(wait)
        assert "conversation_id" in await v.call("start", start_payload())
        await v.disconnect()

    await asyncio.gather(keep_alive(), slow_body(), long_poll(), websocket())


BAD_REQUESTS = [
    b"GET /api/status?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/status HTTP/1.1\r\nHost: x\r\nX-Big: " + b"geheim" * 2000 + b"\r\n\r\n",
    b"GET /api/status HTTP/1.1\r\nHost: x\r\nBad Header geheim\r\n\r\n",
    b"GET /api/status HTTP/1.1\r\nHost: x\r\nX-Nul: geheim\x00b\r\n\r\n",
    b"GET /geheim\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /geheim HTTP/9.9.9\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03geheim\r\n\r\n",
]


async def test_requests_aiohttp_cannot_parse_answer_in_our_error_shape(served):
    before = served.log_path.read_text(errors="replace")
    for request in BAD_REQUESTS:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(request)
        status, headers, body = await _response(reader)
        writer.close()
        assert status == 400, (request[:30], status, body)
        assert headers["content-type"].startswith("application/json")
        assert headers["cache-control"] == "no-store"
        error = json.loads(body)["error"]
        assert error["code"] == "invalid_input" and error["message"].startswith("Dat klopt niet")
    async with ClientSession() as http:
        async with http.get(f"{served.url}/healthz") as r:
            assert r.status == 200
    await asyncio.sleep(0.3)  # the log is written by another process
    logs = served.log_path.read_text(errors="replace")[len(before) :]
    lines = [json.loads(line) for line in logs.splitlines() if "bad_http_request" in line]
    # One INFO line per request (the first-request TLS noise below INFO, as aiohttp does).
    assert len(lines) == len(BAD_REQUESTS) - 1, logs
    assert {line["level"] for line in lines} == {"info"}
    assert "geheim" not in logs and "127.0.0.1" not in logs and "Traceback" not in logs


async def test_a_failure_past_our_middleware_is_internal_in_the_error_shape(caplog):
    """Our middleware answers every handler failure; should one escape it anyway, aiohttp's
    last resort answers in our shape too, and its log line has no address."""

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("kapot")

    app = web.Application()
    app.router.add_get("/", broken)
    runner = serving.ContactAppRunner(app, header_timeout=HEADER_TIMEOUT)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = await _response(reader)
        writer.close()
    finally:
        await runner.cleanup()
    assert status == 500 and headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == "internal"
    failed = [r for r in caplog.records if r.getMessage().startswith("request_failed")]
    assert len(failed) == 1 and "127.0.0.1" not in failed[0].getMessage()
