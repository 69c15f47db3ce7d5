"""Agent administration, the rest of issue 16: adding an account by HTTP (a password made by the
server, shown once), nobody disabling or demoting themselves, the last active admin kept (with
`--force` on the command line for recovery), command-line changes in the access log, and the
TOTP secrets sealed at rest (a wrong key is a clear answer, never a 500)."""

from __future__ import annotations

import asyncio

import pyotp
from aiohttp import ClientSession
from sqlalchemy import select, update

from contact.access_log import access_log
from contact.auth import agents
from contact.db import Database
from contact.permissions import allowed, http_action
from contact.secretbox import SecretBox, SecretBoxError
from tests.support.processes import cli_env, run_cli
from tests.support.server import (
    TOTP_SECRETS,
    RunningServer,
    add_agent,
    login,
    login_answer,
    make_settings,
    migrated_sqlite,
)


async def _call(method: str, url: str, body: object = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with ClientSession() as http:
        async with http.request(method, url, json=body, headers=headers) as r:
            return r.status, await r.json()


async def _row(database_url: str, username: str):
    db = Database(database_url)
    try:
        async with db.read() as conn:
            return (await conn.execute(select(agents).where(agents.c.username == username))).first()
    finally:
        await db.dispose()


async def _changes(database_url: str, target: str) -> list:
    db = Database(database_url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(access_log).where(access_log.c.action == "account_change"))).all()
    finally:
        await db.dispose()
    return [r for r in rows if r.detail.get("target") == target]


# -- the permission table: the new and changed rows -----------------------------------------


def test_adding_accounts_and_the_roster_are_the_admins():
    assert http_action("POST", "/api/admin/agents") == "accounts"
    assert http_action("PUT", "/api/admin/roster") == "roster"
    roles = ("advisor", "crisis", "supervisor", "admin", "privacy_officer")
    for action in ("accounts", "roster"):
        assert [r for r in roles if allowed(r, action)] == ["admin"], action


# -- adding and changing by HTTP ----------------------------------------------------------


async def test_admin_adds_an_agent_with_a_password_shown_once(server, capfd):
    admin, admin_pw = await add_agent(server.settings.database_url, role="admin")
    token = await login(server.url, admin.username, admin_pw)
    url = f"{server.url}/api/admin/agents"
    new = {"username": "nieuw-" + admin.id[:6], "name": "Nina Nieuw", "role": "advisor", "teams": ["jeugd"]}
    status, body = await _call("POST", url, new, token)
    assert status == 201, body
    password = body["password"]
    assert len(password) >= 16 and body["agent"]["username"] == new["username"]
    assert body["agent"]["teams"] == ["jeugd"] and body["agent"]["role"] == "advisor"
    assert (await login_answer(server.url, new["username"], password))["agent"]["name"] == "Nina Nieuw"
    # The list: last login, second factor, no hash or secret.
    _, listing = await _call("GET", url, token=token)
    mine = next(a for a in listing["agents"] if a["username"] == new["username"])
    assert mine["last_login"] and mine["active"] and not mine["second_factor"]
    assert set(mine) == {"id", "username", "name", "role", "teams", "active", "second_factor", "last_login"}
    # The same name again: a conflict told in Dutch; a wrong role or field: invalid input.
    status, body = await _call("POST", url, new, token)
    assert status == 409 and body["error"]["message"] == "Deze gebruikersnaam bestaat al. Kies een andere."
    for bad in ({**new, "username": "x2", "role": "king"}, {**new, "username": "x3", "admin": True}, {}):
        assert (await _call("POST", url, bad, token))[0] == 422, bad
    assert (await _call("POST", url, {**new, "username": "x4", "password": "short"}, token))[0] == 422
    # A reset without a password: the server makes one and answers it, once.
    status, reset = await _call("POST", f"{url}/{new['username']}/reset-password", {}, token)
    assert status == 200 and reset["ok"] and reset["password"] != password
    assert (await login_answer(server.url, new["username"], reset["password"]))["factor"] == "password"
    given = {"password": "chosen-by-the-admin-1"}
    status, reset = await _call("POST", f"{url}/{new['username']}/reset-password", given, token)
    assert status == 200 and "password" not in reset
    # Both in the access log with the admin as reader; no password anywhere in it or the logs.
    changes = await _changes(server.settings.database_url, new["username"])
    assert [c.detail["change"] for c in changes] == ["add", "reset-password", "reset-password"]
    assert all(c.agent_id == admin.id and c.role == "admin" for c in changes)
    assert changes[0].detail["new_role"] == "advisor"
    assert password not in repr([c.detail for c in changes])
    out, err = capfd.readouterr()
    assert password not in out + err and given["password"] not in out + err


