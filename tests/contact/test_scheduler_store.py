"""The elected scheduler survives an error of its job store (the database restarting): APScheduler's
own loop would end its thread, and no job (crisis re-alerts among them) would run again."""

from __future__ import annotations

import time
from typing import Any

from apscheduler.jobstores.memory import MemoryJobStore

from contact.scheduler import _Scheduler


class FlakyStore(MemoryJobStore):
    """A job store that fails the way a restarting database does, a given number of times."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def get_next_run_time(self) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionResetError("database restarting")
        return super().get_next_run_time()


def test_a_failing_job_store_is_tried_again_and_jobs_keep_running() -> None:
    runs: list[float] = []
    store = FlakyStore(failures=2)
    scheduler = _Scheduler(jobstores={"default": store}, timezone="UTC", jobstore_retry_interval=0.2)
    scheduler.add_job(lambda: runs.append(time.monotonic()), "interval", seconds=0.1, id="tick")
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while len(runs) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=False)
    assert store.failures == 0
    assert len(runs) >= 3, "the scheduler's thread stopped after the job store failed"


async def test_a_scheduler_started_after_the_process_stopped_leading_is_stopped_at_once(tmp_path) -> None:
    """Stopping a server while its first election round starts the scheduler (in a thread the
    cancellation cannot stop) left that scheduler running for the rest of the process, its jobs
    finding no runner."""
    import asyncio

    from apscheduler.schedulers.base import STATE_STOPPED

    from contact.clock import SystemClock
    from contact.db import Database
    from contact.scheduler import JobRunner

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'lease.db'}")
    runner = JobRunner(db, SystemClock(), f"sqlite:///{tmp_path / 'lease.db'}")
    started: list[_Scheduler] = []

    def slow_start() -> _Scheduler:
        time.sleep(0.3)  # the database answering slowly
        scheduler = _Scheduler(jobstores={"default": MemoryJobStore()}, timezone="UTC")
        scheduler.start()
        started.append(scheduler)
        return scheduler

    runner._start_scheduler = slow_start  # type: ignore[method-assign]
    try:
        electing = asyncio.create_task(runner._elected())
        await asyncio.sleep(0.05)
        electing.cancel()  # the server stops
        await runner._demoted()
        for _ in range(100):
            if started and started[0].state == STATE_STOPPED:
                break
            await asyncio.sleep(0.02)
        assert started and started[0].state == STATE_STOPPED
        assert runner._scheduler is None
        # A later term keeps its scheduler.
        await runner._elected()
        assert runner._scheduler is started[1] and started[1].state != STATE_STOPPED
        await runner._demoted()
        assert started[1].state == STATE_STOPPED
    finally:
        for scheduler in started:
            if scheduler.state != STATE_STOPPED:
                scheduler.shutdown(wait=False)
        await db.dispose()
