"""The callback request in the visitor widget ("Bel mij terug"), in real headless Chromium against
the real server: offered when the chat is closed and when the wait is long.

The threat model holds throughout: the manage token of the booking never reaches storage, the
address bar or the page; no cookie, and no request to another host."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import ClientSession

from contact.clock import ManualClock
from tests.e2e.conftest import RequestLog, screenshot_path
from tests.e2e.test_accessibility import violations
from tests.support.server import RunningServer, add_agent, agent_client, login, make_settings, migrated_sqlite


async def closed_server(tmp_path: Any, neutral_site: str, **overrides: Any) -> RunningServer:
    url = await migrated_sqlite(str(tmp_path / "callback.db"))
    clock = ManualClock(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))  # a Saturday: chat closed, tijdvakken from Monday
    settings = make_settings(url, chat_hours="mon-fri 09:00-17:00", quick_exit_url=neutral_site, **overrides)
    return await RunningServer(settings, clock).start()


async def advisor_token(server: RunningServer) -> str:
    agent, password = await add_agent(server.settings.database_url)
    return await login(server.url, agent.username, password)


async def work_list(server: RunningServer, token: str, day: str) -> dict[str, Any]:
    async with ClientSession() as http:
        async with http.get(
            f"{server.url}/api/agent/callbacks", params={"date": day}, headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 200
            return await r.json()


def is_booking(response: Any) -> bool:
    return response.url.endswith("/api/callbacks") and response.request.method == "POST"


async def tab_to(page: Any, text: str, limit: int = 40) -> None:
    """Press Tab until the focused element's text is `text` (keyboard only, no clicks)."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.textContent.trim()") == text:
            return
    raise AssertionError(f"could not reach {text!r} with Tab")


async def no_trace(page: Any, ctx: Any, log: RequestLog, secret: str, history: int) -> None:
    assert await page.evaluate("sessionStorage.length + localStorage.length") == 0
    assert await page.evaluate("document.cookie") == ""
    assert await ctx.cookies() == []
    assert secret not in page.url and secret not in await page.content()
    assert await page.evaluate("history.length") == history  # no entry of ours
    assert log.foreign() == []


async def test_closed_chat_offers_a_callback_booked_without_a_trace(tmp_path, browser, neutral_site):
    server = await closed_server(tmp_path, neutral_site)
    ctx = await browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
    log = RequestLog()
    log.attach(ctx)
    try:
        page = await ctx.new_page()
        await page.goto(server.url + "/")
        history = await page.evaluate("history.length")
        await tab_to(page, "Chat met Veilig Thuis")
        await page.keyboard.press("Enter")
        offer = page.locator("[data-vtw=callback-offer]")
        await offer.wait_for()
        assert "0800-2000" in await page.locator("[data-vtw=closed]").inner_text()
        await tab_to(page, "Bel mij terug")
        await page.keyboard.press("Enter")

        # Monday's tijdvakken, shown in Amsterdam time; nothing is chosen for the caller.
        form = page.locator("[data-vtw=callback]")
        slot = form.get_by_role("radio", name="ma 30 nov, 10:00–11:00")
        await slot.wait_for()
        assert await page.locator("#vtw-cb-day").input_value() == "2026-11-30"
        assert await form.locator("input[type=radio]:checked").count() == 0
        await slot.check()
        await form.get_by_label("Je telefoonnummer").fill("+49 30 1234567")
        await form.get_by_role("radio", name="Ik ben een volwassene").check()
        await form.get_by_label("Je voornaam (mag je overslaan)").fill("Sam")

        # 320 px wide: the whole form fits, without sideways scrolling.
        await page.set_viewport_size({"width": 320, "height": 640})
        assert await page.evaluate("document.documentElement.scrollWidth") <= 320
        assert await page.evaluate("document.querySelector('#vtw-panel').scrollWidth") <= 320
        await page.screenshot(path=screenshot_path("widget-callback-320"))

        # The voicemail question has no default: the caller must choose.
        await form.get_by_role("button", name="Verstuur").click()
        await page.locator("[data-vtw=error-voicemail]").wait_for()
        assert await page.evaluate("document.activeElement.name") == "vtw-cb-voicemail"
        await form.get_by_role("radio", name="Nee", exact=True).check()

        # A foreign number: the server's own words, at the phone field, which gets the focus.
        await form.get_by_role("button", name="Verstuur").click()
        phone_error = page.locator("[data-vtw=error-phone]")
        await phone_error.wait_for()
        assert await phone_error.inner_text() == "Dit telefoonnummer klopt niet."
        phone = form.get_by_label("Je telefoonnummer")
        assert await phone.get_attribute("aria-invalid") == "true"
        assert "vtw-cb-phone-error" in (await phone.get_attribute("aria-describedby") or "")
        assert await page.evaluate("document.activeElement.id") == "vtw-cb-phone"
        # What was chosen before is still chosen.
        assert await form.get_by_role("radio", name="ma 30 nov, 10:00–11:00").is_checked()
        assert await form.get_by_role("radio", name="Nee", exact=True).is_checked()

        await phone.fill("06 12345678")
        async with page.expect_response(is_booking) as got:
            await page.keyboard.press("Enter")
        answer = await (await got.value).json()
        done = page.locator("[data-vtw=callback-done]")
        await done.wait_for()
        reference = await page.locator("[data-vtw=callback-reference]").inner_text()
        assert reference == answer["reference"] and re.fullmatch(r"VT-[2-9A-Z]{6}", reference)
        text = await done.inner_text()
        assert "ma 30 nov, 10:00–11:00" in text
        assert "geen link" in text
        await page.screenshot(path=screenshot_path("widget-callback"))
        await no_trace(page, ctx, log, answer["manage_token"], history)

        # English through the widget's own switch.
        await page.get_by_role("button", name="Switch to English").click()
        assert "Mon 30 Nov, 10:00–11:00" in await done.inner_text()

        # The advisors see it on Monday's list: the number, and no voicemail.
        listed = await work_list(server, await advisor_token(server), "2026-11-30")
        found = [
            cb
            for tv in listed["tijdvakken"]
            for cb in tv["callbacks"]
            if any(r["reference"] == reference for r in cb["requests"])
        ]
        assert len(found) == 1
        callback = found[0]
        assert callback["voicemail_allowed"] is False
        assert callback["phone"] == "06 12345678" and callback["caller_type"] == "volwassene"
        assert callback["slot"]["start"] == "2026-11-30T09:00:00+00:00"
        assert callback["requests"][0]["name"] == "Sam"

        # Done: the reference leaves the screen too.
        await page.get_by_role("button", name="Done").click()
        await page.locator("[data-vtw=closed]").wait_for()
        assert await page.locator("[data-vtw=callback-reference]").count() == 0
        await no_trace(page, ctx, log, answer["manage_token"], history)

        # WCAG 2.1 A/AA of the form with its errors shown (axe is injected inline: CSP bypassed here only).
        checked = await browser.new_context(bypass_csp=True, locale="nl-NL", viewport={"width": 320, "height": 640})
        try:
            a = await checked.new_page()
            await a.goto(server.url + "/")
            await a.get_by_role("button", name="Chat met Veilig Thuis").click()
            await a.get_by_role("button", name="Bel mij terug").click()
            await a.get_by_role("radio").first.wait_for()
            await a.get_by_role("button", name="Verstuur").click()
            await a.locator("[data-vtw=error-phone]").wait_for()
            assert await violations(a) == []
        finally:
            await checked.close()
    finally:
        await ctx.close()
        await server.stop()


