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
        assert errors == []
    finally:
        await ctx.close()
