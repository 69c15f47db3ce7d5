"""Feedback on risk signals in the console: the advisor marks a signal "Klopt niet" (by keyboard)
and the supervisor's Risicosignalen view counts it; both screens pass axe."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.e2e.test_accessibility import violations
from tests.e2e.test_console import _login
from tests.support.server import add_agent, start_payload, visitor

CONCEPT = "geweld + slachtoffer"


async def test_marked_wrong_in_the_chat_counts_in_the_supervisors_view(browser, web_server):
    # axe is injected as an inline script, which our CSP rightly forbids: bypass it for the check only.
    ctx = await browser.new_context(bypass_csp=True, locale="nl-NL", viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    v = await visitor(web_server.url)
    try:
        page = await ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        identity, password = await add_agent(web_server.settings.database_url, teams=("volwassenen",))
        await _login(page, web_server.url, identity.username, password)
        # An advisor does not see the supervisors' view.
        await expect(page.locator("#view-tab-risk")).to_be_hidden()

        cid = (await v.call("start", start_payload(caller_type="volwassene", topic=None)))["conversation_id"]
        item = page.locator(f'.q-item[data-conversation-id="{cid}"]')
        # A signal while it waits shows at its message once the conversation is accepted.
        await v.call("message", {"client_id": "0", "text": "papa slaat mama"})
        await expect(item.locator(".q-risk")).to_be_visible()
        await item.get_by_role("button", name=re.compile("^Aannemen")).click()
        panel = page.locator(f'.conv[data-conversation-id="{cid}"]')
        await expect(panel).to_be_visible()
        await expect(panel.locator(".msg-visitor").first.locator(".risk-chip")).to_contain_text(CONCEPT)
        await v.call("message", {"client_id": "1", "text": "mijn vader slaat mij"})
        message = panel.locator(".msg-visitor").last
        await expect(message.locator(".text")).to_have_text("mijn vader slaat mij")
        await expect(message.locator(".risk-chip")).to_contain_text(CONCEPT)
        missed = message.get_by_role("button", name=re.compile("^Risico gemist"))
        await expect(missed).to_be_visible()
        assert await violations(page) == []

        # Keyboard: focus the button and press Enter; the aria-live announcer confirms.
        wrong = message.get_by_role("button", name=re.compile(f"^Klopt niet: signaal {re.escape(CONCEPT)}"))
        box_before = await message.bounding_box()
        await wrong.focus()
        await page.keyboard.press("Enter")
        await expect(page.locator("#announcer")).to_contain_text("klopt niet")
        await expect(wrong).to_have_attribute("aria-disabled", "true")
        await expect(wrong).to_have_text("Doorgegeven")
        assert (await message.bounding_box())["height"] == box_before["height"]  # no layout jump

        # After a reload the signals and the marks' buttons are there again (from the history).
        await page.reload()
        await expect(page.locator("#conn")).to_have_text("Verbonden")
        message = panel.locator(".msg-visitor").last
        await expect(message.locator(".risk-chip")).to_contain_text(CONCEPT)

        boss_page = await ctx.new_page()
        boss_page.on("pageerror", lambda e: errors.append(str(e)))
        boss, boss_password = await add_agent(web_server.settings.database_url, role="supervisor")
        await _login(boss_page, web_server.url, boss.username, boss_password)
        tab = boss_page.locator("#view-tab-risk")
        await expect(tab).to_be_visible()
        await tab.click()
        row = boss_page.locator("#rk-rows tr").filter(has=boss_page.get_by_role("rowheader", name=CONCEPT, exact=True))
        await expect(row).to_have_count(1)
        cells = row.locator("td")
        fired = int(await cells.nth(0).inner_text())
        assert fired >= 1 and int(await cells.nth(1).inner_text()) >= 1
        await expect(cells.nth(2)).to_have_text(re.compile(r"^\d+%$"))
        assert await violations(boss_page) == []

        # The export downloads as CSV with the marked message in it.
        async with boss_page.expect_download() as info:
            await boss_page.get_by_role("button", name="Voorbeelden downloaden (CSV)").click()
        download = await info.value
        assert download.suggested_filename == "risicosignalen-feedback.csv"
        content = open(await download.path(), encoding="utf-8").read()  # noqa: ASYNC230 (a small file)
        assert content.startswith("date,kind,concept,level,agent_role,text") and "mijn vader slaat mij" in content
        await expect(boss_page.locator("#announcer")).to_contain_text("gedownload")
        assert errors == []
    finally:
        await v.disconnect()
        await ctx.close()