async def test_long_wait_offers_a_callback_that_takes_the_visitor_out_of_the_queue(tmp_path, browser, neutral_site):
    url = await migrated_sqlite(str(tmp_path / "wait.db"))
    clock = ManualClock(datetime(2026, 11, 30, 7, 0, tzinfo=UTC))  # Monday 08:00 in Amsterdam
    server = await RunningServer(
        make_settings(url, quick_exit_url=neutral_site, default_wait_per_position_s=900), clock
    ).start()
    ctx = await browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
    log = RequestLog()
    log.attach(ctx)
    agent = None
    try:
        agent = await agent_client(server.url, await advisor_token(server))
        await agent.wait_for("queue")
        page = await ctx.new_page()
        await page.goto(server.url + "/")
        await page.get_by_role("button", name="Chat met Veilig Thuis").click()
        await page.get_by_role("button", name="Ik ben een jongere (12 tot en met 17 jaar)").click()
        await page.get_by_role("button", name="Ik wil advies of iets vragen").click()
        await page.get_by_role("button", name="Overslaan").click()
        await page.get_by_role("button", name="Nee", exact=True).click()
        await page.get_by_text("Je wacht ongeveer 15 minuten.").wait_for()
        snapshot = await agent.wait_for("queue", lambda q: len(q["waiting"]) == 1)
        conversation = snapshot["waiting"][0]["conversation_id"]
        await page.locator(".vtw-input").fill("nog niet verstuurd")

        await page.get_by_role("button", name="Liever teruggebeld worden?").click()
        form = page.locator("[data-vtw=callback]")
        await form.get_by_text("Als je dit verstuurt, ga je uit de rij voor de chat.").wait_for()
        # What the intake asked is known already.
        assert await form.get_by_role("radio", name="Ik ben een jongere (12 tot en met 17 jaar)").is_checked()
        # Back to the chat keeps the place in line and the draft.
        await form.get_by_role("button", name="Naar de chat").click()
        assert await page.locator(".vtw-input").input_value() == "nog niet verstuurd"
        await page.get_by_role("button", name="Liever teruggebeld worden?").click()

        await form.get_by_role("radio", name="ma 30 nov, 14:00–15:00").check()
        await form.get_by_label("Je telefoonnummer").fill("0612345678")
        await form.get_by_role("radio", name="Ja", exact=True).check()
        async with page.expect_response(is_booking) as got:
            await form.get_by_role("button", name="Verstuur").click()
        answer = await (await got.value).json()
        done = page.locator("[data-vtw=callback-done]")
        await done.wait_for()
        assert "Je staat niet meer in de rij voor de chat." in await done.inner_text()
        await agent.wait_for("queue", lambda q: conversation not in {w["conversation_id"] for w in q["waiting"]})
        assert answer["manage_token"] not in await page.content()
        assert await page.evaluate("localStorage.length") == 0
        assert answer["manage_token"] not in await page.evaluate("JSON.stringify(Object.values(sessionStorage))")
        await page.get_by_role("button", name="Klaar").click()
        await page.locator("[data-vtw=ended]").wait_for()
        assert await ctx.cookies() == [] and log.foreign() == []
    finally:
        if agent is not None:
            await agent.disconnect()
        await ctx.close()
        await server.stop()
