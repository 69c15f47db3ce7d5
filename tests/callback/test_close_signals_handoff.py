"""A callback closed with an outcome hands off like a chat (issue 14): its `Result` carries
`HandoffCreated`, which wakes this process's delivery worker at once, so the case system gets
the handoff without waiting for the next poll of the outbox."""

from __future__ import annotations

import asyncio

from aiohttp import ClientSession

from contact.clock import ManualClock
from tests.callback.conftest import MONDAY_8, Api, agent_token, booking
from tests.cases.test_webhook import SECRET, Receiver
from tests.support.server import RunningServer, make_settings, migrated_sqlite
from tests.support.services import free_port

MELDING = {"kind": "melding", "summary": "Zorgen", "urgency": "midden", "gemeente": "Utrecht"}


async def test_a_callback_close_is_delivered_at_once_not_at_the_next_poll(tmp_path) -> None:
    receiver = Receiver(free_port())
    await receiver.start()
    url = await migrated_sqlite(str(tmp_path / "close.db"))
    settings = make_settings(
        url,
        case_webhook_url=receiver.url,
        case_webhook_secret=SECRET,
        case_webhook_allow_http=True,  # the receiver is on loopback
        case_poll_s=120,  # the outbox is looked at every two minutes, unless something wakes it
        hash_key="k" * 32,
    )
    server = await RunningServer(settings, ManualClock(MONDAY_8)).start()
    try:
        async with ClientSession() as http:
            api = Api(server.url, http)
            assert (await api.call("POST", "/api/callbacks", booking()))[0] == 201
            _, token = await agent_token(server)
            _, work = await api.call("GET", "/api/agent/callbacks?date=2026-11-30", token=token)
            (card,) = [c for tv in work["tijdvakken"] for c in tv["callbacks"]]
            path = f"/api/agent/callbacks/{card['id']}"
            assert (await api.call("POST", f"{path}/claim", token=token))[0] == 200
            status, closed = await api.call("POST", f"{path}/close", {"outcome": MELDING}, token=token)
            assert status == 200 and closed["handoff_id"]
            for _ in range(100):
                if closed["handoff_id"] in receiver.received:
                    break
                await asyncio.sleep(0.05)
            assert closed["handoff_id"] in receiver.received  # within 5 s, not 120
    finally:
        await server.stop()
        await receiver.stop()
