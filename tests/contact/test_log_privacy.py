"""The log of a whole session of a real `vt-contact serve` process, at DEBUG, holds none of the
personal values the scenario used: no phone number, e-mail address, name, message text, note,
token or client address."""

from __future__ import annotations

import asyncio
import json
import re

from aiohttp import ClientSession

from tests.callback.conftest import Api, booking
from tests.support.processes import ServerProcess, run_cli
from tests.support.server import agent_client, login, start_payload, visitor

PHONE_DIGITS = "0612345679"
EMAIL = "geheim.adres@voorbeeld.nl"
NAME = "Priveenaam Testpersoon"
TOPIC = "onderwerp-dat-niemand-mag-lezen"
MESSAGE = "mijn geheime bericht over thuis"
NOTE = "interne notitie met naam"
ORGANISATION = "Geheime School"


async def test_a_debug_log_of_a_whole_session_holds_nothing_personal(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'logs.db'}"
    assert (await asyncio.to_thread(run_cli, "db", "upgrade", "--database-url", url)).returncode == 0
    added = await asyncio.to_thread(
        run_cli, "agent", "add", "logadvisor", "--name", "Log Adviseur", "--role", "advisor",
        "--team", "volwassenen", "--team", "jeugd", "--database-url", url, stdin="wachtwoord-lang-genoeg\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    server = await asyncio.to_thread(
        ServerProcess, url, None, tmp_path, "privacy", VT_LOG_LEVEL="DEBUG", VT_LOG_FORMAT="json",
        VT_CALLBACK_CHECK_S="0.2", VT_PUBLIC_URL="https://vt.example",
    )  # fmt: skip
    secrets: list[str] = [PHONE_DIGITS, PHONE_DIGITS[1:], "+31" + PHONE_DIGITS[1:], EMAIL, NAME, TOPIC, MESSAGE]
    secrets += [NOTE, ORGANISATION, "wachtwoord-lang-genoeg"]
    try:
        token = await login(server.url, "logadvisor", "wachtwoord-lang-genoeg")
        secrets.append(token)
        agent = await agent_client(server.url, token)
        v = await visitor(server.url)
        started = await v.call("start", start_payload(caller_type="volwassene"))
        secrets.append(started["resume_token"])
        cid = started["conversation_id"]
        await agent.call("accept", {"conversation_id": cid})
        await v.call("message", {"client_id": "m1", "text": f"{MESSAGE} bel {PHONE_DIGITS} of {EMAIL}"})
        await agent.call("message", {"conversation_id": cid, "client_id": "a1", "text": MESSAGE + " antwoord"})
        await agent.call("note", {"conversation_id": cid, "text": NOTE})
        outcome = {
            "kind": "melding", "summary": MESSAGE, "urgency": "midden", "gemeente": "Utrecht",
            "phone": PHONE_DIGITS, "email": EMAIL,
        }  # fmt: skip
        closed = await agent.call("close", {"conversation_id": cid, "outcome": outcome})
        assert closed.get("ok") or closed.get("handoff_id"), closed
        for c in (v, agent):
            await c.disconnect()

        async with ClientSession() as http:
            api = Api(server.url, http)
            _, found = await api.call("GET", "/api/callbacks/slots?kind=adviesgesprek&days=30")
            slot = found["slots"][0]["start"]
            status, made = await api.call(
                "POST", "/api/callbacks",
                booking(kind="adviesgesprek", slot_start=slot, phone=PHONE_DIGITS, name=NAME, topic=TOPIC,
                        email=EMAIL, organisation=ORGANISATION, caller_type="professional"),
            )  # fmt: skip
            assert status == 201, made
            secrets.append(made["manage_token"])
            assert (await api.call("GET", f"/api/callbacks/{made['manage_token']}?x={EMAIL}"))[0] == 200
            assert (await api.call("GET", f"/api/callbacks/{made['manage_token']}/calendar.ics"))[0] == 200
            assert (await api.call("POST", f"/api/callbacks/{made['manage_token']}/cancel"))[0] == 200
            assert (await api.call("GET", "/api/callbacks/niet-bestaand-token-123456"))[0] == 404
            secrets.append("niet-bestaand-token-123456")
            bad = await api.call("POST", "/api/callbacks", booking(phone=f"{PHONE_DIGITS}x", name=NAME))
            assert bad[0] == 422
        await asyncio.sleep(0.6)  # a few scheduler rounds (mail waits: no mail server)
    finally:
        await asyncio.to_thread(server.stop)
    log = server.log_path.read_text(errors="replace")
    assert log.count("\n") > 10, "the session logged something at DEBUG"
    own_address = re.compile(r"listening on http://127\.0\.0\.1:\d+")
    for secret in secrets:
        assert secret not in log, f"the log holds a personal value or secret: {secret[:6]}…"
    assert "127.0.0.1" not in own_address.sub("", log), "the log holds a client address"
    assert "?x=" not in log, "the log holds a query string"
    # What happened is there, as JSON lines of ids and codes (docs/operations.md, "Logs").
    happened = [json.loads(line) for line in log.splitlines() if '"vt.happened"' in line]
    assert {"login", "accepted", "closed"} <= {line["event"] for line in happened}
    closing = next(line for line in happened if line["event"] == "closed")
    assert closing["conversation_id"] == cid and closing["outcome"] == "melding"
