"""How the HTTP server runs: aiohttp's connection handler with two additions, and the loop that
serves an app until SIGTERM (what `web.run_app` does, with our handler).

- A request head (request line and headers) must arrive complete within `header_timeout`
  seconds of its first byte (or of the connection opening); otherwise the connection is closed.
  aiohttp has no such limit, so a client sending its head a byte at a time (slow-loris) holds a
  connection for as long as it likes. A connection that already sent its head is never touched
  by this: a request being answered (a long-poll, a slow body), an open WebSocket, and a
  keep-alive connection waiting for its next request (aiohttp's keep-alive timeout ends those).
- A request aiohttp cannot parse (bad request line, header too long, a control character) is
  answered in our error shape with `invalid_input` (aiohttp's own answer is plain text), and
  logged as one INFO line with the error's type: no traceback, no address, no header value.

aiohttp's `Server` builds its `RequestHandler` itself; `ContactAppRunner` makes it build ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from contact.errors import error_payload
from contact.web import SECURITY_HEADERS

server_log = logging.getLogger("aiohttp.server")

# What aiohttp (3.12 to 3.14) keeps that we read; tests/contact/test_serving.py fails at once if
# a new aiohttp renames them. `_request_count` (RequestHandler): request heads parsed on this
# connection. `_loop`, `_kwargs` (Server): what it builds each RequestHandler with.
PARSED_HEADS = "_request_count"
SERVER_LOOP = "_loop"
SERVER_KWARGS = "_kwargs"


class ContactRequestHandler(RequestHandler):
    """aiohttp's handler of one connection, with a request head timeout and our error shape
    for requests it cannot parse."""

    __slots__ = ("_header_timeout", "_head_timer", "_answered")

    def __init__(self, manager: web.Server, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._head_timer: asyncio.TimerHandle | None = None
        # Responses finished on this connection; fewer than the heads parsed means a request is
        # being answered (or an upgraded connection is open): no head is awaited.
        self._answered = 0

    def _awaiting_head(self) -> bool:
        return int(getattr(self, PARSED_HEADS)) <= self._answered

    def _arm(self) -> None:
        if self._head_timer is None and self._header_timeout > 0:
            self._head_timer = asyncio.get_running_loop().call_later(self._header_timeout, self._head_late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self._awaiting_head() and self.transport is not None:
            server_log.info("request_head_timeout")
            self.force_close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()  # a connection that never sends a whole head is let go too

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._awaiting_head():
            self._disarm()
        elif data:
            # Bytes of a head that is not complete yet: the clock runs from the first of them,
            # not from each (a byte every few seconds must not keep the connection).
            self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    async def finish_response(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        try:
            return await super().finish_response(request, resp, start_time)
        finally:
            # The connection waits for its next request now; an idle keep-alive connection is
            # aiohttp's keep-alive timeout's to end, so the head clock starts with the next byte.
            self._answered += 1

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's answer to a request it could not parse (or that failed past our middleware),
        in our error shape; the log line names the error's type only (aiohttp's own line has the
        client's address and a traceback)."""
        if isinstance(exc, HttpProcessingError):
            # Something that is not HTTP at all (TLS, a port scanner) as the first request: as
            # aiohttp does, below INFO, or the internet's noise fills the log.
            quiet = isinstance(exc, BadHttpMethod) and int(getattr(self, PARSED_HEADS)) == 1
            server_log.log(logging.DEBUG if quiet else logging.INFO, "bad_http_request %s", type(exc).__name__)
            code = "invalid_input"
        else:
            server_log.error("request_failed %s", type(exc).__name__ if exc else status, exc_info=exc)
            code = "internal"
        if request.writer.output_size > 0:
            # Part of an answer went out already: nothing else can be said on this connection.
            raise ConnectionError("response already started")
        resp = web.Response(
            status=status,
            text=json.dumps(error_payload(code)),
            content_type="application/json",
            headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
        )
        resp.force_close()
        return resp


class ContactServer(web.Server):
    """aiohttp's `Server`, building a `ContactRequestHandler` for each connection."""

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout

    def __call__(self) -> ContactRequestHandler:
        # aiohttp's __call__ builds RequestHandler (a fixed class) from these two; no hook exists.
        loop, kwargs = getattr(self, SERVER_LOOP), getattr(self, SERVER_KWARGS)
        return ContactRequestHandler(self, loop=loop, header_timeout=self.header_timeout, **kwargs)


class ContactAppRunner(web.AppRunner):
    """`web.AppRunner` whose server is a `ContactServer`."""

    def __init__(self, app: web.Application, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout

    async def _make_server(self) -> web.Server:
        # The app builds its Server (with its handler, request factory and our runner kwargs);
        # ours is the same Server with another handler class.
        built = await super()._make_server()
        return ContactServer(
            built.request_handler,
            request_factory=built.request_factory,
            handler_cancellation=built.handler_cancellation,
            loop=getattr(built, SERVER_LOOP),
            header_timeout=self.header_timeout,
            **getattr(built, SERVER_KWARGS),
        )


def run(
    app: web.Application,
    *,
    host: str,
    port: int,
    header_timeout: float,
    loop: asyncio.AbstractEventLoop,
    **runner_kwargs: Any,
) -> None:
    """Serve `app` until SIGINT or SIGTERM, then shut down gracefully (as `web.run_app`)."""

    async def serve() -> None:
        runner = ContactAppRunner(app, header_timeout=header_timeout, handle_signals=True, **runner_kwargs)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    main = loop.create_task(serve())
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            if not main.done():
                main.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(main)
        finally:
            rest = asyncio.all_tasks(loop)
            for task in rest:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
