"""`GET /metrics`: Prometheus figures of one process (prometheus-client, text format).

Two kinds of figure (docs/operations.md, "Metrics"):

- **Of this process**: open connections, events answered and their ack time, messages relayed,
  scheduler leadership, database and Redis errors. Sum them over the processes in PromQL
  (`sum(vt_connections)`), except leadership (`sum` is 1 when exactly one process leads).
- **Of the database**: queue length and oldest wait per team, crisis alarms open, handoffs
  pending and dead, outbox backlog. Every process reads the same rows, so every process reports
  the same value: aggregate them with `max` (`max by (team) (vt_queue_length)`), never `sum`.
  They are read when scraped, at most every `VT_METRICS_CACHE_S`, each read bounded by
  `VT_READY_TIMEOUT_S`; when the read fails the previous values stay and
  `vt_database_figures_up` is 0.

No label ever carries an id, a text, a number or an address: labels are namespaces, event
names, outcome codes, team codes and statuses, all from fixed lists.

Every app has its own `CollectorRegistry` (not prometheus-client's global one), so several
servers in one test process do not share or collide.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from app.services import ConfigError, Services
from callback.store import outbox as email_outbox
from cases.store import handoffs
from chat.model import ConversationStatus
from chat.store import conversations
from contact.errors import error_payload
from contact.settings import Settings

log = structlog.get_logger(__name__)

# Acks take milliseconds; a database under strain makes them seconds (the statement timeout is 5 s).
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MIN_TOKEN_CHARS = 16
HANDOFF_STATUSES = ("pending", "dead")


@dataclass
class DatabaseFigures:
    """One read of the figures that come from the database."""

    queue: dict[str, int] = field(default_factory=dict)
    oldest_wait_s: dict[str, float] = field(default_factory=dict)
    crisis_open: int = 0
    handoffs: dict[str, int] = field(default_factory=dict)
    email_backlog: int = 0


class ProcessMetrics(Collector):
    """The registry of one app, its instruments, and the database figures read at scrape."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.token = metrics_token(services.settings)
        self.registry = CollectorRegistry(auto_describe=True)
        self.teams = tuple(sorted(services.rules.teams))
        self.figures: DatabaseFigures | None = None
        self.figures_up = False
        self._read_at = float("-inf")
        self._reading = asyncio.Lock()
        self.database_errors = 0
        self._redis_ping_errors = 0

        r = self.registry
        self.connections = Gauge(
            "vt_connections", "Open Socket.IO connections of this process", ["namespace"], registry=r
        )
        self.connections.labels("visitor").set_function(lambda: services.visitors.connected)
        self.connections.labels("agent").set_function(lambda: services.agent_sockets.connected)
        self.acks = Histogram(
            "vt_ack_seconds",
            "Time from a Socket.IO event's arrival to its ack, by namespace, event and outcome (this process)",
            ["namespace", "event", "outcome"],
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self.messages = Counter(
            "vt_messages", "Chat messages relayed by this process, by sender", ["sender"], registry=r
        )
        for sender in ("visitor", "agent"):
            self.messages.labels(sender)
        leader = Gauge("vt_scheduler_leader", "1 on the process elected to run the scheduled jobs", registry=r)
        leader.set_function(lambda: 1 if services.jobs.leading else 0)
        r.register(self)
        self._events = {
            "visitor": _handlers(services.visitors),
            "agent": _handlers(services.agent_sockets),
        }
        services.visitors.observer = self._observer("visitor")
        services.agent_sockets.observer = self._observer("agent")

    def _observer(self, namespace: str) -> Any:
        known = self._events[namespace]

        def observe(event: str, outcome: str, seconds: float) -> None:
            name = event if event in known else "other"
            self.acks.labels(namespace, name, outcome).observe(seconds)
            if outcome == "unavailable":
                self.database_errors += 1
            if name == "message" and outcome == "ok":
                self.messages.labels(namespace).inc()

        return observe

    # -- the database figures ------------------------------------------------------------------

    async def refresh(self) -> None:
        """Read the database figures unless they were read less than VT_METRICS_CACHE_S ago."""
        async with self._reading:
            now = time.monotonic()
            if now - self._read_at < self.settings.metrics_cache_s:
                return
            try:
                self.figures = await asyncio.wait_for(self._read(), self.settings.ready_timeout_s)
                self.figures_up = True
            except Exception as exc:
                self.database_errors += 1
                self.figures_up = False
                log.warning("metrics_read_failed", error=type(exc).__name__)
            self._read_at = time.monotonic()
            await self._ping_redis()

    async def _ping_redis(self) -> None:
        redis = self.services.redis
        if redis is None:
            return
        try:
            await asyncio.wait_for(redis.ping(), self.settings.ready_timeout_s)
        except Exception:
            self._redis_ping_errors += 1

    async def _read(self) -> DatabaseFigures:
        now: datetime = self.services.clock.now()
        c = conversations.c
        figures = DatabaseFigures(queue=dict.fromkeys(self.teams, 0), oldest_wait_s=dict.fromkeys(self.teams, 0.0))
        async with self.services.db.read() as conn:
            waiting = await conn.execute(
                select(c.team, func.count(), func.min(c.waiting_since))
                .where(c.status == ConversationStatus.WAITING)
                .group_by(c.team)
            )
            for team, count, oldest in waiting:
                if team not in figures.queue:
                    continue  # a team no longer configured: not a label of ours
                figures.queue[team] = int(count)
                if oldest is not None:
                    figures.oldest_wait_s[team] = max(0.0, (now - _aware(oldest)).total_seconds())
            figures.crisis_open = int(
                await conn.scalar(
                    select(func.count()).where(
                        c.crisis_at.is_not(None),
                        c.crisis_acked_at.is_(None),
                        c.crisis_ended_at.is_(None),
                        c.status != ConversationStatus.CLOSED,
                    )
                )
                or 0
            )
            figures.handoffs = dict.fromkeys(HANDOFF_STATUSES, 0)
            for status, count in await conn.execute(
                select(handoffs.c.status, func.count())
                .where(handoffs.c.status.in_(HANDOFF_STATUSES))
                .group_by(handoffs.c.status)
            ):
                figures.handoffs[str(status)] = int(count)
            figures.email_backlog = int(
                await conn.scalar(select(func.count()).where(email_outbox.c.sent_at.is_(None))) or 0
            )
        return figures

    def collect(self) -> Iterable[Any]:
        """The database figures as last read, and the error counts kept on other objects."""
        up = GaugeMetricFamily(
            "vt_database_figures_up", "1 when the last read of the database figures succeeded (this process)"
        )
        up.add_metric([], 1 if self.figures_up else 0)
        yield up
        errors = CounterMetricFamily(
            "vt_dependency_errors",
            "Failed or timed-out calls to the database or Redis in this process",
            labels=["dependency"],
        )
        errors.add_metric(["database"], self.database_errors)
        errors.add_metric(["redis"], self.redis_errors())
        yield errors
        figures = self.figures
        if figures is None:
            return
        queue = GaugeMetricFamily(
            "vt_queue_length", "Conversations waiting, per team (database: use max across processes)", labels=["team"]
        )
        oldest = GaugeMetricFamily(
            "vt_queue_oldest_wait_seconds",
            "How long the longest-waiting conversation of a team waits, 0 when none (database: use max)",
            labels=["team"],
        )
        for team in self.teams:
            queue.add_metric([team], figures.queue.get(team, 0))
            oldest.add_metric([team], figures.oldest_wait_s.get(team, 0.0))
        yield queue
        yield oldest
        crisis = GaugeMetricFamily("vt_crisis_alarms_open", "Crisis alarms nobody acknowledged yet (database: use max)")
        crisis.add_metric([], figures.crisis_open)
        yield crisis
        handoff = GaugeMetricFamily(
            "vt_handoffs", "Handoffs to the case system by status (database: use max)", labels=["status"]
        )
        for status in HANDOFF_STATUSES:
            handoff.add_metric([status], figures.handoffs.get(status, 0))
        yield handoff
        backlog = GaugeMetricFamily(
            "vt_outbox_backlog",
            "Items waiting to be sent: handoffs pending, e-mails unsent (database: use max)",
            labels=["outbox"],
        )
        backlog.add_metric(["handoff"], figures.handoffs.get("pending", 0))
        backlog.add_metric(["email"], figures.email_backlog)
        yield backlog

    def describe(self) -> Iterator[Any]:
        return iter(())  # the families above depend on the last read: not described up front

    def redis_errors(self) -> int:
        s = self.services
        found = self._redis_ping_errors
        for part in (s.fanout, s.limiter, s.presence):
            found += int(getattr(part, "redis_errors", 0) or 0)
        return found


def _handlers(namespace: object) -> frozenset[str]:
    """The events a namespace handles: the only event names that become a label (anything else
    is `other`, never a name a client made up)."""
    return frozenset(
        name[3:] for name in dir(namespace) if name.startswith("on_") and name[3:] not in ("connect", "disconnect")
    )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def metrics_token(settings: Settings) -> str | None:
    """VT_METRICS_TOKEN, checked at start-up: set, it has at least 16 characters."""
    if settings.metrics_token is None or not settings.metrics_token.get_secret_value():
        return None
    token = settings.metrics_token.get_secret_value()
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"VT_METRICS_TOKEN must be at least {MIN_TOKEN_CHARS} characters")
    return token


METRICS = web.AppKey("metrics", ProcessMetrics)
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def _direct_loopback(request: web.Request) -> bool:
    """The request comes from this machine and not through a proxy (which adds its headers)."""
    try:
        local = ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False
    return local and not any(h in request.headers for h in FORWARDING_HEADERS)


def allowed(request: web.Request, token: str | None) -> bool:
    if token is None:
        return _direct_loopback(request)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def scrape(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    if not allowed(request, metrics.token):
        return web.json_response(
            error_payload("unauthorized"), status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
        )
    await metrics.refresh()
    body = await asyncio.to_thread(generate_latest, metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


@web.middleware
async def count_unavailable(request: web.Request, handler: Any) -> web.StreamResponse:
    """HTTP answers `503 unavailable` (the database did not answer) count as database errors;
    /readyz's own 503 is its answer, not a failed request."""
    response = await handler(request)
    if response.status == 503 and request.path != "/readyz":
        metrics = request.app.get(METRICS)
        if metrics is not None:
            metrics.database_errors += 1
    return response


def install(app: web.Application, services: Services) -> None:
    """The metrics of this app and the route that serves them."""
    app[METRICS] = ProcessMetrics(services)
    app.router.add_get("/metrics", scrape)
