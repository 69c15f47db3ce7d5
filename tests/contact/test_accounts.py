"""Accounts you can trust: sessions on the server (logout, idle timeout, revocation), the
second factor (TOTP enrolment, single-use codes, recovery codes), login attempts counted before
the password is checked, the permission table, and agent administration."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import pyotp
import pytest
import socketio
from aiohttp import ClientSession
from sqlalchemy import func, select

from contact.auth import TokenSigner
from contact.db import Database
from contact.permissions import PERMISSIONS, SOCKET_ACTIONS, allowed
from contact.store import audit_events
from tests.support.processes import run_cli
from tests.support.server import (
    SECRET,
    TOTP_SECRETS,
    add_agent,
    agent_client,
    clocked_server,
    login,
    login_answer,
    migrated_sqlite,
    signed_in_agent,
)

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def _post(url: str, body: object = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with ClientSession() as http:
        async with http.post(url, json=body, headers=headers) as r:
            return r.status, await r.json()


async def _get(url: str, token: str) -> tuple[int, dict]:
    async with ClientSession() as http:
        async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
            return r.status, await r.json()


async def _audit(database_url: str, action: str, agent_id: str) -> int:
    db = Database(database_url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(audit_events).where(audit_events.c.action == action))).all()
    finally:
        await db.dispose()
    return sum(1 for r in rows if r.detail.get("agent_id") == agent_id)


# -- the permission table ---------------------------------------------------------------------

ROLE_TABLE = {
    # action: (advisor, crisis, supervisor, admin, privacy_officer)
    "console": (1, 1, 1, 1, 0),
    "chat": (1, 1, 1, 1, 0),
    "read_along": (0, 1, 1, 1, 0),
    "take_over": (0, 1, 1, 1, 0),
    "cases": (1, 1, 1, 1, 0),
    "roster": (0, 0, 0, 1, 0),  # the admin's since issue 16 (supervisors monitor and intervene)
    "accounts": (0, 0, 0, 1, 0),
    "settings": (0, 0, 0, 1, 0),
    "access_log": (0, 0, 1, 1, 1),
    "risk_figures": (0, 0, 1, 1, 0),
    "opening_hours": (0, 0, 1, 1, 0),
    "figures": (0, 0, 1, 1, 0),
    "own_session": (1, 1, 1, 1, 1),
    "ready_texts": (1, 1, 1, 1, 0),
    "ready_texts_manage": (0, 0, 1, 1, 0),
    "block_visitor": (0, 0, 1, 1, 0),
    "agent_status": (1, 1, 1, 1, 0),
    "board": (0, 0, 1, 1, 0),
    "whisper": (0, 1, 1, 1, 0),
    "no_such_action": (0, 0, 0, 0, 0),
}


@pytest.mark.parametrize("action", sorted(ROLE_TABLE))
def test_role_by_action(action):
    roles = ("advisor", "crisis", "supervisor", "admin", "privacy_officer")
    assert tuple(int(allowed(role, action)) for role in roles) == ROLE_TABLE[action]


def test_every_socket_event_has_a_known_action():
    assert set(SOCKET_ACTIONS.values()) <= set(PERMISSIONS)


# -- sessions -----------------------------------------------------------------------------


async def test_logout_ends_the_token_and_its_socket(server):
    identity, password = await add_agent(server.settings.database_url)
    token = await login(server.url, identity.username, password)
    console = await agent_client(server.url, token)
    other = await login(server.url, identity.username, password)
    assert (await _post(f"{server.url}/api/agent/logout", token=token)) == (200, {"ok": True})
    assert (await _get(f"{server.url}/api/agent/colleagues", token))[0] == 401
    await console.wait_disconnected(timeout=5)
    # The other session of the same agent still works; a second logout is `unauthorized`.
    assert (await _get(f"{server.url}/api/agent/colleagues", other))[0] == 200
    status, body = await _post(f"{server.url}/api/agent/logout", token=token)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    assert await _audit(server.settings.database_url, "logout", identity.id) == 1


async def test_forged_expired_and_foreign_tokens_are_unauthorized(server):
    identity, password = await add_agent(server.settings.database_url)
    await login(server.url, identity.username, password)
    forged = TokenSigner("another-secret-key-of-enough-length", 3600).issue(str(uuid.uuid4()))
    expired = TokenSigner(SECRET, -10).issue(str(uuid.uuid4()))
    unknown_session = TokenSigner(SECRET, 3600).issue(str(uuid.uuid4()))
    for token in (forged, expired, unknown_session, "x", "Bearer"):
        status, body = await _get(f"{server.url}/api/agent/colleagues", token)
        assert status == 401 and body["error"]["code"] == "unauthorized", token


async def test_idle_timeout_and_absolute_limit_with_the_clock_moved(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "idle.db"))
    server = await clocked_server(url, MONDAY, idle_timeout_s=600, token_ttl_s=3600)
    try:
        identity, password = await add_agent(url)
        token = await login(server.url, identity.username, password)
        console = await agent_client(server.url, token)
        # Activity keeps it: 9 minutes, an event, 9 minutes more.
        server.clock.advance(minutes=9)
        assert "queue" in await console.call("sync", {})
        server.clock.advance(minutes=9)
        assert (await _get(f"{server.url}/api/agent/colleagues", token))[0] == 200
        # Ten quiet minutes: gone, and the socket is let go by the periodic check.
        server.clock.advance(minutes=10, seconds=1)
        assert (await _get(f"{server.url}/api/agent/colleagues", token))[0] == 401
        await console.wait_disconnected(timeout=5)
        # The absolute limit holds however busy the agent is.
        token = await login(server.url, identity.username, password)
        for _ in range(6):
            server.clock.advance(minutes=9)
            assert (await _get(f"{server.url}/api/agent/colleagues", token))[0] == 200
        server.clock.advance(minutes=7)
        assert (await _get(f"{server.url}/api/agent/colleagues", token))[0] == 401
    finally:
        await server.stop()


# -- login attempts -----------------------------------------------------------------------


async def test_fifty_parallel_wrong_logins_get_at_most_the_allowed_password_checks(server):
    identity, _ = await add_agent(server.settings.database_url)
    limit = server.settings.login_max_failures

    async with ClientSession() as http:

        async def one() -> int:
            body = {"username": identity.username, "password": "wrong-password"}
            async with http.post(f"{server.url}/api/agent/login", json=body) as r:
                code = (await r.json())["error"]["code"]
                assert (r.status, code) in ((401, "invalid_credentials"), (429, "rate_limited"))
                return r.status

        statuses = await asyncio.gather(*(one() for _ in range(50)))
    assert statuses.count(401) == limit and statuses.count(429) == 50 - limit
    # Each password check of a known account leaves one `login_failed` entry.
    assert await _audit(server.settings.database_url, "login_failed", identity.id) == limit


async def test_unknown_and_known_names_get_the_same_answers(server):
    identity, _ = await add_agent(server.settings.database_url)
    answers = {}
    for name in (identity.username, f"nobody-{uuid.uuid4().hex[:8]}"):
        seen = []
        for _ in range(server.settings.login_max_failures + 1):
            status, body = await _post(f"{server.url}/api/agent/login", {"username": name, "password": "wrong-pw-1"})
            seen.append((status, body["error"]["code"]))
        answers[name] = seen
    first, second = answers.values()
    assert first == second and first[-1] == (429, "rate_limited")


# -- the second factor --------------------------------------------------------------------


async def test_supervisor_enrols_then_needs_a_fresh_code(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "totp.db"))
    server = await clocked_server(url, MONDAY)
    try:
        boss, password = await add_agent(url, role="supervisor")
        base = f"{server.url}/api/agent"
        status, body = await _post(f"{base}/login", {"username": boss.username, "password": password})
        assert status == 401 and body["error"]["code"] == "second_factor_required"
        assert body["error"]["enroll"] is True and "token" not in body
        enrolment = body["error"]["enrollment_token"]
        status, enrolled = await _post(f"{base}/2fa/enroll", {"enrollment_token": enrolment})
        assert status == 200 and enrolled["otpauth_uri"].startswith("otpauth://totp/")
        assert enrolled["qr_svg"].startswith("data:image/svg+xml")
        totp = pyotp.TOTP(enrolled["secret"])
        at = server.clock.now().timestamp()
        # A wrong code confirms nothing.
        wrong = str((int(totp.at(at)) + 1) % 1_000_000).zfill(6)
        status, body = await _post(f"{base}/2fa/confirm", {"enrollment_token": enrolment, "totp": wrong})
        assert status == 401 and body["error"]["code"] == "second_factor_required"
        status, body = await _post(f"{base}/2fa/confirm", {"enrollment_token": enrolment, "totp": totp.at(at)})
        assert status == 200 and body["token"] and len(body["recovery_codes"]) == 10
        codes = body["recovery_codes"]
        # The code just used is refused (replay), as is a password-only login.
        login_body = {"username": boss.username, "password": password}
        status, body = await _post(f"{base}/login", {**login_body, "totp": totp.at(at)})
        assert status == 401 and body["error"]["code"] == "second_factor_required"
        assert body["error"]["enroll"] is False and "enrollment_token" not in body["error"]
        assert (await _post(f"{base}/login", login_body))[1]["error"]["code"] == "second_factor_required"
        # The next step's code works once.
        server.clock.advance(seconds=30)
        at = server.clock.now().timestamp()
        assert (await _post(f"{base}/login", {**login_body, "totp": totp.at(at)}))[0] == 200
        assert (await _post(f"{base}/login", {**login_body, "totp": totp.at(at)}))[0] == 401
        # An old code (two minutes ago) is expired.
        server.clock.advance(minutes=2)
        old = totp.at(server.clock.now().timestamp() - 120)
        assert (await _post(f"{base}/login", {**login_body, "totp": old}))[0] == 401
        # A recovery code works once.
        status, body = await _post(f"{base}/login", {**login_body, "recovery_code": codes[0]})
        assert status == 200 and body["factor"] == "recovery"
        assert (await _post(f"{base}/login", {**login_body, "recovery_code": codes[0]}))[0] == 401
        # A wrong password with a valid code: the uniform answer, no hint about the code.
        server.clock.advance(seconds=30)
        fresh = totp.at(server.clock.now().timestamp())
        status, body = await _post(f"{base}/login", {**login_body, "password": "wrong-pass", "totp": fresh})
        assert status == 401 and body["error"]["code"] == "invalid_credentials"
        # The enrolment token cannot enrol again.
        assert (await _post(f"{base}/2fa/enroll", {"enrollment_token": enrolment}))[0] == 401
    finally:
        await server.stop()


async def test_one_code_sent_twice_at_once_logs_in_once(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "race.db"))
    server = await clocked_server(url, MONDAY)
    try:
        boss, password = await add_agent(url, role="admin")
        await login(server.url, boss.username, password)  # enrols
        server.clock.advance(minutes=5)
        code = pyotp.TOTP(TOTP_SECRETS[boss.username]).at(server.clock.now().timestamp())
        body = {"username": boss.username, "password": password, "totp": code}
        answers = await asyncio.gather(*(_post(f"{server.url}/api/agent/login", body) for _ in range(4)))
        assert sorted(status for status, _ in answers) == [200, 401, 401, 401]
    finally:
        await server.stop()


async def test_advisors_need_a_second_factor_only_when_configured(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "roles.db"))
    server = await clocked_server(url, MONDAY, totp_required_roles="advisor,supervisor,admin")
    try:
        advisor, password = await add_agent(url)
        status, body = await _post(
            f"{server.url}/api/agent/login", {"username": advisor.username, "password": password}
        )
        assert status == 401 and body["error"]["enroll"] is True
        crisis, password = await add_agent(url, role="crisis")
        status, _ = await _post(f"{server.url}/api/agent/login", {"username": crisis.username, "password": password})
        assert status == 200
    finally:
        await server.stop()


# -- roles on every event -----------------------------------------------------------------


async def test_demoted_supervisor_is_refused_at_the_next_supervisor_event(server):
    _, _, visitor_agent = await signed_in_agent(server)
    boss, _, console = await signed_in_agent(server, role="supervisor")
    admin, admin_pw = await add_agent(server.settings.database_url, role="admin")
    admin_token = await login(server.url, admin.username, admin_pw)
    ref = {"conversation_id": str(uuid.uuid4())}
    assert (await console.call("read_along", ref))["error"]["code"] != "forbidden"
    status, _ = await _post(
        f"{server.url}/api/admin/agents/{boss.username}/role", {"role": "advisor"}, token=admin_token
    )
    assert status == 200
    assert (await console.call("read_along", ref))["error"]["code"] == "forbidden"
    await console.wait_disconnected(timeout=5)
    assert await _audit(server.settings.database_url, "agent_role_changed", boss.id) == 1
    await visitor_agent.disconnect()


async def test_admin_endpoints_are_for_admins_only(server):
    boss, supervisor_pw = await add_agent(server.settings.database_url, role="supervisor")
    token = await login(server.url, boss.username, supervisor_pw)
    assert (await _get(f"{server.url}/api/admin/agents", token))[0] == 403
    officer, officer_pw = await add_agent(server.settings.database_url, role="privacy_officer")
    officer_token = await login(server.url, officer.username, officer_pw)
    assert (await _get(f"{server.url}/api/agent/colleagues", officer_token))[0] == 403
    refused = await agent_client_refused(server.url, officer_token)
    assert refused["data"]["error"]["code"] == "forbidden"
    admin, admin_pw = await add_agent(server.settings.database_url, role="admin")
    admin_token = await login(server.url, admin.username, admin_pw)
    status, body = await _get(f"{server.url}/api/admin/agents", admin_token)
    assert status == 200 and any(a["username"] == boss.username and a["second_factor"] for a in body["agents"])
    assert all("password_hash" not in a and "totp_secret" not in a for a in body["agents"])
    nobody = f"{server.url}/api/admin/agents/nobody-{uuid.uuid4().hex[:6]}/disable"
    assert (await _post(nobody, token=admin_token))[0] == 404
    bad_role = f"{server.url}/api/admin/agents/{boss.username}/role"
    assert (await _post(bad_role, {"role": "king"}, token=admin_token))[0] == 422


async def agent_client_refused(url: str, token: str) -> dict:
    from tests.support.server import Client

    client = Client("/agent")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, auth={"token": token})
    return client.connect_error


async def test_disable_ends_every_session_and_reset_2fa_enrols_again(server):
    admin, admin_pw = await add_agent(server.settings.database_url, role="admin")
    admin_token = await login(server.url, admin.username, admin_pw)
    boss, boss_pw, console = await signed_in_agent(server, role="supervisor")
    base = f"{server.url}/api/admin/agents/{boss.username}"
    started = time.monotonic()
    assert (await _post(f"{base}/disable", token=admin_token))[0] == 200
    await console.wait_disconnected(timeout=5)
    assert time.monotonic() - started < 5
    status, body = await _post(f"{server.url}/api/agent/login", {"username": boss.username, "password": boss_pw})
    assert status == 401 and body["error"]["code"] == "invalid_credentials"
    assert (await _post(f"{base}/enable", token=admin_token))[0] == 200
    assert (await _post(f"{base}/reset-2fa", token=admin_token))[0] == 200
    status, body = await _post(f"{server.url}/api/agent/login", {"username": boss.username, "password": boss_pw})
    assert status == 401 and body["error"]["enroll"] is True
    TOTP_SECRETS.pop(boss.username, None)
    assert (await login_answer(server.url, boss.username, boss_pw))["factor"] == "totp"
    for action in ("agent_disabled", "agent_enabled", "agent_2fa_reset"):
        assert await _audit(server.settings.database_url, action, boss.id) == 1, action


# -- the command line ---------------------------------------------------------------------


async def test_cli_lists_disables_and_changes_agents(server):
    url = server.settings.database_url
    advisor, password, console = await signed_in_agent(server)

    def cli(*args: str, stdin: str | None = None):
        done = run_cli("agent", *args, "--database-url", url, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert advisor.username in await asyncio.to_thread(cli, "list")
    await asyncio.to_thread(cli, "disable", advisor.username)
    # Another process changed it: the periodic check lets the socket go within seconds.
    await console.wait_disconnected(timeout=5)
    await asyncio.to_thread(cli, "enable", advisor.username)
    await asyncio.to_thread(cli, "set-role", advisor.username, "crisis")
    await asyncio.to_thread(cli, "set-teams", advisor.username, "jeugd", "crisis")
    await asyncio.to_thread(cli, "reset-password", advisor.username, stdin="a-new-password-1\n")
    assert (await login_answer(server.url, advisor.username, "a-new-password-1"))["agent"]["role"] == "crisis"
    await asyncio.to_thread(cli, "reset-2fa", advisor.username)
    listing = await asyncio.to_thread(cli, "list")
    line = next(row for row in listing.splitlines() if row.startswith(advisor.username))
    assert "crisis" in line and "jeugd,crisis" in line
    db = Database(url)
    try:
        async with db.read() as conn:
            changes = await conn.scalar(
                select(func.count()).select_from(audit_events).where(audit_events.c.actor == "cli")
            )
    finally:
        await db.dispose()
    assert changes and changes >= 6
    assert password not in listing
