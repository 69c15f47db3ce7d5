"""The register of processing (docs/privacy.md) names every column the schema holds: a new
column without a row there fails here, and so does a row for a column that is gone."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from contact.migrate import upgrade
from tests.support.register import PERSONAL_VALUES, register


async def _columns(url: str) -> set[tuple[str, str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:

            def walk(sync_conn) -> set[tuple[str, str]]:
                found = inspect(sync_conn)
                return {(t, c["name"]) for t in found.get_table_names() for c in found.get_columns(t)}

            return await conn.run_sync(walk)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_every_column_of_the_schema_is_in_the_register(backend, tmp_path, request):
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'register.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database("privacy_register")
    await asyncio.to_thread(upgrade, url)
    schema = await _columns(url)
    rows = register()
    assert sorted(schema - rows.keys()) == [], "columns missing from the register in docs/privacy.md"
    assert sorted(rows.keys() - schema) == [], "the register names columns the schema does not have"


def test_every_row_says_whether_it_is_personal_and_when_it_goes():
    for key, row in register().items():
        assert row["personal"] in PERSONAL_VALUES, key
        assert row["what"] and row["why kept"] and row["readers"] and row["when it goes"], key
