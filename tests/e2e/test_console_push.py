"""Push offers in a real console: team jeugd works in push mode here (a routing file of this
test), so a chat is offered to a free agent of the team, who lets it pass or accepts it. A chat in
acute danger is one control for a crisis worker: the crisis alarm, with no offer and no accept
button on its queue card besides it.

The server here is this test's own, on a fresh database: on the shared one other crisis agents may
be online and other crisis chats may be waiting, and either would take the offers this test awaits.
The visitors and the second agent are python-socketio clients; the first agent is a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from routing.rules import DEFAULT_RULES
from tests.e2e.conftest import screenshot_path
from tests.e2e.test_console import _login
from tests.support.server import (
    RunningServer,
    add_agent,
    agent_client,
    login,
    make_settings,
    migrated_sqlite,
    start_payload,
    visitor,
)

TOPIC = "Mijn stiefvader slaat mijn moeder"


@pytest.fixture
async def push_server(tmp_path, neutral_site):
    rules = DEFAULT_RULES.read_text(encoding="utf-8")
    youth = '[teams.jeugd]\nname = "Jeugd"\noverflow_after_s = 120\n'
    assert youth in rules
    routing_file = tmp_path / "routing.toml"
    routing_file.write_text(rules.replace(youth, youth + "push = true\n"), encoding="utf-8")
    url = await migrated_sqlite(str(tmp_path / "push.db"))
    server = await RunningServer(
        make_settings(url, quick_exit_url=neutral_site, push_check_s=0.2, routing_file=str(routing_file))
    ).start()
    yield server
    await server.stop()


def _offered(cid):
    return lambda o: o["conversation_id"] == cid


async def test_offer_shown_passed_on_and_accepted(push_server, context):
    ctx, log = context
    server = push_server
    db = server.settings.database_url
    desk, desk_pw = await add_agent(db, role="crisis", teams=("jeugd", "crisis"), name="Cor Crisisdienst")
    other, other_pw = await add_agent(db, teams=("jeugd",), name="Olga Overname")
    errors: list[str] = []
    clients = []
    try:
        page = await ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        await _login(page, server.url, desk.username, desk_pw)

        # Nobody else is online: the chat is offered to this console, with what it is about.
        v1 = await visitor(server.url)
        clients.append(v1)
        first = (await v1.call("start", start_payload(caller_type="jongere", topic=TOPIC)))["conversation_id"]
        region = page.get_by_role("region", name="Gesprek aangeboden")
        await expect(region).to_be_visible()
        await expect(region).to_have_attribute("data-conversation-id", first)
        await expect(region.get_by_role("heading")).to_have_text("Gesprek aangeboden")
        await expect(region.locator("#offer-topic")).to_have_text(TOPIC)
        await expect(region.locator("#offer-summary")).to_have_text("Jongere · Advies")
        await expect(region.locator("#offer-team")).to_have_text("Jeugd")  # name from the routing file
        await expect(region.locator("#offer-waited")).to_have_text(re.compile(r"^\d+:\d\d$"))
        countdown = region.locator("#offer-countdown")
        await expect(countdown).to_have_text(re.compile(r"^0:[0-3]\d$"))
        shown = await countdown.inner_text()
        await expect(countdown).not_to_have_text(shown)  # it counts down
        # Still in the queue too, where anyone may take it.
        await expect(page.locator(f'.q-item[data-conversation-id="{first}"]')).to_be_visible()
        await page.screenshot(path=screenshot_path("console-push-offer"))

        # A colleague comes online; letting it pass (by keyboard) sends the offer on to them.
        b = await agent_client(server.url, await login(server.url, other.username, other_pw))
        clients.append(b)
        await region.get_by_role("button", name="Laten passeren").focus()
        await page.keyboard.press("Enter")
        await expect(region).to_be_hidden()
        await expect(page.locator("#queue-title")).to_be_focused()
        offer = await b.wait_for("offer", _offered(first))
        assert offer["team"] == "jeugd" and offer["danger_now"] is False and offer["topic"] == TOPIC

        # The colleague holds that offer, so the next chat comes to this console; accepting opens it.
        v2 = await visitor(server.url)
        clients.append(v2)
        second = (await v2.call("start", start_payload(caller_type="jongere", topic="Ik durf niet naar huis")))[
            "conversation_id"
        ]
        await expect(region).to_have_attribute("data-conversation-id", second)
        await expect(region).to_be_visible()
        await expect(region.locator("#offer-topic")).to_have_text("Ik durf niet naar huis")
        await region.get_by_role("button", name="Aannemen").click()
        await expect(region).to_be_hidden()
        panel = page.locator(f'.conv[data-conversation-id="{second}"]')
        await expect(panel).to_be_visible()
        await expect(panel.get_by_label("Bericht aan de bezoeker")).to_be_focused()
        await expect(page.locator(f'.tab[data-conversation-id="{second}"]')).to_have_attribute("aria-selected", "true")
        await v2.wait_for("assigned")
        await expect(page.locator(f'.q-item[data-conversation-id="{second}"]')).to_have_count(0)
        assert not any(o["conversation_id"] == second for o in b.events["offer"])

        # Acute danger: one control. The alarm takes it on; no offer, no accept on its queue card.
        v3 = await visitor(server.url)
        clients.append(v3)
        third = (await v3.call("start", start_payload(danger_now=True, topic="Hij staat voor de deur")))[
            "conversation_id"
        ]
        alert = page.locator(f'#crisis-alerts .crisis-item[data-conversation-id="{third}"]')
        await expect(alert).to_be_visible()
        card = page.locator(f'.q-item[data-conversation-id="{third}"]')
        await expect(card).to_contain_text("Staat in het crisisalarm hierboven")
        await expect(card.get_by_role("button", name=re.compile("^Aannemen"))).to_have_count(0)
        await page.wait_for_timeout(600)  # several rounds of the push scheduler
        await expect(region).to_be_hidden()
        # Collapsed, the alarm still says how many are open; expanded again, it can be taken on.
        await page.get_by_role("button", name="Inklappen").click()
        await expect(page.locator("#crisis-count")).to_have_text("1 crisisalarm(en) open")
        await expect(alert).to_be_hidden()
        await page.get_by_role("button", name="Uitklappen").click()
        # Another visitor in danger leaves before anyone took it: that alarm goes at once.
        v4 = await visitor(server.url)
        clients.append(v4)
        fourth = (await v4.call("start", start_payload(danger_now=True)))["conversation_id"]
        gone = page.locator(f'#crisis-alerts .crisis-item[data-conversation-id="{fourth}"]')
        await expect(gone).to_be_visible()
        await v4.call("leave", {})
        await expect(gone).to_have_count(0)
        await expect(page.locator("#notice-text")).to_contain_text("Alarm gestopt")
        await alert.get_by_role("button", name="Ik pak dit op").click()
        await expect(page.locator(f'.conv[data-conversation-id="{third}"]')).to_be_visible()
        await expect(card).to_have_count(0)
        assert errors == []
        assert log.foreign() == []
    finally:
        for c in clients:
            await c.disconnect()
