"""Two `vt-contact serve` processes sharing one database (an SQLite file, or PostgreSQL) and a
real Redis: a visitor on one and an advisor on the other chat normally, and two advisors
accepting the same conversation at once on different processes never both win."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.support.processes import ServerProcess, run_cli
from tests.support.server import agent_client, login, start_payload, visitor


class Cluster:
    def __init__(self, database_url: str, a: ServerProcess, b: ServerProcess) -> None:
        self.database_url = database_url
        self.a = a
        self.b = b

    def add_agent(self, role: str = "advisor") -> tuple[str, str]:
        username = f"p{uuid.uuid4().hex[:10]}"
        password = f"pw-{uuid.uuid4().hex}"
        done = run_cli(
            "agent",
            "add",
            username,
            "--name",
            "Pim de Boer",
            "--role",
            role,
            "--team",
            "jeugd",
            "--database-url",
            self.database_url,
            stdin=password + "\n",
        )
        assert done.returncode == 0, done.stderr
        assert password not in done.stdout + done.stderr
        return username, password


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def cluster(request, tmp_path_factory, redis_url):
    log_dir = tmp_path_factory.mktemp(f"procs-{request.param}")
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{log_dir / 'shared.db'}"
    else:
        database_url = request.getfixturevalue("postgres").create_database(f"procs_{uuid.uuid4().hex[:8]}")
    migrated = run_cli("db", "upgrade", "--database-url", database_url)
    assert migrated.returncode == 0, migrated.stderr
    # Each cluster its own pub/sub channel on the shared Redis.
    channel = f"vt-test-{request.param}-{uuid.uuid4().hex[:6]}"
    # INFO, so that the check below that no text reaches the logs has logs to read.
    # The periodic session check slow (30 s): an ended session must reach the other process
    # through the Redis signal.
    env = {"VT_REDIS_CHANNEL": channel, "VT_LOG_LEVEL": "INFO", "VT_SESSION_CHECK_S": "30"}
    a = ServerProcess(database_url, redis_url, log_dir, "a", **env)
    try:
        b = ServerProcess(database_url, redis_url, log_dir, "b", **env)
    except Exception:
        a.stop()
        raise
    yield Cluster(database_url, a, b)
    a.stop()
    b.stop()
    for p in (a, b):
        text = p.log_path.read_text(errors="replace")
        assert "Traceback" not in text, text[-3000:]


async def test_visitor_on_one_process_and_agent_on_the_other(cluster):
    username, password = cluster.add_agent()
    token = await login(cluster.a.url, username, password)  # a token from A works on B
    agent = await agent_client(cluster.b.url, token)
    v = await visitor(cluster.a.url)
    started = await v.call("start", start_payload(caller_type="kind"))
    cid = started["conversation_id"]
    # The queue change made on A reaches the agent on B through Redis.
    await agent.wait_for("queue", lambda q: any(w["conversation_id"] == cid for w in q["waiting"]))
    await agent.call("accept", {"conversation_id": cid})
    assert (await v.wait_for("assigned"))["agent"]["name"] == "Pim"
    for i in range(1, 6):
        sent = await v.call("message", {"client_id": f"v{i}", "text": f"vraag {i}"})
        got = await agent.wait_for("message", lambda m, s=sent["seq"]: m["seq"] == s)
        assert got["text"] == f"vraag {i}" and got["conversation_id"] == cid
        reply = await agent.call("message", {"conversation_id": cid, "client_id": f"a{i}", "text": f"antwoord {i}"})
        assert (await v.wait_for("message", lambda m, s=reply["seq"]: m["seq"] == s))["text"] == f"antwoord {i}"
    await agent.call("typing", {"conversation_id": cid, "typing": True})
    assert await v.wait_for("typing") == {"typing": True}

    # The visitor's phone switches to process B and resumes there.
    await v.disconnect()
    await agent.call("message", {"conversation_id": cid, "client_id": "a-missed", "text": "ben je er nog?"})
    moved = await visitor(cluster.b.url)
    resumed = await moved.call("resume", {"resume_token": started["resume_token"], "after_seq": 10})
    assert [(m["seq"], m["text"]) for m in resumed["messages"]] == [(11, "ben je er nog?")]
    full = await moved.call("resume", {"resume_token": started["resume_token"], "after_seq": 0})
    assert [m["seq"] for m in full["messages"]] == list(range(1, 12))

    assert (await agent.call("close", {"conversation_id": cid, "outcome": {"kind": "advies", "summary": "ok"}}))["ok"]
    assert await moved.wait_for("closed") == {"reason": "agent_closed", "outcome": "advies"}
    await moved.disconnect()
    await agent.disconnect()

    # The logs say what happened, never what was written, nor the visitor's secrets.
    logs = cluster.a.log_path.read_text() + cluster.b.log_path.read_text()
    assert "conversation_started" in logs and "agent_connected" in logs
    for secret in ("vraag", "antwoord", "ben je er nog", started["resume_token"], token, password):
        assert secret not in logs


async def test_two_agents_on_two_processes_accepting_at_once_exactly_one_wins(cluster):
    tokens = []
    for _ in range(2):
        username, password = cluster.add_agent()
        tokens.append(await login(cluster.a.url, username, password))
    on_a = await agent_client(cluster.a.url, tokens[0])
    on_b = await agent_client(cluster.b.url, tokens[1])
    rounds = 3  # each agent holds at most 3 conversations at once
    visitors = [await visitor(cluster.a.url if i % 2 else cluster.b.url) for i in range(rounds)]
    cids = [(await v.call("start", start_payload()))["conversation_id"] for v in visitors]
    for cid in cids:
        acks = await asyncio.gather(
            on_a.call("accept", {"conversation_id": cid}), on_b.call("accept", {"conversation_id": cid})
        )
        winners = [a for a in acks if "conversation" in a]
        losers = [a for a in acks if "error" in a]
        assert len(winners) == 1 and len(losers) == 1, acks
        assert losers[0]["error"]["code"] == "already_taken"
    # Nobody holds a conversation twice, and each is held by exactly one of them.
    mine_a = (await on_a.call("sync", {}))["mine"]["conversations"]
    mine_b = (await on_b.call("sync", {}))["mine"]["conversations"]
    held = sorted([c["id"] for c in mine_a] + [c["id"] for c in mine_b])
    assert held == sorted(cids)
    for c in (*visitors, on_a, on_b):
        await c.disconnect()


async def test_flood_limit_holds_across_processes(cluster):
    """With Redis the visitor's message limit is shared: hopping processes does not reset it."""
    a = await visitor(cluster.a.url)
    started = await a.call("start", start_payload())
    b = await visitor(cluster.b.url)
    await b.call("resume", {"resume_token": started["resume_token"], "after_seq": 0})
    acks = []
    for i in range(25):
        client = a if i % 2 else b
        acks.append(await client.call("message", {"client_id": f"m{i}", "text": "hoi"}))
    stored = [x for x in acks if "seq" in x]
    assert len(stored) == 20
    assert all(x["error"]["code"] == "rate_limited" for x in acks if "error" in x)
    await a.disconnect()
    await b.disconnect()


