"""A team closed at run time, in Chromium: a supervisor closes the youth team "until …" in the
console's Openingstijden view on one `vt-contact serve` process, and the widget on that process
and on a second one (one SQLite file, one Redis) tells a child that the chat is closed, with
when it opens again, why, and 0800-2000 and 112, while an adult may still start."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import ClientSession
from playwright.async_api import expect

from tests.e2e.test_console import _login
from tests.support.processes import ServerProcess, cli_add_agent, run_cli
from tests.support.server import login

AMS = ZoneInfo("Europe/Amsterdam")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


async def test_closed_in_the_console_closes_the_widget_for_that_team_on_both_processes(browser, redis_url, tmp_path):
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'hours.db'}"
    assert run_cli("db", "upgrade", "--database-url", database_url).returncode == 0
    username, password = cli_add_agent(database_url, "supervisor", "Sanne Bakker", prefix="s")
    env = {"VT_REDIS_CHANNEL": f"vt-hours-e2e-{uuid.uuid4().hex[:6]}"}
    a = ServerProcess(database_url, redis_url, tmp_path, "a", **env)
    b = ServerProcess(database_url, redis_url, tmp_path, "b", **env)
    ctx = await browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    try:
        console = await ctx.new_page()
        console.on("pageerror", lambda e: errors.append(str(e)))
        await _login(console, a.url, username, password)
        await console.get_by_role("tab", name="Openingstijden").click()
        jeugd = console.locator('.oh-team[data-team="jeugd"]')
        await expect(jeugd.locator(".oh-state")).to_have_text("Nu open.")  # VT_CHAT_HOURS=24/7

        # An hour and a half from now (the last minute of the day at the latest).
        local = datetime.now(AMS)
        until = min(local + timedelta(minutes=90), local.replace(hour=23, minute=59)).strftime("%H:%M")
        close = jeugd.locator("form.oh-close")
        await close.get_by_label("Gesloten tot (tijd vandaag)").fill(until)
        await close.get_by_label("Reden voor bezoekers").select_option("incident")
        await close.get_by_role("button", name="Nu sluiten").click()
        await expect(jeugd.locator(".oh-state")).to_contain_text(f"Nu gesloten. Weer open om {until}.")
        await expect(jeugd.locator(".oh-exceptions")).to_contain_text("Storing")
        # A bad pattern is refused with the problem named, before anything is sent.
        monday = jeugd.get_by_label("maandag")
        await monday.fill("09:00-17:00, 16:00-18:00")
        await jeugd.get_by_role("button", name="Weekpatroon opslaan").click()
        await expect(jeugd.locator(".oh-error")).to_have_text("maandag: 09:00-17:00 en 16:00-18:00 overlappen.")
        await expect(monday).to_have_attribute("aria-invalid", "true")

        for server in (a, b):
            page = await ctx.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(server.url + "/")
            await page.get_by_role("button", name="Chat met Veilig Thuis").click()
            await page.get_by_role("button", name="Ik ben een kind (tot en met 11 jaar)").click()
            closed = page.locator("[data-vtw=closed]")
            await expect(closed).to_be_visible()
            await expect(closed.locator("[data-vtw=opens-at]")).to_contain_text(until)
            await expect(closed.locator("[data-vtw=closed-reason]")).to_contain_text("storing")
            text = await closed.inner_text()
            assert "0800-2000" in text and "112" in text
            # An adult's team is open: back to the first question, and the questions go on.
            await closed.get_by_role("button", name="Terug", exact=True).click()
            await page.get_by_role("button", name="Ik ben een volwassene (18 jaar of ouder)").click()
            await expect(page.locator(".vtw-step")).to_contain_text("2")
            await page.close()

        # A colleague saves the youth team's week while this view still shows the old one: saving
        # here would undo that unseen. It is refused, and the view shows what is there now.
        colleague, colleague_password = cli_add_agent(database_url, "admin", "Ahmed Yilmaz", prefix="c")
        token = await login(b.url, colleague, colleague_password)
        whole_days = {"days": {d: [{"opens": "00:00", "closes": "24:00"}] for d in DAYS}, "closed_on_holidays": False}
        bearer = {"Authorization": f"Bearer {token}"}
        async with ClientSession() as http:
            async with http.put(f"{b.url}/api/supervisor/hours/jeugd/pattern", json=whole_days, headers=bearer) as r:
                assert r.status == 200
        await monday.fill("10:00-16:00")
        await jeugd.get_by_role("button", name="Weekpatroon opslaan").click()
        await expect(jeugd.locator(".oh-error")).to_contain_text("Een collega heeft deze tijden net veranderd")
        await expect(jeugd.get_by_label("maandag")).to_have_value("00:00-24:00")
        assert errors == []
    finally:
        await ctx.close()
        a.stop()
        b.stop()
