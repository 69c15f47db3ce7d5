"""The deployment's one scheduler: APScheduler 3.x with a persistent job store, running only
in the process that holds the `scheduler` lease (3.x cannot share a job store between
processes), in a thread of its own so that its synchronous job store never blocks the event
loop. A job hands its work to the event loop and waits for it there.

Jobs derive what to do from the database and claim each piece of work with a conditional
UPDATE, so a job that runs twice (a failover, a slow demotion) does nothing twice."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from contact.clock import Clock
from contact.db import Database
from contact.leader import Election, LeaderLease

log = structlog.get_logger(__name__)

# Job defaults, chosen on purpose:
# - coalesce: runs missed while no process was leader collapse into one, since every job
#   recomputes its work from the database anyway;
# - misfire_grace_time None: a late run still runs, however late (the 1 s default would
#   silently skip a re-alert after a pause of the process or a failover);
# - max_instances 1: a slow run is never overtaken by the next one of the same job.
JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "misfire_grace_time": None, "max_instances": 1}
# Longest a job waits for its work on the event loop before giving up (it runs again next time).
JOB_TIMEOUT_S = 60
# At stop, how long a job that is running may take to finish before it is cancelled: it must be
# done before the database closes behind it (a job cancelled mid-way rolls back and runs again
# under the next leader; every job is idempotent).
STOP_GRACE_S = 5.0

_RUNNERS: dict[str, JobRunner] = {}


class _Executor(ThreadPoolExecutor):
    """A thread pool that lets a run go quietly when it arrives as the scheduler shuts down
    (this process stepped down: the next leader runs the job, and every job is idempotent)."""

    def _do_submit_job(self, job: Any, run_times: Any) -> None:
        try:
            super()._do_submit_job(job, run_times)
        except RuntimeError:
            log.info("job_skipped_at_shutdown", job=job.id)


class _Scheduler(BackgroundScheduler):
    """APScheduler's loop lets an error of the job store (the database restarting) end its thread,
    after which no job runs again in this process while it still holds the lease: crisis re-alerts
    would stop without a word. Here such a pass is logged once per failure and tried again soon."""

    def _process_jobs(self) -> float | None:
        try:
            return super()._process_jobs()
        except Exception as exc:
            log.warning("scheduler_store_failed", error=type(exc).__name__)
            return float(self.jobstore_retry_interval)


def run_task(runner_key: str, task: str) -> None:
    """What every stored job calls (by reference, so the job store can persist it): the task
    of that name on the runner of this database in this process."""
    runner = _RUNNERS.get(runner_key)
    if runner is None:
        log.info("job_without_runner", task=task)  # a run that began as this process stepped down
        return
    runner.run_blocking(task)


@dataclass(frozen=True)
class Periodic:
    name: str
    every_s: float
    action: Callable[[], Awaitable[None]]


class JobRunner:
    """Owns the election and, while this process leads, the APScheduler instance."""

    def __init__(self, db: Database, clock: Clock, sync_url: str, ttl_s: float = 15) -> None:
        self.db = db
        self.clock = clock
        self.sync_url = sync_url
        # One key per database: a job stored by an earlier process finds the runner that
        # leads now, and its schedule survives the restart unchanged.
        self.key = hashlib.sha256(sync_url.encode()).hexdigest()[:16]
        holder = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.election = Election(LeaderLease(db, clock, "scheduler", holder, ttl_s), self._elected, self._demoted)
        self.tasks: dict[str, Periodic] = {}
        self.runs: dict[str, int] = {}
        self._scheduler: BackgroundScheduler | None = None
        # Each election and demotion begins a new term. A scheduler started for a term that ended
        # meanwhile (the process stopped while the thread was starting it) is stopped at once,
        # or it would run on with no runner for the rest of the process's life.
        self._term = 0
        self._term_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._running: set[asyncio.Task[None]] = set()

    def every(self, name: str, seconds: float, action: Callable[[], Awaitable[None]]) -> None:
        self.tasks[name] = Periodic(name, seconds, action)

    @property
    def leading(self) -> bool:
        return self.election.leader

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self.election.start()

    async def stop(self) -> None:
        """Step down, then let the jobs still running finish (cancelled after `STOP_GRACE_S`):
        the app closes the database next, and a job may not reach for it after that."""
        self._stopping = True
        await self.election.stop()
        running = set(self._running)
        if running:
            _, late = await asyncio.wait(running, timeout=STOP_GRACE_S)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)

    async def _elected(self) -> None:
        _RUNNERS[self.key] = self
        with self._term_lock:
            self._term += 1
            term = self._term
        await asyncio.to_thread(self._start_for, term)

    def _start_for(self, term: int) -> None:
        """In a thread: start the scheduler and keep it, unless the term ended meanwhile (a
        cancelled `_elected` does not stop this thread)."""
        scheduler = self._start_scheduler()
        with self._term_lock:
            if term == self._term and self._scheduler is None:
                self._scheduler = scheduler
                return
        log.info("scheduler_stopped_unused")
        _stop_scheduler(scheduler)

    async def _demoted(self) -> None:
        with self._term_lock:
            self._term += 1
            scheduler, self._scheduler = self._scheduler, None
        if _RUNNERS.get(self.key) is self:
            del _RUNNERS[self.key]
        if scheduler is not None:
            # Paused first, so its thread submits no new run while the executor shuts down;
            # not waiting for a running job: it is idempotent, and it may be waiting for this loop.
            await asyncio.to_thread(_stop_scheduler, scheduler)

    def _start_scheduler(self) -> BackgroundScheduler:
        store = SQLAlchemyJobStore(url=self.sync_url, engine_options=_engine_options(self.sync_url))
        scheduler = _Scheduler(
            jobstores={"default": store},
            executors={"default": _Executor(2)},
            job_defaults=JOB_DEFAULTS,
            timezone="UTC",
            # After a database outage, look again soon: re-alerts of open crises wait for this.
            jobstore_retry_interval=2,
        )
        log.info("scheduler_started", jobs=sorted(self.tasks))
        scheduler.start()
        for task in self.tasks.values():
            existing = scheduler.get_job(task.name)
            trigger = existing.trigger if existing is not None else None
            if isinstance(trigger, IntervalTrigger) and trigger.interval.total_seconds() == task.every_s:
                continue  # stored by an earlier leader: keep its schedule
            scheduler.add_job(
                run_task,
                "interval",
                seconds=task.every_s,
                id=task.name,
                name=task.name,
                args=[self.key, task.name],
                replace_existing=True,
                **JOB_DEFAULTS,
            )
        return scheduler

    def run_blocking(self, name: str) -> None:
        """Called in the scheduler's thread: run the task on the event loop and wait."""
        task = self.tasks.get(name)
        if task is None or self._loop is None or self._stopping or not self.election.leader:
            return
        future = asyncio.run_coroutine_threadsafe(self._guarded(task), self._loop)
        try:
            future.result(timeout=JOB_TIMEOUT_S)
        except Exception as exc:
            future.cancel()
            if self._stopping:
                log.info("job_stopped", task=name)  # the process is stopping: not a fault
            else:
                log.error("job_failed", task=name, error=type(exc).__name__)

    async def _guarded(self, task: Periodic) -> None:
        me = asyncio.current_task()
        if self._stopping or me is None:
            return
        self._running.add(me)
        try:
            await task.action()
            self.runs[task.name] = self.runs.get(task.name, 0) + 1
        except Exception as exc:
            log.error("job_failed", task=task.name, error=type(exc).__name__)
        finally:
            self._running.discard(me)


def _stop_scheduler(scheduler: BackgroundScheduler) -> None:
    scheduler.pause()
    scheduler.shutdown(wait=False)


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # The event loop's writer holds the same file's write lock now and then: wait for it.
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True, "pool_size": 2, "max_overflow": 0}