async def test_concurrent_messages_from_both_sides_get_gapless_seqs(cluster):
    username, password = cluster.add_agent()
    agent = await agent_client(cluster.b.url, await login(cluster.b.url, username, password))
    v = await visitor(cluster.a.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await agent.call("accept", {"conversation_id": cid})
    sends = [v.call("message", {"client_id": f"v{i}", "text": f"v {i}"}) for i in range(15)]
    sends += [
        agent.call("message", {"conversation_id": cid, "client_id": f"a{i}", "text": f"a {i}"}) for i in range(15)
    ]
    # Retries of some of them at the same moment: stored once.
    sends += [v.call("message", {"client_id": f"v{i}", "text": f"v {i}"}) for i in range(5)]
    acks = await asyncio.gather(*sends)
    assert all("seq" in a for a in acks), acks
    assert sorted({a["seq"] for a in acks}) == list(range(1, 31))
    history = await agent.call("history", {"conversation_id": cid})
    assert [m["seq"] for m in history["conversation"]["messages"]] == list(range(1, 31))
    await v.disconnect()
    await agent.disconnect()


async def test_disabling_an_agent_on_one_process_disconnects_their_console_on_the_other(cluster):
    import time

    from aiohttp import ClientSession

    username, password = cluster.add_agent()
    admin, admin_password = cluster.add_agent(role="admin")
    console = await agent_client(cluster.b.url, await login(cluster.b.url, username, password))
    admin_token = await login(cluster.a.url, admin, admin_password)
    started = time.monotonic()
    async with ClientSession() as http:
        async with http.post(
            f"{cluster.a.url}/api/admin/agents/{username}/disable", headers={"Authorization": f"Bearer {admin_token}"}
        ) as r:
            assert r.status == 200
    await console.wait_disconnected(timeout=5)
    assert time.monotonic() - started < 5


async def test_logout_on_one_process_ends_the_socket_on_the_other(cluster):
    from aiohttp import ClientSession

    username, password = cluster.add_agent()
    token = await login(cluster.a.url, username, password)
    console = await agent_client(cluster.b.url, token)
    async with ClientSession() as http:
        async with http.post(f"{cluster.a.url}/api/agent/logout", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200
    await console.wait_disconnected(timeout=5)


async def test_the_supervisors_board_follows_a_status_set_on_the_other_process(cluster):
    boss_name, boss_password = cluster.add_agent(role="supervisor")
    username, password = cluster.add_agent()
    boss = await agent_client(cluster.b.url, await login(cluster.b.url, boss_name, boss_password))
    advisor = await agent_client(cluster.a.url, await login(cluster.a.url, username, password))
    await advisor.wait_for("agent_status")
    assert (await advisor.call("set_status", {"status": "pauze"}))["status"] == "pauze"
    # Only process A saw the change: its board reaches the supervisor on B through Redis.
    live = await boss.wait_for(
        "board", lambda b: any(a["status"] == "pauze" and a["online"] for a in b["agents"]), timeout=10
    )
    assert all("text" not in c for c in live["conversations"])
    snapshot = await boss.call("board", {})
    assert [a["status"] for a in snapshot["agents"] if a["online"] and a["role"] == "advisor"] == ["pauze"]
    await advisor.disconnect()
    await boss.disconnect()


async def test_a_burst_across_processes_reaches_every_socket_exactly_once(cluster):
    """Emits travel between processes through Redis (contact/fanout.py): a burst from both sides,
    with the visitor open on both processes, reaches every socket once, none twice, none lost."""
    username, password = cluster.add_agent()
    agent = await agent_client(cluster.b.url, await login(cluster.b.url, username, password))
    here = await visitor(cluster.a.url)
    started = await here.call("start", start_payload())
    cid = started["conversation_id"]
    await agent.call("accept", {"conversation_id": cid})
    there = await visitor(cluster.b.url)  # the same visitor, a second tab on the other process
    await there.call("resume", {"resume_token": started["resume_token"], "after_seq": 0})
    sends = [here.call("message", {"client_id": f"v{i}", "text": f"v {i}"}) for i in range(15)]
    sends += [
        agent.call("message", {"conversation_id": cid, "client_id": f"a{i}", "text": f"a {i}"}) for i in range(15)
    ]
    acks = await asyncio.gather(*sends)
    visitor_seqs = sorted(a["seq"] for a in acks[:15])
    agent_seqs = sorted(a["seq"] for a in acks[15:])
    everything = sorted(visitor_seqs + agent_seqs)

    def seqs(client, sender: str) -> list[int]:
        return sorted(m["seq"] for m in client.events.get("message", []) if m.get("sender") == sender)

    for _ in range(100):
        if (
            seqs(agent, "visitor") == visitor_seqs
            and seqs(here, "agent") == agent_seqs
            and sorted(seqs(there, "visitor") + seqs(there, "agent")) == everything
        ):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # a duplicate would arrive by now
    assert seqs(agent, "visitor") == visitor_seqs  # from A to B
    assert seqs(here, "agent") == agent_seqs  # from B to A
    assert seqs(here, "visitor") == []  # the sender's own tab gets its acks, not echoes
    assert sorted(seqs(there, "visitor") + seqs(there, "agent")) == everything  # both, once
    for client in (here, there, agent):
        await client.disconnect()


async def test_readers_and_a_transfer_across_processes_each_get_every_message_once(cluster):
    """Rooms held on one process only (contact/fanout.py: one Redis channel per room): a
    supervisor on B reads along a chat held on A, the chat moves to a colleague on B, and every
    message reaches each of them once; after the reader stops, nothing more comes."""
    holder_name, holder_password = cluster.add_agent()
    colleague_name, colleague_password = cluster.add_agent()
    boss_name, boss_password = cluster.add_agent(role="supervisor")
    holder = await agent_client(cluster.a.url, await login(cluster.a.url, holder_name, holder_password))
    colleague = await agent_client(cluster.b.url, await login(cluster.b.url, colleague_name, colleague_password))
    boss = await agent_client(cluster.b.url, await login(cluster.b.url, boss_name, boss_password))
    colleague_id = (await colleague.wait_for("agent_status"))["agent_id"]
    v = await visitor(cluster.a.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await holder.call("accept", {"conversation_id": cid})
    first = await v.call("message", {"client_id": "v1", "text": "eerste"})

    seen = await boss.call("read_along", {"conversation_id": cid})  # on B, the chat is A's
    assert [m["seq"] for m in seen["conversation"]["messages"]] == [first["seq"]]
    second = await v.call("message", {"client_id": "v2", "text": "tweede"})
    answer = await holder.call("message", {"conversation_id": cid, "client_id": "h1", "text": "antwoord"})
    await boss.wait_for("message", lambda m: m["seq"] == answer["seq"])

    assert await holder.call("transfer", {"conversation_id": cid, "agent_id": colleague_id}) == {"ok": True}
    await colleague.wait_for("mine", lambda m: [c["id"] for c in m["conversations"]] == [cid])
    third = await v.call("message", {"client_id": "v3", "text": "derde"})
    reply = await colleague.call("message", {"conversation_id": cid, "client_id": "c1", "text": "met Pim"})
    await v.wait_for("message", lambda m: m["seq"] == reply["seq"])
    await colleague.wait_for("message", lambda m: m["seq"] == third["seq"])
    await boss.wait_for("message", lambda m: m["seq"] == reply["seq"])

    assert (await boss.call("read_along_stop", {"conversation_id": cid})).get("ok") is True
    after = await v.call("message", {"client_id": "v4", "text": "vierde"})
    await colleague.wait_for("message", lambda m: m["seq"] == after["seq"])
    await asyncio.sleep(0.5)  # a duplicate, or a message for a reader who stopped, would be here by now

    def seqs(client) -> list[int]:
        return [m["seq"] for m in client.events.get("message", []) if m.get("conversation_id", cid) == cid]

    assert seqs(boss) == [second["seq"], answer["seq"], third["seq"], reply["seq"]]
    assert seqs(colleague) == [third["seq"], after["seq"]]  # its own reply is its ack
    assert sorted(seqs(v)) == [answer["seq"], reply["seq"]]
    assert third["seq"] not in seqs(holder) and after["seq"] not in seqs(holder)
    for client in (v, holder, colleague, boss):
        await client.disconnect()
