"""Snapshot + events = fresh snapshot (issue 14): an agent's console that keeps the `mine` and
`queue` events it was sent during a scripted scenario holds what a fresh `sync` answers. Both are
whole snapshots (the latest `mine`, the `queue` with the highest `version`); between two `mine`
snapshots the `message` events carry a conversation's `last_seq` on."""

from __future__ import annotations

import asyncio
from typing import Any

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


async def _settled(console: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A fresh `sync`, once the queue broadcast it names has arrived too."""
    fresh = await console.call("sync", {})
    await console.wait_for("queue", lambda q: q["version"] >= fresh["queue"]["version"])
    await asyncio.sleep(0.2)  # a coalesced broadcast still under way
    fresh = await console.call("sync", {})
    await console.wait_for("queue", lambda q: q["version"] >= fresh["queue"]["version"])
    kept_queue = max(console.events["queue"], key=lambda q: q["version"])
    return fresh, _apply(console.events["mine"][-1], console.events["message"]), kept_queue


def _apply(mine: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The kept `mine` with the `message` events applied (seqs only rise)."""
    conversations = []
    for c in mine["conversations"]:
        seqs = [m["seq"] for m in messages if m["conversation_id"] == c["id"]]
        conversations.append({**c, "last_seq": max([c["last_seq"], *seqs])})
    return {"conversations": conversations}


async def test_the_events_of_a_scenario_rebuild_the_fresh_snapshots(tmp_path) -> None:
    url = await migrated_sqlite(str(tmp_path / "snapshots.db"))
    server = await RunningServer(make_settings(url)).start()
    try:
        me, password = await add_agent(url, teams=("jeugd",), name="Femke van Dijk")
        console = await agent_client(server.url, await login(server.url, me.username, password))
        await console.wait_for("mine")
        visitors = [await visitor(server.url) for _ in range(3)]
        cids = [(await v.call("start", start_payload()))["conversation_id"] for v in visitors]

        steps = [
            lambda: console.call("accept", {"conversation_id": cids[0]}),
            lambda: visitors[1].call("leave", {}),
            lambda: visitors[0].call("message", {"client_id": "m1", "text": "hallo"}),
            lambda: console.call("accept", {"conversation_id": cids[2]}),
            lambda: console.call("close", {"conversation_id": cids[0], "outcome": {"kind": "geen"}}),
            lambda: visitors[2].call("leave", {}),
        ]
        for step in steps:
            answer = await step()
            assert "error" not in answer, answer
            fresh, mine, queue = await _settled(console)
            diff = [
                (i, k, c.get(k), f.get(k))
                for i, (c, f) in enumerate(zip(mine["conversations"], fresh["mine"]["conversations"], strict=False))
                for k in set(c) | set(f)
                if c.get(k) != f.get(k)
            ]
            assert mine == fresh["mine"], (steps.index(step), diff)
            assert queue == fresh["queue"]
        # The scenario left the agent one conversation the visitor left, awaiting its outcome.
        assert [c["id"] for c in fresh["mine"]["conversations"]] == [cids[2]]
        assert fresh["queue"]["waiting"] == []
        for v in visitors:
            await v.disconnect()
        await console.disconnect()
    finally:
        await server.stop()
