"""A scheduled job with nothing to do takes no write transaction.

On SQLite every write transaction holds the file's one write lock, and the chat messages wait
for it: the jobs (app/jobs.py) look first with a read and write only when something is due
(issue 19, docs/performance.md). That they still do their work when it is due is tested with
each job (tests/callback, tests/cases, tests/chat/test_outcome_after_leaving.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from app.services import Services, build_services
from contact.clock import SystemClock
from tests.support.server import make_settings, migrated_sqlite


@pytest.fixture
async def services(tmp_path) -> AsyncIterator[Services]:
    built = build_services(make_settings(await migrated_sqlite(str(tmp_path / "quiet.db"))), SystemClock())
    yield built
    await built.db.dispose()


async def _writes(services: Services, run: Callable[[], Awaitable[Any]]) -> int:
    """How many write transactions `run` opened."""
    opened = 0
    original = services.db.write

    def counted() -> AbstractAsyncContextManager[Any]:
        nonlocal opened
        opened += 1
        return original()

    services.db.write = counted  # type: ignore[method-assign]
    try:
        await run()
    finally:
        services.db.write = original  # type: ignore[method-assign]
    return opened


async def test_jobs_with_nothing_due_take_no_write_lock(services):
    await services.callbacks.tijdvak_notices()  # a tijdvak running now is told once
    quiet = {
        "tijdvak_notices": services.callbacks.tijdvak_notices,
        "overdue callbacks": services.callbacks.flag_overdue,
        "reminders": services.callbacks.queue_reminders,
        "outcomes": services.chat.close_overdue_outcomes,
        "crisis re-alerts": services.crisis.realert,
    }
    for name, run in quiet.items():
        assert await _writes(services, run) == 0, name


async def test_the_purge_with_nothing_due_writes_only_per_source(services):
    # The sources' purges are one small transaction each (they answer how many they removed);
    # the repeat-report hashes are looked at first.
    assert await _writes(services, services.register.purge_due) == len(services.register.sources)
