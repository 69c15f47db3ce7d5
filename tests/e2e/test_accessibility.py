"""WCAG 2.1 A/AA checks by axe-core (from npm, test-only) on the widget and the console login."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.test_console import _login
from tests.support.server import add_agent, start_payload, visitor

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
RULES = "{runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}}"


async def violations(page) -> list[str]:
    await page.add_script_tag(path=str(AXE))
    found = await page.evaluate(f"axe.run(document, {RULES}).then(r => r.violations)")
    return [f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}" for v in found]


async def test_widget_and_console_pass_axe(browser, web_server):
    # axe is injected as an inline script, which our CSP rightly forbids: bypass it for the check only.
    ctx = await browser.new_context(bypass_csp=True, locale="nl-NL")
    try:
        page = await ctx.new_page()
        await page.goto(web_server.url + "/")
        await page.get_by_role("button", name="Chat met Veilig Thuis").first.click()
        await page.locator(".vtw-intake").wait_for()
        assert await violations(page) == []

        await page.set_viewport_size({"width": 320, "height": 640})
        assert await violations(page) == []

        console = await ctx.new_page()
        await console.goto(web_server.url + "/console")
        assert await violations(console) == []

        # The check itself sees a planted fault (pale text on white): it is not a no-op.
        await console.evaluate(
            "() => { const p = document.createElement('p'); p.textContent = 'bleek';"
            " p.style.color = '#ddd'; p.style.background = '#fff'; document.body.append(p); }"
        )
        assert any(v.startswith("color-contrast") for v in await violations(console))
    finally:
        await ctx.close()


async def test_desk_views_pass_axe(browser, web_server):
    """The supervisors' Beheer view (ready texts, blocks), the ready-text picker and the
    Blokkeren dialog (the flow itself: tests/e2e/test_console_desk.py)."""
    ctx = await browser.new_context(bypass_csp=True, locale="nl-NL", viewport={"width": 1280, "height": 900})
    v = await visitor(web_server.url)
    try:
        page = await ctx.new_page()
        boss, password = await add_agent(web_server.settings.database_url, role="supervisor")
        await _login(page, web_server.url, boss.username, password)
        await page.locator("#view-tab-desk").click()
        await page.locator("#rtm-rows tr").first.wait_for()
        assert await violations(page) == []

        await page.locator("#view-tab-chats").click()
        cid = (await v.call("start", start_payload()))["conversation_id"]
        await page.locator(f'.q-item[data-conversation-id="{cid}"] button').first.click()
        panel = page.locator(f'.conv[data-conversation-id="{cid}"]')
        await panel.locator(".composer-text").focus()
        await page.keyboard.press("Control+/")
        await page.locator("#rt-list [role=option]").first.wait_for()
        assert await violations(page) == []
        await page.keyboard.press("Escape")
        await panel.locator(".act-block").click()
        await page.locator("#block-dialog").wait_for()
        assert await violations(page) == []
    finally:
        await v.disconnect()
        await ctx.close()


async def test_the_opening_hours_view_passes_axe(browser, web_server):
    from playwright.async_api import expect

    from tests.e2e.conftest import screenshot_path
    from tests.e2e.test_console import _login
    from tests.support.server import add_agent

    boss, password = await add_agent(web_server.settings.database_url, role="supervisor", name="Noor Visser")
    ctx = await browser.new_context(bypass_csp=True, locale="nl-NL")
    try:
        page = await ctx.new_page()
        await _login(page, web_server.url, boss.username, password)
        await page.get_by_role("tab", name="Openingstijden").click()
        await expect(page.locator(".oh-team")).to_have_count(4)  # only looked at: the shared server stays 24/7
        assert await violations(page) == []
        await page.screenshot(path=screenshot_path("console-hours"), full_page=True)
        # Every field of the view has its label (keyboard and screen-reader users find them by name).
        await expect(page.locator('.oh-team[data-team="jeugd"]').get_by_label("zondag")).to_be_editable()
        await page.set_viewport_size({"width": 360, "height": 740})
        assert await violations(page) == []
    finally:
        await ctx.close()


async def test_overzicht_and_reading_along_pass_axe(browser, web_server):
    """The supervisors' Overzicht with a live conversation, and the read-only pane with its whisper box."""
    from playwright.async_api import expect

    from tests.e2e.test_console import _login
    from tests.support.server import add_agent, agent_client, login, start_payload, visitor

    db = web_server.settings.database_url
    boss, boss_pw = await add_agent(db, role="supervisor", teams=(), name="Axel Overzicht")
    holder, holder_pw = await add_agent(db, teams=("professionals",), name="Hanna Houder")
    advisor = await agent_client(web_server.url, await login(web_server.url, holder.username, holder_pw))
    v = await visitor(web_server.url)
    ctx = await browser.new_context(bypass_csp=True, locale="nl-NL")
    try:
        cid = (await v.call("start", start_payload(caller_type="professional", topic=None)))["conversation_id"]
        await advisor.call("accept", {"conversation_id": cid})
        page = await ctx.new_page()
        await _login(page, web_server.url, boss.username, boss_pw)
        await page.get_by_role("tab", name="Overzicht").click()
        row = page.locator("#bd-conversations tr").filter(has_text="Hanna Houder")
        await expect(row).to_be_visible()
        assert await violations(page) == []
        await row.get_by_role("button", name="Meelezen").click()
        await expect(page.locator(f'.conv[data-conversation-id="{cid}"] .whisper-box')).to_be_visible()
        assert await violations(page) == []
    finally:
        await ctx.close()
        await v.disconnect()
        await advisor.disconnect()


