"""Every contact ends: per kind of contact and every way it can end, with time moved by the
test, everything is there before the retention time and nothing personal after it (every column
marked `yes` in the register of docs/privacy.md), on SQLite and PostgreSQL. Dead handoffs wait
for an operator; sent mail is blanked at once."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData, insert, select

from app.services import case_register
from callback.store import attempts, callbacks, outbox, requests
from cases.sources import OUTCOME_KEPT, age_label
from cases.store import handoff_contacts, handoffs
from chat.store import conversations, crisis_events, messages, notes
from chat.workplace_store import whispers
from contact.auth import agents
from contact.clock import ManualClock
from contact.db import Database
from contact.migrate import upgrade
from contact.store import audit_events
from tests.support.processes import cli_env, run_cli
from tests.support.register import personal_columns
from tests.support.server import (
    clocked_server,
    make_settings,
    migrated_sqlite,
    signed_in_agent,
    start_payload,
    visitor,
)

T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)
RETENTION_DAYS = 30
PHONE, EMAIL, NAME = "+31612345678", "iemand@example.nl", "Sam de Vries"
SECRET_TEXT = "mijn stiefvader slaat mij"
FULL_OUTCOME = {
    "kind": "melding",
    "summary": SECRET_TEXT,
    "urgency": "hoog",
    "gemeente": "Utrecht",
    "phone": PHONE,
    "email": EMAIL,
}
RISK_DETAIL = {
    "level": "hoog",
    "signals": ["slaat"],
    "concepts": [{"concept": "geweld", "level": "hoog", "words": ["slaan"]}],
    "seq": 1,
}


@dataclass
class Seeded:
    """The rows of one contact, by table: (column to find them by, value)."""

    where: dict[str, tuple[str, str]]


async def _agent(conn: Any) -> str:
    agent_id = str(uuid.uuid4())
    await conn.execute(
        insert(agents).values(
            id=agent_id, username=f"a-{agent_id[:8]}", name="Anna", role="advisor", teams=["jeugd"],
            password_hash="x", active=True, created_at=T0,
        )
    )  # fmt: skip
    return agent_id


async def seed_chat(conn: Any, *, outcome: str | None, close_reason: str, accepted: bool, quick_exit: bool = False):
    cid = str(uuid.uuid4())
    agent_id = await _agent(conn) if accepted else None
    full = dict(FULL_OUTCOME, kind=outcome) if outcome else None
    await conn.execute(
        insert(conversations).values(
            id=cid, status="closed", caller_type="kind", intent="chat", topic="thuis", team="jeugd",
            resume_hash=uuid.uuid4().hex, created_at=T0, waiting_since=T0, agent_id=agent_id,
            accepted_at=T0 if accepted else None, closed_at=T0, close_reason=close_reason, outcome=full,
            outcome_at=T0 if outcome else None, outcome_by=agent_id if outcome else None,
            crisis_at=T0, crisis_reason="Risicosignaal: slaat", visitor_quick_exit=quick_exit,
        )
    )  # fmt: skip
    await conn.execute(
        insert(messages).values(
            id=str(uuid.uuid4()), conversation_id=cid, seq=1, sender="visitor", text=SECRET_TEXT, at=T0
        )
    )
    if agent_id:
        await conn.execute(
            insert(notes).values(id=str(uuid.uuid4()), conversation_id=cid, agent_id=agent_id, text=NAME, at=T0)
        )
        await conn.execute(
            insert(whispers).values(
                id=str(uuid.uuid4()), conversation_id=cid, from_agent_id=agent_id, to_agent_id=agent_id,
                text=NAME, at=T0,
            )
        )
    await conn.execute(
        insert(crisis_events).values(
            id=str(uuid.uuid4()), conversation_id=cid, kind="escalated", at=T0, actor="system", reason="slaat"
        )
    )
    await conn.execute(
        insert(audit_events).values(at=T0, action="risk", actor="system", conversation_id=cid, detail=RISK_DETAIL)
    )
    return Seeded(
        {
            "conversation": ("id", cid),
            "message": ("conversation_id", cid),
            "note": ("conversation_id", cid),
            "whisper": ("conversation_id", cid),
            "crisis_event": ("conversation_id", cid),
            "audit_event": ("conversation_id", cid),
        }
    )


async def seed_callback(conn: Any, *, callback_status: str, request_status: str):
    cb, rq = str(uuid.uuid4()), str(uuid.uuid4())
    agent_id = await _agent(conn)
    ended = callback_status not in ("open", "claimed")
    await conn.execute(
        insert(callbacks).values(
            id=cb, kind="adviesgesprek", slot_start=T0, slot_end=T0 + timedelta(minutes=45), phone=PHONE,
            phone_hash="h" * 64, caller_type="volwassene", voicemail_ok=False, status=callback_status,
            claimed_by=agent_id, attempts=1, created_at=T0, closed_at=T0 if ended else None,
            outcome=FULL_OUTCOME if callback_status == "closed" else None,
        )
    )  # fmt: skip
    await conn.execute(
        insert(requests).values(
            id=rq, callback_id=cb, reference=rq[:8], manage_hash=uuid.uuid4().hex, kind="adviesgesprek",
            slot_start=T0, slot_end=T0 + timedelta(minutes=45), phone=PHONE, caller_type="volwassene", name=NAME,
            topic=SECRET_TEXT, voicemail_ok=False, email=EMAIL, organisation="School", status=request_status,
            created_at=T0, cancelled_at=T0 if request_status == "cancelled" else None,
        )
    )  # fmt: skip
    await conn.execute(
        insert(attempts).values(id=str(uuid.uuid4()), callback_id=cb, agent_id=agent_id, at=T0, result="no_answer")
    )
    return Seeded({"callback": ("id", cb), "callback_request": ("id", rq)})


async def seed_mail(conn: Any, *, sent: bool):
    mid = str(uuid.uuid4())
    await conn.execute(
        insert(outbox).values(
            id=mid, purpose="confirmation", to_address=EMAIL, subject="Uw adviesgesprek",
            body=f"Beste {NAME}, https://vt.example/beheer#{uuid.uuid4().hex}", ics="BEGIN:VCALENDAR",
            created_at=T0, next_try_at=T0, tries=1 if sent else 0, sent_at=T0 if sent else None,
        )
    )  # fmt: skip
    return Seeded({"email_outbox": ("id", mid)})


async def seed_handoff(conn: Any, *, status: str):
    hid = str(uuid.uuid4())
    delivered = status in ("delivered", "registered")
    await conn.execute(
        insert(handoffs).values(
            id=hid, source="chat", source_id=str(uuid.uuid4()), kind="melding", caller_type="kind",
            received_at=T0, payload={"transcript": [{"text": SECRET_TEXT}], "notes": [{"text": NAME}],
                                     "outcome": FULL_OUTCOME},
            status=status, tries=12 if status == "dead" else 1, next_try_at=T0, created_at=T0,
            delivered_at=T0 if delivered else None,
        )
    )  # fmt: skip
    await conn.execute(insert(handoff_contacts).values(handoff_id=hid, contact_hash="v1:" + "c" * 64, at=T0))
    return Seeded({"handoff": ("id", hid)})


ENDINGS = {
    "chat_advies": lambda c: seed_chat(c, outcome="advies", close_reason="agent_closed", accepted=True),
    "chat_melding": lambda c: seed_chat(c, outcome="melding", close_reason="agent_closed", accepted=True),
    "chat_geen": lambda c: seed_chat(c, outcome="geen", close_reason="agent_closed", accepted=True),
    "chat_visitor_left_waiting": lambda c: seed_chat(c, outcome=None, close_reason="visitor_left", accepted=False),
    "chat_quick_exit_after_accept": lambda c: seed_chat(
        c, outcome="geen", close_reason="visitor_left", accepted=True, quick_exit=True
    ),
    "chat_visitor_gone": lambda c: seed_chat(c, outcome="geen", close_reason="visitor_gone", accepted=True),
    "chat_visitor_gone_waiting": lambda c: seed_chat(c, outcome=None, close_reason="visitor_gone", accepted=False),
    "callback_closed": lambda c: seed_callback(c, callback_status="closed", request_status="done"),
    "callback_not_reached": lambda c: seed_callback(c, callback_status="not_reached", request_status="not_reached"),
    "callback_wrong_number": lambda c: seed_callback(
        c, callback_status="wrong_number", request_status="wrong_number"
    ),
    "callback_cancelled": lambda c: seed_callback(c, callback_status="cancelled", request_status="cancelled"),
    "email_sent": lambda c: seed_mail(c, sent=True),
    "email_never_sent": lambda c: seed_mail(c, sent=False),
    "handoff_delivered": lambda c: seed_handoff(c, status="delivered"),
    "handoff_registered": lambda c: seed_handoff(c, status="registered"),
}


def _empty(table: str, column: str, value: Any) -> bool:
    if value is None or value == "":
        return True
    if column == "outcome":
        return set(value) <= set(OUTCOME_KEPT)
    if column == "detail":
        concepts = [c for c in value.get("concepts", []) if isinstance(c, dict)]
        return "signals" not in value and all("words" not in c for c in concepts)
    if column == "payload":
        said = {"transcript", "notes"} & set(value)
        return not said and not ({"summary", "phone", "email"} & set(value["outcome"]))
    if column == "manage_hash":
        return value.startswith("purged:")
    return False


async def _personal_values(db: Database, seeded: Seeded) -> dict[tuple[str, str], list[Any]]:
    meta = MetaData()
    found: dict[tuple[str, str], list[Any]] = {}
    async with db.read() as conn:
        await conn.run_sync(lambda sync: meta.reflect(sync, only=list(seeded.where)))
        for table, columns in personal_columns().items():
            if table not in seeded.where:
                continue
            by, value = seeded.where[table]
            t = meta.tables[table]
            for column in columns:
                rows = (await conn.execute(select(t.c[column]).where(t.c[by] == value))).scalars().all()
                found[(table, column)] = list(rows)
    return found


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'retention.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database(f"retention_{uuid.uuid4().hex[:12]}")
    upgrade(url)
    return url


@pytest.mark.parametrize("ending", sorted(ENDINGS))
async def test_nothing_personal_is_left_after_the_retention_time(db_url, ending):
    settings = make_settings(db_url, hash_key="k" * 32, retention_days=RETENTION_DAYS)
    db = Database(db_url)
    clock = ManualClock(T0 + timedelta(minutes=1))
    register = case_register(settings, db, clock)
    try:
        async with db.write() as conn:
            seeded = await ENDINGS[ending](conn)
        await register.purge_due()
        before = await _personal_values(db, seeded)
        assert before, "the register marks something of this contact personal"
        if ending != "email_sent":  # sent mail is not kept (blanked when sent, or by the first purge)
            full = [key for key, values in before.items() if values and not any(_empty(*key, v) for v in values)]
            assert full, f"{ending}: personal data is there before the retention time"
        clock.advance(seconds=RETENTION_DAYS * 86400 - 120)
        await register.purge_due()
        if ending != "email_sent":
            assert await _personal_values(db, seeded) == before, "nothing goes before its time"
        clock.advance(seconds=120)
        await register.purge_due()
        after = await _personal_values(db, seeded)
        left = {key: values for key, values in after.items() if not all(_empty(*key, v) for v in values)}
        assert left == {}, f"{ending}: personal data left after the retention time"
        report = await register.report()
        for source in report["sources"].values():
            assert all(counts["due"] == 0 for counts in source["endings"].values())
    finally:
        await db.dispose()


async def test_a_dead_handoff_waits_for_an_operator_and_a_discard_is_audited(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'dead.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    clock = ManualClock(T0)
    register = case_register(make_settings(url, hash_key="k" * 32, retention_days=1), db, clock)
    try:
        async with db.write() as conn:
            seeded = await seed_handoff(conn, status="dead")
        hid = seeded.where["handoff"][1]
        clock.advance(days=400)
        await register.purge_due()
        async with db.read() as conn:
            payload = await conn.scalar(select(handoffs.c.payload).where(handoffs.c.id == hid))
        assert payload["transcript"], "a dead handoff is never dropped silently"
        assert (await register.report())["handoffs"]["with_payload"]["dead"] == {"kept": 1, "due": 0}
        assert await register.discard("no-such-id") is False
        assert await register.discard(hid) is True
        assert await register.discard(hid) is False  # once
        async with db.read() as conn:
            row = (await conn.execute(select(handoffs).where(handoffs.c.id == hid))).one()
            discarded = select(audit_events.c.detail).where(audit_events.c.action == "handoff_discarded")
            details = (await conn.execute(discarded)).scalars().all()
        assert row.status == "discarded" and row.purged_at is not None
        assert _empty("handoff", "payload", row.payload)
        assert details == [{"handoff_id": hid}]
    finally:
        await db.dispose()


async def test_repeat_report_hashes_have_their_own_retention(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'hashes.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    clock = ManualClock(T0)
    settings = make_settings(url, hash_key="k" * 32, retention_days=1, hermelding_retention_days=365)
    register = case_register(settings, db, clock)
    try:
        async with db.write() as conn:
            await seed_handoff(conn, status="delivered")
        clock.advance(days=30)
        await register.purge_due()
        async with db.read() as conn:
            assert len((await conn.execute(select(handoff_contacts))).all()) == 1  # the payload went, the link stays
        assert (await register.report())["contact_hashes"] == {"retention_days": 365, "kept": 1, "due": 0}
        clock.advance(days=336)
        await register.purge_due()
        async with db.read() as conn:
            assert (await conn.execute(select(handoff_contacts))).all() == []
    finally:
        await db.dispose()


async def test_the_privacy_and_discard_commands(tmp_path):
    """`vt-contact privacy report` counts (never content), `privacy purge` purges at once,
    `cases discard ID` gives up on one dead handoff; all as an operator runs them."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        async with db.write() as conn:
            chat = await seed_chat(conn, outcome="geen", close_reason="agent_closed", accepted=True)
            dead = await seed_handoff(conn, status="dead")
    finally:
        await db.dispose()
    env = cli_env(VT_RETENTION_DAYS="0.5")  # T0 is in the past: the chat is due
    report = await asyncio.to_thread(run_cli, "privacy", "report", "--database-url", url, env=env)
    assert report.returncode == 0, report.stderr
    counts = json.loads(report.stdout)
    age = age_label(T0, datetime.now(UTC))  # the command runs on the real clock
    assert counts["sources"]["chat"]["endings"]["geen"] == {"kept": 1, "due": 1, "age_days": {age: 1}}
    assert counts["sources"]["chat"]["retention_days"] == 0.5
    assert counts["handoffs"]["with_payload"]["dead"] == {"kept": 1, "due": 0}
    assert SECRET_TEXT not in report.stdout and PHONE not in report.stdout and EMAIL not in report.stdout
    purge = await asyncio.to_thread(run_cli, "privacy", "purge", "--database-url", url, env=env)
    assert purge.returncode == 0, purge.stderr
    missing = await asyncio.to_thread(run_cli, "cases", "discard", "nope", "--database-url", url, env=env)
    assert missing.returncode == 1
    hid = dead.where["handoff"][1]
    discard = await asyncio.to_thread(run_cli, "cases", "discard", hid, "--database-url", url, env=env)
    assert discard.returncode == 0, discard.stderr
    db = Database(url)
    try:
        left = await _personal_values(db, chat)
        assert all(_empty(*key, v) for key, values in left.items() for v in values)
        async with db.read() as conn:
            assert await conn.scalar(select(handoffs.c.status).where(handoffs.c.id == hid)) == "discarded"
    finally:
        await db.dispose()
    after = json.loads((await asyncio.to_thread(run_cli, "privacy", "report", "--database-url", url, env=env)).stdout)
    assert "geen" not in after["sources"]["chat"]["endings"]
    assert after["handoffs"]["with_payload"] == {}


