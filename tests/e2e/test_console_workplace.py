"""The workplace in a real console (issue 17): a supervisor opens Overzicht, reads a chat along
while the advisor and the visitor write, and whispers to the advisor only; a supervisor takes a
chat over and the visitor, in the real widget, sees the new name; an advisor on a break
or in nawerk gets no push offer, and does again once back. The advisors and visitors besides the browser are
python-socketio clients."""

from __future__ import annotations

import re

from playwright.async_api import expect
from sqlalchemy import select

from contact.db import Database
from contact.store import audit_events
from tests.e2e.conftest import screenshot_path
from tests.e2e.test_console import _login
from tests.e2e.test_console_push import push_server  # noqa: F401  (the fixture: jeugd in push mode)
from tests.e2e.test_widget import answer_intake, assert_private, new_waiting, open_widget
from tests.support.server import add_agent, agent_client, login, start_payload, visitor


async def test_supervisor_reads_along_and_whispers_while_an_advisor_chats(web_server, context):
    ctx, log = context
    db = web_server.settings.database_url
    boss, boss_pw = await add_agent(db, role="supervisor", teams=(), name="Sanne Leiding")
    holder, holder_pw = await add_agent(db, teams=("volwassenen",), name="Anouk Visser")
    errors: list[str] = []
    page = await ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    advisor = await agent_client(web_server.url, await login(web_server.url, holder.username, holder_pw))
    v = await visitor(web_server.url)
    try:
        cid = (await v.call("start", start_payload(caller_type="volwassene", topic=None)))["conversation_id"]
        await advisor.call("accept", {"conversation_id": cid})
        await v.call("message", {"client_id": "1", "text": "Mijn man is vanavond weer boos"})

        await _login(page, web_server.url, boss.username, boss_pw)
        tab = page.get_by_role("tab", name="Overzicht")
        await tab.click()
        board = page.locator("#board-view")
        await expect(board).to_be_visible()
        row = board.locator("#bd-conversations tr").filter(has_text="Anouk Visser")
        await expect(row).to_contain_text("In gesprek")
        await expect(board).not_to_contain_text("vanavond weer boos")  # no message text on the board
        await page.screenshot(path=screenshot_path("console-board"))
        await row.get_by_role("button", name="Meelezen").click()

        pane = page.locator(f'.conv[data-conversation-id="{cid}"]')
        await expect(pane).to_be_visible()
        await expect(pane.locator(".log")).to_contain_text("Mijn man is vanavond weer boos")
        await expect(pane.locator(".composer")).to_be_hidden()  # read-only
        reader = await advisor.wait_for("reader", lambda d: d["conversation_id"] == cid)
        assert reader["by_name"] == "Sanne Leiding"
        # Live: both sides' next messages appear.
        await advisor.call("message", {"conversation_id": cid, "client_id": "a1", "text": "Ben je nu veilig?"})
        await v.call("message", {"client_id": "2", "text": "Ja, hij slaapt"})
        await expect(pane.locator(".log")).to_contain_text("Ben je nu veilig?")
        await expect(pane.locator(".log")).to_contain_text("Ja, hij slaapt")

        box = pane.get_by_label("Fluisteren (alleen de adviseur ziet dit)")
        await box.fill("Vraag of er kinderen thuis zijn.")
        await pane.get_by_role("button", name="Fluisteren").click()
        whisper = await advisor.wait_for("whisper", lambda w: w["conversation_id"] == cid)
        assert whisper["text"] == "Vraag of er kinderen thuis zijn." and whisper["from"] == {"name": "Sanne Leiding"}
        await expect(pane.locator(".item.whisper")).to_contain_text("Vraag of er kinderen thuis zijn.")
        await expect(box).to_have_value("")
        await page.screenshot(path=screenshot_path("console-read-along"))
        assert "kinderen" not in repr(dict(v.events))
        await expect(pane.get_by_role("button", name="Neem over")).to_be_visible()

        # Closing the tab stops reading along; the holder is told.
        await pane.get_by_role("button", name="Tabblad sluiten").click()
        await advisor.wait_for("read_along_stopped", lambda d: d["conversation_id"] == cid)
        assert errors == []
        assert log.foreign() == []
    finally:
        await v.disconnect()
        await advisor.disconnect()


