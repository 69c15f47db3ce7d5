"""The log of what happened (`vt.happened`, docs/operations.md "Logs"): one INFO line per login,
accept, escalate, acknowledge, transfer, close (with its outcome kind) and logout, after the
commit, with ids and codes only: never the text, name, phone number, e-mail, token or address."""

from __future__ import annotations

import logging

from aiohttp import ClientSession

from contact.http import DATABASE
from contact.logs import happened
from tests.support.server import add_agent, agent_client, login, start_payload, visitor

PHONE = "0612345678"
EMAIL = "iemand.geheim@voorbeeld.nl"
TEXT = "mijn vader slaat mij vaak"
REASON = "Vader staat met een mes voor de deur"
SUMMARY = "samenvatting die niemand in een log mag lezen"


async def test_each_step_is_one_line_of_ids_and_codes(server, caplog):
    caplog.set_level(logging.INFO, logger="vt.happened")
    holder, holder_pw = await add_agent(server.settings.database_url, teams=("jeugd",), name="Hanna Houder")
    colleague, colleague_pw = await add_agent(server.settings.database_url, teams=("volwassenen",), name="Kees Collega")
    crisis, crisis_pw = await add_agent(
        server.settings.database_url, role="crisis", teams=("crisis",), name="Cor Crisis"
    )
    tokens = [
        await login(server.url, a.username, pw)
        for a, pw in ((holder, holder_pw), (colleague, colleague_pw), (crisis, crisis_pw))
    ]
    first, second, third = [await agent_client(server.url, t) for t in tokens]
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload(caller_type="jongere")))["conversation_id"]
    assert "conversation" in await first.call("accept", {"conversation_id": cid})
    await v.call("message", {"client_id": "m1", "text": f"{TEXT} bel {PHONE} of {EMAIL}"})
    assert "error" not in await first.call("escalate", {"conversation_id": cid, "reason": REASON})
    assert "error" not in await third.call("ack_crisis", {"conversation_id": cid})
    assert await first.call("transfer", {"conversation_id": cid, "team": "volwassenen"}) == {"ok": True}
    assert "conversation" in await second.call("accept", {"conversation_id": cid})
    outcome = {
        "kind": "melding",
        "summary": SUMMARY,
        "urgency": "midden",
        "gemeente": "Utrecht",
        "phone": PHONE,
        "email": EMAIL,
    }
    closed = await second.call("close", {"conversation_id": cid, "outcome": outcome})
    assert "error" not in closed, closed
    async with ClientSession() as http:
        async with http.post(f"{server.url}/api/agent/logout", headers={"Authorization": f"Bearer {tokens[0]}"}) as r:
            assert r.status in (200, 204)
    for c in (v, first, second, third):
        await c.disconnect()

    lines = [(r.getMessage(), r.vt_fields) for r in caplog.records if r.name == "vt.happened"]
    mine = [
        (what, f)
        for what, f in lines
        if f.get("conversation_id") == cid or f.get("agent_id") in {holder.id, colleague.id, crisis.id}
    ]

    def one(what: str, **expected: object) -> dict:
        found = [f for w, f in mine if w == what and all(f.get(k) == v for k, v in expected.items())]
        assert found, (what, expected, mine)
        return found[0]

    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "vt.happened")
    one("login", agent_id=holder.id)
    one("accepted", conversation_id=cid, agent_id=holder.id)
    one("crisis_escalated", conversation_id=cid)
    one("crisis_acknowledged", conversation_id=cid, agent_id=crisis.id)
    one("transferred", conversation_id=cid, agent_id=holder.id, team="volwassenen")
    one("accepted", conversation_id=cid, agent_id=colleague.id)
    one("closed", conversation_id=cid, agent_id=colleague.id, outcome="melding")
    one("logout", agent_id=holder.id)
    order = [w for w, f in mine if f.get("conversation_id") == cid]
    assert (
        order.index("accepted") < order.index("crisis_escalated") < order.index("transferred") < order.index("closed")
    )

    written = " ".join(
        f"{r.getMessage()} {r.vt_fields} {r.__dict__}" for r in caplog.records if r.name == "vt.happened"
    )
    for secret in (PHONE, PHONE[1:], EMAIL, TEXT, REASON, SUMMARY, "Hanna", "Kees", "Cor Crisis", "127.0.0.1", *tokens):
        assert secret not in written, secret


async def test_a_rolled_back_transaction_logs_nothing(server, caplog):
    from contact.store import record_audit

    caplog.set_level(logging.INFO, logger="vt.happened")
    database = server.app[DATABASE]
    try:
        async with database.write() as conn:
            await record_audit(conn, at=server_now(), action="closed", actor="system", conversation_id="rolled-back-1")
            raise RuntimeError("something after the audit failed")
    except RuntimeError:
        pass
    assert not [
        r for r in caplog.records if r.name == "vt.happened" and r.vt_fields.get("conversation_id") == "rolled-back-1"
    ]


def server_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_only_ids_and_codes_pass_whatever_a_caller_gives(caplog):
    caplog.set_level(logging.INFO, logger="vt.happened")
    happened(
        "closed", conversation_id="c-1", outcome="melding", summary=SUMMARY, phone=PHONE, email=EMAIL,
        reason="Vader staat met een mes", team="jeugd", count=3,
    )  # fmt: skip
    (record,) = [r for r in caplog.records if r.name == "vt.happened"]
    assert record.getMessage() == "closed"
    assert record.vt_fields == {"conversation_id": "c-1", "outcome": "melding", "team": "jeugd", "count": 3}
