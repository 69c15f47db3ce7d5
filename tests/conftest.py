"""Shared fixtures: one migrated SQLite database and one real server for the tests that can share them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.server import RunningServer, migrated_sqlite, make_settings


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return await migrated_sqlite(str(tmp_path_factory.mktemp("db") / "shared.db"))


@pytest.fixture(scope="session")
async def server(database_url: str) -> AsyncIterator[RunningServer]:
    """The shared server: open 24/7. Tests make their own conversations and agents."""
    running = await RunningServer(make_settings(database_url)).start()
    yield running
    await running.stop()
