"""Delivery of the outbox to the case system's webhook: signed (HMAC-SHA256 over the exact body,
`X-VT-Signature`; and per the Standard Webhooks spec, `webhook-id`, `webhook-timestamp` and
`webhook-signature` over `id.timestamp.body`, with every configured secret during a rotation)
with an Idempotency-Key, retried with exponential back-off and jitter (Retry-After honoured),
dead-lettered after the last try. Every process may run a worker: a handoff is claimed with one
conditional UPDATE before it is sent, so two workers never send it at once."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import structlog
from sqlalchemy import select, update

from cases.store import handoffs
from contact.clock import Clock
from contact.db import Database
from contact.logs import happened

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret: bytes
    # Standard Webhooks signing secrets, newest first (several while one is being replaced).
    secrets: tuple[bytes, ...] = ()
    max_tries: int = 12
    base_s: float = 2.0
    max_delay_s: float = 600.0
    timeout_s: float = 10.0
    # A claimed handoff is the worker's for this long; after a crash another takes it.
    lease_s: float = 60.0
    poll_s: float = 1.0


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def standard_signature(secrets: tuple[bytes, ...], msg_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` per secret, space-separated
    (Standard Webhooks); a receiver with the secret as `whsec_<base64 of it>` verifies any one."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode() for secret in secrets
    )


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def backoff(tries: int, config: WebhookConfig, retry_after_s: float | None = None) -> float:
    """Seconds until the next try: exponential with full jitter, never sooner than the
    receiver's Retry-After, never longer than `max_delay_s`."""
    delay = random.uniform(0, min(config.max_delay_s, config.base_s * 2 ** max(0, tries - 1)))
    delay = max(delay, config.base_s / 2)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, config.max_delay_s))
    return delay


def _retry_after(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    return None


class HandoffDelivery:
    def __init__(self, db: Database, clock: Clock, config: WebhookConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self._wake = asyncio.Event()
        self.concurrency = 8
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def kick(self) -> None:
        """A new handoff was written here: look now, not at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout_s))
        self._task = asyncio.get_running_loop().create_task(self._run(), name="handoff-delivery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        """Keep up to `concurrency` handoffs in flight; a slow receiver answer holds one slot,
        not the whole batch."""
        inflight: set[asyncio.Task[None]] = set()
        while True:
            due: list[Any] = []
            free = self.concurrency - len(inflight)
            if free > 0:
                try:
                    due = await self._due(free)
                except Exception as exc:
                    log.error("handoff_delivery_failed", error=type(exc).__name__)
                for item in due:
                    inflight.add(asyncio.get_running_loop().create_task(self._guarded(item.id, item.next_try_at)))
            self._wake.clear()
            if inflight:
                waiter = asyncio.ensure_future(self._wake.wait())
                done, _ = await asyncio.wait(
                    [*inflight, waiter], timeout=self.config.poll_s, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
                inflight -= done
            elif not due:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.poll_s)

    async def _due(self, limit: int) -> list[Any]:
        now = self.clock.now()
        async with self.db.read() as conn:
            return list(
                (
                    await conn.execute(
                        select(handoffs.c.id, handoffs.c.next_try_at)
                        .where(handoffs.c.status == "pending", handoffs.c.next_try_at <= now)
                        .order_by(handoffs.c.next_try_at)
                        .limit(limit)
                    )
                ).all()
            )

    async def _guarded(self, handoff_id: str, seen_next: datetime) -> None:
        try:
            await self._deliver(handoff_id, seen_next)
        except Exception as exc:  # the database hiccuped: the lease runs out and it is tried again
            log.error("handoff_delivery_failed", handoff_id=handoff_id, error=type(exc).__name__)

    async def _deliver(self, handoff_id: str, seen_next: datetime) -> None:
        now = self.clock.now()
        async with self.db.write() as conn:
            row = (
                await conn.execute(
                    update(handoffs)
                    .where(
                        handoffs.c.id == handoff_id, handoffs.c.status == "pending", handoffs.c.next_try_at == seen_next
                    )
                    .values(next_try_at=now + timedelta(seconds=self.config.lease_s), tries=handoffs.c.tries + 1)
                    .returning(handoffs.c.id, handoffs.c.payload, handoffs.c.tries)
                )
            ).first()
        if row is None:
            return  # another worker has it
        body = body_of(row.payload)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": row.id,
            "X-VT-Signature": sign(self.config.secret, body),
            "User-Agent": "vt-contact",
        }
        if self.config.secrets:
            # A fresh timestamp on every try: the receiver refuses one outside its tolerance (replay).
            timestamp = int(self.clock.now().timestamp())
            headers["webhook-id"] = row.id
            headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = standard_signature(self.config.secrets, row.id, timestamp, body)
        error: str | None = None
        retry_after: float | None = None
        assert self._session is not None
        try:
            async with self._session.post(self.config.url, data=body, headers=headers, allow_redirects=False) as r:
                await r.read()  # whatever a 2xx says, the receiver has it
                if 200 <= r.status < 300:
                    await self._delivered(row.id)
                    happened("handoff_delivered", handoff_id=row.id, tries=row.tries)
                    return
                error = f"http_{r.status}"
                if r.status in (429, 503):
                    retry_after = _retry_after(r.headers.get("Retry-After"), self.clock.now())
        except TimeoutError:
            error = "timeout"
        except aiohttp.ClientError as exc:
            error = type(exc).__name__
        await self._failed(row.id, row.tries, error or "unknown", retry_after)

    async def _delivered(self, handoff_id: str) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                update(handoffs)
                .where(handoffs.c.id == handoff_id)
                .values(status="delivered", delivered_at=self.clock.now(), last_error=None)
            )

    async def _failed(self, handoff_id: str, tries: int, error: str, retry_after: float | None) -> None:
        now = self.clock.now()
        dead = tries >= self.config.max_tries
        values: dict[str, Any] = {"last_error": error[:80]}
        if dead:
            values["status"] = "dead"
        else:
            values["next_try_at"] = now + timedelta(seconds=backoff(tries, self.config, retry_after))
        async with self.db.write() as conn:
            await conn.execute(update(handoffs).where(handoffs.c.id == handoff_id).values(**values))
        if dead:
            log.error("handoff_dead", handoff_id=handoff_id, tries=tries, error=error)
            happened("handoff_dead", handoff_id=handoff_id, tries=tries, error=error)
        else:
            log.warning("handoff_retry", handoff_id=handoff_id, tries=tries, error=error)
