"""Shared fixtures: one migrated SQLite database and one real server for the tests that can share them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.server import EVENT_FAULTS, RunningServer, make_settings, migrated_sqlite
from tests.support.services import PostgresServer, postgres_server, redis_server


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return await migrated_sqlite(str(tmp_path_factory.mktemp("db") / "shared.db"))


@pytest.fixture(scope="session")
async def server(database_url: str) -> AsyncIterator[RunningServer]:
    """The shared server: open 24/7. Tests make their own conversations and agents."""
    running = await RunningServer(make_settings(database_url)).start()
    yield running
    await running.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real throwaway redis-server for the whole run."""
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real throwaway PostgreSQL server for the whole run; tests create their own databases."""
    with postgres_server() as server:
        yield server


@pytest.fixture(autouse=True)
def emitted_events_match_their_models() -> Iterator[None]:
    """Every event a test server emitted during the test matches its model (contact/events.py)."""
    EVENT_FAULTS.clear()
    yield
    faults = list(EVENT_FAULTS)
    EVENT_FAULTS.clear()
    if faults:
        pytest.fail("server→client events that do not match their definition:\n" + "\n".join(faults[:10]))
