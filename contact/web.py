"""HTTP plumbing shared by every package: the error shape as a middleware, security headers,
and reading a JSON body strictly."""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Awaitable
from typing import Any, TypeVar

import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from pydantic import BaseModel, ValidationError

from contact.db import unavailable
from contact.errors import DomainError, error_payload
from contact.validation import MAX_INT, ascii_int, id_ok, json_depth_ok

log = structlog.get_logger(__name__)

STATUS = {
    "invalid_input": 422,
    "invalid_phone": 422,
    "outcome_incomplete": 422,
    "unauthorized": 401,
    "invalid_credentials": 401,
    "second_factor_required": 401,
    "forbidden": 403,
    "not_found": 404,
    "closed": 409,
    "conflict": 409,
    "already_taken": 409,
    "capacity_reached": 409,
    "slot_full": 409,
    "rate_limited": 429,
    "internal": 500,
    "unavailable": 503,
}
_HTTP_CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 429: "rate_limited"}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}

M = TypeVar("M", bound=BaseModel)


def json_error(code: str, texts: tuple[str, str] | None = None, **extra: Any) -> web.Response:
    return web.json_response(error_payload(code, texts, **extra), status=STATUS.get(code, 400))


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        if _impossible_static(request):
            raise web.HTTPNotFound()
        return await handler(request)
    except DomainError as exc:
        return web.json_response(exc.payload(), status=STATUS.get(exc.code, 400))
    except web.HTTPException as exc:
        if exc.status < 400 or request.path.startswith("/socket.io"):
            raise
        code = _HTTP_CODES.get(exc.status, "invalid_input")
        response = web.json_response(error_payload(code), status=exc.status)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        if unavailable(exc):
            log.warning("request_unavailable", error=type(exc).__name__)
            return web.json_response(error_payload("unavailable"), status=503)
        # The route's pattern, never the path itself (a manage token, an id), no query string and
        # no traceback text (an exception's message may quote what a caller sent).
        log.error("request_failed", route=route_of(request), error=type(exc).__name__, at=raised_at(exc))
        return web.json_response(error_payload("internal"), status=500)


# A file name we could serve: the names of our static files, nothing longer or odder. Anything
# else under a static route cannot exist and is a 404 in the error shape before the file system
# sees it (a name too long for it raised OSError, a 500), as is a file that is not there
# (aiohttp's own answer for that is an empty 404).
_STATIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _impossible_static(request: web.Request) -> bool:
    match_info = request.match_info
    resource = match_info.route.resource
    if not isinstance(resource, web.StaticResource):
        return False
    filename = match_info.get("filename", "")
    parts = filename.split("/")
    if len(parts) > 4 or not all(_STATIC_NAME.match(part) for part in parts):
        return True
    return not (resource.get_info()["directory"] / filename).is_file()


# What the widget reads from a page of another Veilig Thuis site (VT_ALLOWED_ORIGINS).
PUBLIC_API = frozenset({"/api/status", "/api/callbacks/slots", "/api/callbacks"})
# What such a page loads from us: the script, its styles, the Socket.IO client.
EMBEDDABLE = ("/widget.js", "/widget/", "/static/vendor/")


def security_headers(allowed_origins: frozenset[str]) -> Any:
    """Security headers on every answer but the Socket.IO transport; CORS only for the
    visitor's public endpoints and only for the configured sites."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        origin = request.headers.get("Origin", "").rstrip("/")
        if request.method == "OPTIONS" and path in PUBLIC_API:
            # The browser's preflight before the widget on another site posts JSON.
            if origin not in allowed_origins:
                return web.json_response(error_payload("forbidden"), status=403, headers=SECURITY_HEADERS)
            return web.Response(
                status=204,
                headers={
                    **SECURITY_HEADERS,
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": "GET, POST",
                    "Access-Control-Allow-Headers": "Content-Type",
                    "Access-Control-Max-Age": "600",
                    "Vary": "Origin",
                },
            )
        response = await handler(request)
        if path.startswith("/socket.io"):
            return response
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if path.startswith(EMBEDDABLE):
            response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        if path in PUBLIC_API and origin in allowed_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    return middleware


def _socketio_websocket(request: web.Request) -> bool:
    return request.path.startswith("/socket.io") and request.headers.get("Upgrade", "").lower() == "websocket"


def passes_websockets(inner: Any) -> Any:
    """`inner` (a middleware) for every request but a Socket.IO WebSocket, which goes straight on.

    A middleware's coroutine lives as long as its request, and a WebSocket's request lasts as
    long as the socket: one frame per middleware per idle visitor socket, for a middleware that
    has nothing to do there. Only for middlewares that change nothing on a WebSocket upgrade
    (the error shape, `errors_middleware`, stays on every request)."""

    def middleware(request: web.Request, handler: Any) -> Awaitable[web.StreamResponse]:
        if _socketio_websocket(request):
            return handler(request)
        return inner(request, handler)

    middleware.__middleware_version__ = 1  # type: ignore[attr-defined]
    return middleware


NO_STORE_PREFIXES = ("/api/", "/socket.io/")


async def no_store(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """`on_response_prepare`: API and Socket.IO answers may hold message text, tokens or a
    booking, so no HTTP cache keeps them. A signal, not a middleware: it also runs for the
    WebSocket upgrade, for Engine.IO's own answers and for errors aiohttp makes itself."""
    if request.path.startswith(NO_STORE_PREFIXES) or request.path in ("/api", "/socket.io"):
        response.headers["Cache-Control"] = "no-store"


