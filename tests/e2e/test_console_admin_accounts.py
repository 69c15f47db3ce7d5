"""The admins' Medewerkers view in a real browser: an admin adds an account (the password the
server made shown once), is told in Dutch when a name is taken, cannot disable themselves, and
disables an advisor whose console is open in another page: that page is logged out within
seconds. The view with its dialogs passes axe (test_accessibility.py)."""

from __future__ import annotations

import re
import time

from playwright.async_api import expect

from tests.e2e.test_console import _login
from tests.support.server import add_agent, login_answer


async def test_admin_adds_and_disables_an_agent_whose_console_is_open(web_server, context):
    ctx, log = context
    db = web_server.settings.database_url
    advisor, advisor_pw = await add_agent(db, name="Bram Adviseur")
    admin, admin_pw = await add_agent(db, role="admin", name="Ada Beheer")
    errors: list[str] = []
    other = await ctx.new_page()
    other.on("pageerror", lambda e: errors.append(str(e)))
    await _login(other, web_server.url, advisor.username, advisor_pw)
    # An advisor has no Medewerkers tab.
    await expect(other.get_by_role("tab", name="Medewerkers")).to_have_count(0)

    page = await ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    await _login(page, web_server.url, admin.username, admin_pw)
    await page.get_by_role("tab", name="Medewerkers").click()
    view = page.get_by_role("tabpanel", name="Medewerkers")
    bram = view.locator("tr", has=page.get_by_role("rowheader", name="Bram Adviseur"))
    await expect(bram).to_contain_text("Adviseur")
    await expect(bram).to_contain_text("Actief")
    me = view.locator("tr", has=page.get_by_role("rowheader", name="Ada Beheer"))
    await expect(me).to_contain_text("Beheerder")
    # No disabling yourself (the server refuses it too).
    await expect(me.get_by_role("button", name=re.compile("^Uitzetten"))).to_have_count(0)

    # Adding: a wrong team is told here; then the server's password, shown once.
    username = "nina-" + admin.id[:6]
    form = view.locator("#ac-add-form")
    await form.get_by_label("Gebruikersnaam").fill(username)
    await form.get_by_label("Naam", exact=True).fill("Nina Nieuw")
    await form.get_by_label("Rol").select_option("crisis")
    await form.get_by_label("Teams (met komma's)").fill("Crisis!")
    await form.get_by_role("button", name="Toevoegen").click()
    await expect(view.locator("#ac-add-error")).to_contain_text("Een team schrijf je met kleine letters")
    await expect(form.get_by_label("Teams (met komma's)")).to_be_focused()
    await form.get_by_label("Teams (met komma's)").fill("crisis, volwassenen")
    await form.get_by_role("button", name="Toevoegen").click()
    shown = page.locator("#ac-password-dialog")
    await expect(shown).to_be_visible()
    password = (await shown.locator("#ac-password-value").text_content() or "").strip()
    assert len(password) >= 16
    await shown.get_by_role("button", name="Ik heb het doorgegeven").click()
    await expect(shown).to_be_hidden()
    await expect(page.locator("#ac-password-value")).to_have_text("")
    nina = view.locator("tr", has=page.get_by_role("rowheader", name="Nina Nieuw"))
    await expect(nina).to_contain_text("crisis, volwassenen")
    await expect(nina).to_contain_text("Nog nooit")
    assert (await login_answer(web_server.url, username, password))["agent"]["role"] == "crisis"
    # Role and teams in a dialog, by keyboard: only what changed is sent.
    await nina.get_by_role("button", name="Rol en teams: Nina Nieuw").focus()
    await page.keyboard.press("Enter")
    edit = page.locator("#ac-edit-dialog")
    await expect(edit.get_by_label("Rol")).to_be_focused()
    await edit.get_by_label("Rol").select_option("advisor")
    await edit.get_by_label("Teams (met komma's)").fill("jeugd")
    await edit.get_by_label("Teams (met komma's)").press("Enter")
    await expect(edit).to_be_hidden()
    await expect(nina).to_contain_text("Adviseur")
    await expect(nina).to_contain_text("jeugd")
    await expect(nina.get_by_role("button", name="Rol en teams: Nina Nieuw")).to_be_focused()
    # Your own role cannot be changed here.
    await me.get_by_role("button", name="Rol en teams: Ada Beheer").click()
    await expect(edit.get_by_label("Rol")).to_be_disabled()
    await expect(edit).to_contain_text("Je eigen rol verander je niet zelf.")
    await edit.get_by_role("button", name="Annuleren").click()

    # The same name again: the server's Dutch text.
    await form.get_by_label("Gebruikersnaam").fill(username)
    await form.get_by_label("Naam", exact=True).fill("Nina Twee")
    await form.get_by_role("button", name="Toevoegen").click()
    await expect(view.locator("#ac-add-error")).to_have_text("Deze gebruikersnaam bestaat al. Kies een andere.")

    # Disabling asks first (cancel focused; Escape keeps everything), then logs Bram out.
    await bram.get_by_role("button", name="Uitzetten: Bram Adviseur").click()
    confirm = page.locator("#ac-confirm-dialog")
    await expect(confirm).to_be_visible()
    await expect(confirm.get_by_role("heading")).to_have_text("Bram Adviseur uitzetten?")
    await expect(confirm.get_by_role("button", name="Annuleren")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(confirm).to_be_hidden()
    await expect(bram).to_contain_text("Actief")
    await bram.get_by_role("button", name="Uitzetten: Bram Adviseur").click()
    started = time.monotonic()
    await confirm.get_by_role("button", name="Uitzetten").click()
    await expect(bram).to_contain_text("Uitgezet")
    await expect(other.locator("#relogin-dialog")).to_be_visible(timeout=5000)
    assert time.monotonic() - started < 5
    await expect(bram.get_by_role("button", name="Aanzetten: Bram Adviseur")).to_be_visible()
    assert errors == []
    assert log.foreign() == []
