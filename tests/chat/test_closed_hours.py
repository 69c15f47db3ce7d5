"""Outside opening hours the chat refuses to start and says when it opens, with the phone numbers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import ClientSession

from contact.clock import ManualClock
from tests.support.server import RunningServer, make_settings, migrated_sqlite, start_payload, visitor

AMS = ZoneInfo("Europe/Amsterdam")


async def test_start_outside_hours_answers_closed_with_opens_at(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "hours.db"))
    clock = ManualClock(datetime(2026, 12, 25, 14, 0, tzinfo=AMS))  # Christmas Day, a Friday
    server = await RunningServer(make_settings(url, chat_hours="mon-fri 09:00-17:00"), clock).start()
    try:
        async with ClientSession() as http, http.get(f"{server.url}/api/status") as r:
            status = await r.json()
        assert status["chat"]["open"] is False
        assert status["chat"]["opens_at"] == "2026-12-28T09:00:00+01:00"
        assert status["phone"] == {"advice": "0800-2000", "emergency": "112"}

        v = await visitor(server.url)
        ack = await v.call("start", start_payload(danger_now=True))
        assert ack["error"]["code"] == "closed"
        assert ack["error"]["opens_at"] == "2026-12-28T09:00:00+01:00"
        assert ack["error"]["emergency"] == "112" and ack["error"]["phone"] == "0800-2000"

        clock.set(datetime(2026, 12, 28, 9, 0, tzinfo=AMS))  # Monday morning: open
        assert (await v.call("start", start_payload()))["status"] == "waiting"
        await v.disconnect()
    finally:
        await server.stop()
