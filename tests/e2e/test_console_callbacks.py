"""The callbacks view of the console in a real browser: the day's work list per tijdvak with a
merged callback and a caller who must not get a voicemail, claim, attempts, the close form shared
with the chat, and the notice when a tijdvak starts (time moved by the test).

The server is this test's own, on a fresh database, with a clock the test sets: Monday
30 November 2026, 08:00 in Amsterdam. The bookings go through the public HTTP API."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from aiohttp import ClientSession
from playwright.async_api import expect

from contact.clock import ManualClock
from tests.e2e.conftest import screenshot_path
from tests.e2e.test_console import _login
from tests.support.server import RunningServer, add_agent, make_settings, migrated_sqlite

MONDAY_8 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # 08:00 in Amsterdam (UTC+1)
MONDAY_10 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
async def callback_server(tmp_path, neutral_site):
    url = await migrated_sqlite(str(tmp_path / "callbacks.db"))
    clock = ManualClock(MONDAY_8)
    settings = make_settings(url, quick_exit_url=neutral_site, callback_check_s=0.2, hash_key="k" * 32)
    server = await RunningServer(settings, clock).start()
    yield server
    await server.stop()


async def _book(base: str, **fields) -> None:
    body = {"kind": "terugbellen", "caller_type": "volwassene", "safe_to_leave_voicemail": True, **fields}
    async with ClientSession() as http, http.post(f"{base}/api/callbacks", json=body) as r:
        assert r.status == 201, await r.text()


def _fact(within, name: str):
    """The value of one fact (a dt/dd pair) of a request."""
    return within.locator(".cb-req-facts > div").filter(has=within.page.locator("dt", has_text=name)).locator("dd")


async def test_work_list_claim_attempts_finish_and_tijdvak_notice(callback_server, context):
    ctx, log = context
    server = callback_server
    # The same number twice (other names, other tijdvakken): one callback, in the earlier tijdvak.
    await _book(
        server.url,
        slot_start="2026-11-30T10:00:00+01:00",
        phone="06 12345678",
        name="Mo de Vries",
        topic="Ruzie bij de buren",
    )
    await _book(
        server.url,
        slot_start="2026-11-30T11:00:00+01:00",
        phone="0612345678",
        name="Fatima",
        topic="Zorgen om mijn zus",
    )
    await _book(
        server.url,
        slot_start="2026-11-30T12:00:00+01:00",
        phone="06 87654321",
        name="Kees Bakker",
        topic="Leerling met blauwe plekken",
        caller_type="professional",
        safe_to_leave_voicemail=False,
        email="kees@school.example",
        organisation="Basisschool De Linde",
    )
    advisor, password = await add_agent(server.settings.database_url, name="Anouk Terugbel")
    errors: list[str] = []
    page = await ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    await _login(page, server.url, advisor.username, password)

    # From the chat workspace to the callbacks view by keyboard; the socket stays connected.
    chats_tab = page.get_by_role("tab", name="Chats")
    await chats_tab.focus()
    await page.keyboard.press("ArrowRight")
    callbacks_tab = page.get_by_role("tab", name=re.compile("^Terugbellen"))
    await expect(callbacks_tab).to_have_attribute("aria-selected", "true")
    await expect(callbacks_tab).to_be_focused()
    view = page.get_by_role("tabpanel", name=re.compile("^Terugbellen"))
    await expect(view).to_be_visible()
    await expect(page.locator("#work-view")).to_be_hidden()
    date = view.get_by_label("Datum")
    await expect(date).to_have_value("2026-11-30")  # the server's today
    await expect(view.locator("#cb-day")).to_have_text("maandag 30 november 2026")
    await view.get_by_role("button", name="Volgende dag ›").click()
    await expect(date).to_have_value("2026-12-01")
    await expect(view.locator(".cb-card")).to_have_count(0)
    await date.fill("2026-11-30")
    await expect(view.locator(".cb-card")).to_have_count(2)
    await expect(page.locator("#conn")).to_have_text("Verbonden")

    # The merged callback: one number, "2 verzoeken", both callers with what they asked.
    ten = view.locator(
        'section.tv[data-kind="terugbellen"]', has=page.get_by_role("heading", name=re.compile("^10:00–11:00"))
    )
    await expect(ten.locator(".tv-places")).to_have_text("1 van 2 plaatsen geboekt")
    merged = ten.locator(".cb-card")
    # Found by id from here on: once ended, a card no longer shows its number (need to know).
    merged = view.locator(f'.cb-card[data-callback-id="{await merged.get_attribute("data-callback-id")}"]')
    await expect(merged.get_by_role("link", name="06 12345678")).to_have_attribute("href", "tel:0612345678")
    await expect(merged.locator(".badge-merged")).to_have_text("2 verzoeken")
    await expect(merged.locator(".cb-req-name")).to_have_text(["Mo de Vries", "Fatima"])
    await expect(merged.locator(".cb-req-topic")).to_have_text(["Ruzie bij de buren", "Zorgen om mijn zus"])
    await expect(merged.locator(".cb-req")).to_have_count(2)
    first, second = merged.locator(".cb-req").nth(0), merged.locator(".cb-req").nth(1)
    await expect(_fact(first, "Gekozen tijdvak")).to_have_text("10:00–11:00")
    await expect(_fact(second, "Gekozen tijdvak")).to_have_text("11:00–12:00")
    await expect(_fact(first, "Kenmerk")).to_have_text(re.compile(r"^VT-[2-9A-Z]{6}$"))
    await expect(_fact(second, "Apart aangevraagd op")).to_have_text("30 nov, 08:00")
    await expect(first.locator(".cb-req-calling-label")).to_have_text("Nu bellen voor dit verzoek")
    await expect(second.locator(".cb-req-calling-label")).to_have_count(0)
    await expect(merged.locator(".cb-novm")).to_have_count(0)
    await expect(merged.locator(".cb-status-text")).to_have_text("Open")

    # The other one: a professional who allowed no voicemail, and the warning cannot be missed.
    card = view.locator(".cb-card", has=page.get_by_role("link", name="06 87654321"))
    card = view.locator(f'.cb-card[data-callback-id="{await card.get_attribute("data-callback-id")}"]')
    warning = card.get_by_role("note")
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text("⚠ Geen voicemail inspreken")
    await expect(_fact(card, "E-mail")).to_have_text("kees@school.example")
    await expect(_fact(card, "Organisatie")).to_have_text("Basisschool De Linde")
    await expect(card.locator(".chip")).to_have_text("Professional")

    # Claim it; the claimer records attempts, but a voicemail is refused here.
    await card.get_by_role("button", name=re.compile("^Oppakken")).click()
    status = card.locator(".cb-status-text")
    await expect(status).to_have_text("Opgepakt door jou")
    no_answer = card.get_by_role("button", name="Geen gehoor")
    await expect(card.get_by_role("button", name="Bereikt")).to_be_focused()
    voicemail = card.get_by_role("button", name="Voicemail ingesproken")
    await expect(voicemail).to_be_disabled()
    await expect(voicemail).to_have_accessible_description(re.compile("Geen voicemail inspreken"))
    await no_answer.click()
    # Called at 08:00 for its 12:00 tijdvak: the next try is when the tijdvak starts.
    await expect(status).to_have_text("Opgepakt door jou · opnieuw proberen om 12:00")
    await expect(card.locator(".cb-msg")).to_have_text("Poging 1 vastgelegd: opnieuw proberen om 12:00.")
    await expect(card.locator(".cb-state")).to_contain_text("Pogingen: 1")
    await card.get_by_role("button", name="Bereikt").click()
    await expect(status).to_have_text("Bereikt · opgepakt door jou")
    finish = card.get_by_role("button", name="Afronden")
    await expect(finish).to_be_focused()

    # Afronden opens the chat's outcome form: a melding without gemeente is pointed out.
    await finish.click()
    dialog = page.get_by_role("dialog", name="Terugbelverzoek afronden")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Terugbellen naar 06 87654321")
    await dialog.get_by_role("radio", name="Melding").check()
    await dialog.get_by_label(re.compile("^Samenvatting")).fill("Leerkracht ziet blauwe plekken; melding gedaan")
    await dialog.get_by_label(re.compile("^Urgentie")).select_option("hoog")
    await dialog.get_by_role("button", name="Afronden").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("Vul nog in: gemeente.")
    gemeente = dialog.get_by_label(re.compile("^Gemeente"))
    await expect(gemeente).to_have_attribute("aria-invalid", "true")
    await expect(gemeente).to_be_focused()
    await gemeente.fill("Utrecht")
    await dialog.get_by_role("button", name="Afronden").click()
    await expect(dialog).to_be_hidden()
    await expect(status).to_have_text("Afgerond: melding")
    await expect(page.locator("#notice-text")).to_have_text(
        "Terugbelverzoek afgesloten als melding (urgentie hoog). Het staat in Dossiers."
    )
    await expect(card.get_by_role("button")).to_have_count(0)  # nothing left to do
    # Ended and handed off: the number, name and e-mail are no longer shown (need to know).
    await expect(card.locator(".cb-phone-hidden")).to_have_text("Afgerond: nummer en naam zijn niet meer zichtbaar")
    await expect(card.locator(".cb-req-name")).to_have_text(["(naam niet meer zichtbaar)"])
    await expect(card).not_to_contain_text("kees@school.example")
    await expect(merged.locator(".cb-status-text")).to_have_text("Open")

    # 10:00: the tijdvak with the merged callback starts, and every advisor online hears of it.
    server.clock.set(MONDAY_10)
    alerts = page.locator("#cb-alerts")
    await expect(alerts).to_be_visible()
    await expect(alerts.locator("li")).to_have_text(["Tijdvak 10:00–11:00 begint: 1 terugbelverzoek"])
    await expect(merged.locator(".cb-status-text")).to_have_text("Open")
    await view.get_by_label("Alleen tijdvakken met verzoeken").check()
    await expect(view.locator("section.tv")).to_have_count(2)
    await view.evaluate("v => v.scrollTo(0, 0)")
    await page.screenshot(path=screenshot_path("console-callbacks"))

    # Back to the chats: the notice stays on top, the view comes back as it was.
    await page.get_by_role("tab", name="Chats").click()
    await expect(page.locator("#work-view")).to_be_visible()
    await expect(alerts).to_be_visible()
    await alerts.get_by_role("button", name="Naar terugbellen").click()
    await expect(view).to_be_visible()
    await expect(view.get_by_role("heading", name="Terugbellen", exact=True)).to_be_focused()

    # The merged callback: what is recorded applies to the ticked requests, by default the one
    # being called; the other request stays open, on a card of its own in its own tijdvak.
    await merged.get_by_role("button", name=re.compile("^Oppakken")).click()
    picks = merged.get_by_role("checkbox")
    await expect(picks).to_have_count(2)
    await expect(picks.nth(0)).to_be_checked()
    await expect(picks.nth(1)).not_to_be_checked()
    await merged.get_by_role("button", name="Bereikt").click()
    await expect(merged.locator(".cb-status-text")).to_have_text("Bereikt · opgepakt door jou")
    await merged.get_by_role("button", name="Afronden").click()
    await expect(dialog.locator("#close-context")).to_have_text(
        re.compile(r"^Terugbellen naar 06 12345678 · Voor: VT-[2-9A-Z]{6}$")
    )
    await dialog.get_by_role("radio", name="Advies").check()
    await dialog.get_by_label(re.compile("^Samenvatting")).fill("Advies gegeven over ruzie bij de buren")
    await dialog.get_by_role("button", name="Afronden").click()
    await expect(dialog).to_be_hidden()
    await expect(merged.locator(".cb-status-text")).to_have_text("Afgerond: advies")
    await expect(merged.locator(".cb-req-name")).to_have_text(["(naam niet meer zichtbaar)"])
    eleven = view.locator(
        'section.tv[data-kind="terugbellen"]', has=page.get_by_role("heading", name=re.compile("^11:00–12:00"))
    )
    carried = eleven.locator(".cb-card")
    await expect(carried.locator(".cb-req-name")).to_have_text(["Fatima"])
    await expect(carried.locator(".cb-status-text")).to_have_text("Open")
    await expect(carried.locator(".cb-related li")).to_have_text(
        re.compile(r"^VT-[2-9A-Z]{6}: Afgerond: advies \(30 nov, 10:00\)$")
    )
    assert errors == []
    assert log.foreign() == []


async def test_admin_sets_places_sees_overdue_and_who_took_it(callback_server, context):
    ctx, log = context
    server = callback_server
    await _book(server.url, slot_start="2026-11-30T10:00:00+01:00", phone="06 11223344", name="Sara")
    db = server.settings.database_url
    # The roster is the admin's (a supervisor sees no places field: agent_console tests).
    boss, boss_pw = await add_agent(db, role="admin", name="Ada Admin")
    colleague, colleague_pw = await add_agent(db, name="Bram Collega")
    errors: list[str] = []
    page = await ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    await _login(page, server.url, boss.username, boss_pw)
    await page.get_by_role("tab", name=re.compile("^Terugbellen")).click()
    view = page.get_by_role("tabpanel", name=re.compile("^Terugbellen"))
    ten = view.locator(
        'section.tv[data-kind="terugbellen"]', has=page.get_by_role("heading", name=re.compile("^10:00"))
    )
    await expect(ten.locator(".tv-places")).to_have_text("1 van 2 plaatsen geboekt")

    # The roster: places per tijdvak, with the server's answer; nonsense is refused here.
    places = ten.get_by_label(re.compile("^Plaatsen"))
    await places.fill("-3")
    await ten.get_by_role("button", name="Opslaan").click()
    await expect(ten.locator(".tv-roster-msg")).to_have_text("Vul een aantal van 0 tot en met 1000 in.")
    await expect(places).to_have_attribute("aria-invalid", "true")
    await places.fill("5")
    await places.press("Enter")
    await expect(ten.locator(".tv-roster-msg")).to_have_text("Opgeslagen: 5 plaatsen, 1 geboekt, 4 vrij.")
    await expect(ten.locator(".tv-places")).to_have_text("1 van 5 plaatsen geboekt")
    await expect(ten.get_by_role("button", name="Opslaan")).to_be_focused()

    # A colleague claims it first: claiming here says so and then shows who has it.
    async with ClientSession() as http:
        async with http.post(
            f"{server.url}/api/agent/login", json={"username": colleague.username, "password": colleague_pw}
        ) as r:
            other = (await r.json())["token"]
        card = ten.locator(".cb-card")
        callback_id = await card.get_attribute("data-callback-id")
        async with http.post(
            f"{server.url}/api/agent/callbacks/{callback_id}/claim", headers={"Authorization": f"Bearer {other}"}
        ) as r:
            assert r.status == 200
    await card.get_by_role("button", name=re.compile("^Oppakken")).click()
    await expect(card.locator(".cb-msg")).to_have_text("Een collega heeft dit verzoek al opgepakt.")
    await expect(card.locator(".cb-status-text")).to_have_text("Opgepakt door Bram Collega")
    await expect(card.get_by_role("button", name="Afronden")).to_have_count(0)

    # 11:00: the tijdvak is over and the callback not handled: supervisors are told, and it is marked.
    server.clock.set(datetime(2026, 11, 30, 10, 0, 30, tzinfo=UTC))
    alerts = page.locator("#cb-alerts")
    await expect(alerts.locator("li")).to_have_text(
        ["Over tijd: terugbelverzoek uit tijdvak 10:00–11:00 (opgepakt door een collega)."]
    )
    await expect(card.locator(".badge-overdue")).to_have_text("Over tijd")
    await expect(ten).to_have_class(re.compile(r"\btv-overdue\b"))
    assert errors == []
    assert log.foreign() == []
