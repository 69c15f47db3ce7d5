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


async def test_stop_lets_a_running_job_finish_and_cancels_one_that_hangs(tmp_path, monkeypatch) -> None:
    """A job still running when the process stops must be done before the app closes the database
    behind it: it used to run on, open a new connection after the close (a thread left behind per
    stop) or be cancelled by the closing loop with a `job_failed` error in the log."""
    import asyncio

    from structlog.testing import capture_logs

    from contact import scheduler as scheduler_module
    from contact.clock import SystemClock
    from contact.db import Database
    from contact.scheduler import JobRunner
    from tests.support.server import migrated_sqlite

    monkeypatch.setattr(scheduler_module, "STOP_GRACE_S", 0.5)
    url = await migrated_sqlite(str(tmp_path / "jobs.db"))
    db = Database(url)
    runner = JobRunner(db, SystemClock(), url.replace("+aiosqlite", ""))
    began = {"short": asyncio.Event(), "hangs": asyncio.Event()}
    ended: list[str] = []

    async def short() -> None:
        began["short"].set()
        await asyncio.sleep(0.2)
        ended.append("short")

    async def hangs() -> None:
        began["hangs"].set()
        try:
            await asyncio.sleep(3600)
        finally:
            ended.append("hangs cancelled")

    runner.every("short", 0.1, short)
    runner.every("hangs", 0.1, hangs)
    try:
        with capture_logs() as logs:
            runner.start()
            async with asyncio.timeout(20):
                await began["short"].wait()
                await began["hangs"].wait()
            await runner.stop()
            assert sorted(ended) == ["hangs cancelled", "short"]
            assert not runner._running
            await asyncio.sleep(0.3)  # the scheduler thread's waits end; nothing new starts
            assert sorted(ended) == ["hangs cancelled", "short"]
        assert not [e for e in logs if e["event"] == "job_failed"], logs
    finally:
        await db.dispose()
