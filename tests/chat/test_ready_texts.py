"""Ready texts (snelteksten) over HTTP on a real server: the default safety texts are there,
supervisors and admins manage them, every console role reads the shared texts and their own
teams', placeholders are checked and their values handed out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiohttp import ClientSession
from sqlalchemy import select

from contact.db import Database
from contact.store import audit_events
from tests.support.server import add_agent, clocked_server, login, migrated_sqlite

# A Tuesday, 10:00 in Amsterdam: the chat (mon-fri 09:00-17:00) is open and closes at 17:00.
TUESDAY = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
async def desk(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "texts.db"))
    server = await clocked_server(url, TUESDAY, chat_hours="mon-fri 09:00-17:00")
    yield server
    await server.stop()


async def _token(server, role: str, teams=("jeugd",), name="Fatima el Amrani") -> str:
    identity, password = await add_agent(server.settings.database_url, role=role, teams=teams, name=name)
    return await login(server.url, identity.username, password)


async def _api(server, method: str, path: str, token: str, json=None):
    async with ClientSession() as http:
        async with http.request(
            method, f"{server.url}{path}", json=json, headers={"Authorization": f"Bearer {token}"}
        ) as r:
            return r.status, await r.json()


NEW = {"team": "jeugd", "lang": "nl", "title": "Groet", "shortcut": "hoi", "text": "Hoi, ik ben {voornaam}."}


async def test_the_default_safety_texts_and_the_placeholder_values(desk):
    token = await _token(desk, "advisor")
    status, body = await _api(desk, "GET", "/api/agent/ready-texts", token)
    assert status == 200
    shared = {(t["shortcut"], t["lang"]): t for t in body["texts"] if t["team"] is None}
    for key in ("112", "veilig", "wissen", "bellen", "sluiting"):
        assert shared[(key, "nl")]["default"] and shared[(key, "en")]["default"]
    assert shared[("112", "nl")]["text"] == "Ben je nu in gevaar? Bel {noodnummer}."
    assert shared[("veilig", "nl")]["text"] == "Ben je nu veilig?"
    assert "Ctrl+Shift+Delete" in shared[("wissen", "nl")]["text"]
    assert body["values"] == {
        "voornaam": "Fatima",
        "telefoon": "0800-2000",
        "noodnummer": "112",
        "sluitingstijd": "17:00",
    }
    # Closed now (evening): no closing time to fill in; the console leaves the placeholder.
    desk.clock.advance(hours=9)
    assert (await _api(desk, "GET", "/api/agent/ready-texts", token))[1]["values"]["sluitingstijd"] is None


async def test_supervisors_manage_and_advisors_see_their_teams(desk):
    sup = await _token(desk, "supervisor", teams=(), name="Sanne Sup")
    admin = await _token(desk, "admin", teams=(), name="Ad Min")
    jeugd = await _token(desk, "advisor", teams=("jeugd",))
    adults = await _token(desk, "advisor", teams=("volwassenen",))

    status, created = await _api(desk, "POST", "/api/supervisor/ready-texts", sup, NEW)
    assert status == 201
    text = created["text"]
    assert text["team"] == "jeugd" and text["default"] is False and text["text"] == NEW["text"]

    def ids(body):
        return {t["id"] for t in body["texts"]}

    assert text["id"] in ids((await _api(desk, "GET", "/api/agent/ready-texts", jeugd))[1])
    assert text["id"] not in ids((await _api(desk, "GET", "/api/agent/ready-texts", adults))[1])
    assert text["id"] in ids((await _api(desk, "GET", "/api/supervisor/ready-texts", admin))[1])

    changed = {**NEW, "team": None, "title": "Groet (iedereen)", "text": "Hallo! Je praat met {voornaam}."}
    status, body = await _api(desk, "PUT", f"/api/supervisor/ready-texts/{text['id']}", admin, changed)
    assert status == 200 and body["text"]["team"] is None and body["text"]["title"] == "Groet (iedereen)"
    assert text["id"] in ids((await _api(desk, "GET", "/api/agent/ready-texts", adults))[1])

    # A default text may be edited too; it stays marked as default.
    status, body = await _api(desk, "GET", "/api/supervisor/ready-texts", sup)
    default = next(t for t in body["texts"] if t["shortcut"] == "veilig" and t["lang"] == "nl")
    edit = {"team": None, "lang": "nl", "title": "Veilig?", "shortcut": "veilig", "text": "Ben je nu echt veilig?"}
    status, body = await _api(desk, "PUT", f"/api/supervisor/ready-texts/{default['id']}", sup, edit)
    assert status == 200 and body["text"]["default"] is True and body["text"]["text"] == edit["text"]

    status, body = await _api(desk, "DELETE", f"/api/supervisor/ready-texts/{text['id']}", sup)
    assert (status, body) == (200, {"ok": True})
    assert (await _api(desk, "DELETE", f"/api/supervisor/ready-texts/{text['id']}", sup))[0] == 404
    assert (await _api(desk, "PUT", "/api/supervisor/ready-texts/no-such", sup, NEW))[0] == 404
    async with Database(desk.settings.database_url).read() as conn:
        actions = (
            (
                await conn.execute(
                    select(audit_events.c.action)
                    .where(audit_events.c.action.like("ready_text_%"))
                    .order_by(audit_events.c.id)
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["ready_text_created", "ready_text_changed", "ready_text_changed", "ready_text_deleted"]


async def test_advisors_may_not_manage(desk):
    token = await _token(desk, "advisor")
    crisis = await _token(desk, "crisis", teams=("crisis",))
    for t in (token, crisis):
        assert (await _api(desk, "POST", "/api/supervisor/ready-texts", t, NEW))[0] == 403
        assert (await _api(desk, "PUT", "/api/supervisor/ready-texts/default-112-nl", t, NEW))[0] == 403
        assert (await _api(desk, "DELETE", "/api/supervisor/ready-texts/default-112-nl", t))[0] == 403
        assert (await _api(desk, "GET", "/api/supervisor/ready-texts", t))[0] == 403
    async with ClientSession() as http:
        async with http.get(f"{desk.url}/api/agent/ready-texts") as r:
            assert r.status == 401


@pytest.mark.parametrize(
    "change, field",
    [
        ({"text": "Hoi {naam}"}, "text"),
        ({"text": "Bel {telefoon} of {NOODNUMMER}"}, "text"),
        ({"team": "bestaat-niet"}, "team"),
        ({"lang": "de"}, "lang"),
        ({"title": ""}, "title"),
        ({"title": "x" * 81}, "title"),
        ({"shortcut": "Met Spatie"}, "shortcut"),
        ({"shortcut": "x" * 31}, "shortcut"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"text": "a\x00b"}, "text"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_bad_ready_texts_are_invalid_input(desk, change, field):
    sup = await _token(desk, "supervisor", teams=(), name="Sanne Sup")
    status, body = await _api(desk, "POST", "/api/supervisor/ready-texts", sup, {**NEW, **change})
    assert status == 422, body
    error = body["error"]
    assert error["code"] == "invalid_input"
    assert error.get("field") == field or field in error.get("fields", [])
    if field == "text" and "{" in change.get("text", ""):
        name = change["text"].split("{")[-1].rstrip("}")
        assert error["placeholder"] == name and name in error["message"]


async def test_a_colleagues_change_is_not_overwritten(desk):
    """Two supervisors change one text: the second, made on the old version (If-Match), is refused
    as `conflict` and nothing is written; the text tells what is there now. Without If-Match
    (scripts) no check; "*" and a weak tag are read as HTTP has them."""
    first = await _token(desk, "supervisor", teams=(), name="Sanne Sup")
    second = await _token(desk, "supervisor", teams=(), name="Karim Sup")
    text = (await _api(desk, "POST", "/api/supervisor/ready-texts", first, NEW))[1]["text"]
    path = f"/api/supervisor/ready-texts/{text['id']}"
    seen = text["version"]

    async def put(token: str, body: dict, if_match: str | None):
        headers = {"Authorization": f"Bearer {token}"}
        if if_match is not None:
            headers["If-Match"] = if_match
        async with ClientSession() as http:
            async with http.put(f"{desk.url}{path}", json=body, headers=headers) as r:
                return r.status, await r.json(), r.headers.get("ETag")

    status, saved, etag = await put(first, {**NEW, "text": "Hoi! Ik ben {voornaam}."}, f'"{seen}"')
    assert status == 200 and etag == f'"{saved["text"]["version"]}"' and saved["text"]["version"] != seen

    status, refused, _ = await put(second, {**NEW, "title": "Hallo"}, f'"{seen}"')
    assert status == 409 and refused["error"]["code"] == "conflict"
    assert "collega" in refused["error"]["message"]
    listed = (await _api(desk, "GET", "/api/supervisor/ready-texts", second))[1]["texts"]
    now = next(t for t in listed if t["id"] == text["id"])
    assert (now["title"], now["text"]) == ("Groet", "Hoi! Ik ben {voornaam}.")

    # Deleting on the old version is refused too; on the current one (weak tag) it goes.
    async with ClientSession() as http:
        headers = {"Authorization": f"Bearer {second}", "If-Match": f'"{seen}"'}
        async with http.delete(f"{desk.url}{path}", headers=headers) as r:
            assert r.status == 409 and (await r.json())["error"]["code"] == "conflict"
    assert (await put(second, {**NEW, "title": "Hallo"}, f'W/"{now["version"]}", "x"'))[0] == 200
    assert (await put(first, {**NEW, "title": "Hoi"}, "*"))[0] == 200
    assert (await put(first, {**NEW, "title": "Hee"}, None))[0] == 200
    assert (await put(first, {**NEW, "title": "Hee"}, '"rubbish"'))[0] == 409
    # An edit undone by another is no conflict: the version is of the content.
    undone = (await put(first, NEW, None))[1]["text"]
    assert undone["version"] == seen

    assert (await _api(desk, "DELETE", path, first))[0] == 200
    assert (await put(second, NEW, f'"{seen}"'))[0] == 404  # gone meanwhile: not found, not a conflict
