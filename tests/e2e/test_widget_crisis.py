"""A danger phrase written in the chat shows 112 in the widget at once."""

from __future__ import annotations

from tests.e2e.test_widget import an_agent, answer_intake, assert_private, new_waiting, open_widget, waiting_ids


async def test_a_danger_phrase_in_the_chat_shows_112(web_server, context):
    ctx, log = context
    agent = await an_agent(web_server)
    known = waiting_ids(agent)
    page = await ctx.new_page()
    await open_widget(page, web_server.url)
    await answer_intake(page, "Ik ben een jongere (12 tot en met 17 jaar)", "Ik wil advies of iets vragen")
    await new_waiting(agent, known)
    assert await page.locator("[data-vtw=danger]").count() == 0  # "Nee" at the start: no banner yet
    box = page.locator("#vtw-input")
    await box.fill("hij staat nu voor de deur met een mes")
    await box.press("Enter")
    await page.locator("[data-vtw=danger]").wait_for()
    assert "112" in await page.locator("[data-vtw=danger]").inner_text()
    await assert_private(ctx, log)
    await agent.disconnect()
