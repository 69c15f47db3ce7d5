"""One source for teams and expertise: the console builds its forms from the routing file the
server loaded (GET /api/agent/routing). A team and an expertise added to that file appear in the
close form, the transfer dialog and the team names; nothing of the console's own remains."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.e2e.conftest import RequestLog
from tests.e2e.test_console import _login
from tests.routing.custom import NEW_EXPERTISE, NEW_TEAM, write_custom_routing
from tests.support.server import RunningServer, add_agent, make_settings, migrated_sqlite, start_payload, visitor


async def test_a_team_and_expertise_added_to_the_routing_file_appear_in_every_form(browser, tmp_path):
    url = await migrated_sqlite(str(tmp_path / "routing-e2e.db"))
    server = await RunningServer(make_settings(url, routing_file=str(write_custom_routing(tmp_path)))).start()
    ctx = await browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
    log = RequestLog()
    log.attach(ctx)
    v = None
    try:
        page = await ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        identity, password = await add_agent(url, teams=("jeugd", NEW_TEAM[0]), name="Noor Routing")
        await add_agent(url, teams=(NEW_TEAM[0],), name="Gijs Gezin")
        await _login(page, server.url, identity.username, password)

        v = await visitor(server.url)
        cid = (await v.call("start", start_payload()))["conversation_id"]
        item = page.locator(f'.q-item[data-conversation-id="{cid}"]')
        await expect(item.locator(".chip").first).to_have_text("Jeugd")  # the team's name in the file
        await item.get_by_role("button", name=re.compile("^Aannemen")).click()
        await v.wait_for("assigned")
        panel = page.locator(f'.conv[data-conversation-id="{cid}"]')
        await expect(panel).to_be_visible()

        # The close form: every expertise of the file, the new one too, and no other.
        await panel.get_by_role("button", name="Gesprek afsluiten").click()
        close = page.locator("#close-dialog")
        await expect(close).to_be_visible()
        boxes = close.locator("input[name=expertise]")
        await expect(close.get_by_label(NEW_EXPERTISE[1], exact=True)).to_have_count(1)
        values = await boxes.evaluate_all("xs => xs.map(x => x.value)")
        assert NEW_EXPERTISE[0] in values and "stalking" in values
        assert "mensenhandel" not in values and "kindermishandeling" not in values  # the old hard-coded ones
        await expect(close.locator("#close-expertise-status")).to_be_hidden()
        await close.get_by_role("button", name="Annuleren").click()
        await expect(close).to_be_hidden()

        # The transfer dialog: the teams of the file by name, and a colleague's team by name.
        await panel.get_by_role("button", name="Doorverbinden").click()
        transfer = page.get_by_role("dialog", name="Doorverbinden")
        await expect(transfer).to_be_visible()
        team = transfer.get_by_label("Team", exact=True)
        await expect(team.locator("option")).to_have_text(
            ["— kies een team —", "Jeugd", "Volwassenen", "Professionals", NEW_TEAM[1], "Crisisdienst"]
        )
        await transfer.get_by_role("radio", name="Een collega").check()
        colleague = transfer.get_by_label("Collega", exact=True)
        await expect(colleague.locator("option", has_text=f"Gijs Gezin ({NEW_TEAM[1]})")).to_have_count(1)
        await transfer.get_by_role("radio", name="Een team").check()
        await team.select_option(label=NEW_TEAM[1])
        await transfer.get_by_role("button", name="Doorverbinden").click()
        await expect(transfer).to_be_hidden()
        await expect(page.locator("#notice-text")).to_have_text(f"Gesprek doorverbonden naar {NEW_TEAM[1]}.")
        # It waits in the new team's queue, under that team's name.
        await expect(item.locator(".chip").first).to_have_text(NEW_TEAM[1])
        assert errors == []
    finally:
        if v is not None:
            await v.disconnect()
        await ctx.close()
        await server.stop()
    assert log.foreign() == []