async def test_supervisor_takes_over_and_the_visitor_in_the_widget_sees_the_new_name(web_server, browser, context):
    ctx, log = context
    db = web_server.settings.database_url
    boss, boss_pw = await add_agent(db, role="supervisor", teams=(), name="Mira Meester")
    holder, holder_pw = await add_agent(db, teams=("volwassenen",), name="Bart Houder")
    errors: list[str] = []
    console = await ctx.new_page()
    console.on("pageerror", lambda e: errors.append(str(e)))
    # The visitor's own browser profile: nothing of the console's login may reach it.
    widget_ctx = await browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
    widget_ctx.on("request", lambda r: log.urls.append(r.url))
    holder_ctx = await browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
    advisor = await agent_client(web_server.url, await login(web_server.url, holder.username, holder_pw))
    try:
        known = {w["conversation_id"] for w in (await advisor.wait_for("queue"))["waiting"]}
        widget = await widget_ctx.new_page()
        widget.on("pageerror", lambda e: errors.append(str(e)))
        await open_widget(widget, web_server.url)
        await answer_intake(widget, "Ik ben een volwassene", "Ik wil advies of iets vragen")
        cid = (await new_waiting(advisor, known))["conversation_id"]
        await advisor.call("accept", {"conversation_id": cid})
        status = widget.locator("[data-vtw=status]")
        await status.get_by_text("Je praat nu met Bart.").wait_for()
        await widget.locator("#vtw-input").fill("Ik maak me zorgen om mijn zus")
        await widget.keyboard.press("Enter")
        await advisor.wait_for("message", lambda m: m["conversation_id"] == cid and m["sender"] == "visitor")

        # The holder's own console, beside its socket (both are told what reaches the holder).
        held = await holder_ctx.new_page()
        held.on("pageerror", lambda e: errors.append(str(e)))
        await _login(held, web_server.url, holder.username, holder_pw)
        held_pane = held.locator(f'.conv[data-conversation-id="{cid}"]')
        await expect(held_pane.locator(".log")).to_contain_text("Ik maak me zorgen om mijn zus")

        await _login(console, web_server.url, boss.username, boss_pw)
        await console.get_by_role("tab", name="Overzicht").click()
        row = console.locator("#board-view #bd-conversations tr").filter(has_text="Bart Houder")
        await row.get_by_role("button", name="Meelezen").click()
        pane = console.locator(f'.conv[data-conversation-id="{cid}"]')
        await expect(pane.locator(".log")).to_contain_text("Ik maak me zorgen om mijn zus")
        await expect(pane.locator(".composer")).to_be_hidden()

        # The holder is online, so it is asked first; the holder hands the chat over.
        await pane.get_by_role("button", name="Neem over").click()
        request = await advisor.wait_for("take_over_request", lambda d: d["conversation_id"] == cid)
        assert request["by_name"] == "Mira Meester"
        await expect(pane.get_by_role("button", name="Gevraagd aan de collega…")).to_be_disabled()
        asked = held_pane.locator(".conv-takeover")
        await expect(asked.locator(".conv-takeover-text")).to_have_text(
            "Mira Meester wil dit gesprek overnemen. Geef je het over?"  # not "(crisisdienst)": a supervisor asks
        )
        await asked.get_by_role("button", name="Geef het gesprek over").click()
        told = await advisor.wait_for("taken_from_you", lambda d: d["conversation_id"] == cid)
        assert told["by_name"] == "Mira Meester" and told["how"] == "consent"
        await expect(held.locator("#notice-text")).to_have_text("Mira Meester heeft het gesprek overgenomen.")
        await expect(held_pane).to_have_count(0)

        # The visitor reads the transfer, then the new name, in the log and in the status line.
        lines = widget.locator("[data-vtw=sysline]")
        await lines.get_by_text("Je wordt doorverbonden met een collega. Even geduld.").wait_for()
        await lines.get_by_text("Nu praat je met Mira.").wait_for()
        await status.get_by_text("Je praat nu met Mira.").wait_for()

        # The supervisor's pane is theirs now: it writes, and the widget shows it under the new name.
        await expect(pane.locator(".conv-banner")).to_have_text(
            "Je hebt het gesprek overgenomen. De bezoeker ziet nu jouw naam."
        )
        await expect(pane.get_by_role("button", name="Neem over")).to_be_hidden()
        box = pane.get_by_label("Bericht aan de bezoeker")
        await expect(box).to_be_editable()
        await box.fill("Ik ben Mira. Wat maakt je ongerust?")
        await box.press("Enter")
        mine = widget.locator(".vtw-log .vtw-msg").filter(has_text="Ik ben Mira. Wat maakt je ongerust?")
        await expect(mine.locator(".vtw-who")).to_have_text("Mira")
        await expect(pane.locator(".log .msg-agent")).to_have_count(1)  # once, not again as a reader
        await widget.locator("#vtw-input").fill("Oke")
        await widget.keyboard.press("Enter")
        await expect(pane.locator(".log")).to_contain_text("Oke")
        await expect(pane.locator(".log .msg-visitor")).to_have_count(2)
        await console.screenshot(path=screenshot_path("console-taken-over"))
        await widget.screenshot(path=screenshot_path("widget-taken-over"))

        store = Database(db)
        try:
            async with store.read() as conn:
                query = select(audit_events).where(audit_events.c.conversation_id == cid)
                audit = (await conn.execute(query)).all()
        finally:
            await store.dispose()
        taken = [r for r in audit if r.action == "taken_over"]
        assert [(r.actor, r.detail["how"], r.detail["previous"]) for r in taken] == [
            (f"agent:{boss.id}", "consent", holder.id)
        ]
        assert {"read_along", "take_over_asked"} <= {r.action for r in audit}
        await expect(held_pane).to_have_count(0)  # the visitor's reply did not bring it back
        assert errors == []
        await assert_private(widget_ctx, log)
    finally:
        await advisor.disconnect()
        await widget_ctx.close()
        await holder_ctx.close()


