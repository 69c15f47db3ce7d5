"""Leader election through a lease row in the database: of several processes exactly one runs
the scheduler (APScheduler 3.x cannot share a job store), and another takes over when the
holder stops renewing (it died or lost the database)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Column, String, Table, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from contact.clock import Clock
from contact.db import Database, UTCDateTime

log = structlog.get_logger(__name__)


class Lease(SQLModel, table=True):
    __tablename__ = "lease"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    holder: str = Field(max_length=80)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


leases: Table = Lease.__table__  # type: ignore[attr-defined]


class LeaderLease:
    """One named lease. `acquire` takes it when free or expired and renews it when ours;
    one conditional UPDATE decides, so two processes can never both hold it."""

    def __init__(self, db: Database, clock: Clock, name: str, holder: str, ttl_s: float = 15) -> None:
        self.db = db
        self.clock = clock
        self.name = name
        self.holder = holder
        self.ttl = timedelta(seconds=ttl_s)

    async def acquire(self) -> bool:
        now = self.clock.now()
        try:
            async with self.db.write() as conn:
                taken = await conn.execute(
                    update(leases)
                    .where(leases.c.name == self.name, or_(leases.c.holder == self.holder, leases.c.expires_at <= now))
                    .values(holder=self.holder, expires_at=now + self.ttl)
                )
                if taken.rowcount == 1:
                    return True
                exists = await conn.scalar(select(leases.c.name).where(leases.c.name == self.name))
                if exists is not None:
                    return False
                await conn.execute(insert(leases).values(name=self.name, holder=self.holder, expires_at=now + self.ttl))
                return True
        except IntegrityError:
            return False  # another process inserted the row first

    async def release(self) -> None:
        """Give the lease up at once (a clean shutdown), so another process need not wait."""
        async with self.db.write() as conn:
            await conn.execute(
                update(leases)
                .where(leases.c.name == self.name, leases.c.holder == self.holder)
                .values(expires_at=self.clock.now())
            )


# How long stopping waits for a running election round.
STOP_WAIT_S = 5.0


class Election:
    """Keeps trying for the lease every `ttl/3` seconds; calls `on_elected` when this process
    becomes the leader and `on_demoted` when it stops being one (renewal failed or stop)."""

    def __init__(
        self,
        lease: LeaderLease,
        on_elected: Callable[[], Awaitable[None]],
        on_demoted: Callable[[], Awaitable[None]],
        interval_s: float | None = None,
    ) -> None:
        self.lease = lease
        self.on_elected = on_elected
        self.on_demoted = on_demoted
        self.interval_s = interval_s if interval_s is not None else lease.ttl.total_seconds() / 3
        self.leader = False
        self._task: asyncio.Task[None] | None = None

    async def step(self) -> bool:
        """One round: acquire or renew, and switch role if that changed. Returns leadership."""
        try:
            held = await self.lease.acquire()
        except Exception as exc:
            log.error("lease_failed", lease=self.lease.name, error=type(exc).__name__)
            held = False  # cannot reach the database: assume another process took over
        if held and not self.leader:
            self.leader = True
            log.info("leader_elected", lease=self.lease.name, holder=self.lease.holder)
            await self.on_elected()
        elif not held and self.leader:
            self.leader = False
            log.warning("leader_demoted", lease=self.lease.name, holder=self.lease.holder)
            await self.on_demoted()
        return self.leader

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"election-{self.lease.name}")

    async def _run(self) -> None:
        while True:
            await self.step()
            await asyncio.sleep(self.interval_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Bounded: a round still starting the scheduler (a thread waiting for the database)
            # may not see the cancellation at once, and a process must still stop.
            done, _ = await asyncio.wait({self._task}, timeout=STOP_WAIT_S)
            if not done:
                log.warning("election_stop_timeout", lease=self.lease.name)
            else:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    self._task.result()
        if self.leader:
            self.leader = False
            await self.on_demoted()
            with contextlib.suppress(Exception):
                await self.lease.release()
