"""Every screen of the widget tells the truth (issue 11), in real headless Chromium against the
real server, with python-socketio advisors: who the visitor talks to after a transfer, what
happens after the chat, a question before "Stop gesprek", tap-to-call numbers, and what the
widget says when no advisor is online."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from contact.auth import AgentIdentity
from tests.e2e.conftest import RequestLog, screenshot_path
from tests.e2e.test_accessibility import violations
from tests.e2e.test_widget import agent_says, answer_intake, assert_private, new_waiting, open_widget
from tests.support.server import Client, RunningServer, add_agent, agent_client, login, make_settings, migrated_sqlite

ALL_TEAMS = ("jeugd", "volwassenen", "professionals", "crisis")
PHONE = {"width": 360, "height": 740}

# Text nodes in the widget that name 112 or 0800-2000 outside a tel: link (messages excepted:
# what people write is shown as text, always).
UNLINKED_NUMBERS = """() => {
  const root = document.getElementById('vtw-root');
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const bad = [];
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (!/0800-2000|\\b112\\b/.test(n.nodeValue)) continue;
    const p = n.parentElement;
    if (p.closest('.vtw-msg') || p.closest('.vtw-sr') || p.closest('[hidden]')) continue;
    const a = p.closest('a[href^="tel:"]');
    if (!a) bad.push(n.nodeValue.trim());
  }
  return bad;
}"""


async def numbers_are_links(page: Any) -> None:
    assert await page.evaluate(UNLINKED_NUMBERS) == []
    hrefs = await page.locator("#vtw-panel a[href^='tel:']").evaluate_all("els => els.map(a => a.href)")
    assert set(hrefs) <= {"tel:112", "tel:08002000"}, hrefs


def seen_ids(agent: Client) -> set[str]:
    """Every conversation this agent's queue ever showed (`new_waiting` looks at every snapshot)."""
    return {w["conversation_id"] for q in agent.events.get("queue", []) for w in q["waiting"]}


async def advisor(server: RunningServer, name: str) -> tuple[AgentIdentity, Client]:
    identity, password = await add_agent(server.settings.database_url, teams=ALL_TEAMS, name=name)
    client = await agent_client(server.url, await login(server.url, identity.username, password))
    await client.wait_for("queue")
    return identity, client


async def own_server(tmp_path: Any, neutral_site: str, name: str) -> RunningServer:
    url = await migrated_sqlite(str(tmp_path / f"{name}.db"))
    return await RunningServer(make_settings(url, quick_exit_url=neutral_site)).start()


@pytest.fixture
async def phone_context(browser: Any) -> AsyncIterator[tuple[Any, RequestLog]]:
    """A fresh profile with a 360 px phone screen (CSP bypassed only so axe can be injected)."""
    ctx = await browser.new_context(locale="nl-NL", viewport=PHONE, bypass_csp=True)
    log = RequestLog()
    log.attach(ctx)
    yield ctx, log
    await ctx.close()


async def labels(page: Any) -> list[tuple[str, str]]:
    """(sender label, text) of every message in the log, in order."""
    found = await page.locator(".vtw-log .vtw-msg").evaluate_all(
        "els => els.map(e => [e.querySelector('.vtw-who').textContent, e.querySelector('.vtw-text').textContent])"
    )
    return [(who, text) for who, text in found]


