"""Structured logs (JSON by default). Events carry ids and codes, never what people wrote."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

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


# What happened, one INFO line each (docs/operations.md, "Logs"): every audited action (accept,
# transfer, escalate, acknowledge, close with its outcome kind, login, logout, ...) once its
# transaction committed, and a handoff delivered or dead. Ids and codes only: the fields below,
# each a code-like value, an integer or a boolean; anything else (text, a name, a number, an
# address, a token) is left out, whatever a caller passes.
HAPPENED = logging.getLogger("vt.happened")
HAPPENED_FIELDS = frozenset(
    {
        "actor",
        "conversation_id",
        "agent_id",
        "handoff_id",
        "team",
        "to_agent",
        "outcome",
        "kind",
        "level",
        "how",
        "role",
        "reason",
        "caller_type",
        "source",
        "step",
        "count",
        "tries",
        "quick_exit",
        "error",
    }
)
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_:.-]{0,63}$")


def happened(action: str, **fields: Any) -> None:
    """One INFO line on `vt.happened`: the action's name, and its ids and codes."""
    kept: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in HAPPENED_FIELDS or value is None:
            continue
        if isinstance(value, bool | int) or (isinstance(value, str) and _CODE.match(value)):
            kept[key] = value
    HAPPENED.info("%s", action, extra={"vt_fields": kept})


def _lift_fields(_logger: Any, _name: str, event_dict: Any) -> Any:
    """A stdlib record's `vt_fields` (see `happened`) become fields of its JSON line."""
    record = event_dict.get("_record")
    fields = getattr(record, "vt_fields", None)
    if isinstance(fields, dict):
        event_dict.update(fields)
    return event_dict


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
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, _lift_fields],
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
