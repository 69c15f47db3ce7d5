"""The workplace in a real console (issue 17): a supervisor opens Overzicht, reads a chat along
while the advisor and the visitor write, and whispers to the advisor only; an advisor on a break
or in nawerk gets no push offer, and does again once back. The advisors and visitors besides the browser are
python-socketio clients."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.e2e.conftest import screenshot_path
from tests.e2e.test_console import _login
from tests.e2e.test_console_push import push_server  # noqa: F401  (the fixture: jeugd in push mode)
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