async def test_push_mode_skips_an_advisor_on_a_break(push_server, context):  # noqa: F811
    ctx, log = context
    server = push_server
    db = server.settings.database_url
    me, me_pw = await add_agent(db, teams=("jeugd",), name="Pauline Pauze")
    other, other_pw = await add_agent(db, teams=("jeugd",), name="Olga Overname")
    errors: list[str] = []
    clients = []
    try:
        page = await ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        await _login(page, server.url, me.username, me_pw)
        status = page.get_by_label("Mijn status")
        await expect(status).to_have_value("beschikbaar")
        # By keyboard: the status selector is in the top bar's tab order.
        await status.focus()
        await status.select_option("pauze")
        await expect(page.locator("#announcer")).to_have_text("Je status is nu: Pauze.")

        b = await agent_client(server.url, await login(server.url, other.username, other_pw))
        clients.append(b)
        v1 = await visitor(server.url)
        clients.append(v1)
        first = (await v1.call("start", start_payload(caller_type="jongere")))["conversation_id"]
        await b.wait_for("offer", lambda o: o["conversation_id"] == first)
        await page.wait_for_timeout(600)  # several rounds of the push scheduler
        await expect(page.get_by_role("region", name="Gesprek aangeboden")).to_be_hidden()

        # Back from the break: the colleague still holds the first offer, so the next is ours.
        await status.select_option("beschikbaar")
        v2 = await visitor(server.url)
        clients.append(v2)
        second = (await v2.call("start", start_payload(caller_type="jongere")))["conversation_id"]
        region = page.get_by_role("region", name="Gesprek aangeboden")
        await expect(region).to_have_attribute("data-conversation-id", second)
        await expect(region).to_be_visible()

        # After a close: nawerk with its countdown, no offer meanwhile; ended early by the button.
        await region.get_by_role("button", name="Aannemen").click()
        panel = page.locator(f'.conv[data-conversation-id="{second}"]')
        await expect(panel).to_be_visible()
        await panel.get_by_role("button", name="Gesprek afsluiten").click()
        dialog = page.locator("#close-dialog")
        await dialog.get_by_role("radio", name="Advies").check()
        await dialog.get_by_label(re.compile("^Samenvatting")).fill("Advies gegeven.")
        await dialog.get_by_role("button", name="Afsluiten").click()
        await expect(status).to_have_value("nawerk")
        await expect(page.locator("#nawerk-left")).to_have_text(re.compile(r"^nog \d:\d\d$"))
        end = page.get_by_role("button", name="Nawerk beëindigen")
        await expect(end).to_be_visible()
        v3 = await visitor(server.url)
        clients.append(v3)
        third = (await v3.call("start", start_payload(caller_type="jongere")))["conversation_id"]
        await page.wait_for_timeout(600)  # several rounds of the push scheduler
        await expect(region).to_be_hidden()
        await end.click()
        await expect(status).to_have_value("beschikbaar")
        await expect(end).to_be_hidden()
        await expect(region).to_have_attribute("data-conversation-id", third)
        await expect(region).to_be_visible()
        await page.screenshot(path=screenshot_path("console-status"))
        assert errors == []
        assert log.foreign() == []
    finally:
        for c in clients:
            await c.disconnect()
