"""What starts with the app and stops with it, one small async context manager per resource (for
aiohttp's `cleanup_ctx`: the part before `yield` runs at start-up in list order, the part after
at shutdown in reverse order). Each finds its resource under a typed key of the app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import redis.asyncio as aioredis
import socketio
import structlog
from aiohttp import web

from app.services import ConfigError, load_secret_box
from cases.delivery import HandoffDelivery
from chat.http import CHAT, DISPATCHER
from chat.model import QueueChanged
from chat.sockets import AgentNamespace, VisitorNamespace
from chat.writer import MessageWriter
from contact import workdays
from contact.checkpoints import WalCheckpointer
from contact.fanout import ResilientRedisManager
from contact.http import AGENTS, DATABASE, LIMITER, PRESENCE, SETTINGS
from contact.keys import Keys, stored_key
from contact.migrate import current_revision, head_revision
from contact.scheduler import JobRunner

log = structlog.get_logger(__name__)

SIO = web.AppKey("sio", socketio.AsyncServer)
WRITER = web.AppKey("writer", MessageWriter)
JOBS = web.AppKey("jobs", JobRunner)
KEYS = web.AppKey("keys", Keys)
VISITORS = web.AppKey("visitors", VisitorNamespace)
AGENT_SOCKETS = web.AppKey("agent_sockets", AgentNamespace)
REDIS = web.AppKey("redis", aioredis.Redis)
FANOUT = web.AppKey("fanout", ResilientRedisManager)
DELIVERY = web.AppKey("delivery", HandoffDelivery)

Lifecycle = Callable[[web.Application], AsyncIterator[None]]


async def database(app: web.Application) -> AsyncIterator[None]:
    """The schema must be the one this version needs; the contact-hash key is loaded once."""
    db, settings, keys = app[DATABASE], app[SETTINGS], app[KEYS]
    current = await current_revision(db.write_engine)
    expected = head_revision(settings.database_url)
    if current != expected:
        await db.dispose()
        raise ConfigError(
            f"database schema is at {current or 'nothing'}, this version needs {expected}: "
            "run `vt-contact db upgrade` first"
        )
    if not keys.contact_hash:  # only in --demo (app/services.py hash_keys refuses it otherwise)
        log.warning("hash_key_from_database", hint="demo only: set VT_HASH_KEY and keep it out of the database")
        keys.contact_hash = await stored_key(db, "contact_hash")
    box = app[AGENTS].box
    if box is not None and not box.ready:  # no VT_SECRET_KEY: one process only (app/services.py)
        await load_secret_box(box, db)
    yield
    await db.close()


async def checkpoints(app: web.Application) -> AsyncIterator[None]:
    """SQLite with background checkpoints: a thread of this process checkpoints the WAL
    (contact/checkpoints.py); it stops after the writers did and before the database closes."""
    db, settings = app[DATABASE], app[SETTINGS]
    if not db.background_checkpoints or db.sqlite_path() is None:
        yield
        return
    checkpointer = WalCheckpointer(
        db,
        every_s=settings.sqlite_checkpoint_s,
        limit_bytes=settings.sqlite_wal_limit_mb * 2**20,
        wait_s=min(1.0, settings.db_lock_timeout_s),
    )
    checkpointer.start()
    yield
    await checkpointer.stop()


async def redis_connection(app: web.Application) -> AsyncIterator[None]:
    """Only with VT_REDIS_URL."""
    client = app[REDIS]
    await client.ping()  # fail at start-up, not at the first message
    yield
    await client.aclose()
    close_limits = getattr(app.get(LIMITER), "aclose", None)  # the flood limit's own client
    if close_limits is not None:
        await close_limits()


async def fanout(app: web.Application) -> AsyncIterator[None]:
    """Only with VT_REDIS_URL: listen on the fan-out from the start (python-socketio would wait
    for the first connection), so that /readyz can tell whether it listens."""
    sio, manager = app[SIO], app[FANOUT]
    if not sio.manager_initialized:
        sio.manager_initialized = True
        manager.initialize()
    yield


async def presence(app: web.Application) -> AsyncIterator[None]:
    agents_online = app[PRESENCE]
    agents_online.start()
    yield
    await agents_online.stop()


async def writer(app: web.Application) -> AsyncIterator[None]:
    message_writer = app[WRITER]
    message_writer.start()
    yield
    await message_writer.stop()


async def away_marks(app: web.Application) -> AsyncIterator[None]:
    """The visitors' away marks still pending are written before the database closes."""
    yield
    await app[VISITORS].away.stop()


async def sweeper(app: web.Application) -> AsyncIterator[None]:
    """Abandoned waiting chats closed, the overflow of the queue shown, resume tokens kept alive."""
    settings, chat, dispatcher, visitors = app[SETTINGS], app[CHAT], app[DISPATCHER], app[VISITORS]
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


async def agent_sessions(app: web.Application) -> AsyncIterator[None]:
    """Sockets of sessions that ended let go within seconds on every process: at once through
    a Redis signal when there is Redis, and by a periodic check (the fallback) always."""
    settings, sockets = app[SETTINGS], app[AGENT_SOCKETS]
    redis = app.get(REDIS)
    channel = f"{settings.redis_channel}:sessions-ended"
    tasks: list[asyncio.Task[None]] = []

    async def check() -> None:
        while True:
            await asyncio.sleep(settings.session_check_s)
            try:
                await sockets.check_sessions()
            except Exception as exc:
                log.warning("session_check_failed", error=type(exc).__name__)

    tasks.append(asyncio.get_running_loop().create_task(check(), name="session-check"))
    if redis is not None:

        async def publish(agent_id: str) -> None:
            try:
                await redis.publish(channel, agent_id)
            except Exception as exc:  # the periodic check covers it
                log.warning("session_signal_failed", error=type(exc).__name__)

        async def listen() -> None:
            while True:
                pubsub = redis.pubsub()
                try:
                    await pubsub.subscribe(channel)
                    while True:
                        try:
                            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                        except TimeoutError:
                            continue
                        if message is not None and isinstance(message.get("data"), bytes):
                            await sockets.sessions_ended(message["data"].decode("ascii", "replace")[:36])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("session_signal_listen_failed", error=type(exc).__name__)
                    await asyncio.sleep(1)
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()

        sockets.agents.on_ended.append(publish)
        tasks.append(asyncio.get_running_loop().create_task(listen(), name="session-signal"))
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def scheduler(app: web.Application) -> AsyncIterator[None]:
    jobs = app[JOBS]
    # Before the first job or request needs them, and off the event loop.
    await asyncio.to_thread(workdays.warm, jobs.clock.now().date())
    if app[SETTINGS].scheduler_enabled:
        jobs.start()
    yield
    await jobs.stop()


async def delivery(app: web.Application) -> AsyncIterator[None]:
    """Only with a case webhook."""
    worker = app[DELIVERY]
    worker.start()
    yield
    await worker.stop()


def lifecycles(app: web.Application) -> list[Lifecycle]:
    """In start-up order; the optional ones only when their resource is there."""
    found: list[Lifecycle] = [database, checkpoints]
    if REDIS in app:
        found.append(redis_connection)
    if FANOUT in app:
        found.append(fanout)
    found += [presence, writer, away_marks, sweeper, agent_sessions, scheduler]
    if DELIVERY in app:
        found.append(delivery)
    return found
