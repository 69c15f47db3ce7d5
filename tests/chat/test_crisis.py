"""The crisis procedure on a real server: escalate, alert, no acknowledgement, re-alert after the
configured delay (time moved by the test), acknowledge, and the timeline in the history."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from contact.clock import ManualClock
from tests.support.server import (
    RunningServer,
    add_agent,
    agent_client,
    login,
    make_settings,
    migrated_sqlite,
    start_payload,
    visitor,
)

# A Tuesday, 10:00 in Amsterdam.
MORNING = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
async def crisis_server(tmp_path):
    """Its own database (its scheduler must win the election) and a clock the test moves."""
    url = await migrated_sqlite(str(tmp_path / "crisis.db"))
    clock = ManualClock(MORNING)
    server = await RunningServer(
        make_settings(
            url, crisis_check_s=0.1, crisis_realert_s=60, chat_hours="mon-fri 09:00-17:00", sweep_interval_s=0.2
        ),
        clock,
    ).start()
    server.clock = clock
    yield server
    await server.stop()


async def _agent(server, role="advisor", teams=("jeugd",), name=None):
    identity, password = await add_agent(server.settings.database_url, role=role, teams=teams, name=name)
    return identity, await agent_client(server.url, await login(server.url, identity.username, password))


def _for(cid, round_=None):
    return lambda a: a["conversation_id"] == cid and (round_ is None or a["round"] == round_)


async def _none_arrives(client, event, predicate, wait=0.6):
    await asyncio.sleep(wait)
    return not any(predicate(d) for d in client.events.get(event, []))


async def test_escalate_alerts_realerts_until_acknowledged_and_keeps_a_timeline(crisis_server):
    server = crisis_server
    holder_id, holder = await _agent(server, name="Anouk Visser")
    crisis_id, crisis = await _agent(server, role="crisis", teams=("crisis",), name="Cor Crisis")
    _, boss = await _agent(server, role="supervisor", teams=())
    bystander_id, bystander = await _agent(server, teams=("volwassenen",))
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload(caller_type="kind")))["conversation_id"]
    await holder.call("accept", {"conversation_id": cid})

    answer = await holder.call("escalate", {"conversation_id": cid, "reason": "Vader staat met een mes voor de deur"})
    assert answer == {"ok": True, "already_running": False}
    told = await v.wait_for("crisis")
    assert told["phone"] == "112" and "112" in told["text"]
    for c in (crisis, boss):
        alert = await c.wait_for("crisis_alert", _for(cid, 1))
        assert alert["reason"] == "Vader staat met een mes voor de deur"
        assert alert["by"] == holder_id.id and alert["by_name"] == "Anouk Visser"
        assert alert["escalated_at"] == MORNING.isoformat()
        assert alert["audience"] == "crisis"
    # The first round is for the crisis team and supervisors only; the time has not come for a second.
    assert await _none_arrives(bystander, "crisis_alert", _for(cid))
    assert not any(a["round"] > 1 for a in crisis.events["crisis_alert"])
    refused = await bystander.call("ack_crisis", {"conversation_id": cid})
    assert refused["error"]["code"] == "forbidden"
    # A second escalation adds nothing: the alerts already go out.
    again = await holder.call("escalate", {"conversation_id": cid, "reason": "nog steeds"})
    assert again == {"ok": True, "already_running": True}

    server.clock.advance(seconds=59)
    assert await _none_arrives(crisis, "crisis_alert", _for(cid, 2))
    server.clock.advance(seconds=1)
    for c in (crisis, boss, bystander, holder):
        alert = await c.wait_for("crisis_alert", _for(cid, 2))
        assert alert["audience"] == "everyone" and alert["by_name"] == "Anouk Visser"

    acked = await crisis.call("ack_crisis", {"conversation_id": cid})
    # The holder keeps talking with the child; the crisis worker reads along (and may take over).
    assert (acked["ok"], acked["taken"], acked["read_along"]) == (True, False, True)
    assert acked["conversation"]["id"] == cid
    for c in (holder, boss, bystander):
        done = await c.wait_for("crisis_acked", lambda a: a["conversation_id"] == cid)
        assert done["by"] == crisis_id.id and done["by_name"] == "Cor Crisis"
    assert (await crisis.call("ack_crisis", {"conversation_id": cid})) == {"ok": True, "taken": False}
    late = await bystander.call("ack_crisis", {"conversation_id": cid})
    assert late["error"]["code"] == "already_taken"
    server.clock.advance(seconds=300)
    assert await _none_arrives(boss, "crisis_alert", _for(cid, 3))

    # The timeline: who escalated, each alert, who took it on. The acknowledging agent may read it.
    history = (await crisis.call("history", {"conversation_id": cid}))["conversation"]
    timeline = history["crisis"]["timeline"]
    assert [(e["kind"], e["round"], e["audience"]) for e in timeline] == [
        ("escalated", None, None),
        ("alerted", 1, "crisis"),
        ("alerted", 2, "everyone"),
        ("acknowledged", None, None),
    ]
    assert timeline[0]["by"] == holder_id.id and timeline[0]["reason"].startswith("Vader")
    assert timeline[3]["by"] == crisis_id.id
    assert history["crisis"]["acknowledged_by"] == crisis_id.id
    assert history["team"] == "crisis"
    forbidden = await bystander.call("history", {"conversation_id": cid})
    assert forbidden["error"]["code"] == "forbidden"
    assert bystander_id.id not in (e["by"] for e in timeline)
    for c in (v, holder, crisis, boss, bystander):
        await c.disconnect()


async def test_danger_at_start_alerts_and_acknowledging_takes_the_waiting_chat(crisis_server):
    server = crisis_server
    _, crisis = await _agent(server, role="crisis", teams=("crisis",), name="Cor Crisis")
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload(caller_type="kind", danger_now=True)))["conversation_id"]
    alert = await crisis.wait_for("crisis_alert", _for(cid, 1))
    assert alert["by"] == "visitor" and alert["status"] == "waiting"
    snapshot = await crisis.wait_for("queue", lambda q: any(w["conversation_id"] == cid for w in q["waiting"]))
    entry = next(w for w in snapshot["waiting"] if w["conversation_id"] == cid)
    assert entry["in_crisis"] is True and entry["team"] == "crisis"
    # A console that connects while the crisis runs is told at once.
    _, late = await _agent(server, role="crisis", teams=("crisis",))
    crises = await late.wait_for("crises")
    assert [a["conversation_id"] for a in crises["open"]] == [cid]

    taken = await crisis.call("ack_crisis", {"conversation_id": cid})
    assert taken["taken"] is True and taken["conversation"]["id"] == cid
    assert (await v.wait_for("assigned"))["agent"]["name"] == "Cor"
    await crisis.wait_for("mine", lambda m: [c["id"] for c in m["conversations"]] == [cid])
    server.clock.advance(seconds=120)
    assert await _none_arrives(crisis, "crisis_alert", _for(cid, 2))
    for c in (v, crisis, late):
        await c.disconnect()


async def test_accepting_a_chat_in_crisis_acknowledges_it(crisis_server):
    server = crisis_server
    _, crisis = await _agent(server, role="crisis", teams=("crisis",))
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload(danger_now=True)))["conversation_id"]
    await crisis.wait_for("crisis_alert", _for(cid, 1))
    assert "conversation" in await crisis.call("accept", {"conversation_id": cid})
    await crisis.wait_for("crisis_acked", lambda a: a["conversation_id"] == cid)
    server.clock.advance(seconds=61)
    assert await _none_arrives(crisis, "crisis_alert", _for(cid, 2))
    for c in (v, crisis):
        await c.disconnect()


async def test_an_acute_risk_phrase_starts_the_crisis_procedure(crisis_server):
    server = crisis_server
    _, youth = await _agent(server, teams=("jeugd",))
    _, crisis = await _agent(server, role="crisis", teams=("crisis",))
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload(caller_type="kind")))["conversation_id"]
    await youth.wait_for("queue", lambda q: any(w["conversation_id"] == cid for w in q["waiting"]))
    await v.call("message", {"client_id": "1", "text": "hij staat voor de deur en bonkt op de deur"})
    alert = await crisis.wait_for("crisis_alert", _for(cid, 1))
    assert alert["by"] == "system" and "Risicosignaal" in alert["reason"]
    assert (await v.wait_for("crisis"))["phone"] == "112"
    # On top of the crisis team's queue, and out of the youth team's own queue.
    await crisis.wait_for("queue", lambda q: q["waiting"] and q["waiting"][0]["conversation_id"] == cid)
    await youth.wait_for("queue", lambda q: all(w["conversation_id"] != cid for w in q["waiting"]))
    for c in (v, youth, crisis):
        await c.disconnect()


async def test_outside_opening_hours_the_visitor_is_pointed_to_112_and_the_24_7_line(crisis_server):
    server = crisis_server
    server.clock.set(datetime(2026, 11, 24, 15, 55, tzinfo=UTC))  # 16:55 in Amsterdam
    holder_id, holder = await _agent(server)
    _, crisis = await _agent(server, role="crisis", teams=("crisis",))
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await holder.call("accept", {"conversation_id": cid})
    server.clock.set(datetime(2026, 11, 24, 16, 30, tzinfo=UTC))  # 17:30: the chat has closed
    assert (await holder.call("escalate", {"conversation_id": cid, "reason": "dreiging"}))["ok"] is True
    told = await v.wait_for("crisis")
    assert "112" in told["text"] and "0800-2000" in told["text"] and told["advice_phone"] == "0800-2000"
    await crisis.wait_for("crisis_alert", _for(cid, 1))
    # A new visitor outside hours gets no chat, and both numbers.
    closed = await (await visitor(server.url)).call("start", start_payload(danger_now=True))
    assert closed["error"]["code"] == "closed"
    assert closed["error"]["emergency"] == "112" and closed["error"]["phone"] == "0800-2000"
    for c in (v, holder, crisis):
        await c.disconnect()


async def test_a_spoed_melding_is_a_report_for_the_crisis_team_not_a_live_alarm(crisis_server):
    """Closing as spoed: the crisis team gets the report to act on (summary, gemeente, the case),
    no live-chat alarm for a chat that is over, and no 112 box for the visitor who is leaving."""
    server = crisis_server
    holder_id, holder = await _agent(server, name="Anouk Visser")
    _, crisis = await _agent(server, role="crisis", teams=("crisis",))
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await holder.call("accept", {"conversation_id": cid})
    outcome = {"kind": "melding", "summary": "acuut onveilig", "urgency": "spoed", "gemeente": "Utrecht"}
    closed = await holder.call("close", {"conversation_id": cid, "outcome": outcome})
    notice = await crisis.wait_for("spoed_melding", lambda d: d["conversation_id"] == cid)
    assert notice["handoff_id"] == closed["handoff_id"]
    assert (notice["summary"], notice["gemeente"], notice["by"], notice["by_name"]) == (
        "acuut onveilig",
        "Utrecht",
        holder_id.id,
        "Anouk Visser",
    )
    assert await v.wait_for("closed") == {"reason": "agent_closed", "outcome": "melding"}
    assert await _none_arrives(crisis, "crisis_alert", _for(cid))
    assert "crisis" not in v.events
    refused = await crisis.call("ack_crisis", {"conversation_id": cid})
    assert refused["error"]["code"] == "conflict" and refused["error"]["state"] == "no_crisis"
    for c in (v, holder, crisis):
        await c.disconnect()


async def test_a_danger_visitor_who_leaves_stops_every_alarm(crisis_server):
    """'Ja, in gevaar', then the visitor leaves: no re-alert, every console withdraws the alarm,
    and 'Ik pak dit op' says the conversation is over. One who comes back alarms again."""
    server = crisis_server
    _, crisis = await _agent(server, role="crisis", teams=("crisis",))
    _, bystander = await _agent(server, teams=("volwassenen",))
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload(danger_now=True)))["conversation_id"]
    await crisis.wait_for("crisis_alert", _for(cid, 1))
    server.clock.advance(seconds=61)
    await bystander.wait_for("crisis_alert", _for(cid, 2))  # round 2 reaches everyone

    await v.call("leave", {})
    for c in (crisis, bystander):
        ended = await c.wait_for("crisis_ended", lambda d: d["conversation_id"] == cid)
        assert ended["reason"] == "visitor_left" and ended["held"] is False
    rounds = len(crisis.events["crisis_alert"])
    server.clock.advance(seconds=600)
    await asyncio.sleep(0.6)  # six rounds of the scheduler
    assert len(crisis.events["crisis_alert"]) == rounds
    assert (await crisis.call("sync", {}))["crises"]["open"] == []
    late = await crisis.call("ack_crisis", {"conversation_id": cid})
    assert late["error"]["code"] == "closed" and "afgelopen" in late["error"]["message"]
    for c in (crisis, bystander):
        await c.disconnect()


async def test_a_danger_visitor_gone_from_the_queue_ends_the_alarm_and_restarts_it_on_return(crisis_server):
    server = crisis_server
    _, crisis = await _agent(server, role="crisis", teams=("crisis",))
    _, boss = await _agent(server, role="supervisor", teams=())
    v = await visitor(server.url)
    started = await v.call("start", start_payload(danger_now=True))
    cid = started["conversation_id"]
    await crisis.wait_for("crisis_alert", _for(cid, 1))
    await v.disconnect()
    await asyncio.sleep(0.2)
    server.clock.advance(seconds=server.settings.waiting_grace_s + 1)
    ended = await crisis.wait_for("crisis_ended", lambda d: d["conversation_id"] == cid, timeout=30)
    assert ended["reason"] == "visitor_gone"
    history = (await boss.call("history", {"conversation_id": cid}))["conversation"]
    assert history["crisis"]["end_reason"] == "visitor_gone"
    assert history["crisis"]["timeline"][-1]["kind"] == "ended"

    back = await visitor(server.url)
    resumed = await back.call("resume", {"resume_token": started["resume_token"], "after_seq": 0})
    assert resumed["status"] == "waiting"
    again = await crisis.wait_for("crisis_alert", lambda a: a["conversation_id"] == cid and "terug" in a["reason"])
    assert again["round"] == 1
    assert (await back.wait_for("crisis"))["phone"] == "112"
    for c in (back, crisis, boss):
        await c.disconnect()


async def test_crisis_bad_input(crisis_server):
    server = crisis_server
    _, holder = await _agent(server)
    _, other = await _agent(server, role="crisis", teams=("crisis",))
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await holder.call("accept", {"conversation_id": cid})

    async def code(client, event, payload):
        answer = await client.call(event, payload)
        return answer["error"]["code"]

    # Escalate by an agent who does not hold the chat, of an unknown one, with bad payloads.
    assert await code(other, "escalate", {"conversation_id": cid, "reason": "x"}) == "forbidden"
    assert await code(holder, "escalate", {"conversation_id": "nope", "reason": "x"}) == "not_found"
    for bad in (
        {"conversation_id": cid},
        {"conversation_id": cid, "reason": ""},
        {"conversation_id": cid, "reason": "   "},
        {"conversation_id": cid, "reason": "x" * 501},
        {"conversation_id": cid, "reason": 7},
        {"conversation_id": cid, "reason": "x", "extra": 1},
        "escalate",
        None,
    ):
        assert await code(holder, "escalate", bad) == "invalid_input", bad
    # Acknowledge a conversation in no crisis, an unknown one, bad payloads.
    no_crisis = await other.call("ack_crisis", {"conversation_id": cid})
    assert no_crisis["error"]["code"] == "conflict" and no_crisis["error"]["message"]
    assert await code(other, "ack_crisis", {"conversation_id": "nope"}) == "not_found"
    for bad in ({}, {"conversation_id": ""}, {"conversation_id": 5}, [cid]):
        assert await code(other, "ack_crisis", bad) == "invalid_input", bad
    # Nothing was written by the refused calls.
    history = (await holder.call("history", {"conversation_id": cid}))["conversation"]
    assert history["crisis"] is None
    # A closed conversation cannot be escalated by its former holder.
    await holder.call("close", {"conversation_id": cid, "outcome": {"kind": "advies", "summary": "ok"}})
    assert await code(holder, "escalate", {"conversation_id": cid, "reason": "x"}) == "closed"
    for c in (v, holder, other):
        await c.disconnect()


async def test_the_realert_job_survives_a_restart(crisis_server):
    server = crisis_server
    holder_id, holder = await _agent(server)
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await holder.call("accept", {"conversation_id": cid})
    await holder.call("escalate", {"conversation_id": cid, "reason": "dreiging"})
    await holder.disconnect()
    await v.disconnect()
    await server.restart()
    _, boss = await _agent(server, role="supervisor", teams=())
    assert [a["conversation_id"] for a in (await boss.wait_for("crises"))["open"]] == [cid]
    server.clock.advance(seconds=60)
    alert = await boss.wait_for("crisis_alert", _for(cid, 2))
    assert alert["by"] == holder_id.id
    await boss.disconnect()


async def test_an_acute_phrase_in_a_held_chat_alerts_and_tells_the_holder(crisis_server):
    server = crisis_server
    _, holder = await _agent(server)
    _, crisis = await _agent(server, role="crisis", teams=("crisis",))
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await holder.call("accept", {"conversation_id": cid})
    await v.call("message", {"client_id": "1", "text": "hij trapt de deur in"})
    assert (await holder.wait_for("risk", lambda r: r["conversation_id"] == cid))["level"] == "acuut"
    mine = await holder.wait_for("mine", lambda m: any(c["id"] == cid and c["in_crisis"] for c in m["conversations"]))
    assert next(c for c in mine["conversations"] if c["id"] == cid)["team"] == "crisis"
    assert (await crisis.wait_for("crisis_alert", _for(cid, 1)))["holder_id"] is not None
    for c in (v, holder, crisis):
        await c.disconnect()


async def test_an_acute_phrase_after_the_acknowledgement_keeps_the_crisis_worker_on_it(crisis_server):
    """The crisis worker who took the crisis on keeps it when the visitor writes danger again: the
    holder is told (risk), but no new round takes the acknowledgement, and with it the worker's
    right to read along and take over, away. A person escalating again still starts a round."""
    server = crisis_server
    _, holder = await _agent(server)
    _, crisis = await _agent(server, role="crisis", teams=("crisis",))
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await holder.call("accept", {"conversation_id": cid})
    await v.call("message", {"client_id": "1", "text": "hij trapt de deur in"})
    await crisis.wait_for("crisis_alert", _for(cid, 1))
    assert (await crisis.call("ack_crisis", {"conversation_id": cid}))["ok"] is True
    crisis.events["crisis_alert"].clear()
    await v.call("message", {"client_id": "2", "text": "hij staat nu met een mes in de gang"})
    second = await holder.wait_for("risk", lambda r: r["conversation_id"] == cid and r.get("seq") == 2)
    assert second["level"] == "acuut"
    assert await _none_arrives(crisis, "crisis_alert", _for(cid))
    read = await crisis.call("read_along", {"conversation_id": cid})
    assert "conversation" in read, read
    again = await holder.call("escalate", {"conversation_id": cid, "reason": "Het wordt erger"})
    assert again == {"ok": True, "already_running": False}
    await crisis.wait_for("crisis_alert", _for(cid, 1))
    for c in (v, holder, crisis):
        await c.disconnect()
