"""A visitor flees with "Snel weg" in the middle of a chat: the advisor's console says so, and
the advisor still records the melding, which is handed off once. The real widget (one browser
profile) and the real console (another) on a server of this test's own."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import expect
from sqlalchemy import select

from cases.store import handoffs
from contact.db import Database
from tests.e2e.conftest import RequestLog, screenshot_path
from tests.e2e.test_console import _login
from tests.support.server import RunningServer, add_agent, make_settings, migrated_sqlite, start_payload, visitor


async def test_quick_exit_mid_chat_then_the_advisor_records_the_melding(browser, tmp_path, neutral_site):
    url = await migrated_sqlite(str(tmp_path / "flee.db"))
    server = await RunningServer(make_settings(url, quick_exit_url=neutral_site)).start()
    visitor_ctx = await browser.new_context(locale="nl-NL", viewport={"width": 390, "height": 800})
    advisor_ctx = await browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
    logs = (RequestLog(), RequestLog())
    logs[0].attach(visitor_ctx)
    logs[1].attach(advisor_ctx)
    errors: list[str] = []
    try:
        identity, password = await add_agent(url, teams=("jeugd",), name="Noor Bakker")
        console = await advisor_ctx.new_page()
        console.on("pageerror", lambda e: errors.append(str(e)))
        await _login(console, server.url, identity.username, password)

        # A visitor whose browser is gone is marked in the queue, waits last and is not taken by accident.
        gone_visitor = await visitor(server.url)
        gone = (await gone_visitor.call("start", start_payload(topic="Weg")))["conversation_id"]
        await gone_visitor.disconnect()
        gone_card = console.locator(f'.q-item[data-conversation-id="{gone}"]')
        await expect(gone_card).to_contain_text("Bezoeker is weg sinds")
        # The question is answered inside the event handler: a click may wait for an open dialog.
        asked: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def decline(dialog):
            if not asked.done():
                asked.set_result(dialog.message)
            asyncio.ensure_future(dialog.dismiss())

        console.once("dialog", decline)
        await gone_card.get_by_role("button", name=re.compile("^Aannemen")).click()
        assert "Toch aannemen?" in await asyncio.wait_for(asked, 10)
        await expect(gone_card).to_be_visible()

        widget = await visitor_ctx.new_page()
        widget.on("pageerror", lambda e: errors.append(str(e)))
        await widget.goto(server.url + "/")
        await widget.get_by_role("button", name="Chat met Veilig Thuis").click()
        await widget.get_by_role("button", name=re.compile("^Ik ben een jongere")).click()
        await widget.get_by_role("button", name="Ik wil iets melden").click()
        await widget.get_by_role("button", name="Overslaan").click()
        await widget.get_by_role("button", name="Nee", exact=True).click()
        await widget.locator("[data-vtw=queue]").wait_for()

        item = console.locator(".q-item").first  # the visitor who is there comes first
        await expect(item).not_to_have_attribute("data-conversation-id", gone)
        await item.get_by_role("button", name=re.compile("^Aannemen")).click()
        await widget.get_by_text("Je praat nu met Noor.").wait_for()
        await widget.locator(".vtw-input").fill("Mijn stiefvader slaat mijn moeder. Hij komt eraan.")
        await widget.locator(".vtw-input").press("Enter")
        panel = console.locator(".conv:not([hidden])")
        await expect(panel.locator(".msg-visitor .text")).to_have_text(
            ["Mijn stiefvader slaat mijn moeder. Hij komt eraan."]
        )

        # The visitor flees: the page is replaced at once.
        await widget.locator(".vtw-header .vtw-exit").click()
        await widget.wait_for_url(neutral_site)

        # The advisor sees that the visitor used quick exit, and can still record the outcome.
        await expect(panel.locator(".conv-meta")).to_contain_text("Snel weg gebruikt")
        await expect(panel.locator(".conv-banner")).to_contain_text("Misschien is de bezoeker nu in gevaar")
        tab = console.locator(".tab").first
        await expect(tab).to_contain_text("Uitkomst vastleggen")
        await expect(panel.get_by_role("button", name="Escaleer naar crisisdienst")).to_be_hidden()
        await expect(panel.get_by_role("button", name="Tabblad sluiten")).to_be_hidden()
        await console.screenshot(path=screenshot_path("console-quick-exit"))

        await panel.get_by_role("button", name="Gesprek afsluiten").click()
        dialog = console.locator("#close-dialog")
        await dialog.get_by_role("radio", name="Melding").check()
        await dialog.get_by_label(re.compile("^Samenvatting")).fill(
            "Jongere meldt geweld stiefvader tegen moeder; vluchtte uit de chat."
        )
        await dialog.get_by_label(re.compile("^Urgentie")).select_option("hoog")
        # The gemeente comes from the CBS list: the form offers it, the server refuses a typo.
        await expect(dialog.locator("#gemeente-list option")).to_have_count(342)
        gemeente = dialog.get_by_label(re.compile("^Gemeente"))
        await gemeente.fill("Utreht")
        await dialog.get_by_role("button", name="Afsluiten").click()
        await expect(console.locator("#close-error")).to_contain_text("Kies een gemeente uit de lijst")
        await expect(gemeente).to_have_attribute("aria-invalid", "true")
        await gemeente.fill("Utrecht")
        await dialog.get_by_role("button", name="Afsluiten").click()
        await expect(dialog).not_to_be_visible()
        await expect(panel).to_have_count(0)

        db = Database(url)
        try:
            async with db.read() as conn:
                rows = (await conn.execute(select(handoffs.c.source, handoffs.c.kind))).all()
        finally:
            await db.dispose()
        assert [(r.source, r.kind) for r in rows] == [("chat", "melding")]
        assert errors == []
        assert await visitor_ctx.cookies() == [] and await advisor_ctx.cookies() == []
        assert logs[0].foreign() == [] and logs[1].foreign() == []
    finally:
        await visitor_ctx.close()
        await advisor_ctx.close()
        await server.stop()