async def test_supervisors_and_advisors_cannot_add_agents(server):
    for role in ("supervisor", "advisor", "privacy_officer"):
        agent, pw = await add_agent(server.settings.database_url, role=role)
        token = await login(server.url, agent.username, pw)
        body = {"username": "nope-" + agent.id[:6], "name": "Nope", "role": "admin"}
        status, answer = await _call("POST", f"{server.url}/api/admin/agents", body, token)
        assert status == 403 and answer["error"]["code"] == "forbidden", role


async def test_an_admin_cannot_disable_or_demote_themselves(server):
    admin, admin_pw = await add_agent(server.settings.database_url, role="admin")
    token = await login(server.url, admin.username, admin_pw)
    me = f"{server.url}/api/admin/agents/{admin.username}"
    for path, body in (("disable", None), ("role", {"role": "supervisor"})):
        status, answer = await _call("POST", f"{me}/{path}", body, token)
        assert status == 409 and answer["error"]["code"] == "conflict", path
        assert answer["error"]["message"].startswith("Je kunt je eigen account niet uitzetten")
    row = await _row(server.settings.database_url, admin.username)
    assert row.active and row.role == "admin"
    # Still logged in (nothing changed), and a change that keeps them admin is fine.
    assert (await _call("POST", f"{me}/role", {"role": "admin"}, token))[0] == 200
    token = await login(server.url, admin.username, admin_pw)
    assert (await _call("POST", f"{me}/teams", {"teams": ["jeugd"]}, token))[0] == 200
    assert not await _changes(server.settings.database_url, "nobody")


async def test_the_last_active_admin_stays_unless_the_command_line_forces_it(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "admins.db"))
    admin, _ = await add_agent(url, role="admin")
    other, _ = await add_agent(url, role="admin")

    def cli(*args: str):
        return run_cli("agent", *args, "--database-url", url)

    assert (await asyncio.to_thread(cli, "disable", other.username)).returncode == 0
    refused = await asyncio.to_thread(cli, "set-role", admin.username, "supervisor")
    assert refused.returncode == 1 and "conflict" in refused.stderr and "--force" in refused.stderr
    refused = await asyncio.to_thread(cli, "disable", admin.username)
    assert refused.returncode == 1
    assert (await _row(url, admin.username)).active
    # Recovery: forced, then enabled again.
    assert (await asyncio.to_thread(cli, "disable", admin.username, "--force")).returncode == 0
    assert not (await _row(url, admin.username)).active
    assert (await asyncio.to_thread(cli, "enable", other.username)).returncode == 0


# -- the command line in the access log -----------------------------------------------------