async def read_json(request: web.Request, model: type[M]) -> M:
    """The request body as `model`; anything else is `invalid_input` (never a 500)."""
    if request.content_type != "application/json":
        raise DomainError("invalid_input", field="content-type")
    try:
        data = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError, RecursionError):  # junk, bad UTF-8, "[[[[..." too deep
        raise DomainError("invalid_input", field="body") from None
    if not json_depth_ok(data):
        raise DomainError("invalid_input", field="body", reason="too_deep")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})[:5]
        raise DomainError("invalid_input", fields=fields) from None


def single_query(request: web.Request, name: str) -> str | None:
    """A query parameter given at most once (twice is `invalid_input`, not a silent pick)."""
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise DomainError("invalid_input", field=name)
    return values[0] if values else None


def query_int(
    request: web.Request, name: str, *, default: int | None = None, minimum: int = 0, maximum: int = MAX_INT
) -> int | None:
    """A numeric query parameter: ASCII digits only, between `minimum` and `maximum`; absent is
    `default`; anything else (`²`, `-1`, `1e3`, 5000 digits) is `invalid_input`."""
    raw = single_query(request, name)
    if raw is None or (raw == "" and default is not None):  # `days=` is the default, as it always was
        return default
    number = ascii_int(raw, maximum=maximum)
    if number is None or number < minimum:
        raise DomainError("invalid_input", field=name)
    return number


def path_value(request: web.Request, name: str, max_length: int) -> str:
    """An id or token from the path: printable and not too long, else `not_found` (a value that
    cannot be one of ours is not looked up: no control character reaches the database)."""
    value = request.match_info.get(name, "")
    if not 1 <= len(value) <= max_length or not id_ok(value):
        raise DomainError("not_found")
    return value


def if_match(request: web.Request) -> str | None:
    """The version a change was made on: the first entity tag of the `If-Match` header (HTTP's
    conditional request; a weak tag is read as its value), "*" for any. None without the header:
    no check (other tools, scripts)."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    first = header.split(",")[0].strip()[:80]
    if first.startswith("W/"):
        first = first[2:]
    return first.strip('"') or None


def client_ip(request: web.BaseRequest, trusted_proxies: frozenset[str] = frozenset()) -> str:
    """The visitor's address for rate limits: behind a trusted reverse proxy the last address
    in X-Forwarded-For that is not itself one of our proxies; otherwise the peer. Without
    this every visitor behind the proxy would share one address and one limit."""
    peer = request.remote or "unknown"
    if peer not in trusted_proxies:
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted_proxies:
            # A header is bytes: one that is no address (undecodable, control characters) is not
            # used as a key (Redis could not even encode it); the proxy's own limit applies.
            return hop[:64] if hop.isascii() and hop.isprintable() else peer
    return peer


def raised_at(exc: BaseException) -> str:
    """Where an exception was raised (`file:line in function`), without its message."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name}"


def route_of(request: web.BaseRequest) -> str:
    """The pattern of the route that answered (`/api/callbacks/{token}`), never its values."""
    match_info = getattr(request, "match_info", None)
    route = getattr(match_info, "route", None)
    resource = getattr(route, "resource", None)
    return resource.canonical if resource is not None else "unmatched"


_SECRET_PATH = re.compile(r"^(/api/callbacks/)(?!slots$)[^/]+")


class PrivateAccessLogger(AbstractAccessLogger):
    """Access log lines without what could identify or unlock something: no client address, no
    query string, and the manage token in a callback's path replaced by `{token}`."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = _SECRET_PATH.sub(r"\1{token}", request.path)
        self.logger.info(f'"{request.method} {path}" {response.status} {response.body_length} {time:.6f}')
