"""The second factor in a real browser: a supervisor enrols (QR made by the server, the secret
for typing over, ten recovery codes shown once), logs out (the session ends on the server), and
logs in again with a code from the authenticator app."""

from __future__ import annotations

import pyotp
from aiohttp import ClientSession
from playwright.async_api import expect

from tests.support.server import TOTP_SECRETS, add_agent, totp_code


async def test_supervisor_enrols_logs_out_and_logs_in_with_a_code(web_server, context):
    ctx, log = context
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    boss, password = await add_agent(web_server.settings.database_url, role="supervisor", name="Sien Supervisor")

    await page.goto(web_server.url + "/console")
    form = page.locator("#login-form")
    await form.get_by_label("Gebruikersnaam").fill(boss.username)
    await form.get_by_label("Wachtwoord").fill(password)
    await form.get_by_role("button", name="Inloggen").click()
    enrol = page.locator("#login-enrol")
    await expect(enrol).to_be_visible()
    qr = await page.locator("#enrol-qr").get_attribute("src")
    assert qr and qr.startswith("data:image/svg+xml")
    secret = (await page.locator("#enrol-secret").text_content() or "").strip()
    assert len(secret) >= 16
    TOTP_SECRETS[boss.username] = secret
    # A wrong code first: told so, still enrolling.
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    await enrol.get_by_label("Code uit je authenticator-app").fill(wrong)
    await form.get_by_role("button", name="Bevestigen").click()
    await expect(page.locator("#login-error")).to_contain_text("klopt niet")
    await enrol.get_by_label("Code uit je authenticator-app").fill(await totp_code(web_server.url, boss.username))
    await form.get_by_role("button", name="Bevestigen").click()
    codes = page.locator("#recovery-codes li")
    await expect(codes).to_have_count(10)
    await page.get_by_role("button", name="Ik heb ze bewaard").click()
    await expect(page.locator("#conn")).to_have_text("Verbonden")
    token = await page.evaluate("JSON.parse(sessionStorage.getItem('vt.console.token'))")

    # Logging out ends the session on the server: the old token no longer works.
    await page.locator("#logout").click()
    await page.locator("#logout-dialog").get_by_role("button", name="Uitloggen").click()
    await expect(page.locator("#login-form")).to_be_visible()
    async with ClientSession() as http:
        async with http.get(
            f"{web_server.url}/api/agent/colleagues", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 401

    # Logging in again asks for the code.
    await form.get_by_label("Gebruikersnaam").fill(boss.username)
    await form.get_by_label("Wachtwoord").fill(password)
    await form.get_by_role("button", name="Inloggen").click()
    factor = page.locator("#login-factor")
    await expect(factor).to_be_visible()
    await factor.get_by_label("Code uit je authenticator-app").fill(await totp_code(web_server.url, boss.username))
    await form.get_by_role("button", name="Inloggen").click()
    await expect(page.locator("#conn")).to_have_text("Verbonden")
    assert errors == []


async def test_console_warns_before_the_idle_timeout_and_stays_logged_in(tmp_path, context):
    from tests.e2e.test_console import _login
    from tests.support.server import RunningServer, make_settings, migrated_sqlite

    url = await migrated_sqlite(str(tmp_path / "idle.db"))
    # The shortest idle timeout (a minute): the warning comes a quarter of it before, at 45 s.
    server = await RunningServer(make_settings(url, idle_timeout_s=60)).start()
    try:
        ctx, _ = context
        page = await ctx.new_page()
        advisor, password = await add_agent(url)
        await _login(page, server.url, advisor.username, password)
        dialog = page.locator("#idle-dialog")
        await page.wait_for_timeout(30_000)
        await expect(dialog).not_to_be_visible()
        await expect(dialog).to_be_visible(timeout=25_000)
        await expect(dialog.get_by_role("heading")).to_have_text("Je wordt zo uitgelogd")
        async with page.expect_response(lambda r: r.url.endswith("/api/agent/session")) as answer:
            await dialog.get_by_role("button", name="Blijf ingelogd").click()
        assert (await answer.value).status == 200
        await expect(dialog).not_to_be_visible()
        # Past the first minute: still logged in (the click kept the session), no login asked.
        await page.wait_for_timeout(20_000)
        await expect(page.locator("#relogin-dialog")).not_to_be_visible()
        await expect(page.locator("#conn")).to_have_text("Verbonden")
    finally:
        await server.stop()
