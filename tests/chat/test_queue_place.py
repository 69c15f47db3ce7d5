"""The place a visitor is told at `start` and `resume` is counted by the database
(`place_in_queue`); the queue broadcast orders the whole queue in Python
(`routing.queue_order.order`). On random queues, with ties in time and priority, acute danger,
the crisis team, absent visitors and conversations that no longer wait, both give every
conversation the same place."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from chat.model import ConversationStatus
from chat.queue import QueueUseCases, place_in_queue
from chat.store import conversations
from contact.db import Database
from routing.queue_order import Waiting, order
from tests.support.server import migrated_sqlite

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def test_the_counted_place_is_the_ordered_place(tmp_path):
    db = Database(await migrated_sqlite(str(tmp_path / "place.db")))
    try:
        for seed in range(6):
            rnd = random.Random(seed)
            rows = []
            for _ in range(40):
                away = rnd.random() < 0.15
                rows.append(
                    {
                        "id": str(uuid.UUID(int=rnd.getrandbits(128))),
                        "status": rnd.choice([ConversationStatus.WAITING] * 5 + [ConversationStatus.ACTIVE]),
                        "caller_type": "volwassene",
                        "intent": "advies",
                        "team": rnd.choice(["jeugd", "volwassenen", "crisis"]),
                        "priority": rnd.choice([0, 0, 50, 100]),
                        "danger_now": rnd.random() < 0.2,
                        "resume_hash": uuid.uuid4().hex,
                        "created_at": T0,
                        "waiting_since": T0 + timedelta(seconds=rnd.choice([0, 1, 1, 2, 3])),
                        "visitor_away_since": T0 if away else None,
                        "last_seq": 0,
                    }
                )
            async with db.write() as conn:
                await conn.execute(insert(conversations), rows)
            waiting = [r for r in rows if r["status"] == ConversationStatus.WAITING]
            expected = QueueUseCases._positions(
                order(
                    Waiting(
                        r["id"],
                        r["team"],
                        r["priority"],
                        r["waiting_since"],
                        r["danger_now"],
                        present=r["visitor_away_since"] is None,
                    )
                    for r in waiting
                )
            )
            assert max(expected.values()) >= 5  # queues long enough to order
            async with db.read() as conn:
                for r in rows:
                    got = await place_in_queue(conn, r["id"])
                    assert got == expected.get(r["id"], 1), (seed, r)
            async with db.write() as conn:
                await conn.execute(conversations.delete())
    finally:
        await db.dispose()
