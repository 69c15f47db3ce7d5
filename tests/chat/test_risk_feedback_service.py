"""Advisors' feedback on risk signals (chat/risk_feedback.py), at the level of the use cases, on a
migrated SQLite: who may mark what, idempotent marks, the per-concept figures (which outlive the
purge) and the export (which leaves purged messages out)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.services import build_services
from chat.store import messages, risk_concept_days, risk_feedback
from contact.auth import AgentIdentity
from contact.clock import ManualClock
from contact.errors import DomainError
from contact.store import audit_events
from tests.support.server import make_settings, migrated_sqlite

# Tuesday 24 November 2026, 10:00 in Amsterdam.
TUESDAY_10 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
HIT = "mijn vader slaat mij"  # geweld + slachtoffer, hoog
QUIET = "ik heb een leuke kat"


@pytest.fixture
async def svc(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "fb.db"))
    services = build_services(make_settings(url), ManualClock(TUESDAY_10))
    services.writer.start()
    yield services
    await services.writer.stop()
    await services.db.dispose()


async def _agent(svc, role="advisor") -> AgentIdentity:
    n = len(svc.__dict__.setdefault("_made", []))
    svc._made.append(n)
    return await svc.agents.add(
        username=f"a{n}-{role}",
        name=f"Agent {n}",
        role=role,
        teams=["jeugd", "volwassenen", "professionals", "crisis"],
        password="pw-" + "x" * 12,
        now=TUESDAY_10,
    )


async def _chat(svc, holder: AgentIdentity, *texts: str) -> tuple[str, list[int]]:
    """A conversation accepted by `holder` with visitor messages `texts`; their seqs."""
    chat = svc.chat
    cid, _ = await chat.start(caller_type="jongere", intent="advies", topic=None, danger_now=False, client_key="t")
    await chat.accept(holder, cid)
    seqs = []
    for i, text in enumerate(texts):
        seqs.append((await chat.visitor_message(cid, f"c{i}", text)).ack["seq"])
    return cid, seqs


async def _rows(svc, table):
    async with svc.db.read() as conn:
        return (await conn.execute(select(table))).all()


async def test_the_holder_marks_a_fired_concept_wrong_once_and_it_is_audited(svc):
    advisor = await _agent(svc)
    cid, (seq,) = await _chat(svc, advisor, HIT)
    ack = await svc.chat.mark_signal_wrong(advisor, cid, seq, "geweld + slachtoffer")
    assert ack.ack == {"ok": True} and not ack.emits
    # A double click: ok again, one row, one audit entry.
    assert (await svc.chat.mark_signal_wrong(advisor, cid, seq, "geweld + slachtoffer")).ack == {"ok": True}
    rows = await _rows(svc, risk_feedback)
    assert len(rows) == 1 and rows[0].kind == "wrong" and rows[0].level == "hoog" and rows[0].seq == seq
    audits = [a for a in await _rows(svc, audit_events) if a.action == "risk_feedback"]
    assert len(audits) == 1 and audits[0].actor == f"agent:{advisor.id}"
    assert audits[0].detail == {"kind": "wrong", "seq": seq, "concept": "geweld + slachtoffer"}
    assert HIT not in str(audits[0].detail)


async def test_missed_with_or_without_a_concept(svc):
    advisor = await _agent(svc)
    cid, (seq,) = await _chat(svc, advisor, QUIET)
    await svc.chat.report_missed(advisor, cid, seq)
    await svc.chat.report_missed(advisor, cid, seq, "verwaarlozing")
    await svc.chat.report_missed(advisor, cid, seq)  # idempotent without a concept too
    rows = sorted(await _rows(svc, risk_feedback), key=lambda r: r.concept)
    assert [(r.kind, r.concept, r.level) for r in rows] == [("missed", "", None), ("missed", "verwaarlozing", None)]


async def test_who_may_mark(svc):
    holder, colleague, boss = await _agent(svc), await _agent(svc), await _agent(svc, "supervisor")
    cid, (seq,) = await _chat(svc, holder, HIT)
    with pytest.raises(DomainError) as err:
        await svc.chat.mark_signal_wrong(colleague, cid, seq, "geweld + slachtoffer")
    assert err.value.code == "forbidden"
    await svc.chat.report_missed(boss, cid, seq, "wapen")
    # A former holder (transferred it on) still may.
    await svc.presence.connected(colleague.id)
    await svc.chat.transfer(holder, cid, None, colleague.id)
    await svc.chat.mark_signal_wrong(holder, cid, seq, "geweld + slachtoffer")
    await svc.chat.mark_signal_wrong(colleague, cid, seq, "geweld + slachtoffer")
    assert len(await _rows(svc, risk_feedback)) == 3


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        ("unknown_conversation", "not_found", None),
        ("unknown_seq", "not_found", None),
        ("agent_message", "invalid_input", "seq"),
        ("concept_not_fired", "invalid_input", "concept"),
        ("concept_on_quiet_message", "invalid_input", "concept"),
        ("missed_unknown_concept", "invalid_input", "concept"),
    ],
)
async def test_bad_marks_are_refused_and_write_nothing(svc, case, code, field):
    advisor = await _agent(svc)
    cid, (hit, quiet) = await _chat(svc, advisor, HIT, QUIET)
    mine = (await svc.chat.agent_message(advisor, cid, "a1", "Fijn dat je het vertelt.")).ack["seq"]
    calls = {
        "unknown_conversation": lambda: svc.chat.mark_signal_wrong(advisor, "nope", hit, "geweld + slachtoffer"),
        "unknown_seq": lambda: svc.chat.report_missed(advisor, cid, 999),
        "agent_message": lambda: svc.chat.report_missed(advisor, cid, mine),
        "concept_not_fired": lambda: svc.chat.mark_signal_wrong(advisor, cid, hit, "wapen"),
        "concept_on_quiet_message": lambda: svc.chat.mark_signal_wrong(advisor, cid, quiet, "geweld + slachtoffer"),
        "missed_unknown_concept": lambda: svc.chat.report_missed(advisor, cid, quiet, "bestaat niet"),
    }
    with pytest.raises(DomainError) as err:
        await calls[case]()
    assert err.value.code == code
    if field:
        assert err.value.payload()["error"]["field"] == field
    assert await _rows(svc, risk_feedback) == []


async def test_figures_per_concept_and_the_export_outlive_and_respect_the_purge(svc):
    advisor, other, boss = await _agent(svc), await _agent(svc), await _agent(svc, "supervisor")
    cid, (hit, quiet) = await _chat(svc, advisor, HIT, QUIET)
    await svc.chat.mark_signal_wrong(advisor, cid, hit, "geweld + slachtoffer")
    await svc.chat.mark_signal_wrong(boss, cid, hit, "geweld + slachtoffer")  # the same message: counts once
    await svc.chat.report_missed(advisor, cid, quiet, "verwaarlozing")
    cid2, _ = await _chat(svc, other, "papa slaat mama")
    day = date(2026, 11, 24)
    with pytest.raises(DomainError) as err:
        await svc.chat.risk_concept_counts(advisor, day, day)
    assert err.value.code == "forbidden"
    figures = await svc.chat.risk_concept_counts(boss, day, day)
    by = {c["concept"]: c for c in figures["concepts"]}
    assert by["geweld + slachtoffer"] == {
        "concept": "geweld + slachtoffer",
        "fired": 2,
        "marked_wrong": 1,
        "reported_missed": 0,
    }
    assert by["verwaarlozing"]["reported_missed"] == 1 and by["verwaarlozing"]["fired"] == 0
    # Another period: nothing.
    assert (await svc.chat.risk_concept_counts(boss, day + timedelta(days=1), day + timedelta(days=2)))[
        "concepts"
    ] == []
    with pytest.raises(DomainError):
        await svc.chat.risk_concept_counts(boss, day, day - timedelta(days=1))

    with pytest.raises(DomainError) as err:
        await svc.chat.risk_feedback_export(advisor, "csv")
    assert err.value.code == "forbidden"
    examples = await svc.chat.risk_feedback_export(boss, "json")
    assert sorted((e["kind"], e["concept"], e["text"]) for e in examples) == [
        ("missed", "verwaarlozing", QUIET),
        ("wrong", "geweld + slachtoffer", HIT),
    ]
    assert all(e["date"] == "2026-11-24" and e["agent_role"] in ("advisor", "supervisor") for e in examples)
    assert not any(advisor.name in str(e) or advisor.id in str(e) or cid in str(e) for e in examples)
    exported = [a for a in await _rows(svc, audit_events) if a.action == "risk_feedback_export"]
    assert exported[-1].detail == {"rows": 2, "format": "json"} and exported[-1].actor == f"agent:{boss.id}"

    # The retention purge removes the messages: the examples leave the export, the counts stay.
    async with svc.db.write() as conn:
        from chat.retention import ChatRecords

        await ChatRecords().purge(conn, cid, svc.clock.now())
    assert [m for m in await _rows(svc, messages) if m.conversation_id == cid] == []
    assert await svc.chat.risk_feedback_export(boss, "csv") == []
    after = {c["concept"]: c for c in (await svc.chat.risk_concept_counts(boss, day, day))["concepts"]}
    assert after["geweld + slachtoffer"]["fired"] == 2 and after["geweld + slachtoffer"]["marked_wrong"] == 1
    assert {tuple(r) for r in await _rows(svc, risk_concept_days)} == {("2026-11-24", "geweld + slachtoffer", 2)}
    assert cid2
