"""The booking page for professionals (/afspraak) and the manage page (/afspraak/beheer#token)
in real headless Chromium against the real server, under its Content-Security-Policy."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from contact.clock import ManualClock
from tests.e2e.conftest import RequestLog, screenshot_path
from tests.e2e.test_accessibility import violations
from tests.support.server import RunningServer, make_settings, migrated_sqlite


async def book_directly(server: RunningServer, slot_start: str) -> dict[str, Any]:
    """Someone else books through the API meanwhile."""
    body = {
        "kind": "adviesgesprek",
        "slot_start": slot_start,
        "phone": "030 1234567",
        "caller_type": "professional",
        "safe_to_leave_voicemail": True,
        "email": "jo@school.example",
        "organisation": "Basisschool De Linde",
    }
    async with ClientSession() as http:
        async with http.post(f"{server.url}/api/callbacks", json=body) as r:
            assert r.status == 201
            return await r.json()


async def booking_of(server: RunningServer, token: str) -> dict[str, Any]:
    async with ClientSession() as http:
        async with http.get(f"{server.url}/api/callbacks/{token}") as r:
            return await r.json()


async def test_book_manage_reschedule_and_cancel_an_adviesgesprek(tmp_path, browser):
    url = await migrated_sqlite(str(tmp_path / "afspraak.db"))
    clock = ManualClock(datetime(2026, 11, 30, 7, 0, tzinfo=UTC))  # Monday 08:00 in Amsterdam
    server = await RunningServer(make_settings(url, chat_hours="mon-fri 09:00-17:00"), clock).start()
    ctx = await browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900})
    log = RequestLog()
    log.attach(ctx)
    problems: list[str] = []  # CSP refusals and script errors (a 404 or 409 answer is no problem)
    ctx.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        page = await ctx.new_page()
        page.on("pageerror", lambda e: problems.append(str(e)))
        response = await page.goto(server.url + "/afspraak")
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"

        # 45-minute tijdvakken in Amsterdam time; the voicemail question must be answered.
        slot = page.get_by_role("radio", name="ma 30 nov, 10:30–11:15")
        await slot.wait_for()
        await slot.check()
        await page.get_by_label("Uw naam").fill("Jo de Vries")
        await page.get_by_label("E-mailadres").fill("jo@jeugdzorg.example")
        await page.get_by_label("Organisatie").fill("Jeugdzorg Utrecht")
        await page.get_by_label("Telefoonnummer").fill("030 7654321")
        await page.get_by_label("Waar wilt u over praten? (niet verplicht)").fill("Zorgen over een leerling")
        assert "geen namen van kinderen of cliënten" in await page.locator("#topic-hint").inner_text()
        await page.get_by_role("button", name="Afspraak maken").click()
        assert await page.locator("#voicemail-error").inner_text() == "Kies ‘Ja’ of ‘Nee’."
        assert await page.evaluate("document.activeElement.id") == "voicemail-yes"
        await page.get_by_role("radio", name="Nee").check()
        await page.get_by_role("button", name="Afspraak maken").click()

        done = page.locator("#done")
        await done.wait_for()
        reference = await page.locator("#done-reference").inner_text()
        assert re.fullmatch(r"VT-[2-9A-Z]{6}", reference)
        assert await page.locator("#done-when").inner_text() == "maandag 30 november, 10:30–11:15 uur"
        manage = await page.get_by_role("link", name="Afspraak bekijken, verzetten of afzeggen").get_attribute("href")
        assert manage is not None and manage.startswith("/afspraak/beheer#")
        token = manage.split("#", 1)[1]
        # The calendar file is fetched by a button: the token is in no link of the page.
        assert token not in await page.locator("#done-ics").evaluate("e => e.outerHTML")
        ics = f"/api/callbacks/{token}/calendar.ics"
        await page.screenshot(path=screenshot_path("afspraak"), full_page=True)

        # The manage link: the token leaves the address bar (and so the history) at once.
        await page.get_by_role("link", name="Afspraak bekijken, verzetten of afzeggen").click()
        details = page.locator("#details")
        await details.wait_for()
        assert page.url == server.url + "/afspraak/beheer"
        assert await page.evaluate("location.hash") == ""
        facts = await page.locator("#facts").inner_text()
        assert reference in facts and "maandag 30 november, 10:30–11:15 uur" in facts
        assert "Jeugdzorg Utrecht" in facts and "030 765 4321" in facts
        await page.screenshot(path=screenshot_path("afspraak-beheer"), full_page=True)
        # A reload of this tab still shows the booking (the token in this tab's sessionStorage),
        # and the address stays without it.
        await page.reload()
        await details.wait_for()
        assert reference in await page.locator("#facts").inner_text()
        assert page.url == server.url + "/afspraak/beheer" and token not in page.url

        # Reschedule to Tuesday 09:00.
        await page.get_by_role("button", name="Afspraak verzetten").click()
        await page.locator("#verzet-day").select_option(label="dinsdag 1 december")
        await page.get_by_role("radio", name="di 1 dec, 09:00–09:45").check()
        await page.get_by_role("button", name="Verzetten naar dit tijdvak").click()
        await page.get_by_text("Uw afspraak is verzet naar dinsdag 1 december, 09:00–09:45 uur.").wait_for()
        assert (await booking_of(server, token))["slot"]["start"] == "2026-12-01T08:00:00+00:00"

        # A tijdvak someone else takes while it is on screen: said so, and the old one stays.
        await page.get_by_role("button", name="Afspraak verzetten").click()
        await page.locator("#verzet-day").select_option(label="dinsdag 1 december")
        taken = page.get_by_role("radio", name="di 1 dec, 09:45–10:30")
        await taken.check()
        other = await book_directly(server, "2026-12-01T08:45:00+00:00")
        await page.get_by_role("button", name="Verzetten naar dit tijdvak").click()
        error = page.locator("#verzet-slot-error")
        await error.wait_for()
        assert (await error.inner_text()).startswith("Dit tijdvak is vol.")
        assert "Uw afspraak blijft op dinsdag 1 december, 09:00–09:45 uur." in await error.inner_text()
        assert await taken.count() == 0  # no longer offered
        assert (await booking_of(server, token))["slot"]["start"] == "2026-12-01T08:00:00+00:00"
        await page.get_by_role("button", name="Niet verzetten").click()

        # The calendar file of the new time, through the page's button: downloaded from a blob:
        # address, so neither the history nor the downloads list holds the token.
        async with page.expect_download() as download:
            await page.get_by_role("button", name="Zet in mijn agenda").click()
        got = await download.value
        assert got.url.startswith("blob:") and token not in got.url
        assert got.suggested_filename == "veilig-thuis-afspraak.ics"
        assert token not in page.url
        saved = await got.path()
        calendar = await asyncio.to_thread(Path(saved).read_text, encoding="utf-8")
        assert "BEGIN:VEVENT" in calendar and "20261201T" in calendar
        answer = await page.request.get(server.url + ics)
        assert answer.status == 200 and answer.headers["content-type"].startswith("text/calendar")

        # Cancel, after confirming.
        await page.get_by_role("button", name="Afspraak afzeggen").click()
        await page.get_by_role("button", name="Ja, afzeggen").click()
        await page.get_by_text("Uw afspraak is afgezegd.").wait_for()
        assert await details.is_hidden()
        # Cancelled: this tab forgets the token; a reload shows nothing of the booking.
        assert await page.evaluate("sessionStorage.length") == 0
        await page.reload()
        await page.locator("#problem").wait_for()
        assert reference not in await page.locator("main").inner_text()

        # The same link now: the server's not_found, and nothing else.
        again = await ctx.new_page()
        await again.goto(server.url + manage)
        problem = again.locator("#problem")
        await problem.wait_for()
        assert await problem.inner_text() == "Dat hebben we niet gevonden."
        assert await again.locator("#details").is_hidden()
        assert reference not in await again.locator("main").inner_text()
        assert again.url == server.url + "/afspraak/beheer"
        assert await again.evaluate("sessionStorage.length") == 0  # not_found: forgotten

        assert problems == []
        assert await ctx.cookies() == [] and log.foreign() == []

        # WCAG 2.1 A/AA (axe is injected inline: CSP bypassed for this check only).
        checked = await browser.new_context(bypass_csp=True, locale="nl-NL")
        try:
            a = await checked.new_page()
            await a.goto(server.url + "/afspraak")
            await a.get_by_role("radio").first.wait_for()
            await a.get_by_role("button", name="Afspraak maken").click()  # with the errors shown
            await a.locator("#phone-error").wait_for()
            assert await violations(a) == []
            await a.set_viewport_size({"width": 320, "height": 640})
            assert await a.evaluate("document.documentElement.scrollWidth") <= 320
            assert await violations(a) == []
            await a.goto(f"{server.url}/afspraak/beheer#{other['manage_token']}")
            await a.locator("#details").wait_for()
            await a.get_by_role("button", name="Afspraak verzetten").click()
            await a.get_by_role("radio").first.wait_for()
            assert await violations(a) == []
        finally:
            await checked.close()

        # Once its own tijdvak has started it cannot be changed: said so, the booking stays on
        # screen; once it has passed, the page says we still try to call.
        clock.set(datetime(2026, 12, 1, 8, 50, tzinfo=UTC))  # 09:50, in the 09:45–10:30 tijdvak
        late = await ctx.new_page()
        await late.goto(f"{server.url}/afspraak/beheer#{other['manage_token']}")
        await late.locator("#details").wait_for()
        await late.get_by_role("button", name="Afspraak afzeggen").click()
        await late.get_by_role("button", name="Ja, afzeggen").click()
        await late.get_by_text("Je tijdvak is al begonnen of voorbij.", exact=False).wait_for()
        assert "0800-2000" in await late.locator("#notice").inner_text()
        assert await late.locator("#details").is_visible()
        assert (await booking_of(server, other["manage_token"]))["status"] == "open"
        clock.set(datetime(2026, 12, 1, 9, 31, tzinfo=UTC))  # 10:31: the tijdvak is over
        await late.goto(server.url + "/afspraak")
        await late.goto(f"{server.url}/afspraak/beheer#{other['manage_token']}")
        await late.locator("#details").wait_for()
        assert (await late.locator("#notice").inner_text()).startswith("Uw tijdvak is voorbij.")
        assert await late.locator("#actions").is_hidden()
        assert problems == []
    finally:
        await ctx.close()
        await server.stop()
