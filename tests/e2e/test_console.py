"""The advisors' console in a real browser against the real server.

The visitor side is driven by a python-socketio client (tests.support.server.visitor) in the
main tests, and by the real widget page in one test."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.e2e.conftest import RequestLog, screenshot_path
from tests.support.server import (
    TOTP_SECRETS,
    RunningServer,
    add_agent,
    make_settings,
    migrated_sqlite,
    start_payload,
    totp_code,
    visitor,
)


async def _login(page, base_url: str, username: str, password: str) -> None:
    """Logs in as a person would: with the second factor when the server asks for it (enrolled
    in the page the first time: the secret read off it, the recovery codes put away)."""
    await page.goto(base_url + "/console")
    form = page.locator("#login-form")
    await form.get_by_label("Gebruikersnaam").fill(username)
    await form.get_by_label("Wachtwoord").fill(password)
    await form.get_by_role("button", name="Inloggen").click()
    connected, enrol, factor = page.locator("#conn"), page.locator("#login-enrol"), page.locator("#login-factor")
    await expect(page.locator("#session-bar:visible, #login-enrol:visible, #login-factor:visible")).to_have_count(1)
    if await enrol.is_visible():
        TOTP_SECRETS[username] = (await page.locator("#enrol-secret").text_content() or "").strip()
        await enrol.get_by_label("Code uit je authenticator-app").fill(await totp_code(base_url, username))
        await form.get_by_role("button", name="Bevestigen").click()
        await page.get_by_role("button", name="Ik heb ze bewaard").click()
    elif await factor.is_visible():
        await factor.get_by_label("Code uit je authenticator-app").fill(await totp_code(base_url, username))
        await form.get_by_role("button", name="Inloggen").click()
    await expect(connected).to_have_text("Verbonden")


def _all_texts(events: dict) -> str:
    return repr(dict(events))


async def test_advisor_chats_with_visitor_notes_and_closes(web_server, context):
    ctx, log = context
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.set_viewport_size({"width": 1440, "height": 900})
    identity, password = await add_agent(web_server.settings.database_url, name="Sanne de Vries")

    # A wrong password shows the server's Dutch message; the right one logs in.
    await page.goto(web_server.url + "/console")
    form = page.locator("#login-form")
    await form.get_by_label("Gebruikersnaam").fill(identity.username)
    await form.get_by_label("Wachtwoord").fill("fout-wachtwoord")
    await form.get_by_role("button", name="Inloggen").click()
    await expect(page.locator("#login-error")).to_contain_text("klopt niet")
    await form.get_by_label("Wachtwoord").fill(password)
    await form.get_by_role("button", name="Inloggen").click()
    await expect(page.locator("#conn")).to_have_text("Verbonden")
    assert await page.evaluate("sessionStorage.getItem('vt.console.token') !== null")
    assert await page.evaluate("localStorage.length") == 0

    # Visitors appear in the queue live; danger_now stands out.
    v = await visitor(web_server.url)
    other = await visitor(web_server.url)
    try:
        ack = await v.call("start", start_payload(topic="Ruzie thuis, wil advies"))
        cid = ack["conversation_id"]
        danger = await other.call("start", start_payload(caller_type="kind", intent="weet_niet", danger_now=True))
        item = page.locator(f'.q-item[data-conversation-id="{cid}"]')
        await expect(item).to_contain_text("Jongere")
        await expect(item.locator(".q-wait")).to_contain_text(re.compile(r"wacht \d+:\d\d"))
        danger_item = page.locator(f'.q-item[data-conversation-id="{danger["conversation_id"]}"]')
        await expect(danger_item.locator(".badge-danger")).to_have_text("⚠ Direct gevaar")

        await item.get_by_role("button", name=re.compile("^Aannemen")).click()
        await v.wait_for("assigned")
        await expect(item).to_have_count(0)
        panel = page.locator(f'.conv[data-conversation-id="{cid}"]')
        await expect(panel).to_be_visible()

        # Visitor → advisor (rendered as text, never as HTML), typing both ways.
        await v.call("message", {"client_id": "v-1", "text": "Hallo, mijn ouders maken steeds ruzie."})
        await v.call("message", {"client_id": "v-2", "text": "<b>is dit</b> normaal?"})
        visitor_texts = panel.locator(".msg-visitor .text")
        await expect(visitor_texts).to_have_text(["Hallo, mijn ouders maken steeds ruzie.", "<b>is dit</b> normaal?"])
        assert await panel.locator(".log b").count() == 0
        await v.call("typing", {"typing": True})
        await expect(panel.locator(".typing")).to_have_text("De bezoeker typt…")

        box = panel.get_by_label("Bericht aan de bezoeker")
        await box.press_sequentially("Fijn dat je ons ")
        await v.wait_for("typing", lambda d: d["typing"] is True)
        await box.press_sequentially("schrijft. Wil je vertellen wat er gebeurt?")
        await box.press("Enter")
        reply = await v.wait_for("message", lambda m: m["sender"] == "agent")
        assert reply["text"] == "Fijn dat je ons schrijft. Wil je vertellen wat er gebeurt?"
        await expect(panel.locator(f'.msg-agent[data-seq="{reply["seq"]}"] .text')).to_have_text(reply["text"])
        await expect(box).to_have_value("")

        # An internal note: visibly internal, never sent to the visitor.
        await panel.get_by_text("Interne notitie", exact=True).click()
        note_box = panel.get_by_role("textbox", name="Interne notitie")
        await note_box.fill("Signalen van huiselijk geweld; vraag naar veiligheid.")
        await panel.get_by_role("button", name="Notitie opslaan").click()
        note = panel.locator(".note")
        await expect(note).to_contain_text("Interne notitie — niet zichtbaar voor de bezoeker")
        await expect(note).to_contain_text("Signalen van huiselijk geweld")
        await panel.get_by_text("Bericht aan bezoeker", exact=True).click()
        await v.call("message", {"client_id": "v-3", "text": "Ze schreeuwen elke avond. Ik ben bang."})
        await expect(visitor_texts).to_have_count(3)
        await box.fill("Dank je dat je dit vertelt. Ben je nu veilig?")
        await box.press("Enter")
        await v.wait_for("message", lambda m: m["text"].startswith("Dank je"))
        await page.wait_for_timeout(300)
        await page.screenshot(path=screenshot_path("console"))

        # A second conversation in its own tab; news in the other tab counts as unread. It is in
        # danger, so for this advisor (also in the crisis team) it is one control: the alarm.
        await expect(danger_item).to_contain_text("Staat in het crisisalarm hierboven")
        alarm = page.locator(f'.crisis-item[data-conversation-id="{danger["conversation_id"]}"]')
        await alarm.get_by_role("button", name="Ik pak dit op").click()
        await other.wait_for("assigned")
        await expect(panel).to_be_hidden()
        first_tab = page.locator(f'.tab[data-conversation-id="{cid}"]')
        await v.call("message", {"client_id": "v-4", "text": "Hallo? Ben je er nog?"})
        await expect(first_tab.locator(".unread")).to_have_text("1")
        await first_tab.focus()
        await page.keyboard.press("Enter")
        await expect(panel).to_be_visible()
        await expect(first_tab.locator(".unread")).to_have_count(0)
        await expect(visitor_texts).to_have_count(4)

        # Closing: a melding without gemeente is refused, then closed properly.
        await panel.get_by_role("button", name="Gesprek afsluiten").click()
        dialog = page.locator("#close-dialog")
        await dialog.get_by_role("radio", name="Melding").check()
        await dialog.get_by_label(re.compile("^Samenvatting")).fill("Jongere meldt dagelijkse ruzies tussen ouders.")
        await dialog.get_by_label(re.compile("^Urgentie")).select_option("hoog")
        await dialog.get_by_role("button", name="Afsluiten").click()
        await expect(page.locator("#close-error")).to_contain_text("gemeente")
        await expect(dialog.get_by_label(re.compile("^Gemeente"))).to_have_attribute("aria-invalid", "true")
        assert "closed" not in v.events
        await dialog.get_by_label(re.compile("^Gemeente")).fill("Utrecht")
        # The expertise of the routing file (not a list of the console's own).
        await dialog.get_by_label("Huiselijk geweld en kindermishandeling", exact=True).check()
        await dialog.get_by_role("button", name="Afsluiten").click()
        closed = await v.wait_for("closed")
        assert closed == {"reason": "agent_closed", "outcome": "melding"}
        await expect(panel).to_have_count(0)
        await expect(dialog).not_to_be_visible()
        # What was recorded is confirmed in the notice, a live region (read out by screen readers).
        notice = page.locator("#notice-text")
        await expect(notice).to_have_text("Gesprek afgesloten als melding (urgentie hoog). Het staat in Dossiers.")
        await expect(notice).to_have_attribute("role", "status")
        await page.get_by_role("button", name="Bericht wegklikken").click()
        await expect(page.locator("#notice")).to_be_hidden()

        assert "Signalen van huiselijk geweld" not in _all_texts(v.events)
        assert "note" not in v.events

        # Logging out asks first, then forgets the token and the drafts.
        await page.get_by_role("button", name="Uitloggen").click()
        await page.locator("#logout-dialog").get_by_role("button", name="Uitloggen").click()
        await expect(page.locator("#login-form")).to_be_visible()
        assert await page.evaluate("sessionStorage.length") == 0
        assert errors == []
    finally:
        await other.call("leave", {})
        await other.disconnect()
        await v.disconnect()
    assert log.foreign() == []


async def test_console_survives_server_restart_without_losing_messages_or_draft(browser, tmp_path):
    url = await migrated_sqlite(str(tmp_path / "restart.db"))
    server = await RunningServer(make_settings(url)).start()
    ctx = await browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
    log = RequestLog()
    log.attach(ctx)
    v = None
    try:
        identity, password = await add_agent(url)
        page = await ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await _login(page, server.url, identity.username, password)
        v = await visitor(server.url)
        ack = await v.call("start", start_payload())
        cid, resume_token = ack["conversation_id"], ack["resume_token"]
        await page.locator(f'.q-item[data-conversation-id="{cid}"] .q-accept').click()
        panel = page.locator(f'.conv[data-conversation-id="{cid}"]')
        box = panel.get_by_label("Bericht aan de bezoeker")
        await v.call("message", {"client_id": "v-1", "text": "Eerste bericht"})
        await box.fill("Antwoord één")
        await box.press("Enter")
        await v.wait_for("message", lambda m: m["text"] == "Antwoord één")

        # The server goes away; the advisor sends one message and types a draft meanwhile.
        await v.disconnect()
        await server.stop()
        await expect(page.locator("#conn")).to_contain_text("erbinding")
        await box.fill("Verzonden tijdens de storing")
        await box.press("Enter")
        await expect(panel.locator(".msg-pending")).to_have_count(1)
        await box.fill("Een concept dat niet verloren mag gaan")
        await server.start()
        await expect(page.locator("#conn")).to_have_text("Verbonden", timeout=15_000)
        await expect(panel.locator(".msg-pending")).to_have_count(0)

        v = await visitor(server.url)
        resumed = await v.call("resume", {"resume_token": resume_token, "after_seq": 0})
        texts = [m["text"] for m in resumed["messages"]]
        assert texts == ["Eerste bericht", "Antwoord één", "Verzonden tijdens de storing"]
        await v.call("message", {"client_id": "v-2", "text": "Na de herstart"})
        await v.call("message", {"client_id": "v-2", "text": "Na de herstart"})  # a retry: stored once

        all_texts = panel.locator(".log .text")
        await expect(all_texts).to_have_text(
            ["Eerste bericht", "Antwoord één", "Verzonden tijdens de storing", "Na de herstart"]
        )
        seqs = await panel.locator(".log [data-seq]").evaluate_all("els => els.map(e => Number(e.dataset.seq))")
        assert seqs == [1, 2, 3, 4]
        await expect(box).to_have_value("Een concept dat niet verloren mag gaan")
        drafts = await page.evaluate("JSON.parse(sessionStorage.getItem('vt.console.drafts'))")
        assert drafts[cid]["message"] == "Een concept dat niet verloren mag gaan"

        # Reopened with a token the server refuses: log in again in a dialog; the history
        # comes back from the server and the draft from sessionStorage.
        await page.evaluate("sessionStorage.setItem('vt.console.token', JSON.stringify('verlopen'))")
        await page.reload()
        relogin = page.locator("#relogin-dialog")
        await expect(relogin).to_be_visible()
        await expect(relogin.get_by_label("Gebruikersnaam")).to_have_value(identity.username)
        await relogin.get_by_label("Wachtwoord").fill(password)
        await relogin.get_by_role("button", name="Inloggen").click()
        await expect(relogin).not_to_be_visible()
        await expect(page.locator("#conn")).to_have_text("Verbonden")
        await expect(all_texts).to_have_text(
            ["Eerste bericht", "Antwoord één", "Verzonden tijdens de storing", "Na de herstart"]
        )
        await expect(box).to_have_value("Een concept dat niet verloren mag gaan")
        assert errors == []
        assert log.foreign() == []
    finally:
        if v is not None:
            await v.disconnect()
        await ctx.close()
        await server.stop()


async def test_widget_and_console_in_two_browser_contexts(browser, tmp_path, neutral_site):
    """The real widget (one browser profile) and the real console (another) talk to each other."""
    url = await migrated_sqlite(str(tmp_path / "two.db"))
    server = await RunningServer(make_settings(url, quick_exit_url=neutral_site)).start()
    visitor_ctx = await browser.new_context(locale="nl-NL", viewport={"width": 1000, "height": 800})
    advisor_ctx = await browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
    logs = (RequestLog(), RequestLog())
    logs[0].attach(visitor_ctx)
    logs[1].attach(advisor_ctx)
    try:
        identity, password = await add_agent(url, teams=("volwassenen",), name="Sanne de Vries")
        console = await advisor_ctx.new_page()
        await _login(console, server.url, identity.username, password)

        widget = await visitor_ctx.new_page()
        await widget.goto(server.url + "/")
        await widget.get_by_role("button", name="Chat met Veilig Thuis").click()
        await widget.get_by_role("button", name="Ik ben een volwassene").click()
        await widget.get_by_role("button", name="Ik wil iets melden").click()
        await widget.get_by_role("button", name="Overslaan").click()
        await widget.get_by_role("button", name="Nee", exact=True).click()
        await widget.locator("[data-vtw=queue]").wait_for()

        item = console.locator(".q-item")
        await expect(item).to_have_count(1)
        await expect(item).to_contain_text("Volwassene")
        await expect(item).to_contain_text("Melding")
        await item.get_by_role("button", name=re.compile("^Aannemen")).click()
        await widget.get_by_text("Je praat nu met Sanne.").wait_for()

        await widget.locator(".vtw-input").fill("Mijn buurvrouw wordt steeds geslagen.")
        await widget.locator(".vtw-input").press("Enter")
        panel = console.locator(".conv:not([hidden])")
        await expect(panel.locator(".msg-visitor .text")).to_have_text(["Mijn buurvrouw wordt steeds geslagen."])

        box = panel.get_by_label("Bericht aan de bezoeker")
        await box.fill("Wat goed dat je dit meldt. Weet je in welke gemeente ze woont?")
        await box.press("Enter")
        await widget.get_by_text("Wat goed dat je dit meldt.", exact=False).wait_for()

        await panel.get_by_text("Interne notitie", exact=True).click()
        await panel.get_by_role("textbox", name="Interne notitie").fill("Melder is buurvrouw; geen direct gevaar.")
        await panel.get_by_role("button", name="Notitie opslaan").click()
        await expect(panel.locator(".note")).to_contain_text("Melder is buurvrouw")

        await panel.get_by_role("button", name="Gesprek afsluiten").click()
        dialog = console.locator("#close-dialog")
        await dialog.get_by_role("radio", name="Advies").check()
        await dialog.get_by_label(re.compile("^Samenvatting")).fill("Buurvrouw; advies gegeven over melden.")
        await dialog.get_by_role("button", name="Afsluiten").click()
        await widget.get_by_text("Het gesprek is afgelopen.").wait_for()
        assert "Melder is buurvrouw" not in await widget.content()
        assert await visitor_ctx.cookies() == [] and await advisor_ctx.cookies() == []
        assert logs[0].foreign() == [] and logs[1].foreign() == []
    finally:
        await visitor_ctx.close()
        await advisor_ctx.close()
        await server.stop()
