"""Shared fixtures: one migrated SQLite database and one real server for the tests that can share them."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator

import pytest

from contact.events import REGISTRY
from tests.support.processes import ServerProcess
from tests.support.server import EMITTED, EVENT_FAULTS, RunningServer, make_settings, migrated_sqlite
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


@pytest.fixture(scope="module", autouse=True)
def no_server_process_outlives_its_module(request: pytest.FixtureRequest) -> Iterator[None]:
    """A `vt-contact serve` process a module's tests or fixtures left running is stopped when the module ends
    (autouse, so torn down after the module's own fixtures) and named in a warning."""
    yield
    left = ServerProcess.stop_leftovers()
    if left:
        warnings.warn(f"{request.module.__name__} left server processes running: {left}", stacklevel=1)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Which server→client events no test server emitted in this run (a whole run should emit
    every one: an event no test sends is an event no test checks)."""
    if EMITTED:
        missing = sorted(f"{ns} {event}" for ns, event in set(REGISTRY) - EMITTED)
        terminalreporter.write_line(f"server→client events checked: {len(EMITTED)}; never emitted: {missing or 'none'}")
