"""An emit that reaches nobody on this process is not encoded: the visitor's echo of their own
message when no other tab of theirs is connected. With a second tab it is encoded and arrives."""

from __future__ import annotations

import socketio

from chat.sockets import GuardedPacket
from tests.support.server import start_payload, visitor


async def test_an_emit_that_reaches_nobody_here_is_not_encoded(server, monkeypatch):
    encoded: list[str] = []
    original = GuardedPacket.encode

    def counting(self):
        if self.packet_type == socketio.packet.EVENT and self.namespace == "/visitor":
            encoded.append(self.data[0])
        return original(self)

    monkeypatch.setattr(GuardedPacket, "encode", counting)
    first = await visitor(server.url)
    second = None
    try:
        started = await first.call("start", start_payload())
        ack = await first.call("message", {"client_id": "m1", "text": "alleen ik"})
        assert ack["seq"] == 1
        assert "message" not in encoded  # the echo had nobody to go to

        # A second tab of the same visitor: now the echo has somewhere to go.
        second = await visitor(server.url)
        resumed = await second.call("resume", {"resume_token": started["resume_token"], "after_seq": 1})
        assert resumed["messages"] == []
        ack = await first.call("message", {"client_id": "m2", "text": "nu twee"})
        echo = await second.wait_for("message", lambda m: m["seq"] == ack["seq"])
        assert echo["text"] == "nu twee"
        assert encoded.count("message") == 1
    finally:
        await first.disconnect()
        if second is not None:
            await second.disconnect()
