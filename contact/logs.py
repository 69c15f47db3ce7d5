"""Structured logs (JSON by default). Events carry ids and codes, never what people wrote."""

from __future__ import annotations

import logging
import sys

import structlog
from aiohttp.http_exceptions import HttpProcessingError


class ProtocolErrorFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a bad request line, a header too long) as an ERROR
    with a traceback and the client's address: a log flood anyone can cause, with an IP in it.
    Such a record becomes one INFO line with the error's type, nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = "bad_http_request %s"
            record.args = (type(exc).__name__,)
            record.exc_info = None
            record.exc_text = None
            record.levelno = logging.INFO
            record.levelname = "INFO"
        return True


def quiet_protocol_errors() -> None:
    """Install ProtocolErrorFilter on aiohttp's server logger (once)."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ProtocolErrorFilter) for f in server_log.filters):
        server_log.addFilter(ProtocolErrorFilter())


DATA_LOGGERS = (
    "aiosqlite",
    "sqlalchemy",
    "asyncpg",
    "aiosmtplib",
    "redis",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.websocket",
    "asyncio",
)


def configure(level: str = "INFO", fmt: str = "json") -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Socket.IO's own loggers would print packets, i.e. message text: keep them quiet.
    for noisy in ("socketio", "engineio", "socketio.server", "engineio.server"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    # Libraries that print statements with their parameters, mail with its addresses or
    # connections with their peer's address when they debug: never below WARNING, also when
    # VT_LOG_LEVEL=DEBUG (a debug log is still a log, and is copied and kept like one).
    for talkative in DATA_LOGGERS:
        logging.getLogger(talkative).setLevel(max(logging.WARNING, root.level))
    # APScheduler reports every run of every job at INFO: a line a second says nothing.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