async def test_on_a_real_server_a_chat_left_in_the_queue_and_one_closed_as_geen_are_purged(tmp_path):
    """The same through the real server and its scheduler: a visitor who left the queue (never
    handed off) and a chat closed as `geen` lose their messages, notes and topic once the
    (fractional) retention time has passed, and not before."""
    url = await migrated_sqlite(str(tmp_path / "real.db"))
    server = await clocked_server(url, T0, retention_days=0.5, callback_check_s=0.1)
    try:
        left = await visitor(server.url)
        left_id = (await left.call("start", start_payload(topic="thuis")))["conversation_id"]
        await left.call("message", {"client_id": "1", "text": SECRET_TEXT})
        assert await left.call("leave", {}) == {"ok": True}
        await left.disconnect()
        _, _, agent = await signed_in_agent(server, teams=("jeugd",))
        v = await visitor(server.url)
        geen_id = (await v.call("start", start_payload()))["conversation_id"]
        await agent.call("accept", {"conversation_id": geen_id})
        await v.call("message", {"client_id": "1", "text": SECRET_TEXT})
        await agent.call("note", {"conversation_id": geen_id, "text": NAME})
        await agent.call("close", {"conversation_id": geen_id, "outcome": {"kind": "geen"}})
        for c in (v, agent):
            await c.disconnect()
        db = Database(url)
        try:
            chats = {cid: Seeded({"conversation": ("id", cid), "message": ("conversation_id", cid),
                                  "note": ("conversation_id", cid)}) for cid in (left_id, geen_id)}  # fmt: skip
            server.clock.advance(hours=11)
            await asyncio.sleep(0.5)  # several scheduler rounds: nothing is due yet
            for seeded in chats.values():
                values = await _personal_values(db, seeded)
                assert values[("message", "text")] and values[("conversation", "topic")] == ["thuis"]
            server.clock.advance(hours=2)
            for _ in range(50):
                left_over = [
                    key for seeded in chats.values()
                    for key, values in (await _personal_values(db, seeded)).items()
                    if not all(_empty(*key, v) for v in values)
                ]  # fmt: skip
                if not left_over:
                    break
                await asyncio.sleep(0.1)
            assert left_over == []
        finally:
            await db.dispose()
    finally:
        await server.stop()