async def test_command_line_changes_are_in_the_access_log(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "cli-log.db"))
    agent, _ = await add_agent(url)
    env = cli_env(SUDO_USER="beheer-jan")
    for args, stdin in (
        (("disable", agent.username), ""),
        (("enable", agent.username), ""),
        (("set-role", agent.username, "crisis"), ""),
        (("set-teams", agent.username, "jeugd"), ""),
        (("reset-password", agent.username), "a-new-password-2\n"),
        (("reset-2fa", agent.username), ""),
        (("add", "cli-added", "--name", "Cas Cli", "--role", "advisor"), "a-first-password-3\n"),
    ):
        done = await asyncio.to_thread(run_cli, "agent", *args, "--database-url", url, stdin=stdin, env=env)
        assert done.returncode == 0, done.stderr
    changes = await _changes(url, agent.username)
    expected = ["disable", "enable", "role", "teams", "reset-password", "reset-2fa"]
    assert [c.detail["change"] for c in changes] == expected
    assert [c.detail["change"] for c in changes] == expected
    for c in changes:
        assert c.agent_id is None and c.role is None
        assert c.detail["actor"] == "cli" and c.detail["os_user"] == "beheer-jan"
        assert c.detail["target_agent_id"] == agent.id
    assert changes[2].detail["new_role"] == "crisis" and changes[3].detail["teams"] == ["jeugd"]
    added = await _changes(url, "cli-added")
    assert [c.detail["change"] for c in added] == ["add"]
    assert "a-new-password-2" not in repr([c.detail for c in changes])
    verify = await asyncio.to_thread(run_cli, "audit", "verify", "--database-url", url)
    assert verify.returncode == 0, verify.stderr


# -- TOTP secrets sealed at rest ------------------------------------------------------------


def test_the_box_seals_binds_to_its_row_and_rotates():
    box = SecretBox("first-secret-key-long-enough")
    sealed = box.seal("JBSWY3DPEHPK3PXP", "agent:a:totp_secret")
    assert sealed.startswith("enc1:") and "JBSWY3DPEHPK3PXP" not in sealed
    assert box.open(sealed, "agent:a:totp_secret") == "JBSWY3DPEHPK3PXP"
    assert box.open("JBSWY3DPEHPK3PXP", "agent:a:totp_secret") == "JBSWY3DPEHPK3PXP"  # from before sealing
    assert box.stale("JBSWY3DPEHPK3PXP") and not box.stale(sealed)
    for wrong in ("agent:b:totp_secret", "agent:a:totp_pending"):
        try:
            box.open(sealed, wrong)
        except SecretBoxError:
            pass
        else:
            raise AssertionError(wrong)
    rotated = SecretBox("second-secret-key-long-enough", old=["first-secret-key-long-enough"])
    assert rotated.open(sealed, "agent:a:totp_secret") == "JBSWY3DPEHPK3PXP" and rotated.stale(sealed)
    try:
        SecretBox("another-key-entirely-here").open(sealed, "agent:a:totp_secret")
    except SecretBoxError as exc:
        assert "not configured" in str(exc)
    else:
        raise AssertionError("opened with another key")
    try:
        box.open(sealed[:-4] + "AAAA", "agent:a:totp_secret")
    except SecretBoxError:
        pass
    else:
        raise AssertionError("a changed value opened")


async def test_totp_secrets_are_sealed_and_a_wrong_key_is_a_clear_answer(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "sealed.db"))
    boss, password = await add_agent(url, role="supervisor")
    server = await RunningServer(make_settings(url)).start()
    try:
        assert (await login_answer(server.url, boss.username, password))["factor"] == "totp"
        stored = (await _row(url, boss.username)).totp_secret
        assert stored.startswith("enc1:") and TOTP_SECRETS[boss.username] not in stored
    finally:
        await server.stop()
    # Another VT_SECRET_KEY: the password is right, the factor cannot be checked: said so.
    other = await RunningServer(make_settings(url, secret_key="a-different-secret-key-entirely")).start()
    try:
        # (Never checked: the secret does not open. Not taken from the test's authenticator either.)
        code = pyotp.TOTP(TOTP_SECRETS[boss.username]).now()
        body = {"username": boss.username, "password": password, "totp": code}
        status, answer = await _call("POST", f"{other.url}/api/agent/login", body)
        assert status == 503 and answer["error"]["code"] == "unavailable"
        assert answer["error"]["message"].startswith("Je tweede stap kan nu niet worden gecontroleerd")
    finally:
        await other.stop()
    # With the old key kept beside the new one it works again, and is sealed with the new key.
    old_key = make_settings(url).secret_key
    assert old_key is not None
    rotated = await RunningServer(
        make_settings(url, secret_key="a-different-secret-key-entirely", secret_key_old=old_key.get_secret_value())
    ).start()
    try:
        assert (await login_answer(rotated.url, boss.username, password))["factor"] == "totp"
        assert SecretBox("a-different-secret-key-entirely").stale((await _row(url, boss.username)).totp_secret) is False
    finally:
        await rotated.stop()


