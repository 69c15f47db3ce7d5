"""Risk signals reach the advisor's console: on the queue card while waiting, as a banner once held."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.test_console import _login
from tests.support.server import add_agent, start_payload, visitor


async def test_risk_signal_is_shown_on_the_queue_card_and_in_the_conversation(web_server, context):
    ctx, log = context
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    identity, password = await add_agent(web_server.settings.database_url, name="Fleur Smit")
    await _login(page, web_server.url, identity.username, password)
    v = await visitor(web_server.url)
    try:
        cid = (await v.call("start", start_payload(caller_type="volwassene", topic=None)))["conversation_id"]
        card = page.locator(f'.q-item[data-conversation-id="{cid}"]')
        await expect(card).to_be_visible()
        await expect(card.locator(".q-risk")).to_have_count(0)
        await v.call("message", {"client_id": "1", "text": "hij staat voor de deur met een mes"})
        await expect(card.locator(".q-risk")).to_contain_text("Acuut risico")
        # An acute signal starts the crisis procedure: for this advisor (also in the crisis team)
        # the alarm is the one control that takes it.
        await expect(card).to_contain_text("Staat in het crisisalarm hierboven")
        await page.locator(f'.crisis-item[data-conversation-id="{cid}"]').get_by_role(
            "button", name="Ik pak dit op"
        ).click()
        # The console holds the conversation before the next message, whose signal it shows.
        await expect(page.locator(f'.conv[data-conversation-id="{cid}"]')).to_be_visible()
        await v.call("message", {"client_id": "2", "text": "k wil dood"})
        await expect(page.locator(".conv-banner:visible")).to_contain_text("risico", ignore_case=True)
        assert errors == []
        assert log.foreign() == []
    finally:
        await v.disconnect()
