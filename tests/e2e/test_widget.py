"""The visitor widget in real headless Chromium against the real server, with a real agent client.

Each test also proves the threat model's basics: no cookie and no request to another host."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contact.clock import ManualClock
from tests.e2e.conftest import RequestLog, screenshot_path
from tests.support.server import (
    Client,
    RunningServer,
    add_agent,
    agent_client,
    login,
    make_settings,
    migrated_sqlite,
    start_payload,
    visitor,
)

AMS = ZoneInfo("Europe/Amsterdam")
ALL_TEAMS = ("jeugd", "volwassenen", "professionals", "crisis")


# ---- helpers -------------------------------------------------------------------------------


async def an_agent(server: RunningServer, name: str = "Sanne de Vries") -> Client:
    agent, password = await add_agent(server.settings.database_url, teams=ALL_TEAMS, name=name)
    token = await login(server.url, agent.username, password)
    client = await agent_client(server.url, token)
    await client.wait_for("queue")
    return client


def waiting_ids(agent: Client) -> set[str]:
    snapshots = agent.events.get("queue", [])
    return {w["conversation_id"] for w in snapshots[-1]["waiting"]} if snapshots else set()


async def new_waiting(agent: Client, known: set[str]) -> dict[str, Any]:
    """The first conversation that appears in the agent's queue and was not there before."""
    snapshot = await agent.wait_for(
        "queue", lambda q: any(w["conversation_id"] not in known for w in q["waiting"]), timeout=10
    )
    return next(w for w in snapshot["waiting"] if w["conversation_id"] not in known)


async def agent_says(agent: Client, conversation_id: str, text: str) -> dict[str, Any]:
    ack = await agent.call("message", {"conversation_id": conversation_id, "client_id": uuid.uuid4().hex, "text": text})
    assert "seq" in ack, ack
    return ack


async def open_widget(page: Any, url: str) -> None:
    await page.goto(url + "/")
    await page.get_by_role("button", name="Chat met Veilig Thuis").click()


async def answer_intake(page: Any, who: str, what: str, danger: str = "Nee") -> None:
    await page.get_by_role("button", name=who).click()
    await page.get_by_role("button", name=what).click()
    await page.get_by_role("button", name="Overslaan").click()
    await page.get_by_role("button", name=danger, exact=True).click()


async def rendered_texts(page: Any) -> list[str]:
    return await page.locator(".vtw-log .vtw-text").all_inner_texts()


async def assert_private(ctx: Any, log: Any) -> None:
    assert await ctx.cookies() == []
    assert log.foreign() == []


async def assert_nothing_left(page: Any, *texts: str) -> None:
    """After a reload or a new visit: no token in this tab, no chat shown, nothing of `texts`."""
    await page.locator(".vtw-launcher").wait_for()
    await asyncio.sleep(0.5)  # a resume, if the widget still tried one, would have answered by now
    assert await page.evaluate("sessionStorage.getItem('ui-pref')") is None
    assert await page.locator(".vtw-log .vtw-msg").count() == 0
    assert await page.locator("#vtw-panel").is_hidden()
    html = await page.content()
    for text in texts:
        assert text not in html


