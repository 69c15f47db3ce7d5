"""The crisis procedure and the transfer in two real consoles: an advisor escalates, the crisis
agent's console alarms until they take it on, and the advisor then transfers the chat to them.

The visitor is a python-socketio client (fast); the two agents each have their own browser profile."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.e2e.conftest import RequestLog, screenshot_path
from tests.e2e.test_console import _login
from tests.support.server import add_agent, agent_client, login, start_payload, visitor

REASON = "Vader dreigt met een mes; jongere zit opgesloten in de badkamer"


async def test_escalate_alarm_acknowledge_and_transfer_to_the_crisis_agent(browser, web_server, context):
    advisor_ctx, advisor_log = context
    crisis_ctx = await browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
    crisis_log = RequestLog()
    crisis_log.attach(crisis_ctx)
    db = web_server.settings.database_url
    advisor, advisor_pw = await add_agent(db, teams=("jeugd",), name="Sanne van Escalatie")
    crisis, crisis_pw = await add_agent(db, role="crisis", teams=("crisis",), name="Cor Crisisdienst")
    errors: list[str] = []
    v = None
    try:
        page = await advisor_ctx.new_page()
        desk = await crisis_ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        desk.on("pageerror", lambda e: errors.append(str(e)))
        await _login(page, web_server.url, advisor.username, advisor_pw)
        await _login(desk, web_server.url, crisis.username, crisis_pw)

        v = await visitor(web_server.url)
        cid = (await v.call("start", start_payload(topic="Ruzie thuis")))["conversation_id"]
        card = page.locator(f'.q-item[data-conversation-id="{cid}"]')
        await card.get_by_role("button", name=re.compile("^Aannemen")).click()
        await v.wait_for("assigned")
        panel = page.locator(f'.conv[data-conversation-id="{cid}"]')
        await expect(panel).to_be_visible()
        await expect(panel.locator(".conv-crisis")).to_be_hidden()

        # Escalating asks for the reason in a dialog; without one nothing is sent.
        await panel.get_by_role("button", name="Escaleer naar crisisdienst").click()
        dialog = page.get_by_role("dialog", name="Escaleren naar de crisisdienst")
        await expect(dialog).to_be_visible()
        await dialog.get_by_role("button", name="Crisisdienst alarmeren").click()
        await expect(dialog.get_by_role("alert")).to_have_text("Vul de reden in.")
        reason_box = dialog.get_by_label(re.compile("^Reden"))
        await expect(reason_box).to_have_attribute("aria-invalid", "true")
        assert "crisis" not in v.events
        await reason_box.fill(REASON)
        await dialog.get_by_role("button", name="Crisisdienst alarmeren").click()
        await expect(dialog).to_be_hidden()
        status = panel.locator(".conv-crisis-status")
        await expect(status).to_have_text("Crisisdienst gealarmeerd. Je ziet hier wanneer iemand het oppakt.")
        await expect(page.locator(f'.tab[data-conversation-id="{cid}"] .badge-crisis')).to_have_text("Crisis")
        told = await v.wait_for("crisis")
        assert told["phone"] == "112"

        # The crisis console cannot miss it: a red alert with the reason and who escalated.
        alarm = desk.locator("#crisis-alerts")
        alert = alarm.locator(f'.crisis-item[data-conversation-id="{cid}"]')
        await expect(alert.locator(".crisis-reason")).to_have_text(REASON)
        await expect(alert).to_contain_text("Geëscaleerd door Sanne van Escalatie")
        await expect(alert).to_contain_text("in gesprek bij een collega")
        await expect(alarm).to_have_attribute("role", "alert")
        await expect(alarm.get_by_role("heading")).to_have_text("Crisis — direct oppakken")
        await desk.screenshot(path=screenshot_path("console-crisis-alert"))

        # Taking it on ends the alarm there; the chat stays with the advisor, who is told.
        await alert.get_by_role("button", name="Ik pak dit op").click()
        await expect(alert).to_have_count(0)
        await expect(desk.locator("#notice-text")).to_contain_text("Je hebt de crisis opgepakt.")
        await expect(status).to_contain_text(re.compile(r"^Opgepakt door Cor Crisisdienst om \d\d:\d\d\.$"))
        timeline = panel.locator(".conv-crisis-timeline li")
        await expect(timeline).to_have_count(3)
        await expect(timeline.nth(0)).to_contain_text(f"Geëscaleerd door Sanne van Escalatie: {REASON}")
        await expect(timeline.nth(1)).to_contain_text("Alarm ronde 1 naar de crisisdienst")
        await expect(timeline.nth(2)).to_contain_text("Opgepakt door Cor Crisisdienst")

        # Transfer to the crisis agent by name: online colleagues first, oneself not offered.
        await panel.get_by_role("button", name="Doorverbinden").click()
        transfer = page.get_by_role("dialog", name="Doorverbinden")
        await expect(transfer).to_be_visible()
        await transfer.get_by_role("radio", name="Een collega").check()
        colleague = transfer.get_by_label("Collega", exact=True)
        wanted = "Cor Crisisdienst (Crisisdienst) — online"  # the team's name from the routing file
        await expect(colleague.locator("optgroup[label=Online] option", has_text=wanted)).to_have_count(1)
        assert "Sanne van Escalatie" not in await colleague.inner_text()
        await transfer.get_by_role("button", name="Doorverbinden").click()
        await expect(transfer.get_by_role("alert")).to_have_text("Kies een collega.")
        await colleague.select_option(label=wanted)
        await transfer.get_by_role("button", name="Doorverbinden").click()
        await expect(transfer).to_be_hidden()
        await expect(panel).to_have_count(0)
        await expect(page.locator(f'.tab[data-conversation-id="{cid}"]')).to_have_count(0)
        await expect(page.locator("#notice-text")).to_have_text("Gesprek doorverbonden naar Cor Crisisdienst.")

        # It opens in the crisis console, with its crisis timeline, and the chat goes on there.
        desk_panel = desk.locator(f'.conv[data-conversation-id="{cid}"]')
        await expect(desk_panel).to_be_visible()
        await expect(desk_panel.locator(".conv-banner")).to_have_text("Doorverbonden door Sanne van Escalatie.")
        await expect(desk_panel.locator(".conv-crisis-timeline li")).to_have_count(3)
        await v.call("message", {"client_id": "v-1", "text": "Hallo? Ik durf niet naar buiten."})
        await expect(desk_panel.locator(".msg-visitor .text")).to_have_text(["Hallo? Ik durf niet naar buiten."])
        assert errors == []
        assert advisor_log.foreign() == [] and crisis_log.foreign() == []
    finally:
        if v is not None:
            await v.disconnect()
        await crisis_ctx.close()


async def test_the_crisis_worker_reads_along_and_takes_over_with_the_holders_consent(browser, web_server, context):
    """'Ik pak dit op' on a chat a colleague holds opens it read-only and live; 'Neem over' asks
    the holder, who hands it over: the crisis worker can write, the visitor sees a new name."""
    desk_ctx, desk_log = context
    db = web_server.settings.database_url
    holder_id, holder_pw = await add_agent(db, teams=("jeugd",), name="Anouk Houder")
    crisis, crisis_pw = await add_agent(db, role="crisis", teams=("crisis",), name="Carla Crisisdienst")
    errors: list[str] = []
    holder = v = None
    try:
        desk = await desk_ctx.new_page()
        desk.on("pageerror", lambda e: errors.append(str(e)))
        await _login(desk, web_server.url, crisis.username, crisis_pw)
        holder = await agent_client(web_server.url, await login(web_server.url, holder_id.username, holder_pw))
        v = await visitor(web_server.url)
        cid = (await v.call("start", start_payload(topic="Ruzie thuis")))["conversation_id"]
        await holder.call("accept", {"conversation_id": cid})
        await holder.call("escalate", {"conversation_id": cid, "reason": "Moeder wordt bedreigd"})

        alert = desk.locator(f'.crisis-item[data-conversation-id="{cid}"]')
        await alert.get_by_role("button", name="Ik pak dit op").click()
        panel = desk.locator(f'.conv[data-conversation-id="{cid}"]')
        await expect(panel).to_be_visible()
        await expect(panel.locator(".conv-meta")).to_contain_text("Je leest mee")
        await expect(panel.locator(".composer")).to_be_hidden()
        await holder.wait_for("reader", lambda d: d["conversation_id"] == cid)
        await v.call("message", {"client_id": "v1", "text": "Hij slaat de deur in"})
        await expect(panel.locator(".msg-visitor .text")).to_have_text(["Hij slaat de deur in"])

        await panel.get_by_role("button", name="Neem over").click()
        await expect(panel.get_by_role("button", name="Gevraagd aan de collega…")).to_be_disabled()
        await holder.wait_for("take_over_request", lambda d: d["conversation_id"] == cid)
        await holder.call("take_over_answer", {"conversation_id": cid, "accept": True})
        await v.wait_for("assigned", lambda a: a["agent"]["name"] == "Carla")
        await expect(panel.locator(".composer")).to_be_visible()
        await expect(panel.get_by_role("button", name="Gesprek afsluiten")).to_be_visible()
        box = panel.get_by_label("Bericht aan de bezoeker")
        await box.fill("Met Carla van de crisisdienst. Bel nu 112.")
        await box.press("Enter")
        told = await v.wait_for("message", lambda m: m.get("sender") == "agent")
        assert told["name"] == "Carla"
        assert errors == []
        assert desk_log.foreign() == []
    finally:
        for c in (holder, v):
            if c is not None:
                await c.disconnect()