async def test_a_secret_stored_in_the_clear_is_sealed_at_use_or_by_the_command(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "plain.db"))
    first, first_pw = await add_agent(url, role="admin")
    second, _ = await add_agent(url, role="supervisor")
    plain = {first.username: pyotp.random_base32(), second.username: pyotp.random_base32()}
    db = Database(url)
    try:
        async with db.write() as conn:
            for username, secret in plain.items():
                await conn.execute(update(agents).where(agents.c.username == username).values(totp_secret=secret))
    finally:
        await db.dispose()
    server = await RunningServer(make_settings(url)).start()
    try:
        TOTP_SECRETS[first.username] = plain[first.username]
        assert (await login_answer(server.url, first.username, first_pw))["factor"] == "totp"
    finally:
        await server.stop()
    assert (await _row(url, first.username)).totp_secret.startswith("enc1:")
    assert (await _row(url, second.username)).totp_secret == plain[second.username]
    done = await asyncio.to_thread(run_cli, "agent", "encrypt-2fa", "--database-url", url)
    assert done.returncode == 0, done.stderr
    assert "1 TOTP secret(s) sealed now, 1 already sealed" in done.stdout
    assert (await _row(url, second.username)).totp_secret.startswith("enc1:")
    # Under another key the sealed ones do not open: told, exit 1, nothing changed.
    other = cli_env(VT_SECRET_KEY="a-different-secret-key-entirely")
    again = await asyncio.to_thread(run_cli, "agent", "encrypt-2fa", "--database-url", url, env=other)
    assert again.returncode == 1 and "could not be opened" in again.stderr


async def test_last_login_is_null_before_the_first_login(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "never.db"))
    agent, _ = await add_agent(url)
    done = await asyncio.to_thread(run_cli, "agent", "list", "--database-url", url)
    assert done.returncode == 0 and agent.username in done.stdout
    line = next(row for row in done.stdout.splitlines() if row.startswith(agent.username))
    assert " never " in line
    from contact.auth import AgentService, TokenSigner

    db = Database(url)
    try:
        rows = await AgentService(db, TokenSigner("x" * 20, 60)).list_agents()
    finally:
        await db.dispose()
    assert rows[0]["last_login"] is None


async def test_the_secret_being_enrolled_is_sealed_too(server):
    boss, password = await add_agent(server.settings.database_url, role="admin")
    status, answer = await _call(
        "POST", f"{server.url}/api/agent/login", {"username": boss.username, "password": password}
    )
    assert status == 401 and answer["error"]["enroll"] is True
    token = answer["error"]["enrollment_token"]
    status, enrolled = await _call("POST", f"{server.url}/api/agent/2fa/enroll", {"enrollment_token": token})
    assert status == 200
    pending = (await _row(server.settings.database_url, boss.username)).totp_pending
    assert pending.startswith("enc1:") and enrolled["secret"] not in pending
    code = pyotp.TOTP(enrolled["secret"]).now()
    status, confirmed = await _call(
        "POST", f"{server.url}/api/agent/2fa/confirm", {"enrollment_token": token, "totp": code}
    )
    assert status == 200 and confirmed["factor"] == "totp"
    row = await _row(server.settings.database_url, boss.username)
    assert row.totp_pending is None and row.totp_secret.startswith("enc1:") and row.totp_secret != pending