async def test_figures_view_draws_charts_with_tables_and_passes_axe(browser, web_server):
    """The supervisors' Cijfers view: uPlot (served by us) draws each chart, the table beside it
    holds the same numbers, and the view passes axe."""
    from playwright.async_api import expect

    from tests.e2e.test_console import _login
    from tests.support.server import add_agent, start_payload, visitor

    v = await visitor(web_server.url)
    await v.call("start", start_payload())
    await v.call("leave", {})
    await v.disconnect()
    ctx = await browser.new_context(bypass_csp=True, locale="nl-NL", viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    try:
        page = await ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        boss, password = await add_agent(web_server.settings.database_url, role="supervisor")
        await _login(page, web_server.url, boss.username, password)
        tab = page.locator("#view-tab-figures")
        await expect(tab).to_be_visible()
        await tab.click()
        chats = page.locator(".fg-chart").filter(has=page.get_by_role("heading", name="Chats", exact=True))
        await expect(chats.locator(".fg-plot canvas")).to_have_count(1)
        table = chats.get_by_role("table", name="Chats")
        await expect(table).to_be_visible()
        await expect(table.get_by_role("columnheader", name="Weggegaan in de wachtrij")).to_be_visible()
        offered = await table.locator("tbody tr td:nth-child(2)").all_inner_texts()
        assert sum(int(n) for n in offered) >= 1
        assert await violations(page) == []
        # The same figures download as CSV, named by the period.
        async with page.expect_download() as info:
            await page.get_by_role("button", name="Cijfers downloaden (CSV)").click()
        download = await info.value
        assert re.fullmatch(r"cijfers-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
        assert "\n" in open(await download.path(), encoding="utf-8").read()  # noqa: ASYNC230 (a small file)
        await expect(page.locator("#announcer")).to_contain_text("gedownload")
        assert errors == []
    finally:
        await ctx.close()


async def test_the_accounts_view_and_its_dialogs_pass_axe(browser, web_server):
    """The admins' Medewerkers view (issue 16): the list and form, the edit and confirm dialogs."""
    from tests.e2e.test_console import _login
    from tests.support.server import add_agent

    db = web_server.settings.database_url
    await add_agent(db, name="Bram Toegang")
    admin, admin_pw = await add_agent(db, role="admin", name="Ada Toegang")
    ctx = await browser.new_context(bypass_csp=True, locale="nl-NL")
    try:
        page = await ctx.new_page()
        await _login(page, web_server.url, admin.username, admin_pw)
        await page.get_by_role("tab", name="Medewerkers").click()
        row = page.locator("#ac-rows tr", has=page.get_by_role("rowheader", name="Bram Toegang"))
        await row.wait_for()
        assert await violations(page) == []
        await row.get_by_role("button", name="Rol en teams: Bram Toegang").click()
        await page.locator("#ac-edit-dialog").wait_for()
        assert await violations(page) == []
        await page.keyboard.press("Escape")
        await row.get_by_role("button", name="Uitzetten: Bram Toegang").click()
        await page.locator("#ac-confirm-dialog").wait_for()
        assert await violations(page) == []
    finally:
        await ctx.close()
