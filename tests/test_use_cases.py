"""The use cases of chat and callbacks called directly, without a server (issue 14): the main
transitions on a migrated SQLite, each answering a `Result` whose events match their models
(contact/events.py) and whose handoff is signalled (`HandoffCreated`) the same way for both.

(tests/test_services.py is about the throwaway Redis and PostgreSQL servers of tests/support.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest

from app.services import Services, build_services
from callback.service import Booking
from contact.access_log import Reader
from contact.clock import ManualClock
from contact.emits import BoardChanged, Emit, HandoffCreated, Outgoing, QueueChanged, Result, ToAgent, ToVisitor
from contact.events import AGENT_NS, VISITOR_NS, check_emitted
from tests.support.server import add_agent, make_settings, migrated_sqlite

MONDAY_8 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
MELDING = {"kind": "melding", "summary": "Zorgen om een kind", "urgency": "midden", "gemeente": "Utrecht"}


@pytest.fixture
async def services(tmp_path) -> AsyncIterator[Services]:
    url = await migrated_sqlite(str(tmp_path / "use_cases.db"))
    built = build_services(make_settings(url, hash_key="use-case-test-hash-key-long-enough"), ManualClock(MONDAY_8))
    built.writer.start()
    try:
        yield built
    finally:
        await built.writer.stop()
        await built.db.dispose()


def _reader(services: Services, agent: object) -> Reader:
    """The agent as a reader for the access log (a work list is an access), from no address."""
    return services.access_log.reader(agent.id, agent.role, None)  # type: ignore[attr-defined]


def _events(emits: Sequence[Outgoing]) -> list[Emit]:
    """The events of a result, each checked against its model."""
    found = [e for e in emits if isinstance(e, Emit)]
    for e in found:
        namespace = VISITOR_NS if isinstance(e.target, ToVisitor) else AGENT_NS
        assert check_emitted(namespace, e.event, e.data) is None
    return found


def _named(emits: Sequence[Outgoing], event: str) -> list[Emit]:
    return [e for e in _events(emits) if e.event == event]


async def _waiting(services: Services, **kwargs: object) -> tuple[str, Result]:
    values = {"caller_type": "volwassene", "intent": "advies", "topic": None, "danger_now": False}
    values.update(kwargs)
    return await services.chat.start(client_key="test", **values)  # type: ignore[arg-type]


async def test_a_chat_from_start_to_handoff(services: Services) -> None:
    agent, _ = await add_agent(services.settings.database_url, teams=("volwassenen",), name="Anouk Visser")
    cid, started = await _waiting(services)
    assert started.ack["conversation_id"] == cid and any(isinstance(e, QueueChanged) for e in started.emits)

    accepted = await services.chat.accept(agent, cid)
    assert accepted.ack["conversation"]["status"] == "active"
    assert _named(accepted.emits, "assigned")[0].data == {"agent": {"name": "Anouk"}}
    assert [m.data["conversations"][0]["id"] for m in _named(accepted.emits, "mine")] == [cid]

    said = await services.chat.visitor_message(cid, "c1", "hallo")
    to_agent = [e for e in _named(said.emits, "message") if e.target == ToAgent(agent.id)]
    assert to_agent[0].data["conversation_id"] == cid and "name" not in to_agent[0].data
    answered = await services.chat.agent_message(agent, cid, "a1", "dag")
    to_visitor = _named(answered.emits, "message")[0]
    assert to_visitor.target == ToVisitor(cid) and to_visitor.data["name"] == "Anouk"

    closed = await services.chat.close(agent, cid, MELDING)
    assert closed.ack["ok"] is True and closed.ack["handoff_id"]
    assert any(isinstance(e, HandoffCreated) for e in closed.emits)
    assert _named(closed.emits, "closed")[0].data == {"reason": "agent_closed", "outcome": "melding"}


async def test_a_visitor_who_leaves_tells_the_holder_and_closes_for_the_visitor(services: Services) -> None:
    agent, _ = await add_agent(services.settings.database_url, teams=("volwassenen",))
    cid, _ = await _waiting(services)
    await services.chat.accept(agent, cid)
    left = await services.chat.leave(cid, quick_exit=True)
    assert _named(left.emits, "closed")[0].data == {"reason": "visitor_left"}
    assert _named(left.emits, "visitor_left")[0].data["quick_exit"] is True
    # The outcome may still be recorded; `geen` makes no handoff.
    closed = await services.chat.close(agent, cid, {"kind": "geen"})
    assert "handoff_id" not in closed.ack and not any(isinstance(e, HandoffCreated) for e in closed.emits)


async def test_danger_at_start_alerts_the_crisis_audience_once(services: Services) -> None:
    cid, started = await _waiting(services, danger_now=True)
    alerts = _named(started.emits, "crisis_alert")
    assert [a.data["conversation_id"] for a in alerts] == [cid]
    assert alerts[0].data["audience"] == "crisis" and alerts[0].data["by"] == "visitor"
    assert _named(started.emits, "crisis")[0].data["phone"] == "112"


async def test_a_callback_from_booking_to_handoff(services: Services) -> None:
    callbacks = services.callbacks
    agent, _ = await add_agent(services.settings.database_url, name="Bram de Vries")
    booked = await callbacks.book(
        Booking("terugbellen", datetime(2026, 11, 30, 9, 0, tzinfo=UTC), "06 12345678", "volwassene", False)
    )
    assert booked["reference"]
    work = await callbacks.work_list(agent, MONDAY_8.date(), _reader(services, agent))
    (card,) = [c for tv in work["tijdvakken"] for c in tv["callbacks"]]
    assert await callbacks.claim(agent, card["id"]) == {"ok": True}
    tried = await callbacks.attempt(agent, card["id"], "bereikt")
    # Nothing to tell anyone but the supervisors' board (it counts overdue callbacks).
    assert tried.ack["state"] == "reached" and list(tried.emits) == [BoardChanged()]

    closed = await callbacks.close(agent, card["id"], MELDING)
    assert isinstance(closed, Result)
    assert closed.ack["ok"] is True and closed.ack["handoff_id"]
    assert [type(e) for e in closed.emits] == [HandoffCreated, BoardChanged]


async def test_a_callback_closed_with_geen_hands_nothing_off(services: Services) -> None:
    callbacks = services.callbacks
    agent, _ = await add_agent(services.settings.database_url)
    await callbacks.book(
        Booking("terugbellen", datetime(2026, 11, 30, 9, 0, tzinfo=UTC), "06 87654321", "volwassene", True)
    )
    work = await callbacks.work_list(agent, MONDAY_8.date(), _reader(services, agent))
    (card,) = [c for tv in work["tijdvakken"] for c in tv["callbacks"]]
    await callbacks.claim(agent, card["id"])
    closed = await callbacks.close(agent, card["id"], {"kind": "geen"})
    assert closed.ack == {"ok": True} and list(closed.emits) == [BoardChanged()]


async def test_a_callback_nobody_answers_ends_not_reached_with_a_result(services: Services) -> None:
    callbacks = services.callbacks
    agent, _ = await add_agent(services.settings.database_url)
    await callbacks.book(
        Booking("terugbellen", datetime(2026, 11, 30, 9, 0, tzinfo=UTC), "06 11223344", "volwassene", False)
    )
    work = await callbacks.work_list(agent, MONDAY_8.date(), _reader(services, agent))
    (card,) = [c for tv in work["tijdvakken"] for c in tv["callbacks"]]
    await callbacks.claim(agent, card["id"])
    states = [(await callbacks.attempt(agent, card["id"], "geen_gehoor")).ack["state"] for _ in range(3)]
    assert states == ["retry", "retry", "not_reached"]
    again = await callbacks.work_list(agent, MONDAY_8.date(), _reader(services, agent))
    assert [c["status"] for tv in again["tijdvakken"] for c in tv["callbacks"] if c["id"] == card["id"]] == [
        "not_reached"
    ]