async def tab_to(page: Any, text: str, limit: int = 40) -> None:
    """Press Tab until the focused element's text is `text` (keyboard only, no clicks)."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement && document.activeElement.textContent.trim()")
        if focused == text:
            return
    raise AssertionError(f"could not reach {text!r} with Tab")


# ---- tests ---------------------------------------------------------------------------------


async def test_danger_path_shows_112_and_queues_with_top_priority(web_server, context):
    ctx, log = context
    agent = await an_agent(web_server)
    other = await visitor(web_server.url)  # someone in danger who came just before
    first = await other.call("start", start_payload(danger_now=True))
    known = waiting_ids(agent) | {first["conversation_id"]}
    page = await ctx.new_page()
    await open_widget(page, web_server.url)
    await answer_intake(page, "Ik ben een jongere (12 tot en met 17 jaar)", "Ik wil advies of iets vragen", danger="Ja")

    danger = page.locator("[data-vtw=danger]")
    await danger.wait_for()
    assert "112" in await danger.inner_text()
    assert await page.locator("a.vtw-call112[href='tel:112']").is_visible()

    waiting = await new_waiting(agent, known)
    assert waiting["danger_now"] is True and waiting["team"] == "crisis"
    # Top priority: right behind the other person in danger, then first when they leave (live).
    await page.get_by_text("Je bent nummer 2 in de rij.").wait_for()
    await other.call("leave", {})
    await page.get_by_text("Je bent nummer 1 in de rij.").wait_for()
    await other.disconnect()
    snapshot = await agent.wait_for(
        "queue", lambda q: q["waiting"] and q["waiting"][0]["conversation_id"] == waiting["conversation_id"]
    )
    # (Visitors of earlier tests who are gone wait behind everyone who is there, whatever their priority.)
    present = [w["priority"] for w in snapshot["waiting"][1:] if w["visitor_present"]]
    assert snapshot["waiting"][0]["priority"] > max(present, default=0)

    accepted = await agent.call("accept", {"conversation_id": waiting["conversation_id"]})
    assert "conversation" in accepted, accepted
    await page.get_by_text("Je praat nu met Sanne.").wait_for()
    assert await page.get_by_text("de Vries").count() == 0  # first name only
    await agent_says(agent, waiting["conversation_id"], "Hoi, ik ben Sanne. Ben je nu op een veilige plek?")
    await page.get_by_text("Ben je nu op een veilige plek?").wait_for()
    await page.locator(".vtw-input").fill("Ja, ik ben bij de buren.")
    await page.keyboard.press("Enter")
    msg = await agent.wait_for("message", lambda m: m["conversation_id"] == waiting["conversation_id"])
    assert msg["text"] == "Ja, ik ben bij de buren."
    await page.locator(".vtw-log .vtw-msg[data-seq='2']").wait_for()

    await page.locator(".vtw-input").focus()
    await page.screenshot(path=screenshot_path("widget-desktop"))
    await page.set_viewport_size({"width": 360, "height": 740})
    box = await page.locator("#vtw-panel").bounding_box()
    assert box is not None and box["width"] == 360  # full screen on a phone
    await page.screenshot(path=screenshot_path("widget-360"))
    await page.set_viewport_size({"width": 320, "height": 640})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 320
    assert await page.locator(".vtw-header .vtw-exit").is_visible()

    # The advisor ends the chat: a clear end for the visitor.
    await agent.call(
        "close", {"conversation_id": waiting["conversation_id"], "outcome": {"kind": "advies", "summary": "112 gebeld"}}
    )
    await page.locator("[data-vtw=ended]").wait_for()
    assert await page.locator(".vtw-input").count() == 0
    # Closed: the token is forgotten at once; a reload shows nothing of the chat. Left: only the
    # tab's random per-browser value (for blocks, docs/privacy.md), gone with the tab.
    assert await page.evaluate("Object.keys(sessionStorage)") == ["ui-seed"]
    await page.reload()
    await assert_nothing_left(page, "Ben je nu op een veilige plek?", "bij de buren")
    await agent.disconnect()
    await assert_private(ctx, log)


async def test_closed_hours_say_when_chat_opens_and_give_phone_numbers(tmp_path, browser, neutral_site):
    url = await migrated_sqlite(str(tmp_path / "closed.db"))
    clock = ManualClock(datetime(2026, 11, 29, 14, 0, tzinfo=AMS))  # a Sunday afternoon
    server = await RunningServer(
        make_settings(url, chat_hours="mon-fri 09:00-17:00", quick_exit_url=neutral_site), clock
    ).start()
    ctx = await browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
    log = RequestLog()
    log.attach(ctx)
    try:
        page = await ctx.new_page()
        await open_widget(page, server.url)
        closed = page.locator("[data-vtw=closed]")
        await closed.wait_for()
        text = await closed.inner_text()
        assert "dicht" in text
        assert "maandag 30 november om 09:00" in text
        assert "0800-2000" in text and "112" in text
        # No form that goes nowhere.
        assert await page.locator("#vtw-panel textarea, #vtw-panel input, #vtw-panel .vtw-choice").count() == 0
        await page.screenshot(path=screenshot_path("widget-closed"))
        # English as a second language.
        await page.get_by_role("button", name="Switch to English").click()
        assert "Monday 30 November at 09:00" in await page.locator("[data-vtw=opens-at]").inner_text()
        await assert_private(ctx, log)
    finally:
        await ctx.close()
        await server.stop()


@pytest.mark.parametrize("how", ["button", "shift"])
async def test_quick_exit_leaves_no_trace(web_server, neutral_site, context, how):
    ctx, log = context
    agent = await an_agent(web_server)
    known = waiting_ids(agent)
    page = await ctx.new_page()
    await page.goto(neutral_site + "?before")  # where the visitor came from
    await open_widget(page, web_server.url)
    await answer_intake(page, "Ik ben een volwassene", "Dat weet ik nog niet")
    await page.locator("[data-vtw=queue]").wait_for()
    waiting = await new_waiting(agent, known)
    await page.locator(".vtw-input").fill("Niemand mag dit lezen")
    await page.keyboard.press("Enter")
    await page.locator(".vtw-msg[data-seq='1']").wait_for()
    assert sorted(await page.evaluate("Object.keys(sessionStorage)")) == ["ui-pref", "ui-seed"]
    length_before = await page.evaluate("history.length")
    exits: list[Any] = []
    ctx.on("request", lambda r: exits.append(r) if r.url == web_server.url + "/api/visitor/exit" else None)

    if how == "button":
        await page.locator(".vtw-header .vtw-exit").click()
    else:
        await page.locator("#vtw-title").focus()
        for _ in range(3):
            await page.keyboard.press("Shift")
    await page.wait_for_url(neutral_site)
    assert await page.title() == "Het weer"
    assert await page.evaluate("history.length") == length_before

    # The chat ended at once (leave), not after the grace period of a dropped connection.
    await agent.wait_for(
        "queue", lambda q: waiting["conversation_id"] not in {w["conversation_id"] for w in q["waiting"]}
    )
    # The widget asked our server to have the browser clear our origin (a beacon, no token
    # in its address).
    assert len(exits) == 1 and exits[0].method == "POST"
    try:
        answer = await asyncio.wait_for(exits[0].response(), 5)
    except TimeoutError:
        answer = None
    if answer is not None:  # a beacon's answer may go unseen once the page is gone
        headers = await answer.all_headers()  # .headers leaves security headers out
        assert answer.status == 204 and headers["clear-site-data"] == '"cache", "storage"'

    # Back, then the chat page again: the widget at its start, nothing of the chat.
    await page.go_back()
    assert not page.url.startswith(web_server.url)
    await page.goto(web_server.url + "/")
    await assert_nothing_left(page, "Niemand mag dit lezen")
    assert await page.evaluate("sessionStorage.length") == 0
    await page.get_by_role("button", name="Chat met Veilig Thuis").click()
    await page.locator(".vtw-intake").wait_for()
    assert "Niemand mag dit lezen" not in await page.content()
    await agent.disconnect()
    await assert_private(ctx, log)


async def test_reconnect_after_server_restart_shows_each_message_once_in_order(tmp_path, browser, neutral_site):
    url = await migrated_sqlite(str(tmp_path / "restart.db"))
    server = await RunningServer(make_settings(url, quick_exit_url=neutral_site)).start()
    ctx = await browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
    log = RequestLog()
    log.attach(ctx)
    agent = None
    try:
        agent = await an_agent(server, name="Ahmed")
        page = await ctx.new_page()
        await open_widget(page, server.url)
        await answer_intake(page, "Ik ben een volwassene", "Ik wil iets melden")
        conv = (await new_waiting(agent, set()))["conversation_id"]
        await agent.call("accept", {"conversation_id": conv})
        await page.get_by_text("Je praat nu met Ahmed.").wait_for()

        box = page.locator(".vtw-input")
        await box.fill("een")
        await box.press("Enter")
        await agent.wait_for("message", lambda m: m["text"] == "een")
        await agent_says(agent, conv, "twee")
        await page.get_by_text("twee", exact=True).wait_for()

        await agent.disconnect()
        await server.stop()
        await page.get_by_text("De verbinding is weg").wait_for()
        await box.fill("drie")  # typed while the server is down: sent after the reconnect
        await box.press("Enter")
        await server.start()
        agent = await an_agent_again(server, agent)
        await agent_says(agent, conv, "vier")  # most likely while the widget is still away
        await page.locator(".vtw-pending").wait_for(state="detached", timeout=15000)
        await page.get_by_text("vier", exact=True).wait_for(timeout=15000)
        await box.fill("vijf")
        await box.press("Enter")
        await page.locator(".vtw-pending").wait_for(state="detached")

        history = await agent.call("history", {"conversation_id": conv})
        truth = [m["text"] for m in sorted(history["conversation"]["messages"], key=lambda m: m["seq"])]
        assert sorted(truth) == sorted(["een", "twee", "drie", "vier", "vijf"])
        await asyncio.sleep(0.3)  # a late duplicate would show up now
        assert await rendered_texts(page) == truth
        seqs = await page.locator(".vtw-log .vtw-msg").evaluate_all("els => els.map(e => Number(e.dataset.seq))")
        assert seqs == [1, 2, 3, 4, 5]

        # A reload of the same tab picks the chat up again (token in sessionStorage only).
        await page.reload()
        await page.get_by_text("Je praat nu met Ahmed.").wait_for()
        await page.get_by_text("vijf", exact=True).wait_for()
        assert await rendered_texts(page) == truth

        # "Stop gesprek" asks first; "Ja, stoppen" ends the chat for the agent too.
        await page.get_by_role("button", name="Stop gesprek").click()
        await page.get_by_role("button", name="Ja, stoppen").click()
        await page.locator("[data-vtw=ended]").wait_for()
        await agent.wait_for("visitor_left", lambda d: d["conversation_id"] == conv)
        # Stopped: the token is forgotten; a reload shows no old message.
        assert await page.evaluate("sessionStorage.getItem('ui-pref')") is None
        await page.reload()
        await assert_nothing_left(page)
        await assert_private(ctx, log)
    finally:
        if agent is not None:
            await agent.disconnect()
        await ctx.close()
        await server.stop()


async def an_agent_again(server: RunningServer, old: Client) -> Client:
    """The same agent on a new connection after the restart (its token is still valid)."""
    token = old.sio.connection_auth["token"]  # type: ignore[attr-defined]
    client = await agent_client(server.url, token)
    await client.wait_for("queue")
    return client


async def test_keyboard_only_chat_and_agent_html_stays_text(web_server, neutral_site, context):
    ctx, log = context
    agent = await an_agent(web_server, name="Noor")
    known = waiting_ids(agent)
    page = await ctx.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), asyncio.ensure_future(d.dismiss())))
    await page.goto(web_server.url + "/")

    await tab_to(page, "Chat met Veilig Thuis")
    await page.keyboard.press("Enter")
    await page.locator(".vtw-intake").wait_for()
    await tab_to(page, "Ik ben een kind (tot en met 11 jaar)")
    await page.keyboard.press("Enter")
    await tab_to(page, "Ik wil advies of iets vragen")
    await page.keyboard.press("Enter")
    await tab_to(page, "Ruzie of geweld thuis")
    await page.keyboard.press("Enter")
    await tab_to(page, "Nee")
    await page.keyboard.press("Enter")

    waiting = await new_waiting(agent, known)
    assert waiting["caller_type"] == "kind" and waiting["topic"] == "Ruzie of geweld thuis"
    assert waiting["danger_now"] is False
    await agent.call("accept", {"conversation_id": waiting["conversation_id"]})
    await page.get_by_text("Je praat nu met Noor.").wait_for()

    # Typing shows on both sides.
    await agent.call("typing", {"conversation_id": waiting["conversation_id"], "typing": True})
    await page.get_by_text("Noor is aan het typen…").wait_for()

    # The message box has the focus after the start; Enter sends.
    assert await page.evaluate("document.activeElement.id") == "vtw-input"
    await page.keyboard.type("Mijn papa schreeuwt heel hard.")
    await page.keyboard.press("Enter")
    await agent.wait_for("typing", lambda d: d["conversation_id"] == waiting["conversation_id"] and d["typing"])
    got = await agent.wait_for("message", lambda m: m["conversation_id"] == waiting["conversation_id"])
    assert got["text"] == "Mijn papa schreeuwt heel hard."

    payload = "<img src=x onerror=alert(1)><b>vet</b>"
    await agent_says(agent, waiting["conversation_id"], payload)
    await page.get_by_text(payload, exact=True).wait_for()
    assert await page.locator("#vtw-root img, #vtw-root b").count() == 0
    assert await rendered_texts(page) == ["Mijn papa schreeuwt heel hard.", payload]

    # Quick exit by keyboard: Esc twice, even when the exit request cannot go out (as offline):
    # nothing throws, the page goes at once.
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.evaluate(
        "navigator.sendBeacon = () => { throw new TypeError('offline'); };"
        "window.fetch = () => Promise.reject(new TypeError('offline')); undefined"
    )
    await page.keyboard.press("Escape")
    await page.keyboard.press("Escape")
    await page.wait_for_url(neutral_site)
    assert dialogs == [] and errors == []
    await agent.wait_for("visitor_left", lambda d: d["conversation_id"] == waiting["conversation_id"])
    await agent.disconnect()
    await assert_private(ctx, log)