async def test_transfer_tells_who_the_visitor_talks_to_and_each_message_keeps_its_writer(
    tmp_path, neutral_site, phone_context
):
    ctx, log = phone_context
    server = await own_server(tmp_path, neutral_site, "transfer")
    agents: list[Client] = []
    try:
        _, anna = await advisor(server, "Anna de Boer")
        bram_id, bram = await advisor(server, "Bram Visser")
        agents += [anna, bram]
        page = await ctx.new_page()
        await open_widget(page, server.url)
        await answer_intake(page, "Ik ben een jongere", "Ik wil advies of iets vragen")
        conv = (await new_waiting(anna, set()))["conversation_id"]
        await anna.call("accept", {"conversation_id": conv})
        status = page.locator("[data-vtw=status]")
        await status.get_by_text("Je praat nu met Anna.").wait_for()
        await agent_says(anna, conv, "Hoi, ik ben Anna.")
        await page.get_by_text("Hoi, ik ben Anna.").wait_for()
        await page.locator("#vtw-input").fill("Hoi Anna")
        await page.keyboard.press("Enter")
        await anna.wait_for("message", lambda m: m["text"] == "Hoi Anna")

        # To a colleague: the visitor is told in the log, then who they talk to now.
        assert await anna.call("transfer", {"conversation_id": conv, "agent_id": bram_id.id}) == {"ok": True}
        lines = page.locator("[data-vtw=sysline]")
        await lines.get_by_text("Je wordt doorverbonden met een collega. Even geduld.").wait_for()
        await status.get_by_text("Je praat nu met Bram.").wait_for()
        await lines.get_by_text("Nu praat je met Bram.").wait_for()
        await agent_says(bram, conv, "Hallo, met Bram.")
        await page.get_by_text("Hallo, met Bram.").wait_for()
        expected = [("Anna", "Hoi, ik ben Anna."), ("Jij", "Hoi Anna"), ("Bram", "Hallo, met Bram.")]
        assert await labels(page) == expected
        await page.screenshot(path=screenshot_path("widget-transfer-360"))

        # A reload labels each message from its own writer again (resume), not the current advisor.
        await page.reload()
        await status.get_by_text("Je praat nu met Bram.").wait_for()
        await page.get_by_text("Hallo, met Bram.").wait_for()
        assert await labels(page) == expected

        # To a team: waiting again, with the place in line and no advisor's name.
        assert await bram.call("transfer", {"conversation_id": conv, "team": "jeugd"}) == {"ok": True}
        await status.get_by_text("Je wacht weer op een hulpverlener. Je bent nummer 1.").wait_for()
        said = await status.inner_text()
        assert "Bram" not in said and "Anna" not in said and "praat" not in said
        assert await page.locator("#vtw-input").is_editable()  # they may keep writing meanwhile
        await page.screenshot(path=screenshot_path("widget-requeued-360"))

        # Taken from the queue again: the new name, in the status and in the log.
        await anna.call("accept", {"conversation_id": conv})
        await status.get_by_text("Je praat nu met Anna.").wait_for()
        await lines.get_by_text("Nu praat je met Anna.").wait_for()
        assert await labels(page) == expected
        assert await violations(page) == []
        await assert_private(ctx, log)
    finally:
        for a in agents:
            await a.disconnect()
        await server.stop()


