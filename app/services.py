"""Settings become services: every part is built once, here, with everything it needs passed to
its constructor. A missing or invalid setting fails at start-up (`ConfigError`), never at the
first chat or the first close."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
import socketio
import structlog

from agent_console.figures import FiguresService
from callback.mail import Mailer, SmtpConfig
from callback.model import Schedule, WeekPattern
from callback.retention import CallbackRecords
from callback.service import CallbackConfig, CallbackService
from callback.store import overdue_summary
from cases.delivery import HandoffDelivery, WebhookConfig
from cases.outbox import HandoffSettings
from cases.service import CaseRegister
from cases.sources import ContactSources, Retention
from chat.blocks import VisitorBlocks
from chat.crisis import CrisisService
from chat.push import PushOffers
from chat.ready_texts import ReadyTexts
from chat.retention import ChatRecords
from chat.service import ChatLimits, ChatService
from chat.sockets import AgentNamespace, Dispatcher, GuardedPacket, TransportLogger, VisitorNamespace
from chat.status import AftercareTimes, StatusService
from chat.supervision import SupervisionService
from chat.takeover import TakeOverService
from chat.transport import ContactSocketServer
from chat.writer import MessageWriter
from contact.access_log import AccessLog
from contact.auth import AgentService, AuthPolicy, TokenSigner
from contact.clock import Clock
from contact.db import Database
from contact.fanout import REDIS_MAX_CONNECTIONS, LocalManager, ResilientRedisManager
from contact.health import Readiness
from contact.hours import ChatHours
from contact.keys import HOW_TO_MAKE_A_KEY, Keys, key_bytes, stored_key
from contact.opening import OpeningHours
from contact.presence import MemoryPresence, Presence, RedisPresence
from contact.ratelimit import ConnectionCap, FallbackRateLimiter, MemoryRateLimiter, RateLimiter, RedisRateLimiter
from contact.scheduler import JobRunner
from contact.secretbox import SecretBox
from contact.settings import Settings
from routing.risk import DEFAULT_PHRASES, RiskDetector
from routing.rules import DEFAULT_RULES, RoutingConfigError, RoutingRules

log = structlog.get_logger(__name__)


class ConfigError(RuntimeError):
    """The server refuses to start half-configured."""


@dataclass(frozen=True)
class Services:
    """Everything one process runs, built and connected. Optional parts are None when their
    setting is absent (no Redis, no case webhook)."""

    settings: Settings
    clock: Clock
    db: Database
    redis: aioredis.Redis | None
    fanout: ResilientRedisManager | None
    limiter: RateLimiter
    presence: Presence
    keys: Keys
    rules: RoutingRules
    writer: MessageWriter
    chat: ChatService
    hours: OpeningHours
    crisis: CrisisService
    push: PushOffers
    agents: AgentService
    access_log: AccessLog
    callbacks: CallbackService
    mailer: Mailer
    register: CaseRegister
    delivery: HandoffDelivery | None
    sio: socketio.AsyncServer
    dispatcher: Dispatcher
    visitors: VisitorNamespace
    agent_sockets: AgentNamespace
    readiness: Readiness
    jobs: JobRunner
    ready_texts: ReadyTexts
    blocks: VisitorBlocks
    figures: FiguresService


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


def secret_key(settings: Settings) -> str:
    if settings.secret_key is not None:
        secret = settings.secret_key.get_secret_value()
        if len(secret) < 16:
            raise ConfigError("VT_SECRET_KEY must be at least 16 characters")
        return secret
    if settings.redis_url:
        raise ConfigError("several processes (VT_REDIS_URL) need one shared VT_SECRET_KEY")
    log.warning("secret_key_generated", hint="set VT_SECRET_KEY so logins survive a restart")
    return secrets.token_urlsafe(32)


def secret_box(settings: Settings) -> SecretBox:
    """The box the TOTP secrets are sealed in: keyed from VT_SECRET_KEY (old keys in
    VT_SECRET_KEY_OLD, comma-separated). Without a configured secret key (one process, or a
    demo) it is empty until `load_secret_box` fills it from a key kept in the database."""
    if settings.secret_key is None:
        return SecretBox()
    old_keys = settings.secret_key_old.get_secret_value() if settings.secret_key_old else ""
    return SecretBox(settings.secret_key.get_secret_value(), [k.strip() for k in old_keys.split(",") if k.strip()])


async def load_secret_box(box: SecretBox, db: Database) -> SecretBox:
    """Fill an empty box from the key kept in the database (made on first use). It protects
    nothing against a copy of the database: set VT_SECRET_KEY for that."""
    if not box.ready:
        log.warning("totp_key_from_database", hint="set VT_SECRET_KEY to seal TOTP secrets with a key kept elsewhere")
        box.load(await stored_key(db, "totp_box"))
    return box


def hash_keys(settings: Settings) -> Keys:
    """The contact-hash keys. Outside `--demo` the key must be configured: kept in the database
    next to the hashes, a copy of the database would reveal every number they stand for."""
    if settings.hash_key is None or not settings.hash_key.get_secret_value():
        if not settings.demo:
            raise ConfigError(
                "VT_HASH_KEY is not set: make one with "
                f"`{HOW_TO_MAKE_A_KEY}`, keep it out of the database and the same in every process"
            )
        return Keys()  # --demo: made and kept in the database at start-up (app/lifecycles.py)
    current = settings.hash_key.get_secret_value()
    old = [k.strip() for k in (settings.hash_key_old.get_secret_value() if settings.hash_key_old else "").split(",")]
    for key in [current, *old]:
        if key and len(key) < 16:
            raise ConfigError("VT_HASH_KEY and VT_HASH_KEY_OLD need at least 16 characters per key")
    try:
        return Keys(key_bytes(current), tuple(key_bytes(k) for k in old if k and k != current))
    except ValueError:
        raise ConfigError("a `hex:` key in VT_HASH_KEY_OLD is not hexadecimal") from None


def chat_limits(settings: Settings) -> ChatLimits:
    return ChatLimits(
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
        aftercare=AftercareTimes(
            after_close_s=settings.nawerk_s,
            after_crisis_s=settings.nawerk_after_crisis_s,
            after_melding_s=settings.nawerk_after_melding_s,
        ),
    )


def routing(settings: Settings) -> tuple[RoutingRules, RiskDetector]:
    try:
        rules = RoutingRules.load(settings.routing_file or DEFAULT_RULES)
        risk = RiskDetector.from_file(settings.risk_phrases_file or DEFAULT_PHRASES)
    except (RoutingConfigError, ValueError, OSError) as exc:
        raise ConfigError(str(exc)) from None
    return rules, risk


# Standard Webhooks asks for secrets of 24 to 64 bytes; fewer is refused at start-up.
MIN_WEBHOOK_SECRET_BYTES = 24


def webhook_secrets(settings: Settings) -> tuple[bytes, ...]:
    """The secrets every delivery is signed with, the newest first: VT_CASE_WEBHOOK_SECRETS
    (during a rotation), else VT_CASE_WEBHOOK_SECRET. Too short or empty: no start."""
    listed: list[str] = []
    if settings.case_webhook_secrets is not None:
        listed = [s.strip() for s in settings.case_webhook_secrets.get_secret_value().split(",")]
    elif settings.case_webhook_secret is not None:
        listed = [settings.case_webhook_secret.get_secret_value()]
    if not listed:
        raise ConfigError("VT_CASE_WEBHOOK_URL needs VT_CASE_WEBHOOK_SECRET: handoffs are never sent unsigned")
    for secret in listed:
        if len(secret.encode()) < MIN_WEBHOOK_SECRET_BYTES:
            raise ConfigError(
                f"every case webhook secret must be at least {MIN_WEBHOOK_SECRET_BYTES} bytes "
                "(VT_CASE_WEBHOOK_SECRET / VT_CASE_WEBHOOK_SECRETS); make one with `openssl rand -base64 32`"
            )
    return tuple(s.encode() for s in listed)


def handoff_delivery(settings: Settings, db: Database, clock: Clock) -> HandoffDelivery | None:
    """The webhook to the case system, or None for the built-in register."""
    if not settings.case_webhook_url:
        return None
    signing = webhook_secrets(settings)
    if settings.case_webhook_url.startswith("http://") and not settings.case_webhook_allow_http:
        raise ConfigError(
            "VT_CASE_WEBHOOK_URL must be https: handoffs hold whole conversations "
            "(VT_CASE_WEBHOOK_ALLOW_HTTP=1 only for tests and loopback)"
        )
    # X-VT-Signature keeps its one secret: VT_CASE_WEBHOOK_SECRET, else the newest of the list.
    legacy = settings.case_webhook_secret.get_secret_value().encode() if settings.case_webhook_secret else signing[0]
    return HandoffDelivery(
        db,
        clock,
        WebhookConfig(
            url=settings.case_webhook_url,
            secret=legacy,
            secrets=signing,
            max_tries=settings.case_max_tries,
            base_s=settings.case_retry_base_s,
            max_delay_s=settings.case_retry_max_s,
            timeout_s=settings.case_timeout_s,
            poll_s=settings.case_poll_s,
            lease_s=max(settings.case_lease_s, settings.case_timeout_s * 2),
        ),
    )


def callback_schedule(settings: Settings) -> Schedule:
    try:
        return Schedule(
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


def mailer(settings: Settings, db: Database, clock: Clock) -> Mailer:
    return Mailer(
        db,
        clock,
        SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            sender=settings.mail_from,
            public_url=settings.public_url or f"http://{settings.host}:{settings.port}",
        ),
    )


def contact_sources() -> ContactSources:
    """Every kind of contact that is handed off to the case system, and purged after it."""
    return ContactSources([ChatRecords(), CallbackRecords()])


def case_register(
    settings: Settings, db: Database, clock: Clock, figures: FiguresService | None = None
) -> CaseRegister:
    # The figures seal their settled days before every purge (agent_console/figures.py).
    seal = (figures or figures_service(settings, db, clock)).seal_due
    return CaseRegister(
        db, clock, ZoneInfo(settings.timezone), retention(settings), contact_sources(), before_purge=seal
    )


# A day's figures are sealed at the earliest this long after its end (see docs/figures.md).
FIGURES_SETTLE = timedelta(hours=1)


def figures_service(
    settings: Settings, db: Database, clock: Clock, rules: RoutingRules | None = None
) -> FiguresService:
    """The management figures; callbacks count for the team the routing rules give their caller."""
    if rules is None:
        try:
            rules = RoutingRules.load(settings.routing_file or DEFAULT_RULES)
        except (RoutingConfigError, ValueError, OSError) as exc:
            raise ConfigError(str(exc)) from None
    routes = rules
    schedule = callback_schedule(settings)
    places = {"terugbellen": settings.callback_capacity, "adviesgesprek": settings.adviesgesprek_capacity}

    def team_of(caller_type: str) -> str:
        try:
            return routes.route(caller_type, "weet_niet", None, False).team
        except ValueError:  # a caller type the rules no longer know: counted without a team
            return ""

    def tijdvakken(day: date) -> list[tuple[str, datetime, int]]:
        return [(kind, tv.start, places[kind]) for kind in schedule.kinds for tv in schedule.tijdvakken(kind, day, 1)]

    return FiguresService(db, clock, ZoneInfo(settings.timezone), team_of, tijdvakken, FIGURES_SETTLE)


def retention(settings: Settings) -> Retention:
    """The retention times of docs/privacy.md; a kind without its own uses VT_RETENTION_DAYS."""
    general = settings.retention_days

    def days(own: float | None) -> timedelta:
        return timedelta(days=general if own is None else own)

    return Retention(
        general=days(None),
        handoff=days(settings.handoff_retention_days),
        hermelding=timedelta(days=settings.hermelding_retention_days),
        by_source={"chat": days(settings.chat_retention_days), "callback": days(settings.callback_retention_days)},
    )


def build_services(settings: Settings, clock: Clock) -> Services:
    """All parts of one process, in the order they need each other."""
    secret = secret_key(settings)
    db = Database(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        statement_timeout_s=settings.db_statement_timeout_s,
        lock_timeout_s=settings.db_lock_timeout_s,
        background_checkpoints=settings.sqlite_checkpoint_s > 0,
        wal_limit_bytes=settings.sqlite_wal_limit_mb * 2**20,
    )
    redis_client: aioredis.Redis | None = None
    limiter: RateLimiter
    presence: Presence
    if settings.redis_url:
        # Short timeouts: a Redis that is down or hangs makes the limits and presence fall back
        # to this process (contact/ratelimit.py, contact/presence.py), never an error for a visitor.
        redis_client = aioredis.from_url(
            settings.redis_url, socket_timeout=1, socket_connect_timeout=1, max_connections=REDIS_MAX_CONNECTIONS
        )
        limit_key = hashlib.sha256(b"vt-contact rate-limit keys\0" + secret.encode()).digest()
        # The flood limit is asked for every visitor message: its client has no socket timeout
        # (with one, redis-py sends every command through `wait_for`, a task per command; from
        # redis-py 8 there is one of 5 s unless told None); each call is bounded with
        # `asyncio.timeout` in contact/ratelimit.py instead.
        limits_client = aioredis.from_url(
            settings.redis_url, socket_timeout=None, socket_connect_timeout=1, max_connections=REDIS_MAX_CONNECTIONS
        )
        limiter = FallbackRateLimiter(RedisRateLimiter(limits_client, limit_key), MemoryRateLimiter())
        presence = RedisPresence(redis_client, settings.redis_channel)
    else:
        limiter = MemoryRateLimiter()
        presence = MemoryPresence()
    rules, risk = routing(settings)
    hours = OpeningHours(
        db,
        clock,
        ChatHours(settings.chat_hours, settings.timezone),
        {code: team.name for code, team in rules.teams.items()},
        settings.timezone,
    )
    delivery = handoff_delivery(settings, db, clock)
    keys = hash_keys(settings)
    handoffs = HandoffSettings(webhook=delivery is not None, tz=ZoneInfo(settings.timezone), keys=keys)
    schedule = callback_schedule(settings)

    writer = MessageWriter(db)
    token_key = hashlib.sha256(b"vt-contact resume ids\0" + secret.encode()).digest()
    chat = ChatService(
        db, clock, hours, writer, limiter, chat_limits(settings), rules, risk, presence, handoffs, token_key
    )
    crisis = CrisisService(chat, settings.crisis_realert_s)
    push = PushOffers(chat, presence, settings.push_offer_timeout_s)
    agents = AgentService(
        db,
        TokenSigner(secret, settings.token_ttl_s, clock),
        AuthPolicy(
            idle_timeout_s=settings.idle_timeout_s,
            totp_roles=settings.totp_roles,
            # Last-seen written at most once a minute, and often enough for a short idle timeout.
            touch_every_s=min(60, settings.idle_timeout_s / 10),
        ),
        address_key=lambda: keys.contact_hash,
        box=secret_box(settings),
    )
    access_log = AccessLog(db, clock, keys)
    callbacks = CallbackService(
        db,
        clock,
        schedule,
        CallbackConfig(
            capacity={"terugbellen": settings.callback_capacity, "adviesgesprek": settings.adviesgesprek_capacity},
            max_attempts=settings.callback_max_attempts,
            retry_gap=timedelta(minutes=settings.callback_retry_gap_min),
            public_url=settings.public_url or f"http://{settings.host}:{settings.port}",
            organiser=parseaddr(settings.mail_from)[1] or "noreply@veiligthuis.example",
            team_of=lambda caller_type: rules.route(caller_type, "weet_niet", None, False).team,
            window_days=settings.worklist_window_days,
        ),
        handoffs,
        access_log,
    )
    figures = figures_service(settings, db, clock, rules)
    register = case_register(settings, db, clock, figures)

    fanout = ResilientRedisManager(settings.redis_url, channel=settings.redis_channel) if settings.redis_url else None
    sio = ContactSocketServer(
        async_mode="aiohttp",
        client_manager=fanout or LocalManager(),
        cors_allowed_origins=origin_policy(settings),
        max_http_buffer_size=settings.max_http_buffer_size,
        logger=False,
        engineio_logger=TransportLogger(),
        serializer=GuardedPacket,
        cookie=None,
    )
    dispatcher = Dispatcher(
        sio,
        chat,
        crisis,
        push,
        TakeOverService(chat, settings.takeover_wait_s),
        on_handoff=delivery.kick if delivery is not None else lambda: None,
    )
    # One cap per process for both namespaces: it counts connections, whoever opens them.
    cap = ConnectionCap(settings.max_connections_per_address)
    blocks = VisitorBlocks(db, clock, keys, access_log, settings.outcome_grace_s)
    visitors = VisitorNamespace(dispatcher, settings.trusted_proxies, cap)
    sio.register_namespace(visitors)
    supervision = SupervisionService(chat, overdue_callbacks=overdue_summary)
    dispatcher.watch_board(supervision.board_emits, settings.board_every_s)
    agent_sockets = AgentNamespace(
        dispatcher,
        agents,
        presence,
        settings.trusted_proxies,
        cap,
        access_log=access_log,
        blocks=blocks,
        status=StatusService(db, clock, chat.limits.aftercare),
        supervision=supervision,
    )
    sio.register_namespace(agent_sockets)
    readiness = Readiness(
        db,
        redis=redis_client,
        fanout=fanout,
        timeout_s=settings.ready_timeout_s,
        min_free_bytes=settings.ready_min_free_mb * 1024 * 1024,
    )
    return Services(
        settings=settings,
        clock=clock,
        db=db,
        redis=redis_client,
        fanout=fanout,
        limiter=limiter,
        presence=presence,
        keys=keys,
        rules=rules,
        writer=writer,
        chat=chat,
        hours=hours,
        crisis=crisis,
        push=push,
        agents=agents,
        access_log=access_log,
        callbacks=callbacks,
        mailer=mailer(settings, db, clock),
        register=register,
        delivery=delivery,
        sio=sio,
        dispatcher=dispatcher,
        visitors=visitors,
        agent_sockets=agent_sockets,
        readiness=readiness,
        jobs=JobRunner(db, clock, settings.sync_database_url, settings.leader_ttl_s),
        ready_texts=ReadyTexts(db, clock, hours, rules),
        blocks=blocks,
        figures=figures,
    )
