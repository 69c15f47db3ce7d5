"""WCAG 2.1 A/AA checks by axe-core (from npm, test-only) on the widget and the console login."""

from __future__ import annotations

from pathlib import Path

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