async def test_end_screens_say_what_happens_next(web_server, phone_context):
    ctx, log = phone_context
    _, agent = await advisor(web_server, "Sanne de Vries")
    try:
        page = await ctx.new_page()
        await open_widget(page, web_server.url)

        # A child who made a melding: what happens now, at a child's level.
        known = seen_ids(agent)
        await answer_intake(page, "Ik ben een kind", "Ik wil iets melden")
        conv = (await new_waiting(agent, known))["conversation_id"]
        await agent.call("accept", {"conversation_id": conv})
        await page.get_by_text("Je praat nu met Sanne.").wait_for()
        outcome = {"kind": "melding", "summary": "zorgen thuis", "urgency": "midden", "gemeente": "Utrecht"}
        assert (await agent.call("close", {"conversation_id": conv, "outcome": outcome}))["ok"] is True
        ended = page.locator("[data-vtw=ended]")
        await ended.wait_for()
        nxt = await page.locator("[data-vtw=ended-next]").inner_text()
        assert "Wat gebeurt er nu?" in nxt
        assert "Goed dat je het hebt verteld." in nxt
        assert "Veilig Thuis kijkt nu wat er nodig is om het veilig te maken." in nxt
        assert "contact op met jou. Of met de mensen om wie het gaat." in nxt
        assert "Je kunt altijd terugkomen" in nxt and "0800-2000" in nxt and "112" in nxt
        await numbers_are_links(page)
        # The message box went with the chat: the focus is on what to read now.
        assert await page.evaluate("document.activeElement.id") == "vtw-ended-title"
        await page.screenshot(path=screenshot_path("widget-ended-melding-360"))
        assert await violations(page) == []

        # In English too.
        await page.get_by_role("button", name="Switch to English").click()
        assert "What happens now?" in await page.locator("[data-vtw=ended-next]").inner_text()
        await page.get_by_role("button", name="Verander naar Nederlands").click()

        # A new chat (the existing path), an adult asking advice.
        await page.get_by_role("button", name="Nieuw gesprek").click()
        known = seen_ids(agent)
        await answer_intake(page, "Ik ben een volwassene", "Ik wil advies of iets vragen")
        conv = (await new_waiting(agent, known))["conversation_id"]
        await agent.call("accept", {"conversation_id": conv})
        await page.get_by_text("Je praat nu met Sanne.").wait_for()
        assert (await agent.call("close", {"conversation_id": conv, "outcome": {"kind": "advies"}}))["ok"] is True
        await page.locator("[data-vtw=ended-next][data-outcome=advies]").wait_for()
        nxt = await page.locator("[data-vtw=ended-next]").inner_text()
        assert "Je hebt advies gekregen." in nxt and "Kom dan gerust terug." in nxt
        assert "Wat gebeurt er nu?" not in nxt
        await numbers_are_links(page)
        await assert_private(ctx, log)
    finally:
        await agent.disconnect()


async def test_stop_asks_first_and_quick_exit_still_works(web_server, neutral_site, context):
    ctx, log = context
    _, agent = await advisor(web_server, "Noor")
    try:
        known = seen_ids(agent)
        page = await ctx.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), asyncio.ensure_future(d.dismiss())))
        await open_widget(page, web_server.url)
        await answer_intake(page, "Ik ben een jongere", "Ik wil advies of iets vragen")
        conv = (await new_waiting(agent, known))["conversation_id"]
        await agent.call("accept", {"conversation_id": conv})
        await page.get_by_text("Je praat nu met Noor.").wait_for()
        await numbers_are_links(page)

        # Stop is not right under the send button: it sits above the conversation.
        stop = page.get_by_role("button", name="Stop gesprek")
        stop_box = await stop.bounding_box()
        log_box = await page.locator("[data-vtw=log]").bounding_box()
        send_box = await page.get_by_role("button", name="Verstuur").bounding_box()
        assert stop_box["y"] + stop_box["height"] <= log_box["y"] < send_box["y"]

        # It asks first; "Nee, verder praten" (focused: the safe answer) keeps the chat.
        await page.locator("#vtw-input").fill("nog niet weg")
        await stop.click()
        confirm = page.locator("[data-vtw=stop-confirm]")
        await confirm.get_by_text("Wil je echt stoppen? Je kunt daarna niet meer verder in dit gesprek.").wait_for()
        assert await page.evaluate("document.activeElement.textContent") == "Nee, verder praten"
        assert dialogs == []  # asked in the widget, not with window.confirm
        await page.screenshot(path=screenshot_path("widget-stop-confirm"))
        await page.get_by_role("button", name="Nee, verder praten").click()
        await confirm.wait_for(state="detached")
        assert await page.evaluate("document.activeElement.textContent") == "Stop gesprek"
        assert await page.locator("#vtw-input").input_value() == "nog niet weg"

        # Esc once answers "no" too.
        await stop.click()
        await confirm.wait_for()
        await page.keyboard.press("Escape")
        await confirm.wait_for(state="detached")
        assert await page.locator("[data-vtw=ended]").count() == 0
        await asyncio.sleep(1.1)  # a second Esc now is a new first one, not a quick exit
        await agent_says(agent, conv, "Ben je er nog?")
        await page.get_by_text("Ben je er nog?").wait_for()
        assert "visitor_left" not in agent.events

        # "Ja, stoppen" ends it, for the advisor too.
        await stop.click()
        await page.get_by_role("button", name="Ja, stoppen").click()
        await page.locator("[data-vtw=ended]").wait_for()
        await agent.wait_for("visitor_left", lambda d: d["conversation_id"] == conv)
        nxt = await page.locator("[data-vtw=ended-next]").inner_text()
        assert "Je kunt altijd terugkomen" in nxt
        await numbers_are_links(page)
        # No resume token is left; only the tab's random per-browser value (for blocks: docs/privacy.md).
        assert await page.evaluate("Object.keys(sessionStorage)") == ["ui-seed"]

        # With the question open, Esc twice is still the quick exit.
        known = seen_ids(agent)
        await page.get_by_role("button", name="Nieuw gesprek").click()
        await answer_intake(page, "Ik ben een volwassene", "Dat weet ik nog niet")
        await new_waiting(agent, known)
        await page.get_by_role("button", name="Stop gesprek").click()
        await confirm.wait_for()
        await page.keyboard.press("Escape")
        await page.keyboard.press("Escape")
        await page.wait_for_url(neutral_site)
        await assert_private(ctx, log)
    finally:
        await agent.disconnect()


