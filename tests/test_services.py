"""The throwaway Redis and PostgreSQL servers really start, answer and store data."""

from __future__ import annotations

import uuid

import asyncpg
import redis

from tests.support.services import postgres_server, redis_server


def test_redis_server_stores_and_returns_a_value() -> None:
    value = uuid.uuid4().hex
    with redis_server() as url:
        assert url.startswith("redis://127.0.0.1:") and url.endswith("/0")
        client = redis.Redis.from_url(url, socket_timeout=5)
        try:
            assert client.set("vt:probe", value) is True
            assert client.get("vt:probe") == value.encode()
        finally:
            client.close()


async def test_postgres_server_creates_a_database_for_user_vt() -> None:
    with postgres_server() as pg:
        url = pg.create_database("vt_probe")
        assert url == f"postgresql+asyncpg://vt@127.0.0.1:{pg.port}/vt_probe"
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=10)
        try:
            assert await conn.fetchval("SELECT 1") == 1
            assert await conn.fetchval("SELECT current_user") == "vt"
            assert await conn.fetchval("SELECT current_database()") == "vt_probe"
        finally:
            await conn.close()
