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