async def test_nobody_online_says_so_and_offers_a_callback(tmp_path, neutral_site, phone_context):
    ctx, log = phone_context
    server = await own_server(tmp_path, neutral_site, "nobody")  # nobody has a console open here
    agent = None
    try:
        page = await ctx.new_page()
        await open_widget(page, server.url)
        # Before they start.
        told = page.locator(".vtw-intake [data-vtw=no-advisor]")
        await told.wait_for()
        text = await told.inner_text()
        assert "Er is nu niemand van Veilig Thuis online in de chat." in text
        assert "Laat je terugbellen, of bel gratis 0800-2000 (dag en nacht). In gevaar? Bel 112." in text
        await numbers_are_links(page)
        assert await violations(page) == []
        await page.screenshot(path=screenshot_path("widget-nobody-online-360"))
        # The callback offer the widget already has, and back.
        await told.get_by_role("button", name="Bel mij terug").click()
        await page.locator("[data-vtw=callback]").wait_for()
        await page.get_by_role("button", name="Terug", exact=True).click()
        await told.wait_for()

        # They may still start and wait: no growing estimate, but that nobody is there.
        await answer_intake(page, "Ik ben een jongere", "Ik wil advies of iets vragen")
        await page.get_by_text("Je bent nummer 1 in de rij.").wait_for()
        waiting = page.locator(".vtw-chat [data-vtw=no-advisor]")
        await waiting.get_by_text("Er is nu niemand van Veilig Thuis online in de chat.").wait_for()
        assert await waiting.get_by_role("button", name="Liever teruggebeld worden?").is_visible()
        status = await page.locator("[data-vtw=status]").inner_text()
        assert "Je wacht ongeveer" not in status and "bijna aan de beurt" not in status
        await numbers_are_links(page)
        assert await violations(page) == []
        await page.screenshot(path=screenshot_path("widget-nobody-online-waiting-360"))

        # An advisor comes online: the widget says so without a reload.
        identity, password = await add_agent(server.settings.database_url, teams=ALL_TEAMS, name="Bram")
        agent = await agent_client(server.url, await login(server.url, identity.username, password))
        await waiting.wait_for(state="detached")
        status = await page.locator("[data-vtw=status]").inner_text()
        assert re.search(r"Je wacht ongeveer|bijna aan de beurt", status), status
        await assert_private(ctx, log)
    finally:
        if agent is not None:
            await agent.disconnect()
        await server.stop()
