"""The composition root: wires settings, database, Redis, services and transports into one aiohttp app."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo

import socketio
import structlog
from aiohttp import web

from agent_console import http as console_http
from callback import http as callback_http
from callback.mail import Mailer, SmtpConfig
from callback.model import Schedule, WeekPattern
from callback.service import CallbackConfig, CallbackService
from cases import http as cases_http
from cases.delivery import HandoffDelivery, WebhookConfig
from cases.outbox import HandoffSettings
from cases.service import CaseRegister
from chat import http as chat_http
from chat.crisis import CrisisService
from chat.model import QueueChanged
from chat.push import PushOffers
from chat.service import ChatLimits, ChatService
from chat.sockets import AgentNamespace, Dispatcher, GuardedPacket, TransportLogger, VisitorNamespace
from chat.takeover import TakeOverService
from chat.writer import MessageWriter
from contact import http as contact_http
from contact.auth import AgentService, TokenSigner
from contact.clock import Clock, SystemClock
from contact.db import Database
from contact.fanout import ResilientRedisManager
from contact.health import Readiness
from contact.hours import ChatHours
from contact.keys import Keys, stored_key
from contact.logs import quiet_protocol_errors
from contact.migrate import current_revision, head_revision
from contact.presence import MemoryPresence, Presence, RedisPresence
from contact.ratelimit import ConnectionCap, FallbackRateLimiter, MemoryRateLimiter, RateLimiter, RedisRateLimiter
from contact.scheduler import JobRunner
from contact.settings import Settings
from contact.web import errors_middleware, no_store, security_headers
from routing import http as routing_http
from routing.risk import DEFAULT_PHRASES, RiskDetector
from routing.rules import DEFAULT_RULES, RoutingConfigError, RoutingRules
from web_widget import http as widget_http

log = structlog.get_logger(__name__)

SIO = web.AppKey("sio", socketio.AsyncServer)
WRITER = web.AppKey("writer", MessageWriter)
JOBS = web.AppKey("jobs", JobRunner)
CRISIS = web.AppKey("crisis", CrisisService)


class ConfigError(RuntimeError):
    """The server refuses to start half-configured."""


def origin_policy(settings: Settings) -> Callable[[str | None, dict[str, Any]], bool]:
    """Socket.IO handshakes from a browser are allowed from our own origin and the configured
    sites only; a foreign page cannot open a socket in a visitor's or agent's name."""
    allowed = settings.origins

    def check(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None:
            return True  # not a browser: nothing to protect against
        origin = origin.rstrip("/")
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin == own or origin in allowed

    return check


def create_app(settings: Settings, clock: Clock | None = None) -> web.Application:
    clock = clock or SystemClock()
    hours = ChatHours(settings.chat_hours, settings.timezone)
    if settings.secret_key is not None:
        secret = settings.secret_key.get_secret_value()
        if len(secret) < 16:
            raise ConfigError("VT_SECRET_KEY must be at least 16 characters")
    elif settings.redis_url:
        raise ConfigError("several processes (VT_REDIS_URL) need one shared VT_SECRET_KEY")
    else:
        secret = secrets.token_urlsafe(32)
        log.warning("secret_key_generated", hint="set VT_SECRET_KEY so logins survive a restart")

    db = Database(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        statement_timeout_s=settings.db_statement_timeout_s,
        lock_timeout_s=settings.db_lock_timeout_s,
    )
    redis_client = None
    limiter: RateLimiter
    presence: Presence
    if settings.redis_url:
        import redis.asyncio as aioredis

        # Short timeouts: a Redis that is down or hangs makes the limits and presence fall back
        # to this process (contact/ratelimit.py, contact/presence.py), never an error for a visitor.
        redis_client = aioredis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
        limiter = FallbackRateLimiter(RedisRateLimiter(redis_client), MemoryRateLimiter())
        presence = RedisPresence(redis_client, settings.redis_channel)
    else:
        limiter = MemoryRateLimiter()
        presence = MemoryPresence()

    writer = MessageWriter(db)
    limits = ChatLimits(
        max_concurrent=settings.max_concurrent_chats,
        visitor_messages=settings.visitor_message_limit,
        visitor_window_s=settings.visitor_message_window_s,
        starts_per_ip=settings.start_limit_per_ip,
        starts_window_s=settings.start_limit_window_s,
        default_wait_per_position_s=settings.default_wait_per_position_s,
        typing_per_10s=settings.typing_limit,
        waiting_grace_s=settings.waiting_grace_s,
        outcome_grace_s=settings.outcome_grace_s,
        resume_ttl_s=settings.resume_ttl_s,
    )
    try:
        rules = RoutingRules.load(settings.routing_file or DEFAULT_RULES)
        risk = RiskDetector.from_file(settings.risk_phrases_file or DEFAULT_PHRASES)
    except (RoutingConfigError, ValueError, OSError) as exc:
        raise ConfigError(str(exc)) from None
    keys = Keys(settings.hash_key.get_secret_value().encode() if settings.hash_key else b"")
    token_key = hashlib.sha256(b"vt-contact resume ids\0" + secret.encode()).digest()
    chat = ChatService(db, clock, hours, writer, limiter, limits, rules, risk, token_key)
    chat.presence = presence
    if settings.case_webhook_url and settings.case_webhook_secret is None:
        raise ConfigError("VT_CASE_WEBHOOK_URL needs VT_CASE_WEBHOOK_SECRET: handoffs are never sent unsigned")
    handoff_settings = HandoffSettings(
        webhook=bool(settings.case_webhook_url), tz=ZoneInfo(settings.timezone), keys=keys
    )
    chat.handoffs = handoff_settings
    register = CaseRegister(db, clock, ZoneInfo(settings.timezone), timedelta(days=settings.retention_days))
    delivery = (
        HandoffDelivery(
            db,
            clock,
            WebhookConfig(
                url=settings.case_webhook_url,
                secret=settings.case_webhook_secret.get_secret_value().encode(),
                max_tries=settings.case_max_tries,
                base_s=settings.case_retry_base_s,
                max_delay_s=settings.case_retry_max_s,
                timeout_s=settings.case_timeout_s,
                poll_s=settings.case_poll_s,
                lease_s=max(settings.case_lease_s, settings.case_timeout_s * 2),
            ),
        )
        if settings.case_webhook_url and settings.case_webhook_secret is not None
        else None
    )
    crisis = CrisisService(chat, settings.crisis_realert_s)
    push = PushOffers(chat, presence, settings.push_offer_timeout_s)
    agents = AgentService(db, TokenSigner(secret, settings.token_ttl_s, clock))
    try:
        schedule = Schedule(
            {
                "terugbellen": WeekPattern.parse(settings.callback_hours, settings.callback_block_min),
                "adviesgesprek": WeekPattern.parse(settings.adviesgesprek_hours, settings.adviesgesprek_block_min),
            },
            tz=settings.timezone,
            close_before=timedelta(minutes=settings.callback_close_before_min),
            horizon_days=settings.callback_horizon_days,
        )
    except ValueError as exc:
        raise ConfigError(f"callback tijdvakken: {exc}") from None
    callback_service = CallbackService(
        db,
        clock,
        schedule,
        CallbackConfig(
            capacity={"terugbellen": settings.callback_capacity, "adviesgesprek": settings.adviesgesprek_capacity},
            max_attempts=settings.callback_max_attempts,
            retry_gap=timedelta(minutes=settings.callback_retry_gap_min),
            public_url=settings.public_url or f"http://{settings.host}:{settings.port}",
            organiser=parseaddr(settings.mail_from)[1] or "noreply@veiligthuis.example",
        ),
        keys,
    )
    callback_service.handoffs = handoff_settings
    mailer = Mailer(
        db,
        clock,
        SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            sender=settings.mail_from,
        ),
    )

    manager = (
        ResilientRedisManager(settings.redis_url, channel=settings.redis_channel) if settings.redis_url else None
    )
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=origin_policy(settings),
        max_http_buffer_size=settings.max_http_buffer_size,
        logger=False,
        engineio_logger=TransportLogger(),
        serializer=GuardedPacket,
        cookie=None,
    )
    dispatcher = Dispatcher(sio, chat, crisis, push, TakeOverService(chat, settings.takeover_wait_s))
    if delivery is not None:
        dispatcher.on_handoff = delivery.kick
    # One cap per process for both namespaces: it counts connections, whoever opens them.
    cap = ConnectionCap(settings.max_connections_per_address)
    visitors = VisitorNamespace(dispatcher, settings.trusted_proxies, cap)
    sio.register_namespace(visitors)
    sio.register_namespace(AgentNamespace(dispatcher, agents, presence, settings.trusted_proxies, cap))

    app = web.Application(
        middlewares=[security_headers(settings.origins), errors_middleware],
        client_max_size=settings.max_http_buffer_size,
    )
    app.on_response_prepare.append(no_store)
    quiet_protocol_errors()
    sio.attach(app)
    app[contact_http.SETTINGS] = settings
    app[contact_http.DATABASE] = db
    app[contact_http.READINESS] = Readiness(
        db,
        redis=redis_client,
        fanout=manager,
        timeout_s=settings.ready_timeout_s,
        min_free_bytes=settings.ready_min_free_mb * 1024 * 1024,
    )
    app[contact_http.AGENTS] = agents
    app[contact_http.LIMITER] = limiter
    app[contact_http.PRESENCE] = presence
    app[chat_http.CHAT] = chat
    app[chat_http.DISPATCHER] = dispatcher
    app[SIO] = sio
    app[WRITER] = writer
    app[CRISIS] = crisis
    app[callback_http.CALLBACKS] = callback_service
    app[cases_http.CASES] = register
    app[routing_http.RULES] = rules
    jobs = JobRunner(db, clock, settings.sync_database_url, settings.leader_ttl_s)
    app[JOBS] = jobs

    async def realert_crises() -> None:
        await dispatcher.send(await crisis.realert())

    async def overdue_outcomes() -> None:
        await dispatcher.send(await chat.close_overdue_outcomes())

    async def push_offers() -> None:
        await dispatcher.send(await push.offer_due())

    async def callback_jobs() -> None:
        # Each step on its own: a failing one (a mail server down) must not hold up the others.
        steps: dict[str, Callable[[], Awaitable[object]]] = {
            "tijdvak_notices": callback_service.tijdvak_notices,
            "overdue": callback_service.flag_overdue,
            "reminders": callback_service.queue_reminders,
            "mail": mailer.deliver_due,
            "retention": register.purge_due,
        }
        for name, step in steps.items():
            try:
                done = await step()
                if isinstance(done, list):
                    await dispatcher.send(done)
            except Exception as exc:
                log.error("job_step_failed", step=name, error=type(exc).__name__)

    jobs.every("crisis_realert", settings.crisis_check_s, realert_crises)
    jobs.every("callbacks", settings.callback_check_s, callback_jobs)
    jobs.every("outcomes", settings.outcome_check_s, overdue_outcomes)
    if push.teams:
        jobs.every("push_offers", settings.push_check_s, push_offers)

    async def database_ctx(app: web.Application) -> AsyncIterator[None]:
        current = await current_revision(db.write_engine)
        expected = head_revision(settings.database_url)
        if current != expected:
            await db.dispose()
            raise ConfigError(
                f"database schema is at {current or 'nothing'}, this version needs {expected}: "
                "run `vt-contact db upgrade` first"
            )
        if not keys.contact_hash:
            log.warning("hash_key_from_database", hint="set VT_HASH_KEY and keep it out of the database")
            keys.contact_hash = await stored_key(db, "contact_hash")
        yield
        await db.dispose()

    async def writer_ctx(app: web.Application) -> AsyncIterator[None]:
        writer.start()
        yield
        await writer.stop()

    async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
        if redis_client is not None:
            await redis_client.ping()  # fail at start-up, not at the first message
        if manager is not None and not sio.manager_initialized:
            # Listen on the fan-out from the start (python-socketio would wait for the first
            # connection), so that /readyz can tell whether it listens.
            sio.manager_initialized = True
            manager.initialize()
        presence.start()
        yield
        await presence.stop()
        if redis_client is not None:
            await redis_client.aclose()

    async def sweeper_ctx(app: web.Application) -> AsyncIterator[None]:
        # Connected visitors keep their resume tokens alive; a third of the lifetime leaves room
        # for a missed round, and a process that dies stops vouching for its visitors.
        heartbeat_s = settings.resume_ttl_s / 3
        loop_time = asyncio.get_running_loop().time

        async def sweep() -> None:
            beat_at = loop_time()
            while True:
                await asyncio.sleep(settings.sweep_interval_s)
                try:
                    if loop_time() - beat_at >= heartbeat_s:
                        beat_at = loop_time()
                        await chat.visitors_present(sorted(set(visitors.bound.values())))
                    await dispatcher.send(await chat.close_abandoned())
                    if await chat.overflow_due():
                        await dispatcher.send([QueueChanged()])
                except Exception as exc:
                    log.error("sweep_failed", error=type(exc).__name__)

        task = asyncio.get_running_loop().create_task(sweep(), name="queue-sweeper")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
        if settings.scheduler_enabled:
            jobs.start()
        yield
        await jobs.stop()

    async def delivery_ctx(app: web.Application) -> AsyncIterator[None]:
        if delivery is not None:
            delivery.start()
        yield
        if delivery is not None:
            await delivery.stop()

    app.cleanup_ctx.extend([database_ctx, redis_ctx, writer_ctx, sweeper_ctx, scheduler_ctx, delivery_ctx])
    app.add_routes(contact_http.routes())
    app.add_routes(chat_http.routes())
    app.add_routes(callback_http.routes())
    app.add_routes(cases_http.routes())
    app.add_routes(routing_http.routes())
    app.add_routes(widget_http.routes())
    app.add_routes(console_http.routes())
    return app
