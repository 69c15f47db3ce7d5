"""The case register ("Dossiers") of the console in a real browser: meldingen by their legal
deadline, the overdue one marked, one case opened whole (transcript, internal note, crisis
timeline), and the filter on overdue cases.

The server is this test's own, on a fresh database, with a clock the test moves: Tuesday
24 November 2026, 10:00 in Amsterdam. The chats are made through the real server by
python-socketio clients (a visitor, the advisor, a crisis agent), then the clock moves a day."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from contact.clock import ManualClock
from tests.e2e.conftest import screenshot_path
from tests.e2e.test_console import _login
from tests.support.server import (
    RunningServer,
    add_agent,
    agent_client,
    login,
    make_settings,
    migrated_sqlite,
    start_payload,
    visitor,
)

TUESDAY_10 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam (UTC+1)
SPOED = {"kind": "melding", "summary": "Vader dreigt; niet veilig thuis", "urgency": "spoed", "gemeente": "Utrecht"}
MIDDEN = {"kind": "melding", "summary": "Zorgen om de buurjongen", "urgency": "midden", "gemeente": "Amersfoort"}


@pytest.fixture
async def case_server(tmp_path, neutral_site):
    url = await migrated_sqlite(str(tmp_path / "cases.db"))
    clock = ManualClock(TUESDAY_10)
    server = await RunningServer(make_settings(url, quick_exit_url=neutral_site, hash_key="h" * 32), clock).start()
    yield server
    await server.stop()


async def _chat(
    url: str,
    agent,
    outcome: dict,
    *,
    caller_type: str,
    visitor_text: str,
    reply: str,
    note: str,
    escalate: str | None = None,
    crisis=None,
) -> str:
    """One chat from start to close through the real server; the id of its case. With
    `escalate`, the advisor escalates first and the `crisis` agent takes the crisis on."""
    v = await visitor(url)
    try:
        cid = (await v.call("start", start_payload(caller_type=caller_type, intent="melding")))["conversation_id"]
        await v.call("message", {"client_id": "v1", "text": visitor_text})
        assert "conversation" in await agent.call("accept", {"conversation_id": cid})
        await agent.call("message", {"conversation_id": cid, "client_id": f"a-{cid}", "text": reply})
        await agent.call("note", {"conversation_id": cid, "text": note})
        if escalate:
            await agent.call("escalate", {"conversation_id": cid, "reason": escalate})
            await crisis.wait_for("crisis_alert", lambda a: a["conversation_id"] == cid)
            assert (await crisis.call("ack_crisis", {"conversation_id": cid}))["ok"] is True
        closed = await agent.call("close", {"conversation_id": cid, "outcome": outcome})
        assert closed["ok"] is True and closed["handoff_id"], closed
        return closed["handoff_id"]
    finally:
        await v.disconnect()


async def test_cases_by_deadline_overdue_detail_and_filter(case_server, context):
    ctx, log = context
    server = case_server
    db = server.settings.database_url
    advisor, password = await add_agent(db, name="Anouk Visser")
    crisis_agent, crisis_pw = await add_agent(db, role="crisis", teams=("crisis",), name="Cor Crisisdienst")
    agent = await agent_client(server.url, await login(server.url, advisor.username, password))
    crisis = await agent_client(server.url, await login(server.url, crisis_agent.username, crisis_pw))
    try:
        spoed = await _chat(
            server.url,
            agent,
            SPOED,
            caller_type="jongere",
            visitor_text="Mijn vader schreeuwt en ik durf niet naar huis",
            reply="Wat goed dat je dit vertelt. Ben je nu veilig?",
            note="Jongere 15 jaar, school bekend",
            escalate="Vader dreigt; jongere durft niet naar huis",
            crisis=crisis,
        )
        # The spoed melding is announced to the crisis team as a report to act on, with its case.
        notice = await crisis.wait_for("spoed_melding")
        assert notice["handoff_id"] == spoed and notice["gemeente"] == "Utrecht"
        midden = await _chat(
            server.url,
            agent,
            MIDDEN,
            caller_type="volwassene",
            visitor_text="Ik maak me zorgen om de jongen van de buren",
            reply="Vertel eens wat je ziet.",
            note="Buurvrouw, wil anoniem blijven",
        )
    finally:
        await agent.disconnect()
        await crisis.disconnect()

    # A day later (Wednesday 25 November): the spoed melding should have been assessed yesterday.
    server.clock.advance(days=1)
    errors: list[str] = []
    page = await ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    await _login(page, server.url, advisor.username, password)

    # The third view in the top bar, reached by keyboard like the others.
    await page.get_by_role("tab", name="Chats").focus()
    await page.keyboard.press("End")
    cases_tab = page.get_by_role("tab", name=re.compile("^Dossiers"))
    await expect(cases_tab).to_have_attribute("aria-selected", "true")
    await expect(cases_tab).to_be_focused()
    view = page.get_by_role("tabpanel", name=re.compile("^Dossiers"))
    await expect(view).to_be_visible()
    await expect(page.locator("#work-view")).to_be_hidden()
    await expect(view.locator("#cs-today")).to_have_text("Vandaag: woensdag 25 november 2026")
    await expect(cases_tab.locator(".view-badge")).to_have_text("1 termijn verlopen")
    # An advisor is not offered the dead letters (supervisors only).
    await expect(view.get_by_role("radio", name="Niet afgeleverd")).to_have_count(0)

    # By deadline: the overdue spoed melding first, marked in words, not by colour alone.
    items = view.locator(".cs-item")
    await expect(items).to_have_count(2)
    first, second = items.nth(0), items.nth(1)
    await expect(first).to_have_attribute("data-case-id", spoed)
    await expect(second).to_have_attribute("data-case-id", midden)
    await expect(first.locator(".badge-late")).to_have_text("⚠ Termijn verlopen")
    await expect(first.locator(".cs-deadline time")).to_have_attribute("datetime", "2026-11-24")
    await expect(first.locator(".cs-deadline time")).to_have_text("gisteren")
    await expect(first.locator(".chip-urg")).to_have_text("Urgentie: Spoed")
    await expect(first).to_contain_text("Jongere")
    await expect(first).to_contain_text("Anouk Visser")
    await expect(first.locator(".cs-delivery dd")).to_have_text("Geregistreerd")
    await expect(second.locator(".badge-late")).to_have_count(0)
    await expect(second.locator(".cs-deadline time")).to_have_attribute("datetime", "2026-12-01")
    await expect(second.locator(".cs-deadline time")).to_have_text("di 1 dec 2026")
    await expect(second.get_by_role("button", name="Melding — Amersfoort")).to_be_visible()

    # Open the spoed one: outcome, deadline, crisis timeline, transcript and the internal note.
    await first.get_by_role("button", name="Melding — Utrecht").click()
    detail = view.locator("#cs-detail")
    title = detail.get_by_role("heading", name="Melding — Utrecht")
    await expect(title).to_be_focused()
    await expect(first.get_by_role("button", name="Melding — Utrecht")).to_have_attribute("aria-current", "true")
    await expect(detail.locator(".cs-deadline-box")).to_contain_text("dinsdag 24 november 2026 (gisteren)")
    await expect(detail.locator(".cs-deadline-box")).to_contain_text("⚠ Termijn verlopen.")
    await expect(detail.locator(".cs-summary")).to_have_text(SPOED["summary"])
    await expect(detail.locator(".cs-crisis .crisis-event")).not_to_have_count(0)
    await expect(detail.locator(".cs-crisis .crisis-event").first).to_contain_text("Geëscaleerd door Anouk Visser")
    visitor_msg = detail.locator(".cs-msg-visitor")
    await expect(visitor_msg.locator(".text")).to_have_text("Mijn vader schreeuwt en ik durf niet naar huis")
    await expect(visitor_msg.locator(".cs-who")).to_have_text("Bezoeker")
    await expect(visitor_msg.locator("time")).to_have_text("10:00")
    agent_msg = detail.locator(".cs-msg-agent")
    await expect(agent_msg.locator(".text")).to_have_text("Wat goed dat je dit vertelt. Ben je nu veilig?")
    await expect(agent_msg.locator(".cs-who")).to_have_text("Adviseur")
    note = detail.locator(".cs-note")
    await expect(note.locator(".badge-intern")).to_have_text("Intern")
    await expect(note.locator(".text")).to_have_text("Jongere 15 jaar, school bekend")
    await expect(detail).not_to_contain_text("Buurvrouw")  # the other case's note

    # Only the overdue ones; then the meldingen due within 5 days (also just the spoed one).
    await view.get_by_role("radio", name="Termijn verlopen").check()
    await expect(items).to_have_count(1)
    await expect(items.first).to_have_attribute("data-case-id", spoed)
    await view.get_by_role("combobox", name="Aantal dagen").select_option("5")
    await expect(view.get_by_role("radio", name="Meldingen met termijn binnen")).to_be_checked()
    await expect(items).to_have_count(1)
    await view.get_by_role("radio", name="Alle dossiers").check()
    await expect(items).to_have_count(2)
    await view.get_by_role("radio", name="Termijn verlopen").check()
    await expect(items).to_have_count(1)
    await expect(view.locator("#cs-status")).to_have_text(re.compile(r"^1 dossier · bijgewerkt om \d\d:\d\d\.$"))
    # The filter's reload renders the open case again (keeping its scroll position): scroll in
    # one step in the page, so a render in between cannot detach what is being scrolled to.
    await expect(detail.locator(".cs-crisis")).to_be_visible()
    await detail.evaluate("d => { d.scrollTop = d.querySelector('.cs-crisis').offsetTop - 16; }")
    await page.screenshot(path=screenshot_path("console-cases"))
    assert errors == []
    assert log.foreign() == []
